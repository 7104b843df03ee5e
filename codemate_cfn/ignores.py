"""How a template says that one of cfn-lint's rules does not apply to one
resource, and why: cfn-lint's own ignore, and beside it, in the same
resource's Metadata, the reason a reviewer reads:

    "Metadata": {
      "cfn-lint": {"config": {"ignore_checks": ["I3011"]}},
      "codemate": {"cfn-lint-reasons": {"I3011": "why this resource is right as it is"}}
    }

The build refuses an ignore without its reason, a reason without its ignore,
and cfn-lint settings for a whole template (rule E9006, IgnoreReasons,
which no ignore turns off). Layers write both with `ignore_check`."""

from __future__ import annotations

IGNORES = ("cfn-lint", "config", "ignore_checks")  # cfn-lint's own place (Metadata of a resource)
REASONS = ("codemate", "cfn-lint-reasons")  # ours: rule id -> reason


def _at(metadata, path: tuple[str, ...], default):
    node = metadata
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def ignored(metadata) -> object:
    """What a resource's Metadata ignores, as written (a list of rule ids,
    unless the template is malformed)."""
    return _at(metadata, IGNORES, [])


def reasons(metadata) -> object:
    """The reasons a resource's Metadata gives, as written (rule id -> reason)."""
    return _at(metadata, REASONS, {})


def ignore_check(resource, rule_id: str, reason: str):
    """Ignore cfn-lint's rule `rule_id` (one id, "I3011") on `resource` (a
    troposphere resource), with `reason`, a sentence a reviewer accepts;
    Metadata the resource has already (a scanner's skips) is kept.
    Returns the resource."""
    if not reason.strip():
        raise ValueError(f"ignoring {rule_id} on {resource.title}: give the reason")
    metadata = dict(resource.resource.get("Metadata") or {})
    lint = dict(metadata.get(IGNORES[0]) or {})
    config = dict(lint.get(IGNORES[1]) or {})
    config[IGNORES[2]] = [*config.get(IGNORES[2], []), rule_id]
    lint[IGNORES[1]] = config
    ours = dict(metadata.get(REASONS[0]) or {})
    ours[REASONS[1]] = {**ours.get(REASONS[1], {}), rule_id: reason}
    metadata.update({IGNORES[0]: lint, REASONS[0]: ours})
    resource.Metadata = metadata
    return resource
