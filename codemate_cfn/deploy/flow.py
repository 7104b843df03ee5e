"""The deploy flow, from rendered templates and a checked parameter file to
a deployed stack: find or create the artifact bucket, upload, change set
on the root with nested change sets, plan, stateful guard, confirm,
execute, watch, protect, outputs.

`run` takes the templates as dicts, so a test can deploy a changed
template without touching the sources."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from codemate_cfn.deploy import bootstrap
from codemate_cfn.deploy import changeset
from codemate_cfn.deploy import events
from codemate_cfn.deploy import guard
from codemate_cfn.deploy import plan
from codemate_cfn.deploy import upload
from codemate_cfn.errors import CodemateError
from codemate_cfn.params.parameter import TEMPLATES_BUCKET, TEMPLATES_PREFIX
from codemate_cfn.stateful import is_stateful, stack_policy

PROVENANCE = {
    "commit": "codemate:git-commit",
    "templates": "codemate:template-sha256",
    "params": "codemate:params-sha256",
}
EXIT_CHANGES = 3  # a plan with changes (not executed)
EXIT_BLOCKED = 4  # changes the stateful guard refuses
BUSY_HINT = "watch it with: python -m codemate_cfn status {params} --follow"


@dataclass
class Options:
    stack_name: str
    params_path: str = "PARAMS_FILE"  # as the user typed it, for the hints we print
    allow_replacement: set[str] = field(default_factory=set)
    yes: bool = False
    execute: bool = True  # False: leave the change set for review (--no-execute)
    plan_only: bool = False  # the `plan` command: delete the change set after the plan
    recreate: bool = False
    show_plan: bool = True  # False with --output json
    commit: str = "unknown"
    poll_seconds: float = 5.0

    @property
    def resume_hint(self) -> str:
        return f"python -m codemate_cfn status {self.params_path} --follow"


@dataclass
class Result:
    outcome: str  # "no changes" | "changes" | "blocked" | "left for review" | "deployed"
    changes: list = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    change_set: changeset.ChangeSet | None = None
    uploaded: list[str] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    not_emulated: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"changes": EXIT_CHANGES, "blocked": EXIT_BLOCKED}.get(self.outcome, 0)


class DeployFailed(CodemateError):
    """The stack did not reach its goal; the first failures were printed."""


# -- small facts --------------------------------------------------------------

def git_commit(root: Path) -> str:
    """HEAD's commit, "-dirty" when the sources or parameter files have
    uncommitted changes; "unknown" outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", "templates_src", "params", "codemate_cfn")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def nested_names(root_template: dict) -> dict[str, str]:
    """Nested stack logical ID -> template name, from each TemplateURL's
    file name ("${TemplatesKeyPrefix}network.json" -> "network")."""
    names = {}
    for logical_id, resource in root_template.get("Resources", {}).items():
        if resource.get("Type") != events.STACK_TYPE:
            continue
        url = resource.get("Properties", {}).get("TemplateURL", "")
        if isinstance(url, dict):
            url = url.get("Fn::Sub", "")
            url = url[0] if isinstance(url, list) else url
        tail = re.sub(r"\$\{[^}]*\}", "", str(url).rsplit("/", 1)[-1])  # drop ${TemplatesKeyPrefix}
        names[logical_id] = tail.removesuffix(".json") or logical_id
    return names


def stack_parameters(root_template: dict, params, catalogue: dict) -> dict[str, str]:
    """Every root parameter but the deployer's: the file's value, else the
    catalogue's default."""
    values = {}
    for name in root_template.get("Parameters", {}):
        if name in (TEMPLATES_BUCKET.name, TEMPLATES_PREFIX.name):
            continue
        if name in params.parameters:
            values[name] = params.parameters[name]
        elif name in catalogue and catalogue[name].default is not None:
            values[name] = catalogue[name].default
    return values


def params_hash(values: dict[str, str], tags: dict[str, str]) -> str:
    """Hash of what the parameter file puts into the stack."""
    text = json.dumps({"Parameters": values, "Tags": tags}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def as_dict(pairs, key: str, value: str) -> dict:
    return {p[key]: p[value] for p in pairs or []}


def nested_stacks(cfn, stack_id: str) -> dict[str, str]:
    """Nested stack logical ID -> physical ID (stack ARN)."""
    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("ResourceType") == events.STACK_TYPE and r.get("PhysicalResourceId")
    }


