"""`delete`: remove the root stack and its nested stacks, saying first what
their deletion policies keep."""

from __future__ import annotations

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy import events
from codemate_cfn.deploy.stack import deployed_templates, existing
from codemate_cfn.errors import CodemateError

KEEPS = {"Retain": "kept", "RetainExceptOnCreate": "kept", "Snapshot": "deleted after a final snapshot"}


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
    labels = nested_names(deployed.get(ROOT, {}))
    ui.step(f"deleting stack {name}")
    cfn.delete_stack(StackName=stack["StackId"])
    final = events.watch(aws, stack["StackId"], ui, since=since, poll_seconds=poll_seconds, labels=labels)
    if final != "DELETE_COMPLETE":
        events.report_failure(aws, stack["StackId"], final, ui, since=since, labels=labels)
        raise CodemateError(f"delete of stack {name} failed: it is {final}")
    ui.say(f"deleted stack {name}")
    return final
