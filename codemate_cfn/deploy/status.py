"""`status`: a stack's state, provenance, last events and whether it runs
the local build; with follow, its events until it settles."""

from __future__ import annotations

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy import events, upload
from codemate_cfn.deploy.provenance import TAGS as PROVENANCE
from codemate_cfn.deploy.stack import as_dict, deployed_templates, existing
from codemate_cfn.table import format_table


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
           resume_hint: str | None = None, **watching) -> str:
    """Print the stack's state, provenance, last events and whether it runs
    the local build; with follow, stream events until a final state."""
    cfn = aws.cloudformation
    stack = existing(cfn, name, aws.target.region)
    labels = nested_names(local.get(ROOT, {}))
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
                        resume_hint=resume_hint, **watching)