def _template_body(cfn, stack_id: str) -> dict:
    body = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    return json.loads(body) if isinstance(body, str) else dict(body)


def deployed_templates(cfn, stack: dict) -> dict[str, dict]:
    """The templates the stack and its nested stacks run now, by name."""
    root = _template_body(cfn, stack["StackId"])
    templates = {plan.ROOT: root}
    names = nested_names(root)
    for logical_id, physical_id in nested_stacks(cfn, stack["StackId"]).items():
        templates[names.get(logical_id, logical_id)] = _template_body(cfn, physical_id)
    return templates


def all_resources(cfn, stack_id: str, labels: dict[str, str]) -> list[dict]:
    """Every resource of the root and its nested stacks, with a "Label"."""
    found = []
    for resource in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]:
        found.append({**resource, "Label": plan.ROOT})
        if resource.get("ResourceType") == events.STACK_TYPE and resource.get("PhysicalResourceId"):
            label = labels.get(resource["LogicalResourceId"], resource["LogicalResourceId"])
            for inner in cfn.describe_stack_resources(StackName=resource["PhysicalResourceId"])["StackResources"]:
                found.append({**inner, "Label": label})
    return found


def not_emulated(resources: list[dict]) -> list[str]:
    from codemate_cfn.emulator import is_placeholder

    return [
        f"{r['Label']}/{r['LogicalResourceId']} ({r['ResourceType']})"
        for r in resources
        if is_placeholder(r.get("PhysicalResourceId"))
    ]


# -- the state the stack is in --------------------------------------------------

def retained_resources(cfn, stack_id: str, labels: dict[str, str]) -> list[str]:
    """Resources a rolled-back create kept (DeletionPolicy Retain)."""
    return [
        f"{r['Label']}/{r['LogicalResourceId']} ({r.get('PhysicalResourceId') or 'no physical ID'})"
        for r in all_resources(cfn, stack_id, labels)
        if r.get("ResourceStatus") == "DELETE_SKIPPED"
    ]


def rollback_blockers(cfn, stack_id: str) -> list[tuple[str, str]]:
    """(name for --skip, reason) of each resource that failed to roll back;
    nested ones as NestedStackLogicalId.LogicalId, as ContinueUpdateRollback wants."""
    found = []
    for r in all_resources(cfn, stack_id, {}):
        if r.get("ResourceStatus") == "UPDATE_FAILED" and r.get("ResourceType") != events.STACK_TYPE:
            name = r["LogicalResourceId"] if r["Label"] == plan.ROOT else f"{r['Label']}.{r['LogicalResourceId']}"
            found.append((name, r.get("ResourceStatusReason") or "no reason given"))
    return found


def rollback_failed_message(cfn, stack: dict, params_path: str) -> str:
    blockers = rollback_blockers(cfn, stack["StackId"])
    listed = "; ".join(f"{name}: {reason}" for name, reason in blockers) or "no failed resource found"
    skip = " ".join(f"--skip {name}" for name, _ in blockers)
    return (
        f"stack {stack['StackName']} is UPDATE_ROLLBACK_FAILED: CloudFormation could not roll back ({listed}). "
        f"Fix the cause and run `python -m codemate_cfn continue-rollback {params_path}`, "
        f"or skip what cannot roll back: `python -m codemate_cfn continue-rollback {params_path} {skip}`".rstrip()
    )


