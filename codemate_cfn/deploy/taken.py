"""A resource that could not be created because its name is taken, most
often by one a deleted stack kept (DeletionPolicy Retain: buckets,
repositories, secrets, log groups): said in one line naming the resource
and the name, with where to read how to import, rename or delete it."""

from __future__ import annotations

import re

GUIDE = "docs/stateful-resources.md (When a name is already taken)"
# How AWS says a name is taken, in the reasons of CREATE_FAILED events.
MARKERS = ("already exists", "AlreadyExists", "BucketAlreadyOwnedByYou")
_IDENTIFIER = re.compile(r"with identifier '([^']+)' already exists")
_NAMED = re.compile(r"""(?:^|[\s"'])([\w./:@+=-]+) already exists""")


def is_taken(event: dict) -> bool:
    reason = event.get("ResourceStatusReason") or ""
    return event.get("ResourceStatus") == "CREATE_FAILED" and any(marker in reason for marker in MARKERS)


def taken_name(event: dict) -> str | None:
    """The name the failure says is taken, else the resource's physical ID."""
    reason = event.get("ResourceStatusReason") or ""
    found = _IDENTIFIER.search(reason) or _NAMED.search(reason)
    return found.group(1) if found else event.get("PhysicalResourceId") or None


def notes(failures: list[dict]) -> list[str]:
    """One line per failure (labelled events, see events.first_failures)
    that is a name already taken."""
    lines = []
    for event in filter(is_taken, failures):
        name = taken_name(event)
        lines.append(f"name taken: {event['Label']}/{event['LogicalResourceId']} ({event.get('ResourceType', '?')}) "
                     f"could not be created: {f'{name} ' if name else 'its name '}already exists, most likely kept "
                     f"(DeletionPolicy Retain) by a stack deleted before; import it, rename it or delete it: "
                     f"see {GUIDE}")
    return lines
