"""The stateful guard: a deploy must not delete or replace a resource that
holds data unless the user names it with --allow-replacement.

A change is refused when it certainly deletes or replaces a stateful
resource (a removed logical ID, a create-only property, AWS's own word), or
when it may replace one and the table of in-place transitions
(transitions.py) cannot clear it. The message names only the properties
that cause the replacement and says what happens to the data under the
resource's UpdateReplacePolicy or DeletionPolicy."""

from __future__ import annotations

from codemate_cfn.deploy.plan import Change
from codemate_cfn.errors import InvalidInput
from codemate_cfn.stateful import STATEFUL_TYPES

WHAT_HAPPENS = {"true": "would be replaced", "conditional": "may be replaced"}
KEPT = ("the old one is kept, no longer managed by the stack: its data stays where it is, "
        "and the new one starts empty")
KEPT_REMOVED = "it is kept, no longer managed by the stack: its data stays where it is"
FATE = {
    "Retain": KEPT,
    "RetainExceptOnCreate": KEPT,
    "Snapshot": "a final snapshot is taken, then the old one is deleted: its data survives only in that snapshot",
}
# RDS refuses a final snapshot of a read replica: deleting one skips it.
REPLICA = "it is deleted without a final snapshot, as RDS deletes every read replica: its data is the primary's"


def _consequence(change: Change) -> str | None:
    """What the change does to the resource, or None when it keeps it."""
    if change.action == "remove":
        return "would be deleted"
    if change.action == "modify":
        return WHAT_HAPPENS.get(change.replacement)
    return None


def _causes(change: Change) -> str:
    if change.action == "remove":
        return ", ".join(change.details) or "no longer in the template"
    names = []
    for name, level in change.causes.items():
        shown = "its type" if name == "Type" else "AWS says so" if name.startswith("(") else f"property {name}"
        names.append(shown if level == "true" or change.replacement == "conditional" else f"{shown} (may)")
    return ", ".join(names) or "AWS says so"


def _fate(change: Change) -> str:
    policy = change.policy if isinstance(change.policy, str) else None
    named = f"({'DeletionPolicy' if change.action == 'remove' else 'UpdateReplacePolicy'} {policy})"
    if change.replica and policy == "Snapshot":
        return f"{REPLICA} {named}"
    if change.action == "remove" and policy in ("Retain", "RetainExceptOnCreate"):
        return f"{KEPT_REMOVED} {named}"
    if policy in FATE:
        return f"{FATE[policy]} {named}"
    return f"that loses {STATEFUL_TYPES.get(change.resource_type, 'the data it holds')}"


def at_risk(changes: list[Change]) -> list[Change]:
    """The stateful resources the changes delete or (may) replace."""
    return [c for c in changes if c.stateful and _consequence(c) is not None]


def _allowed(change: Change, allowed: set[str]) -> bool:
    return bool({change.logical_id, f"{change.stack}/{change.logical_id}"} & set(allowed))


def refusals(changes: list[Change], allowed: set[str]) -> list[str]:
    """One message per change that deletes or (may) replace a stateful
    resource not named in `allowed`. A name is a logical ID, or
    stack/logical ID to allow it in one stack only."""
    return [
        f"stack {c.stack}: {c.logical_id} ({c.resource_type}) {_consequence(c)} ({_causes(c)}); {_fate(c)}. "
        f"To allow it: --allow-replacement {c.logical_id}"
        for c in at_risk(changes) if not _allowed(c, allowed)
    ]


def check_allowances(changes: list[Change], allowed: set[str]) -> None:
    """Every --allow-replacement name must match a resource the plan puts
    at risk; a typo must never pass silently."""
    unmatched = sorted(name for name in allowed if not any(_allowed(c, {name}) for c in at_risk(changes)))
    if unmatched:
        could = ", ".join(f"{c.logical_id} (stack {c.stack})" for c in at_risk(changes)) or "none: nothing is at risk"
        raise InvalidInput(f"--allow-replacement {' '.join(unmatched)}: the plan deletes or replaces no stateful "
                           f"resource of that name; the ones that could be allowed: {could}")
