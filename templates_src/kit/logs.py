"""A CloudWatch log group per environment: the environment in its name (two
environments can share an account), the environment's retention from an
input of the layer, encrypted with the project's KMS key (whose policy lets
CloudWatch Logs use it for this account's log groups: storage layer), kept
on delete and replacement. The services that write into the project's log
groups (ECS's awslogs driver, CodeBuild, RDS log exports, ElastiCache log
delivery) write through CloudWatch Logs, which does the encryption; none of
them needs the key itself."""

from troposphere.logs import LogGroup

from .policies import RETAIN


# The layer input holding the ARN of the key every log group is encrypted with.
KEY_INPUT = "KmsKeyArn"


def log_group(t, logical_id: str, path: str, *parts: str, retention_input: str, suffix: str = "",
              key_input: str = KEY_INPUT, **props) -> LogGroup:
    """log_group(t, "BackendLogGroup", "/aws/ecs/", "backend", retention_input="LogRetentionDays")
    is /aws/ecs/codemate-backend-${EnvironmentName}, keeping events for as
    many days as the layer's input LogRetentionDays says, encrypted with the
    key whose ARN the input `key_input` holds; `suffix` goes after the name
    ("/postgresql"), `props` (a Condition) onto the resource."""
    return t.add(LogGroup(
        logical_id,
        LogGroupName=t.name_of(*parts, path=path, suffix=suffix),
        RetentionInDays=t.input(retention_input),
        KmsKeyId=t.input(key_input),
        **RETAIN,
        **props,
    ))
