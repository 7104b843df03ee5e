"""How a resource says that a security scanner's check does not apply to it,
and why: checkov's own skip list in the resource's Metadata (read by
checkov, and by the security teams' scanners that understand it), and, for
a skip that holds in some environments only, the template condition under
which it holds:

    "Metadata": {
      "checkov": {"skip": [{"id": "CKV_AWS_157", "comment": "<the reason>"}]},
      "codemate": {"checkov-skip-when": {"CKV_AWS_157": {"Fn::If": ["DbSingleAz", true, false]}}}
    }

The condition is written as an Fn::If, which CloudFormation resolves in
Metadata too: so the template uses the condition (cfn-lint counts it), and
a deployed stack's metadata says whether the skip holds there. The security
gate (`python -m codemate_cfn.security`) drops every skip whose condition is
false for the parameter file it scans. Layers write skips with the kit's
`scanner_skip`, which calls `with_skip`; the gate and its page
(docs/security.md) read them with `skips_of`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECKOV = "checkov"
SKIP = "skip"
CODEMATE = "codemate"
SKIP_WHEN = "checkov-skip-when"
CHECK_ID = re.compile(r"CKV2?_[A-Z0-9]+_[0-9]+")


@dataclass(frozen=True)
class Skip:
    """One check a resource skips: why, and the template condition under
    which the skip holds (None: always)."""

    check_id: str
    reason: str
    when: str | None = None


def _problem(check_id: str, reason: str) -> str | None:
    if not CHECK_ID.fullmatch(check_id or ""):
        return f"{check_id!r} is not a checkov check ID such as CKV_AWS_18"
    if not reason or not reason.strip() or "\n" in reason:
        return f"skip of {check_id}: give one line of reason a security reviewer would accept"
    return None


def with_skip(metadata: dict | None, check_id: str, reason: str, when=None, condition: str | None = None) -> dict:
    """`metadata` (a resource's, or None) with one more skip. `when` is the
    value CloudFormation reads for the condition, Fn::If(condition, true,
    false) in the layer's notation, and `condition` its name. ValueError for
    a malformed check ID, a missing or multi-line reason, or a check skipped
    twice."""
    problem = _problem(check_id, reason)
    if problem:
        raise ValueError(problem)
    if (when is None) != (condition is None):
        raise ValueError(f"skip of {check_id}: give both the condition's name and its Fn::If, or neither")
    metadata = dict(metadata or {})
    checkov = dict(metadata.get(CHECKOV) or {})
    skips = list(checkov.get(SKIP) or [])
    if any(entry.get("id") == check_id for entry in skips):
        raise ValueError(f"{check_id} is skipped twice on the same resource")
    checkov[SKIP] = skips + [{"id": check_id, "comment": reason}]
    metadata[CHECKOV] = checkov
    if when is not None:
        ours = dict(metadata.get(CODEMATE) or {})
        ours[SKIP_WHEN] = {**(ours.get(SKIP_WHEN) or {}), check_id: when}
        metadata[CODEMATE] = ours
    return metadata


def condition_of(when) -> str:
    """The condition's name in a rendered `checkov-skip-when` value
    ({"Fn::If": [name, true, false]}); ValueError for anything else."""
    if (isinstance(when, dict) and list(when) == ["Fn::If"] and isinstance(when["Fn::If"], list)
            and len(when["Fn::If"]) == 3 and isinstance(when["Fn::If"][0], str)
            and when["Fn::If"][1:] == [True, False]):
        return when["Fn::If"][0]
    raise ValueError(f"{when!r} is not {{\"Fn::If\": [<condition>, true, false]}}")


def skips_of(resource: dict) -> list[Skip]:
    """The skips of one rendered resource, in the order written. ValueError
    naming the check for a skip without a reason, or a condition given for
    a check the resource does not skip."""
    metadata = resource.get("Metadata") or {}
    entries = (metadata.get(CHECKOV) or {}).get(SKIP) or []
    when = (metadata.get(CODEMATE) or {}).get(SKIP_WHEN) or {}
    skipped = [entry.get("id") for entry in entries]
    for check_id in when:
        if check_id not in skipped:
            raise ValueError(f"{SKIP_WHEN} names {check_id}, which the resource does not skip")
    found = []
    for entry in entries:
        check_id, reason = entry.get("id"), entry.get("comment")
        problem = _problem(check_id, reason)
        if problem:
            raise ValueError(problem)
        found.append(Skip(check_id, reason, condition_of(when[check_id]) if check_id in when else None))
    return found


def without_skips(resource: dict, check_ids: set[str]) -> dict:
    """A copy of the rendered resource without the skips of `check_ids`
    (and their conditions): checkov then reports those checks."""
    metadata = dict(resource.get("Metadata") or {})
    checkov = dict(metadata.get(CHECKOV) or {})
    checkov[SKIP] = [entry for entry in checkov.get(SKIP) or [] if entry.get("id") not in check_ids]
    metadata[CHECKOV] = checkov
    if SKIP_WHEN in (metadata.get(CODEMATE) or {}):
        ours = dict(metadata[CODEMATE])
        ours[SKIP_WHEN] = {k: v for k, v in ours[SKIP_WHEN].items() if k not in check_ids}
        metadata[CODEMATE] = ours
    return {**resource, "Metadata": metadata}