def change_set_kind(aws, stack: dict | None, options: Options, ui, labels: dict[str, str]) -> str:
    """CREATE or UPDATE; refuses stacks that cannot take a change set now,
    and recreates a failed first create when asked (--recreate)."""
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return "CREATE"
    name, status = stack["StackName"], stack["StackStatus"]
    cfn = aws.cloudformation
    if status == "ROLLBACK_COMPLETE":
        if not options.recreate:
            raise CodemateError(
                f"stack {name} is ROLLBACK_COMPLETE: its first create failed, and such a stack can only be deleted. "
                f"Run again with --recreate to delete it and create it anew"
            )
        retained = retained_resources(cfn, stack["StackId"], labels)
        if retained:
            raise CodemateError(
                f"--recreate refused: stack {name} kept resources when it rolled back ({', '.join(retained)}); "
                f"a new create would collide with them. Delete or import them first"
            )
        ui.step(f"deleting stack {name} (ROLLBACK_COMPLETE) to create it anew")
        cfn.delete_stack(StackName=stack["StackId"])
        final = events.watch(aws, stack["StackId"], ui, poll_seconds=options.poll_seconds, labels=labels)
        if final != "DELETE_COMPLETE":
            raise CodemateError(f"stack {name} could not be deleted: it is {final}")
        return "CREATE"
    if status == "UPDATE_ROLLBACK_FAILED":
        raise CodemateError(rollback_failed_message(cfn, stack, options.params_path))
    if status.endswith("_IN_PROGRESS"):
        raise CodemateError(f"stack {name} is busy ({status}); {BUSY_HINT.format(params=options.params_path)}")
    if status not in events.STABLE:
        raise CodemateError(f"stack {name} is {status} and cannot be updated; look at it with "
                            f"`python -m codemate_cfn status {options.params_path}`, fix it or delete it")
    return "UPDATE"


# -- protection -----------------------------------------------------------------

def desired_policies(templates: dict[str, dict], params, labels: dict[str, str]) -> dict[str, dict]:
    """Template name -> stack policy: deny replacing or deleting stateful
    resources (when Deployment.ProtectStatefulResources), and in the root
    the nested stacks holding them; plus the file's own StackPolicy."""
    policies = {}
    if params.deployment.get("ProtectStatefulResources"):
        holders = {
            name for name, t in templates.items()
            if any(is_stateful(r.get("Type", "")) for r in t.get("Resources", {}).values())
        }
        for name, t in templates.items():
            ids = [lid for lid, r in t.get("Resources", {}).items() if is_stateful(r.get("Type", ""))]
            if name == plan.ROOT:
                ids = [lid for lid, n in labels.items() if n in holders]
            if ids:
                policies[name] = stack_policy(ids)
    if params.stack_policy:
        root = policies.setdefault(plan.ROOT, {"Statement": []})
        root["Statement"] = root["Statement"] + list(params.stack_policy.get("Statement", []))
    return policies


def _stack_ids(cfn, root_id: str, labels: dict[str, str]) -> dict[str, str]:
    ids = {plan.ROOT: root_id}
    for logical_id, physical_id in nested_stacks(cfn, root_id).items():
        ids[labels.get(logical_id, logical_id)] = physical_id
    return ids


def _current_policy(cfn, stack_id: str) -> dict | None:
    body = cfn.get_stack_policy(StackName=stack_id).get("StackPolicyBody")
    return json.loads(body) if body else None


def without(policy: dict, logical_ids: set[str]) -> dict:
    """The policy with the given resources taken out of its Deny statements."""
    statements = []
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        if statement.get("Effect") == "Deny" and isinstance(resources, list):
            kept = [r for r in resources if r.removeprefix("LogicalResourceId/") not in logical_ids]
            if not kept:
                continue
            statement = {**statement, "Resource": kept}
        statements.append(statement)
    return {**policy, "Statement": statements}


def lift_for(aws, root_id: str, changes, allowed: set[str], labels: dict[str, str], ui) -> bool:
    """Let the stack policies allow the replacements the user allowed
    (ExecuteChangeSet takes no policy override); True when one was lifted."""
    cfn = aws.cloudformation
    by_stack: dict[str, set[str]] = {}
    for c in changes:
        if c.stateful and {c.logical_id, f"{c.stack}/{c.logical_id}"} & allowed:
            by_stack.setdefault(c.stack, set()).add(c.logical_id)
    if not by_stack:
        return False
    ids = _stack_ids(cfn, root_id, labels)
    lifted = False
    for stack, logical_ids in by_stack.items():
        if stack not in ids:
            continue
        current = _current_policy(cfn, ids[stack])
        if current is None:
            continue
        relaxed = without(current, logical_ids)
        if relaxed != current:
            ui.step(f"stack policy of {stack}: allowing the replacement of {', '.join(sorted(logical_ids))} for this deploy")
            cfn.set_stack_policy(StackName=ids[stack], StackPolicyBody=json.dumps(relaxed))
            lifted = True
    return lifted


