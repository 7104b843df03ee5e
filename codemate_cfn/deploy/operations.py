"""The stack commands besides deploy: outputs, status (with --follow),
delete and continue-rollback."""

from __future__ import annotations

from codemate_cfn.deploy import events
from codemate_cfn.deploy import plan
from codemate_cfn.deploy import upload
from codemate_cfn.deploy.flow import (
    PROVENANCE,
    as_dict,
    deployed_templates,
    nested_names,
    rollback_blockers,
)
from codemate_cfn.errors import CodemateError
from codemate_cfn.table import format_table

KEEPS = {"Retain": "kept", "RetainExceptOnCreate": "kept", "Snapshot": "deleted after a final snapshot"}


def existing(cfn, name: str, region: str) -> dict:
    stack = events.find_stack(cfn, name)
    if stack is None:
        raise CodemateError(f"stack {name} does not exist in {region}")
    return stack


def outputs_table(outputs: list[dict]) -> str:
    if not outputs:
        return "no outputs"
    rows = [[o["OutputKey"], o["OutputValue"], o.get("Description") or ""] for o in sorted(outputs, key=lambda o: o["OutputKey"])]
    return format_table(["output", "value", "description"], rows)


def template_hashes(templates: dict[str, dict]) -> dict[str, str]:
    return {name: upload.content_hash({name: body}) for name, body in upload.texts(templates).items()}


def drift_table(local: dict[str, dict], deployed: dict[str, dict]) -> tuple[str, bool]:
    """Per template: whether the deployed one is the local build's; and
    whether all are."""
    mine, theirs = template_hashes(local), template_hashes(deployed)
    rows, same = [], True
    for name in dict.fromkeys([*mine, *theirs]):
        verdict = "same" if mine.get(name) == theirs.get(name) else (
            "not deployed" if name not in theirs else "not in the build" if name not in mine else "differs")
        same &= verdict == "same"
        rows.append([name, (mine.get(name) or "-")[:12], (theirs.get(name) or "-")[:12], verdict])
    return format_table(["template", "local", "deployed", "verdict"], rows), same


def status(aws, name: str, local: dict[str, dict], ui, follow: bool = False, poll_seconds: float = 5.0,
           resume_hint: str | None = None) -> str:
    """Print the stack's state, provenance, last events and whether it runs
    the local build; with follow, stream events until a final state."""
    cfn = aws.cloudformation
    stack = existing(cfn, name, aws.target.region)
    labels = nested_names(local.get(plan.ROOT, {}))
    tags = as_dict(stack.get("Tags"), "Key", "Value")
    reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
    ui.say(f"stack {name}: {stack['StackStatus']}{reason}")
    changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    ui.say(f"last change: {changed:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    ui.say(f"git commit: {tags.get(PROVENANCE['commit'], 'unknown')}")
    ui.say(f"termination protection: {'on' if stack.get('EnableTerminationProtection') else 'off'}")
    if stack["StackStatus"] != "REVIEW_IN_PROGRESS":
        table, same = drift_table(local, deployed_templates(cfn, stack))
        ui.say("\n" + table)
        ui.say("deployed templates match the local build" if same else
               "deployed templates differ from the local build: `plan` shows what a deploy would change")
    ui.say("\nlast events:")
    for event in events.recent(aws, stack["StackId"], labels):
        ui.say("  " + events.format_event(event))
    if not follow:
        return stack["StackStatus"]
    if events.is_final(stack["StackStatus"]):
        ui.say(f"\n{name} is not deploying ({stack['StackStatus']}): nothing to follow")
        return stack["StackStatus"]
    ui.say("")
    since = events.latest_timestamp(cfn, stack["StackId"])
    return events.watch(aws, stack["StackId"], ui, since=since, poll_seconds=poll_seconds, labels=labels,
                        resume_hint=resume_hint)


def kept_on_delete(templates: dict[str, dict]) -> list[str]:
    """What a delete leaves behind, from the deletion policies."""
    kept = []
    for name, template in templates.items():
        for lid, resource in template.get("Resources", {}).items():
            policy = resource.get("DeletionPolicy")
            if policy in KEEPS:
                kept.append(f"{name}/{lid} ({resource.get('Type')}): {KEEPS[policy]}")
    return kept


def delete(aws, name: str, ui, yes: bool = False, poll_seconds: float = 5.0) -> str:
    cfn = aws.cloudformation
    stack = existing(cfn, name, aws.target.region)
    if stack.get("EnableTerminationProtection"):
        raise CodemateError(
            f"stack {name} has termination protection on; to delete it, lift it first with: "
            f"aws cloudformation update-termination-protection --no-enable-termination-protection "
            f"--stack-name {name} --region {aws.target.region}"
        )
    deployed = deployed_templates(cfn, stack) if stack["StackStatus"] != "REVIEW_IN_PROGRESS" else {}
    kept = kept_on_delete(deployed)
    if kept:
        ui.note("a delete keeps or snapshots these resources (their DeletionPolicy):")
        for line in kept:
            ui.note(f"  {line}")
    if not yes and not ui.confirm(f"Delete stack {name} and its nested stacks?"):
        why = "not confirmed" if ui.can_ask() else "no terminal to confirm on; pass --yes"
        raise CodemateError(f"stack {name} not deleted ({why})")
    since = events.latest_timestamp(cfn, stack["StackId"])
    labels = nested_names(deployed.get(plan.ROOT, {}))
    ui.step(f"deleting stack {name}")
    cfn.delete_stack(StackName=stack["StackId"])
    final = events.watch(aws, stack["StackId"], ui, since=since, poll_seconds=poll_seconds, labels=labels)
    if final != "DELETE_COMPLETE":
        events.report_failure(aws, stack["StackId"], final, ui, since=since, labels=labels)
        raise CodemateError(f"delete of stack {name} failed: it is {final}")
    ui.say(f"deleted stack {name}")
    return final


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

