"""A CloudWatch log group per environment: the environment in its name (two
environments can share an account), the environment's retention from an
input of the layer, kept on delete and replacement."""

from troposphere.logs import LogGroup

from .policies import RETAIN


def log_group(t, logical_id: str, path: str, *parts: str, retention_input: str, suffix: str = "",
              **props) -> LogGroup:
    """log_group(t, "BackendLogGroup", "/aws/ecs/", "backend", retention_input="LogRetentionDays")
    is /aws/ecs/codemate-backend-${EnvironmentName}, keeping events for as
    many days as the layer's input LogRetentionDays says; `suffix` goes after
    the name ("/postgresql"), `props` (a Condition) onto the resource."""
    return t.add(LogGroup(
        logical_id,
        LogGroupName=t.name_of(*parts, path=path, suffix=suffix),
        RetentionInDays=t.input(retention_input),
        **RETAIN,
        **props,
    ))
