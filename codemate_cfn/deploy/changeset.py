"""Change sets on the root stack, nested change sets included: create one,
wait for it (up to a deadline), read what AWS says it changes (root and
nested), list those waiting on a stack, execute or delete one."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from codemate_cfn.compile.layout import ROOT, STACK_TYPE
from codemate_cfn.deploy.events import elapsed
from codemate_cfn.errors import CodemateError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# How AWS says a change set changes nothing (change set, then UpdateStack wording).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
PENDING = {"CREATE_PENDING", "CREATE_IN_PROGRESS"}
WAIT_SECONDS = 600.0  # how long AWS may take to work a change set out
# Execution statuses of a change set that is no longer waiting to be executed.
EXECUTED = {"EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE"}


@dataclass
class ChangeSet:
    id: str
    stack_id: str
    kind: str  # CREATE or UPDATE
    status: str
    reason: str = ""
    changes: dict[str, list[dict]] = field(default_factory=dict)  # stack label -> ResourceChange dicts

    @property
    def no_changes(self) -> bool:
        return self.status == "FAILED" and any(marker in self.reason for marker in NO_CHANGES)

    @property
    def failed(self) -> bool:
        return self.status == "FAILED" and not self.no_changes

    @property
    def name(self) -> str:
        return short_name(self.id)


def short_name(change_set_id: str) -> str:
    """A change set's name, from its ARN (a name stays as it is)."""
    return change_set_id.split(":changeSet/", 1)[-1].split("/", 1)[0]


def new_name(now: datetime | None = None) -> str:
    """A change set name: starts with a letter, letters, digits and '-'."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("codemate-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def create(cfn, stack_name: str, kind: str, template_url: str, parameters: list[dict], tags: dict[str, str],
           labels: dict[str, str] | None = None, poll_seconds: float = 2.0, sleep=time.sleep,
           clock=time.monotonic, deadline_seconds: float = WAIT_SECONDS,
           rollback_configuration: dict | None = None) -> ChangeSet:
    """Create the change set and wait until AWS has worked it out, for at
    most `deadline_seconds` (then CodemateError, the change set left as it
    is). `labels` names nested stacks by logical ID ("NetworkStack" -> "network").
    `rollback_configuration` (triggers.Rollback.configuration) goes with the
    change set to its execution."""
    rollback = {"RollbackConfiguration": rollback_configuration} if rollback_configuration is not None else {}
    made = cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=new_name(),
        ChangeSetType=kind,
        TemplateURL=template_url,
        Parameters=parameters,
        Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        Capabilities=CAPABILITIES,
        IncludeNestedStacks=True,
        Description="codemate-cfn deploy",
        **rollback,
    )
    started = clock()
    try:
        while True:
            found = cfn.describe_change_set(ChangeSetName=made["Id"])
            if found["Status"] not in PENDING:
                break
            if clock() - started >= deadline_seconds:
                raise CodemateError(
                    f"change set {short_name(made['Id'])} on stack {stack_name} "
                    f"is still {found['Status']} after {elapsed(clock() - started)}; look at it in the CloudFormation "
                    f"console, or delete it with: aws cloudformation delete-change-set --change-set-name {made['Id']}")
            sleep(poll_seconds)
        change_set = ChangeSet(made["Id"], made["StackId"], kind, found["Status"], found.get("StatusReason", ""))
        if change_set.status == "CREATE_COMPLETE":
            change_set.changes = resource_changes(cfn, made["Id"], labels=labels)
    except KeyboardInterrupt:
        # Ctrl-C while AWS works the change set out: nobody will review it.
        discard(cfn, ChangeSet(made["Id"], made["StackId"], kind, "interrupted"))
        raise
    return change_set


def resource_changes(cfn, change_set_id: str, label: str = ROOT, labels: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """label -> ResourceChange dicts, for this change set and, through the
    ChangeSetId of each nested stack's change, every nested change set."""
    labels = labels or {}
    found: dict[str, list[dict]] = {label: []}
    token = None
    while True:
        page = cfn.describe_change_set(ChangeSetName=change_set_id, **({"NextToken": token} if token else {}))
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            found[label].append(resource)
            nested = resource.get("ChangeSetId")
            if resource.get("ResourceType") == STACK_TYPE and nested:
                logical_id = resource["LogicalResourceId"]
                found.update(resource_changes(cfn, nested, labels.get(logical_id, logical_id), labels))
        token = page.get("NextToken")
        if not token:
            return found


def has_detail(changes: dict[str, list[dict]]) -> bool:
    """Whether the change set says how things change (AWS does; the
    emulator lists bare actions, or nothing)."""
    return any("Details" in c or "Replacement" in c or "Scope" in c for rows in changes.values() for c in rows)


def execute(cfn, change_set: ChangeSet) -> None:
    if change_set.status != "CREATE_COMPLETE":
        raise CodemateError(f"change set {change_set.name} is {change_set.status} and cannot be executed")
    cfn.execute_change_set(ChangeSetName=change_set.id)


def waiting(cfn, stack_id: str) -> list[dict]:
    """The change sets of the stack not executed (yet): ListChangeSets
    summaries, oldest first."""
    found, token = [], None
    while True:
        page = cfn.list_change_sets(StackName=stack_id, **({"NextToken": token} if token else {}))
        found += [s for s in page.get("Summaries", [])
                  if s.get("StackId") == stack_id and s.get("ExecutionStatus") not in EXECUTED]
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=lambda s: s["CreationTime"])


def discard(cfn, change_set: ChangeSet) -> None:
    """Delete the change set; for a first deploy, also the empty stack
    CloudFormation made for it (REVIEW_IN_PROGRESS), unless other change
    sets wait on it for review."""
    cfn.delete_change_set(ChangeSetName=change_set.id)
    if change_set.kind == "CREATE":
        status = cfn.describe_stacks(StackName=change_set.stack_id)["Stacks"][0]["StackStatus"]
        if status == "REVIEW_IN_PROGRESS" and not waiting(cfn, change_set.stack_id):
            cfn.delete_stack(StackName=change_set.stack_id)
