"""A stack CloudFormation could not roll back (UPDATE_ROLLBACK_FAILED):
what blocks it, how to say so, and continuing the rollback."""

from __future__ import annotations

from codemate_cfn.compile.layout import ROOT, STACK_TYPE
from codemate_cfn.deploy import events
from codemate_cfn.deploy.stack import all_resources, existing
from codemate_cfn.errors import CodemateError


def rollback_blockers(cfn, stack_id: str) -> list[tuple[str, str]]:
    """(name for --skip, reason) of each resource that failed to roll back;
    nested ones as NestedStackLogicalId.LogicalId, as ContinueUpdateRollback wants."""
    found = []
    for r in all_resources(cfn, stack_id, {}):
        if r.get("ResourceStatus") == "UPDATE_FAILED" and r.get("ResourceType") != STACK_TYPE:
            name = r["LogicalResourceId"] if r["Label"] == ROOT else f"{r['Label']}.{r['LogicalResourceId']}"
            found.append((name, r.get("ResourceStatusReason") or "no reason given"))
    return found


def rollback_failed_message(cfn, stack: dict, command) -> str:
    """Why the stack cannot roll back and what to run; `command(name, *more)`
    spells the hints (Options.command)."""
    blockers = rollback_blockers(cfn, stack["StackId"])
    listed = "; ".join(f"{name}: {reason}" for name, reason in blockers) or "no failed resource found"
    skip = " ".join(f"--skip {name}" for name, _ in blockers)
    return (
        f"stack {stack['StackName']} is UPDATE_ROLLBACK_FAILED: CloudFormation could not roll back ({listed}). "
        f"Fix the cause and run `{command('continue-rollback')}`, "
        f"or skip what cannot roll back: `{command('continue-rollback', *skip.split())}`".rstrip()
    )


def continue_rollback(aws, name: str, skip: list[str], ui, poll_seconds: float = 5.0) -> str:
    cfn = aws.cloudformation
    stack = existing(cfn, name, aws.target.region)
    if stack["StackStatus"] != "UPDATE_ROLLBACK_FAILED":
        raise CodemateError(f"stack {name} is {stack['StackStatus']}, not UPDATE_ROLLBACK_FAILED: there is no rollback to continue")
    blockers = dict(rollback_blockers(cfn, stack["StackId"]))
    unknown = [s for s in skip if s not in blockers]
    if unknown:
        known = ", ".join(blockers) or "none"
        raise CodemateError(f"--skip {' '.join(unknown)}: not among the resources that failed to roll back ({known})")
    since = events.latest_timestamp(cfn, stack["StackId"])
    ui.step(f"continuing the rollback of {name}" + (f", skipping {', '.join(skip)}" if skip else ""))
    cfn.continue_update_rollback(StackName=stack["StackId"], ResourcesToSkip=list(skip))
    final = events.watch(aws, stack["StackId"], ui, since=since, poll_seconds=poll_seconds)
    if final != "UPDATE_ROLLBACK_COMPLETE":
        events.report_failure(aws, stack["StackId"], final, ui, since=since)
        raise CodemateError(f"the rollback of stack {name} did not complete: it is {final}")
    ui.say(f"stack {name} rolled back: UPDATE_ROLLBACK_COMPLETE; it can be deployed again")
    return final
