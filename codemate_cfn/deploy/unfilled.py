"""Secrets with no value when a deploy starts tasks. A task reads its
secrets as it starts, and one it cannot read stops it: a deploy that adds
or changes services while a secret they read is empty fails on ECS's
circuit breaker and rolls back. The plan says so beforehand, for the
secrets the stack holds that have no current version, and for those the
deploy creates with no value (neither SecretString nor
GenerateSecretString) in the same change set that adds the services.
A warning, not a refusal: what the tasks read is the application's
business, and a secret may be filled while the deploy runs."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from codemate_cfn.deploy.aws import error_code
from codemate_cfn.deploy.stack import all_resources

SECRET = "AWS::SecretsManager::Secret"
# What makes ECS start tasks: a service added or changed, or a task
# definition it runs.
STARTS_TASKS = {"AWS::ECS::Service", "AWS::ECS::TaskDefinition"}
GUIDE = "docs/first-deployment.md, The secrets"


def starts_tasks(changes: list) -> bool:
    return any(c.action in ("add", "modify") and c.resource_type in STARTS_TASKS for c in changes)


def created_empty(changes: list, templates: dict[str, dict]) -> list[str]:
    """The secrets the changes add with no value: "layer/LogicalId"."""
    found = []
    for change in changes:
        if change.action != "add" or change.resource_type != SECRET:
            continue
        props = templates.get(change.stack, {}).get("Resources", {}).get(change.logical_id, {}).get("Properties", {})
        if "SecretString" not in props and "GenerateSecretString" not in props:
            found.append(f"{change.stack}/{change.logical_id}")
    return found


def emptiness(aws, secret_id: str) -> str | None:
    """The secret's name when it has no current version; None when it has
    one, or is not there."""
    try:
        secret = aws.client("secretsmanager").describe_secret(SecretId=secret_id)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    stages = secret.get("VersionIdsToStages") or {}
    return None if any("AWSCURRENT" in labels for labels in stages.values()) else secret.get("Name", secret_id)


def without_value(aws, resources: list[dict]) -> list[tuple[dict, str]]:
    """The stack's secrets (DescribeStackResources rows) with no current
    version, each with its name."""
    found = []
    for row in resources:
        if row.get("ResourceType") == SECRET and row.get("PhysicalResourceId"):
            name = emptiness(aws, row["PhysicalResourceId"])
            if name is not None:
                found.append((row, name))
    return found


def warnings(aws, stack_id: str | None, changes: list, templates: dict[str, dict], labels: dict[str, str]) -> list[str]:
    """One line per secret the tasks this deploy starts would find empty."""
    if not starts_tasks(changes):
        return []
    lines = [f"{where} ({SECRET}) is created empty by this deploy, which also starts tasks that read it: they "
             f"cannot start until it has a value. Deploy with the image tags empty first, fill it, then set the "
             f"tags ({GUIDE})" for where in created_empty(changes, templates)]
    if stack_id is None:
        return lines
    try:
        empty = without_value(aws, all_resources(aws.cloudformation, stack_id, labels))
    except (ClientError, BotoCoreError) as exc:
        return lines + [f"the stack's secrets could not be checked for values ({exc}); tasks this deploy starts "
                        f"stop if one they read is empty"]
    return lines + [
        f"secret {name} ({row['Label']}/{row['LogicalResourceId']}) has no value yet, and this deploy starts tasks, "
        f"which read their secrets as they start: they will fail until it has one. Fill it first: aws secretsmanager "
        f"put-secret-value --secret-id {name} --secret-string file://VALUE_FILE ({GUIDE})"
        for row, name in empty]
