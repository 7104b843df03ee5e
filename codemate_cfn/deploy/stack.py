"""What a deployed stack holds, read back from CloudFormation: its
description, its nested stacks, the templates they run and every resource
of the root and its nested stacks."""

from __future__ import annotations

import json

from codemate_cfn.compile.layout import ROOT, STACK_TYPE, nested_names
from codemate_cfn.errors import CodemateError


def is_gone(exc) -> bool:
    """Whether an AWS error says the stack does not exist (any more)."""
    return "does not exist" in str(exc)


def find_stack(cfn, name: str) -> dict | None:
    """The stack's description, or None when there is no such stack."""
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if is_gone(exc):
            return None
        raise


def existing(cfn, name: str, region: str) -> dict:
    stack = find_stack(cfn, name)
    if stack is None:
        raise CodemateError(f"stack {name} does not exist in {region}")
    return stack


def as_dict(pairs, key: str, value: str) -> dict:
    """[{"Key": k, "Value": v}, ...] -> {k: v} (tags, parameters)."""
    return {p[key]: p[value] for p in pairs or []}


def nested_stacks(cfn, stack_id: str) -> dict[str, str]:
    """Nested stack logical ID -> physical ID (stack ARN)."""
    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("ResourceType") == STACK_TYPE and r.get("PhysicalResourceId")
    }


def stack_ids(cfn, root_id: str, labels: dict[str, str]) -> dict[str, str]:
    """Template name ("root", "network", ...) -> the stack ID running it."""
    ids = {ROOT: root_id}
    for logical_id, physical_id in nested_stacks(cfn, root_id).items():
        ids[labels.get(logical_id, logical_id)] = physical_id
    return ids


def _template_body(cfn, stack_id: str) -> dict:
    body = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    return json.loads(body) if isinstance(body, str) else dict(body)


def deployed_templates(cfn, stack: dict) -> dict[str, dict]:
    """The templates the stack and its nested stacks run now, by name."""
    root = _template_body(cfn, stack["StackId"])
    templates = {ROOT: root}
    names = nested_names(root)
    for logical_id, physical_id in nested_stacks(cfn, stack["StackId"]).items():
        templates[names.get(logical_id, logical_id)] = _template_body(cfn, physical_id)
    return templates


def all_resources(cfn, stack_id: str, labels: dict[str, str]) -> list[dict]:
    """Every resource of the root and its nested stacks, with a "Label"."""
    found = []
    for resource in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]:
        found.append({**resource, "Label": ROOT})
        if resource.get("ResourceType") == STACK_TYPE and resource.get("PhysicalResourceId"):
            label = labels.get(resource["LogicalResourceId"], resource["LogicalResourceId"])
            for inner in cfn.describe_stack_resources(StackName=resource["PhysicalResourceId"])["StackResources"]:
                found.append({**inner, "Label": label})
    return found


def retained_resources(cfn, stack_id: str, labels: dict[str, str]) -> list[dict]:
    """Resources a rolled-back create kept (DeletionPolicy Retain), as the
    stack records them: whether each is still there is another question
    (deploy/kept.py)."""
    return [r for r in all_resources(cfn, stack_id, labels) if r.get("ResourceStatus") == "DELETE_SKIPPED"]