def protect(aws, stack: dict, templates: dict[str, dict], params, labels: dict[str, str], ui) -> None:
    """Stack policies on the root and each nested stack, and termination
    protection on the root, as the parameter file's Deployment asks."""
    cfn = aws.cloudformation
    policies = desired_policies(templates, params, labels)
    if policies:
        ids = _stack_ids(cfn, stack["StackId"], labels)
        for name, policy in policies.items():
            if name in ids and _current_policy(cfn, ids[name]) != policy:
                cfn.set_stack_policy(StackName=ids[name], StackPolicyBody=json.dumps(policy))
                ui.step(f"stack policy set on {name}: stateful resources cannot be replaced or deleted")
    wanted = bool(params.deployment.get("TerminationProtection"))
    current = bool(stack.get("EnableTerminationProtection"))
    if wanted and not current:
        cfn.update_termination_protection(StackName=stack["StackId"], EnableTerminationProtection=True)
        ui.step(f"termination protection turned on for {stack['StackName']}")
    elif current and not wanted:
        ui.note(f"note: {stack['StackName']} keeps its termination protection although {params.path.name} does not ask "
                f"for it; lift it with: aws cloudformation update-termination-protection "
                f"--no-enable-termination-protection --stack-name {stack['StackName']}")


# -- the flow -----------------------------------------------------------------------

def provenance(stack: dict | None, template_sha: str, param_sha: str, commit: str) -> dict[str, str]:
    """The provenance tags. When neither templates nor parameters changed
    the deployed commit stays: a new tag value alone would touch every
    taggable resource."""
    deployed = as_dict(stack.get("Tags"), "Key", "Value") if stack else {}
    same = deployed.get(PROVENANCE["templates"]) == template_sha and deployed.get(PROVENANCE["params"]) == param_sha
    return {
        PROVENANCE["commit"]: deployed.get(PROVENANCE["commit"], commit) if same else commit,
        PROVENANCE["templates"]: template_sha,
        PROVENANCE["params"]: param_sha,
    }


def _unchanged(stack: dict | None, tags: dict[str, str], bucket: str) -> bool:
    """Deployed from the same templates, parameters, tags and bucket."""
    if stack is None:
        return False
    deployed_params = as_dict(stack.get("Parameters"), "ParameterKey", "ParameterValue")
    return as_dict(stack.get("Tags"), "Key", "Value") == tags and deployed_params.get(TEMPLATES_BUCKET.name) == bucket


