"""The stateful guard: a deploy must not delete or replace a resource that
holds data unless the user names it with --allow-replacement."""

from __future__ import annotations

from codemate_cfn.deploy.plan import Change
from codemate_cfn.stateful import STATEFUL_TYPES

WHAT_HAPPENS = {"true": "would be replaced", "conditional": "may be replaced"}


def _consequence(change: Change) -> str | None:
    """What the change does to the resource, or None when it keeps it."""
    if change.action == "remove":
        return "would be deleted"
    if change.action == "modify":
        return WHAT_HAPPENS.get(change.replacement)
    return None


def refusals(changes: list[Change], allowed: set[str]) -> list[str]:
    """One message per change that removes or replaces (replacement true or
    conditional) a stateful resource not named in `allowed`. A name is a
    logical ID, or stack/logical ID to allow it in one stack only."""
    messages = []
    for change in changes:
        consequence = _consequence(change)
        if consequence is None or not change.stateful:
            continue
        if {change.logical_id, f"{change.stack}/{change.logical_id}"} & set(allowed):
            continue
        why = f" ({', '.join(change.details)})" if change.details else ""
        lost = STATEFUL_TYPES.get(change.resource_type, "the data it holds")
        messages.append(
            f"stack {change.stack}: {change.logical_id} ({change.resource_type}) {consequence}{why}; "
            f"that loses {lost}. To allow it: --allow-replacement {change.logical_id}"
        )
    return messages
