"""Changes of conditionally create-only properties that AWS makes in place.

The resource schemas say only that changing, say, an RDS instance's
MultiAZ *may* replace it. AWS's "Update requires" notes in the
CloudFormation resource reference say when it does not: this table, one row
per (type, property), clears the transitions known to update in place. A
conditional change the table cannot clear stays "may be replaced", and the
stateful guard refuses it without consent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _whole(value) -> int | None:
    """A whole number from a template value ("7" or 7), else None."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _any_known(old, new) -> bool:
    return not isinstance(old, dict) and not isinstance(new, dict)


def _both_positive(old, new) -> bool:
    return (_whole(old) or 0) > 0 and (_whole(new) or 0) > 0


@dataclass(frozen=True)
class Transition:
    applies: Callable[[object, object], bool]  # (old value, new value) -> updated in place?
    why: str


IN_PLACE: dict[tuple[str, str], Transition] = {
    ("AWS::RDS::DBInstance", "MultiAZ"): Transition(
        _any_known, "Multi-AZ on or off is applied in place (RDS adds or removes the standby)"),
    ("AWS::RDS::DBInstance", "BackupRetentionPeriod"): Transition(
        _both_positive, "a retention changed from one non-zero number of days to another updates in place "
                        "(only turning backups on or off, to or from 0, may replace)"),
    ("AWS::RDS::DBInstance", "AutoMinorVersionUpgrade"): Transition(
        _any_known, "automatic minor version upgrades on or off update in place"),
    ("AWS::RDS::DBInstance", "PreferredMaintenanceWindow"): Transition(
        _any_known, "a new maintenance window updates in place"),
}


def in_place(resource_type: str, prop: str, old, new) -> str | None:
    """Why changing `prop` from `old` to `new` keeps the resource, or None
    when the table cannot tell. Values only AWS knows (a dict such as a Ref
    or GetAtt left unresolved) are never cleared."""
    row = IN_PLACE.get((resource_type, prop))
    if row is None or not row.applies(old, new):
        return None
    return row.why
