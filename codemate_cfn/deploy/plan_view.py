"""Shows a deploy plan: a table per stack, the access-widening notes, the
guard's refusals and a summary line for people; a JSON document for CI."""

from __future__ import annotations

from dataclasses import asdict

from codemate_cfn.deploy.plan import ACTIONS, Change
from codemate_cfn.table import format_table


def counts(changes: list[Change]) -> dict[str, int]:
    modified = [c for c in changes if c.action == "modify"]
    return {
        **{action: sum(c.action == action for c in changes) for action in ACTIONS},
        "replace": sum(c.replacement == "true" for c in modified),
        "conditional": sum(c.replacement == "conditional" for c in modified),
    }


def summary(changes: list[Change]) -> str:
    n = counts(changes)
    return (
        f"Plan: {n['add']} to add, {n['modify']} to modify, {n['remove']} to remove, "
        f"{n['replace']} replaced, {n['conditional']} may be replaced."
    )


def format_plan(changes: list[Change], refused: list[str] = (), rollback=None) -> str:
    """One table per stack (root first), the access-widening notes, the
    guard's refusals, the rollback triggers the change set carries
    (`rollback`: a triggers.Rollback, when known) and a summary line;
    "no changes" when there are none."""
    if not changes:
        return "no changes"
    stacks = list(dict.fromkeys([c.stack for c in changes]))
    parts = []
    for stack in stacks:
        rows = [
            [c.action, c.replacement if c.action == "modify" else "-", c.logical_id, c.resource_type,
             "yes" if c.stateful else "", ", ".join(c.details)]
            for c in changes if c.stack == stack
        ]
        table = format_table(["action", "replacement", "logical ID", "type", "stateful", "what changed"], rows)
        parts.append(f"Stack {stack}\n{table}")
    widened = [f"  {c.stack}/{c.logical_id}: {note}" for c in changes for note in c.widens_access]
    if widened:
        parts.append("Access widened:\n" + "\n".join(widened))
    kept = [f"  {c.stack}/{c.logical_id}: {prop}: {why}" for c in changes for prop, why in c.in_place.items()]
    if kept:
        parts.append("Updated in place (may replace in general, not for this change):\n" + "\n".join(kept))
    if refused:
        parts.append("Refused by the stateful guard:\n" + "\n".join(f"  {r}" for r in refused))
    if rollback is not None:
        parts.append(rollback.plan_line())
    parts.append(summary(changes))
    return "\n\n".join(parts)


def plan_json(changes: list[Change], refused: list[str], rollback=None) -> dict:
    """The plan for `plan --output json`; `rollback_triggers` is null when
    not known (no `rollback` given)."""
    status = "blocked" if refused else "changes" if changes else "no changes"
    return {
        "status": status,
        "changes": [asdict(c) for c in changes],
        "counts": counts(changes),
        "refused": list(refused),
        "rollback_triggers": rollback.as_json() if rollback is not None else None,
    }
