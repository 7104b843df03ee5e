"""Stack events: stream those of a root stack and its nested stacks with
progress until the root reaches a final state, and find the first failures
with their reasons in the nested stack that failed (not just "Embedded
stack ... was not successfully created")."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from codemate_cfn.compile.layout import ROOT, STACK_TYPE
from codemate_cfn.deploy.stack import is_gone
from codemate_cfn.errors import EXIT_INTERRUPTED, CodemateError

# Final states a stack can be deployed from.
STABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
# A resource event that ends the work on that resource.
DONE_SUFFIXES = ("_COMPLETE", "_FAILED", "_SKIPPED")
# Failures that only echo a failure elsewhere.
ECHOES = (
    "Embedded stack",
    "Resource creation cancelled",
    "Resource update cancelled",
    "The following resource(s) failed",
)
FAILURES_SHOWN = 5


class StillRunning(CodemateError):
    """Watching stopped (Ctrl-C); the operation goes on in AWS."""

    exit_code = EXIT_INTERRUPTED


def is_final(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def latest_timestamp(cfn, stack_id: str):
    """The time of the stack's newest event: later events are new."""
    found = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return found[0]["Timestamp"] if found else None


@dataclass
class Stream:
    """New events of a root stack and its nested stacks, oldest first."""

    cfn: object
    root_id: str
    since: object = None  # only events after this time
    labels: dict[str, str] = field(default_factory=dict)  # nested logical ID -> label ("network")
    stacks: dict[str, str] = field(default_factory=dict)  # stack ID or name -> label
    seen: set[str] = field(default_factory=set)
    done: set[tuple[str, str]] = field(default_factory=set)
    logical_ids: dict[str, str] = field(default_factory=dict)  # nested stack ID -> its logical ID in the root

    def __post_init__(self):
        self.stacks.setdefault(self.root_id, ROOT)

    def _add_nested(self, logical_id: str, physical_id: str | None) -> None:
        if physical_id and physical_id not in self.stacks and physical_id != self.root_id:
            self.stacks[physical_id] = self.labels.get(logical_id, logical_id)
            self.logical_ids[physical_id] = logical_id

    def discover(self) -> None:
        """Find the nested stacks from the root's resources."""
        from botocore.exceptions import ClientError

        try:
            resources = self.cfn.describe_stack_resources(StackName=self.root_id)["StackResources"]
        except ClientError as exc:
            if not is_gone(exc):
                raise
            return
        for resource in resources:
            if resource.get("ResourceType") == STACK_TYPE:
                self._add_nested(resource["LogicalResourceId"], resource.get("PhysicalResourceId"))

    def _events_of(self, stack: str) -> list[dict]:
        from botocore.exceptions import ClientError

        fresh, token = [], None
        while True:
            kwargs = {"StackName": stack, **({"NextToken": token} if token else {})}
            try:
                page = self.cfn.describe_stack_events(**kwargs)
            except ClientError as exc:
                if not is_gone(exc):
                    raise
                return fresh  # a stack known by name, deleted: nothing more to read
            for event in page["StackEvents"]:
                if event["EventId"] in self.seen or (self.since is not None and event["Timestamp"] <= self.since):
                    return fresh
                fresh.append(event)
            token = page.get("NextToken")
            if not token:
                return fresh

    def poll(self) -> list[dict]:
        fresh = []
        for stack, label in list(self.stacks.items()):
            for event in self._events_of(stack):
                self.seen.add(event["EventId"])
                fresh.append({**event, "Label": label})
                if stack == self.root_id and event.get("ResourceType") == STACK_TYPE:
                    self._add_nested(event["LogicalResourceId"], event.get("PhysicalResourceId"))
        fresh.sort(key=lambda e: e["Timestamp"])
        return fresh

    def count(self, event: dict) -> None:
        """Note a resource whose work the event ends (for progress)."""
        if not event["ResourceStatus"].endswith(DONE_SUFFIXES):
            return
        if not _is_stack_itself(event):
            self.done.add((event["Label"], event["LogicalResourceId"]))
        elif event["StackId"] != self.root_id:  # a nested stack, seen from inside
            nested = self.logical_ids.get(event["StackId"]) or self.logical_ids.get(event["StackName"])
            if nested:
                self.done.add((ROOT, nested))


def _is_stack_itself(event: dict) -> bool:
    return event.get("ResourceType") == STACK_TYPE and event.get("PhysicalResourceId") == event.get("StackId")


def format_event(event: dict, progress: str = "") -> str:
    when = event["Timestamp"].strftime("%H:%M:%S")
    reason = event.get("ResourceStatusReason") or ""
    line = f"{progress}{when}  {event['Label']:<10} {event['LogicalResourceId']:<32} {event['ResourceStatus']:<22} {reason}"
    return line.rstrip()


def stack_status(cfn, stack_id: str) -> str:
    return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]