def run(aws, templates: dict[str, dict], params, catalogue: dict, options: Options, ui) -> Result:
    """Deploy (or plan) `templates` with the parameter file `params`."""
    cfn = aws.cloudformation
    labels = nested_names(templates[plan.ROOT])
    stack = events.find_stack(cfn, options.stack_name)
    kind = change_set_kind(aws, stack, options, ui, labels)
    if kind == "CREATE" and stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
        stack = None  # deleted by --recreate

    bucket = bootstrap.find_bucket(aws)
    if bucket is None:
        ui.step("no artifact bucket yet: bootstrapping it")
        bucket = bootstrap.ensure(aws, ui, options.poll_seconds)
    bodies = upload.texts(templates)
    uploaded = upload.upload(aws.s3, bucket, bodies, aws.target.region)
    ui.step(f"upload to s3://{bucket}/{uploaded.prefix}: {len(uploaded.uploaded)} uploaded, "
            f"{len(uploaded.skipped)} already there")

    values = stack_parameters(templates[plan.ROOT], params, catalogue)
    deployed = stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
    old_templates = deployed_templates(cfn, stack) if deployed else None
    old_values = as_dict(stack.get("Parameters"), "ParameterKey", "ParameterValue") if deployed else None
    predicted = plan.predict(old_templates, templates, old_values, values, region=aws.target.region)

    template_sha = upload.content_hash(bodies)
    tags = {**params.tags, **provenance(stack, template_sha, params_hash(values, params.tags), options.commit)}
    cfn_parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())] + [
        {"ParameterKey": TEMPLATES_BUCKET.name, "ParameterValue": bucket},
        {"ParameterKey": TEMPLATES_PREFIX.name, "ParameterValue": uploaded.prefix},
    ]
    ui.step(f"change set on stack {options.stack_name} ({kind}, nested change sets included)")
    change_set = changeset.create(cfn, options.stack_name, kind, uploaded.url(plan.ROOT), cfn_parameters, tags,
                                  labels=labels, poll_seconds=min(options.poll_seconds, 2.0))
    result = Result("changes", change_set=change_set, uploaded=uploaded.uploaded)
    if change_set.failed:
        changeset.discard(cfn, change_set)
        raise CodemateError(f"change set on stack {options.stack_name} failed: {change_set.reason}")
    detailed = changeset.has_detail(change_set.changes)
    if change_set.no_changes or (not detailed and not predicted and deployed and _unchanged(stack, tags, bucket)):
        changeset.discard(cfn, change_set)
        result.outcome = "no changes"
        if options.show_plan:
            ui.say(f"no changes: stack {options.stack_name} already runs these templates and parameters")
        if deployed and not options.plan_only:
            protect(aws, stack, templates, params, labels, ui)
            result.outputs = stack.get("Outputs") or []
        return result

    result.changes = plan.merge_aws(predicted, change_set.changes) if detailed else predicted
    result.refused = guard.refusals(result.changes, options.allow_replacement)
    if options.show_plan:
        ui.say(plan.format_plan(result.changes, result.refused))
    if result.refused:
        changeset.discard(cfn, change_set)
        result.outcome = "blocked"
        ui.note(f"stopped: the stateful guard refused {len(result.refused)} change(s); the change set was deleted")
        return result
    allowed = guard.refusals(result.changes, set())  # what --allow-replacement let through
    ui.step(f"stateful guard: {len(allowed)} replacement(s) or deletion(s) allowed by --allow-replacement"
            if allowed else "stateful guard: no stateful resource is replaced or deleted")
    if options.plan_only:
        changeset.discard(cfn, change_set)
        return result
    if not options.execute:
        result.outcome = "left for review"
        ui.note(f"change set {change_set.name} left for review on stack {options.stack_name}; execute it with: "
                f"aws cloudformation execute-change-set --change-set-name {change_set.id}")
        return result
    if not options.yes and not ui.confirm(f"Execute this change set on stack {options.stack_name}?"):
        changeset.discard(cfn, change_set)
        why = "not confirmed" if ui.can_ask() else "no terminal to confirm on; pass --yes to deploy without asking"
        ui.note(f"stopped after the plan ({why}); the change set was deleted")
        return result

    return _execute(aws, change_set, stack, templates, params, labels, options, ui, result)


def _execute(aws, change_set, stack, templates, params, labels, options: Options, ui, result: Result) -> Result:
    cfn = aws.cloudformation
    since = events.latest_timestamp(cfn, change_set.stack_id) if stack is not None else None
    if stack is not None:
        lift_for(aws, change_set.stack_id, result.changes, options.allow_replacement, labels, ui)
    ui.step(f"executing change set {change_set.name}")
    changeset.execute(cfn, change_set)
    final = events.watch(aws, change_set.stack_id, ui, since=since, poll_seconds=options.poll_seconds,
                         expected=len(result.changes), labels=labels, resume_hint=options.resume_hint)
    deployed = cfn.describe_stacks(StackName=change_set.stack_id)["Stacks"][0]
    if final not in events.SUCCEEDED:
        events.report_failure(aws, change_set.stack_id, final, ui, since=since, labels=labels)
        if final in events.STABLE:
            protect(aws, deployed, templates, params, labels, ui)  # restore what lift_for relaxed
        raise DeployFailed(failure_message(deployed["StackName"], final, options.params_path))
    protect(aws, deployed, templates, params, labels, ui)
    result.outcome = "deployed"
    result.outputs = deployed.get("Outputs") or []
    result.not_emulated = not_emulated(all_resources(cfn, change_set.stack_id, labels))
    return result


def failure_message(name: str, final: str, params_path: str) -> str:
    message = f"deploy of stack {name} failed: it is {final}"
    if final == "ROLLBACK_COMPLETE":
        message += (f". The first create failed; fix the cause above, then deploy again with --recreate "
                    f"(python -m codemate_cfn deploy {params_path} --recreate)")
    elif final == "UPDATE_ROLLBACK_FAILED":
        message += f". Run `python -m codemate_cfn continue-rollback {params_path}` (with --skip for what cannot roll back)"
    elif final == "UPDATE_ROLLBACK_COMPLETE":
        message += ": the update was rolled back and the stack runs its previous templates"
    return message
