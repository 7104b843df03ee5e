"""`status`: a stack's state, provenance, the change sets waiting on it,
its last events and whether it runs the local build; a stack in
REVIEW_IN_PROGRESS is waiting for review, and says how to execute or
discard what waits. With follow, its events until it settles. Shown as
text, or as one JSON document."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy import changeset, events, upload
from codemate_cfn.deploy.flow import Options
from codemate_cfn.deploy.provenance import TAGS as PROVENANCE
from codemate_cfn.deploy.stack import as_dict, deployed_templates, existing
from codemate_cfn.table import format_table

REVIEW = "REVIEW_IN_PROGRESS"  # a first change set made, none executed: the stack holds nothing yet
TIME = "%Y-%m-%d %H:%M:%S %Z"


def template_hashes(templates: dict[str, dict]) -> dict[str, str]:
    return {name: upload.content_hash({name: body}) for name, body in upload.texts(templates).items()}


def drift_rows(local: dict[str, dict], deployed: dict[str, dict]) -> list[dict]:
    """Per template: its local and deployed hashes and whether they are the same."""
    mine, theirs = template_hashes(local), template_hashes(deployed)
    rows = []
    for name in dict.fromkeys([*mine, *theirs]):
        verdict = "same" if mine.get(name) == theirs.get(name) else (
            "not deployed" if name not in theirs else "not in the build" if name not in mine else "differs")
        rows.append({"template": name, "local": mine.get(name), "deployed": theirs.get(name), "verdict": verdict})
    return rows


def drift_table(rows: list[dict]) -> tuple[str, bool]:
    """The rows of drift_rows as a table; and whether every template is the same."""
    table = format_table(["template", "local", "deployed", "verdict"],
                         [[r["template"], (r["local"] or "-")[:12], (r["deployed"] or "-")[:12], r["verdict"]]
                          for r in rows])
    return table, all(r["verdict"] == "same" for r in rows)


def _when(value) -> str:
    return f"{value:{TIME}}".rstrip()


@dataclass
class Report:
    """What `status` shows about a stack."""

    name: str
    stack: dict
    waiting: list[dict]  # change sets not executed (ListChangeSets summaries)
    events: list[dict]  # the newest events, labelled
    labels: dict[str, str]  # nested stack logical ID -> template name
    drift: list[dict] | None  # per template, or None when there is nothing to compare
    no_drift: str = ""  # why there is no comparison
    hints: dict[str, list[str]] = field(default_factory=dict)  # "execute" / "discard" -> commands

    @property
    def status(self) -> str:
        return self.stack["StackStatus"]

    @property
    def in_review(self) -> bool:
        return self.status == REVIEW

    def text(self) -> str:
        stack, tags = self.stack, as_dict(self.stack.get("Tags"), "Key", "Value")
        reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
        if self.in_review:
            reason = ", waiting for review (a change set made, none executed: the stack holds nothing yet)"
        lines = [f"stack {self.name}: {self.status}{reason}",
                 f"last change: {_when(stack.get('LastUpdatedTime') or stack.get('CreationTime'))}",
                 f"git commit: {tags.get(PROVENANCE['commit'], 'unknown')}",
                 f"termination protection: {'on' if stack.get('EnableTerminationProtection') else 'off'}", ""]
        if self.waiting:
            lines.append("pending change sets:")
            lines.append(format_table(["name", "status", "execution", "created"], [
                [w["ChangeSetName"], w.get("Status", "?"), w.get("ExecutionStatus", "?"), _when(w["CreationTime"])]
                for w in self.waiting]))
        else:
            lines.append("pending change sets: none")
        for verb, commands in self.hints.items():
            what = " (the stack in review with its change sets)" if verb == "discard" and self.in_review else ""
            lines += [f"{verb}{what}: {command}" for command in commands]
        if self.drift is None:
            lines.append(f"\n{self.no_drift}")
        else:
            table, same = drift_table(self.drift)
            lines.append("\n" + table)
            lines.append("deployed templates match the local build" if same else
                         "deployed templates differ from the local build: `plan` shows what a deploy would change")
        lines.append("\nlast events:")
        lines += ["  " + events.format_event(event) for event in self.events]
        return "\n".join(lines)

    def document(self) -> dict:
        stack, tags = self.stack, as_dict(self.stack.get("Tags"), "Key", "Value")
        changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
        return {
            "stack": self.name,
            "stack_id": stack["StackId"],
            "status": self.status,
            "reason": stack.get("StackStatusReason"),
            "waiting_for_review": self.in_review,
            "last_change": changed.isoformat() if changed else None,
            "commit": tags.get(PROVENANCE["commit"]),
            "termination_protection": bool(stack.get("EnableTerminationProtection")),
            "pending_change_sets": [
                {"name": w["ChangeSetName"], "id": w["ChangeSetId"], "status": w.get("Status"),
                 "execution_status": w.get("ExecutionStatus"), "created": w["CreationTime"].isoformat(),
                 "reason": w.get("StatusReason")}
                for w in self.waiting],
            "commands": self.hints,
            "local_build": {"compared": self.drift is not None, "templates": self.drift or [],
                            "matches": None if self.drift is None else drift_table(self.drift)[1],
                            "note": self.no_drift or None},
            "recent_events": [
                {"time": e["Timestamp"].isoformat(), "stack": e["Label"], "logical_id": e["LogicalResourceId"],
                 "type": e.get("ResourceType"), "status": e["ResourceStatus"], "reason": e.get("ResourceStatusReason")}
                for e in self.events],
        }


def hints(stack: dict, waiting: list[dict], command) -> dict[str, list[str]]:
    """How to execute each change set that can be, and how to discard what
    waits: the empty stack of a first deploy (its change sets with it), else
    each change set."""
    if not waiting:
        return {}
    ready = [w for w in waiting if (w.get("Status"), w.get("ExecutionStatus")) == ("CREATE_COMPLETE", "AVAILABLE")]
    found = {"execute": [command("deploy", "--execute", w["ChangeSetName"]) for w in ready]}
    if stack["StackStatus"] == REVIEW:
        found["discard"] = [command("delete")]
    else:
        found["discard"] = [f"aws cloudformation delete-change-set --change-set-name {w['ChangeSetId']}"
                            for w in waiting]
    return {verb: commands for verb, commands in found.items() if commands}


def read(aws, name: str, local: dict[str, dict] | None, no_local: str, command,
         stack_id: str | None = None) -> Report:
    """Everything `status` shows about the stack `name` (looked up by
    `stack_id` when given); `local` is the local build to compare with
    (None: `no_local` says why there is none)."""
    cfn = aws.cloudformation
    stack = existing(cfn, stack_id or name, aws.target.region)
    deployed = {} if stack["StackStatus"] == REVIEW else deployed_templates(cfn, stack)
    waiting = changeset.waiting(cfn, stack["StackId"])
    if not deployed:
        drift, why = None, "no templates deployed yet: nothing to compare with the local build"
    elif local is None:
        drift, why = None, no_local
    else:
        drift, why = drift_rows(local, deployed), ""
    labels = nested_names(deployed.get(ROOT, {}))
    return Report(name, stack, waiting, events.recent(aws, stack["StackId"], labels), labels, drift, why,
                  hints(stack, waiting, command))


def status(aws, name: str, local: dict[str, dict] | None, ui, follow: bool = False, poll_seconds: float = 5.0,
           options: Options | None = None, output: str = "text", no_local: str = "no local build to compare with",
           **watching) -> str:
    """Show the stack's state (text, or a JSON document on stdout alone);
    with follow, stream its events (stderr) until a final state first. A
    stack waiting for review is not deploying: there is nothing to follow.
    Returns the stack's status at the end."""
    options = options or Options(stack_name=name)
    report = read(aws, name, local, no_local, options.command)
    if output == "text":
        ui.say(report.text())
    final = report.status
    aside = ui.say if output == "text" else ui.note  # stdout holds the JSON document alone
    if follow and (events.is_final(final) or report.in_review):
        why = "waiting for review" if report.in_review else "not deploying"
        aside(f"\n{name} is {why} ({final}): nothing to follow")
    elif follow:
        aside("")
        since = events.latest_timestamp(aws.cloudformation, report.stack["StackId"])
        final = events.watch(aws, report.stack["StackId"], ui, since=since, poll_seconds=poll_seconds,
                             labels=report.labels, resume_hint=options.resume_hint, **watching)
        if output == "json":
            report = read(aws, name, local, no_local, options.command, stack_id=report.stack["StackId"])
    if output == "json":
        ui.say(json.dumps(report.document(), indent=2))
    return final