def elapsed(seconds: float) -> str:
    """"4s", "2m05s", "1h02m": how long an operation has run."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def watch(aws, stack_id: str, ui, since=None, poll_seconds: float = 5.0, expected: int | None = None,
          labels: dict[str, str] | None = None, resume_hint: str | None = None, sleep=time.sleep,
          clock=time.monotonic, heartbeat_seconds: float = 30.0) -> str:
    """Print the events of the stack and its nested stacks until the root
    reaches a final state; returns that state. Each line shows the progress
    and the time since watching began; when nothing happens for
    `heartbeat_seconds` (an RDS create is many silent minutes) a line says
    the stack is still at work. Ctrl-C stops watching only."""
    cfn = aws.cloudformation
    stream = Stream(cfn, stack_id, since, labels or {})
    stream.discover()
    status = "unknown"
    started = last_shown = clock()
    try:
        while True:
            status = stack_status(cfn, stack_id)
            final = is_final(status)
            if final:
                stream.discover()
            for event in stream.poll():
                stream.count(event)
                count = f"{len(stream.done)}/{expected}" if expected else f"{len(stream.done)}"
                ui.event(format_event(event, f"[{count} {elapsed(clock() - started)}] "))
                last_shown = clock()
            if final:
                return status
            if clock() - last_shown >= heartbeat_seconds:
                ui.event(f"... still {status}, {elapsed(clock() - started)} since watching began; "
                         f"no new event for {elapsed(clock() - last_shown)}")
                last_shown = clock()
            sleep(poll_seconds)
    except KeyboardInterrupt:
        hint = f" Watch it again with: {resume_hint}" if resume_hint else ""
        raise StillRunning(
            f"stopped watching: stack {stack_id} is still {status} and CloudFormation carries on.{hint}"
        ) from None


def recent(aws, stack_id: str, labels: dict[str, str] | None = None, limit: int = 10) -> list[dict]:
    """The newest events of the root and its nested stacks (first page of each)."""
    cfn = aws.cloudformation
    stream = Stream(cfn, stack_id, None, labels or {})
    stream.discover()
    found = []
    for stack, label in stream.stacks.items():
        found += [{**e, "Label": label} for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]]
    return sorted(found, key=lambda e: e["Timestamp"])[-limit:]


def _echoes(event: dict) -> bool:
    """Whether the event only echoes a failure elsewhere (or a cancellation)."""
    return any(echo in (event.get("ResourceStatusReason") or "") for echo in ECHOES)


def first_failures(found: list[dict], limit: int = FAILURES_SHOWN) -> list[dict]:
    """The failures that caused the others, oldest first: failed events
    that do not just echo a failure in a nested stack or a cancellation."""
    failed = [e for e in found if e["ResourceStatus"].endswith("_FAILED") and not _is_stack_itself(e)]
    causes = [e for e in failed if not _echoes(e)]
    chosen = causes or failed or [e for e in found if e["ResourceStatus"].endswith("_FAILED")]
    return sorted(chosen, key=lambda e: e["Timestamp"])[:limit]


def _since(aws, stack_id: str, since=None, labels: dict[str, str] | None = None) -> list[dict]:
    """Every event of the root and its nested stacks since `since`."""
    stream = Stream(aws.cloudformation, stack_id, since, labels or {})
    stream.discover()
    found = stream.poll()
    return found + stream.poll()  # nested stacks only named in the root's events


def failures(aws, stack_id: str, since=None, labels: dict[str, str] | None = None) -> list[dict]:
    """The first failing events of the root and its nested stacks since `since`."""
    return first_failures(_since(aws, stack_id, since, labels))


# How CloudFormation says that rollback triggers rolled an operation back: the
# reason of the stack's own *ROLLBACK_IN_PROGRESS event (and its StackStatusReason),
# followed by the alarms' names.
ALARM_ROLLBACK = "The following CloudWatch Alarms were in ALARM state:"


def _names_alarms(event: dict) -> bool:
    """Whether the event is a stack's rollback because of its rollback triggers."""
    return (_is_stack_itself(event) and event["ResourceStatus"].endswith("ROLLBACK_IN_PROGRESS")
            and ALARM_ROLLBACK in (event.get("ResourceStatusReason") or ""))


def rollback_alarms(found: list[dict]) -> list[str]:
    """The names of the alarms whose ALARM state rolled the operation back,
    from the stacks' own rollback events; none when something else did."""
    names = [name.strip() for e in found if _names_alarms(e)
             for name in e["ResourceStatusReason"].split(ALARM_ROLLBACK, 1)[1].split(",")]
    return list(dict.fromkeys(name for name in names if name))


def alarm_rollback(alarms: list[str]) -> str:
    """What rolled the deploy back, in words."""
    which = f"alarm {alarms[0]}" if len(alarms) == 1 else f"alarms {', '.join(alarms)}"
    return f"rolled back because {which} went into ALARM during the deploy (rollback trigger)"


@dataclass
class Failure:
    """Why an operation failed: its first failing events and, when its
    rollback triggers rolled it back, the alarms that did."""

    failures: list[dict]
    alarms: list[str]


def _line(event: dict) -> str:
    return (f"  {event['Label']}/{event['LogicalResourceId']} ({event.get('ResourceType', '?')}) "
            f"{event['ResourceStatus']}: {event.get('ResourceStatusReason') or 'no reason given'}")


def explain_failure(aws, stack_id: str, final: str, ui, since=None, labels: dict[str, str] | None = None) -> Failure:
    """Say why the operation ended in `final`: the alarms that rolled it
    back (rollback triggers) with the events that say so, or its first
    failures."""
    found = _since(aws, stack_id, since, labels)
    failed, alarms = first_failures(found), rollback_alarms(found)
    if alarms:
        ui.note(alarm_rollback(alarms))
        # the rollback's own events, and failures that are not cancellations by it
        shown = [e for e in found if _names_alarms(e)] + [e for e in failed if not _echoes(e)]
        ui.note(f"events ({final}):")
        for event in sorted(shown, key=lambda e: e["Timestamp"]):
            ui.note(_line(event))
    elif failed:
        ui.note(f"first failures ({final}):")
        for event in failed:
            ui.note(_line(event))
    return Failure(failed, alarms)


def report_failure(aws, stack_id: str, final: str, ui, since=None, labels: dict[str, str] | None = None) -> list[dict]:
    """explain_failure, for callers that want the failing events only."""
    return explain_failure(aws, stack_id, final, ui, since, labels).failures
