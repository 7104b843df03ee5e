"""`delete`: remove the root stack and its nested stacks, saying first what
their deletion policies keep of the resources they hold."""

from __future__ import annotations

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy import events
from codemate_cfn.deploy.stack import all_resources, deployed_templates, existing
from codemate_cfn.errors import CodemateError

KEEPS = {"Retain": "kept", "RetainExceptOnCreate": "kept", "Snapshot": "deleted after a final snapshot"}


def kept_on_delete(templates: dict[str, dict], present: set[tuple[str, str]]) -> list[str]:
    """What a delete leaves behind, from the deletion policies of the
    resources `present` ((template name, logical ID) of what the stacks
    hold: not those whose condition is false)."""
    kept = []
    for name, template in templates.items():
        for lid, resource in template.get("Resources", {}).items():
            policy = resource.get("DeletionPolicy")
            if policy in KEEPS and (name, lid) in present:
                kept.append(f"{name}/{lid} ({resource.get('Type')}): {KEEPS[policy]}")
    return kept


def held(cfn, stack_id: str, labels: dict[str, str]) -> set[tuple[str, str]]:
    """(template name, logical ID) of every resource the root and its
    nested stacks hold now."""
    return {(r["Label"], r["LogicalResourceId"]) for r in all_resources(cfn, stack_id, labels)
            if r.get("PhysicalResourceId") and r.get("ResourceStatus") != "DELETE_COMPLETE"}


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
    labels = nested_names(deployed.get(ROOT, {}))
    kept = kept_on_delete(deployed, held(cfn, stack["StackId"], labels) if deployed else set())
    if kept:
        ui.note("a delete keeps or snapshots these resources (their DeletionPolicy):")
        for line in kept:
            ui.note(f"  {line}")
    if not yes and not ui.confirm(f"Delete stack {name} and its nested stacks?"):
        why = "not confirmed" if ui.can_ask() else "no terminal to confirm on; pass --yes"
        raise CodemateError(f"stack {name} not deleted ({why})")
    since = events.latest_timestamp(cfn, stack["StackId"])
    ui.step(f"deleting stack {name}")
    cfn.delete_stack(StackName=stack["StackId"])
    final = events.watch(aws, stack["StackId"], ui, since=since, poll_seconds=poll_seconds, labels=labels)
    if final != "DELETE_COMPLETE":
        events.report_failure(aws, stack["StackId"], final, ui, since=since, labels=labels)
        raise CodemateError(f"delete of stack {name} failed: it is {final}")
    ui.say(f"deleted stack {name}")
    return final
