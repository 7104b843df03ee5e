"""The resource types that hold data, in one place: the build requires
their deletion policies, the deploy guard refuses to delete or replace them,
and the stack policy protects them."""

from __future__ import annotations

# type -> what a delete or replacement loses
STATEFUL_TYPES = {
    "AWS::RDS::DBInstance": "the database and its automated backups",
    "AWS::RDS::DBCluster": "the database cluster",
    "AWS::ElastiCache::CacheCluster": "the cache node and its data",
    "AWS::ElastiCache::ReplicationGroup": "the cache cluster and its data",
    "AWS::ElastiCache::ServerlessCache": "the cache and its data",
    "AWS::S3::Bucket": "the bucket and every object in it",
    "AWS::ECR::Repository": "the repository and every image in it",
    "AWS::SecretsManager::Secret": "the secret value",
    "AWS::KMS::Key": "the key, and with it everything it encrypts",
    "AWS::Logs::LogGroup": "the log group and its log events",
}

KEEPING_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES


# Superseded by the cfn-lint rule E9001 (codemate_cfn/compile/rules/StatefulPolicies.py):
# remove once the build lints with the project rules.
def stack_policy(logical_ids: list[str]) -> dict:
    """A stack policy allowing every update except replacing or deleting
    the given stateful resources."""
    statements = [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
    if logical_ids:
        statements.append(
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": [f"LogicalResourceId/{lid}" for lid in sorted(logical_ids)],
            }
        )
    return {"Statement": statements}
