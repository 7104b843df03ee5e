"""Whether a resource a rolled-back create kept (DELETE_SKIPPED under
DeletionPolicy Retain) still stands in the way of creating the stack anew.
A ROLLBACK_COMPLETE stack keeps the record of a kept resource after the
resource itself is deleted, so the record alone cannot tell: each type's
own API can. A type that has no name to collide with (a KMS key) never
stands in the way; a type not known here always does, since nothing says
it is gone."""

from __future__ import annotations

from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError

from codemate_cfn.deploy.aws import error_code

GONE = None  # what a check returns when the resource is no longer there


def _bucket(aws, name: str) -> str | None:
    try:
        aws.s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return GONE
        if error_code(exc) == "403":
            return "the bucket exists, and this account may not read it"
        raise
    return "the bucket exists"


def _log_group(aws, name: str) -> str | None:
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return "the log group exists" if any(g.get("logGroupName") == name for g in groups) else GONE


def _repository(aws, name: str) -> str | None:
    try:
        aws.client("ecr").describe_repositories(repositoryNames=[name])
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return GONE
        raise
    return "the repository exists"


def _secret(aws, name: str) -> str | None:
    try:
        secret = aws.client("secretsmanager").describe_secret(SecretId=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return GONE
        raise
    if secret.get("DeletedDate"):
        return (f"the secret is scheduled for deletion, which keeps its name taken until then "
                f"(aws secretsmanager delete-secret --secret-id {secret.get('Name', name)} "
                f"--force-delete-without-recovery frees it now)")
    return "the secret exists"


CHECKS: dict[str, Callable[[object, str], str | None]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::ECR::Repository": _repository,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::KMS::Key": lambda aws, key_id: GONE,  # a key has no name a new one could collide with
}


def in_the_way(aws, resource: dict) -> str | None:
    """Why a kept resource (a DescribeStackResources row) still stands in
    the way of a new create, or None when it does not."""
    kind, physical = resource.get("ResourceType", ""), resource.get("PhysicalResourceId")
    if not physical:
        return GONE  # never made
    check = CHECKS.get(kind)
    if check is None:
        return f"{kind} is not checked here: it may still exist"
    try:
        return check(aws, physical)
    except ClientError as exc:
        return f"it could not be checked ({error_code(exc) or exc})"
    except BotoCoreError as exc:  # unreachable endpoint, timeouts: nothing says it is gone
        return f"it could not be checked ({exc})"
