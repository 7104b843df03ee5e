"""The deploy flow, from rendered templates and a checked parameter file to
a deployed stack, in two steps:

- `propose`: look up the values the parameter file leaves to the account
  (lookups.py), find or create the artifact bucket, upload, create the change
  set on the root (nested change sets included), work out the plan and
  judge it with the stateful guard. Nothing changes in the stack.
- `execute`: run a proposal's change set, watch it, protect the stack.

The `plan` command proposes and discards; `deploy` proposes, shows the plan,
asks, and executes. Both take the templates as dicts, so a test can deploy
a changed template without touching the sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy import bootstrap, changeset, events, guard, kept, lookups, plan, taken, triggers, unfilled, upload
from codemate_cfn.deploy.protection import lift_for, protect
from codemate_cfn.deploy.provenance import TAGS as PROVENANCE
from codemate_cfn.deploy.provenance import params_hash, provenance
from codemate_cfn.deploy.rollback import rollback_failed_message
from codemate_cfn.deploy.stack import as_dict, deployed_templates, find_stack, retained_resources
from codemate_cfn.errors import CodemateError
from codemate_cfn.params.parameter import TEMPLATES_BUCKET, TEMPLATES_PREFIX


@dataclass
class Options:
    stack_name: str
    params_path: str = "PARAMS_FILE"  # as the user typed it, for the hints we print
    allow_replacement: set[str] = field(default_factory=set)
    recreate: bool = False
    commit: str = "unknown"
    poll_seconds: float = 5.0
    stack_option: str | None = None  # --stack-name as the user gave it (None: the default), for the hints

    @property
    def resume_hint(self) -> str:
        return self.command("status", "--follow")

    def command(self, name: str, *more: str) -> str:
        """A command line to print as a hint: `python -m codemate_cfn NAME
        PARAMS_FILE [--stack-name STACK] MORE...`."""
        stack = ["--stack-name", self.stack_option] if self.stack_option else []
        return " ".join(["python -m codemate_cfn", name, self.params_path, *stack, *more])


@dataclass
class Proposal:
    """A change set worked out and judged, not executed."""

    stack: dict | None  # the stack as it was (None: first deploy)
    change_set: changeset.ChangeSet | None  # None: the stack already runs exactly this (see `recorded_as`)
    labels: dict[str, str]  # nested stack logical ID -> template name
    uploaded: list[str] = field(default_factory=list)
    no_changes: bool = False
    changes: list = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # what the guard refuses
    allowed: list[str] = field(default_factory=list)  # what --allow-replacement let through
    rollback: triggers.Rollback | None = None  # the rollback triggers its change set carries
    warnings: list[str] = field(default_factory=list)  # what may stop it without the guard's say (unfilled.py)

    @property
    def deployed(self) -> bool:
        """Whether the stack exists with resources (not a first deploy)."""
        return runs_templates(self.stack)


def runs_templates(stack: dict | None) -> bool:
    """Whether the stack exists with resources: not before its first deploy,
    not while its first change set waits for review."""
    return stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"


def predict_over(aws, stack: dict | None, templates: dict[str, dict], values: dict[str, str]) -> list:
    """The offline plan of deploying `templates` with root parameter
    `values` over what `stack` runs now (over nothing before it runs any)."""
    if not runs_templates(stack):
        return plan.predict(None, templates, None, values, region=aws.target.region)
    return plan.predict(deployed_templates(aws.cloudformation, stack), templates,
                        as_dict(stack.get("Parameters"), "ParameterKey", "ParameterValue"), values,
                        region=aws.target.region)


class DeployFailed(CodemateError):
    """The stack did not reach its goal; the first failures were printed."""


def stack_parameters(root_template: dict, params, catalogue: dict, aws=None, ui=None) -> dict[str, str]:
    """Every root parameter but the deployer's: the file's value, else the
    catalogue's default. With `aws`, a value left empty that the account can
    tell (lookups.LOOKUPS: a hosted zone's ID) is looked up and said on `ui`;
    without, it stays empty (an offline prediction)."""
    values = {}
    for name in root_template.get("Parameters", {}):
        if name in (TEMPLATES_BUCKET.name, TEMPLATES_PREFIX.name):
            continue
        if name in params.parameters:
            values[name] = params.parameters[name]
        elif name in catalogue and catalogue[name].default is not None:
            values[name] = catalogue[name].default
    return values if aws is None else lookups.filled(aws, values, params, catalogue, ui)


def change_set_kind(aws, stack: dict | None, options: Options, ui, labels: dict[str, str]) -> str:
    """CREATE or UPDATE; refuses stacks that cannot take a change set now,
    and recreates a failed first create when asked (--recreate)."""
    if not runs_templates(stack):
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
        standing = [(r, why) for r in retained if (why := kept.in_the_way(aws, r))]
        if standing:
            shown = "; ".join(f"{r['Label']}/{r['LogicalResourceId']} ({r.get('PhysicalResourceId')}): {why}"
                              for r, why in standing)
            raise CodemateError(
                f"--recreate refused: stack {name} kept resources when it rolled back, and a new create would "
                f"collide with them: {shown}. Delete or import them first "
                f"(docs/stateful-resources.md, When a name is already taken)"
            )
        if retained:
            ui.step(f"the {len(retained)} resource(s) the failed create kept are gone or cannot collide: "
                    + ", ".join(f"{r['Label']}/{r['LogicalResourceId']} ({r.get('PhysicalResourceId')})"
                                for r in retained))
        ui.step(f"deleting stack {name} (ROLLBACK_COMPLETE) to create it anew")
        cfn.delete_stack(StackName=stack["StackId"])
        final = events.watch(aws, stack["StackId"], ui, poll_seconds=options.poll_seconds, labels=labels)
        if final != "DELETE_COMPLETE":
            raise CodemateError(f"stack {name} could not be deleted: it is {final}")
        return "CREATE"
    if status == "UPDATE_ROLLBACK_FAILED":
        raise CodemateError(rollback_failed_message(cfn, stack, options.command))
    if status.endswith("_IN_PROGRESS"):
        raise CodemateError(f"stack {name} is busy ({status}); watch it with: {options.resume_hint}")
    if status not in events.STABLE:
        raise CodemateError(f"stack {name} is {status} and cannot be updated; look at it with "
                            f"`{options.command('status')}`, fix it or delete it")
    return "UPDATE"


def recorded_as(stack: dict | None, template_sha: str, param_sha: str, tags: dict[str, str], bucket: str) -> bool:
    """Whether the stack's provenance tags say it runs exactly these
    templates and parameter values, with these tags, from this bucket, and
    it is settled after a successful deploy: then there is nothing to do
    and nothing to fetch."""
    if stack is None or stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return False
    recorded = as_dict(stack.get("Tags"), "Key", "Value")
    return (recorded.get(PROVENANCE["templates"]) == template_sha and recorded.get(PROVENANCE["params"]) == param_sha
            and _unchanged(stack, tags, bucket))


def _unchanged(stack: dict | None, tags: dict[str, str], bucket: str) -> bool:
    """Deployed from the same templates, parameters, tags and bucket."""
    if stack is None:
        return False
    deployed_params = as_dict(stack.get("Parameters"), "ParameterKey", "ParameterValue")
    return as_dict(stack.get("Tags"), "Key", "Value") == tags and deployed_params.get(TEMPLATES_BUCKET.name) == bucket


def propose(aws, templates: dict[str, dict], params, catalogue: dict, options: Options, ui) -> Proposal:
    """Upload `templates` and create a change set deploying them with the
    parameter file `params`; the plan and the guard's verdict come with it."""
    cfn = aws.cloudformation
    labels = nested_names(templates[ROOT])
    stack = find_stack(cfn, options.stack_name)
    kind = change_set_kind(aws, stack, options, ui, labels)
    if kind == "CREATE" and runs_templates(stack):
        stack = None  # deleted by --recreate
    values = stack_parameters(templates[ROOT], params, catalogue, aws, ui)  # before the bucket: a lookup may fail

    bucket = bootstrap.find_bucket(aws)
    if bucket is None:
        ui.step("no artifact bucket yet: bootstrapping it")
        bucket = bootstrap.ensure(aws, ui, options.poll_seconds)
    bodies = upload.texts(templates)
    template_sha, param_sha = upload.content_hash(bodies), params_hash(values, params.tags)
    tags = {**params.tags, **provenance(stack, template_sha, param_sha, options.commit)}
    if recorded_as(stack, template_sha, param_sha, tags, bucket):
        ui.step(f"stack {options.stack_name} is tagged as running these templates and parameters: nothing to upload")
        return Proposal(stack, None, labels, no_changes=True)

    uploaded = upload.upload(aws.s3, bucket, bodies, aws.target.region)
    ui.step(f"upload to s3://{bucket}/{uploaded.prefix}: {len(uploaded.uploaded)} uploaded, "
            f"{len(uploaded.skipped)} already there")
    deployed = runs_templates(stack)
    predicted = predict_over(aws, stack, templates, values)
    cfn_parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())] + [
        {"ParameterKey": TEMPLATES_BUCKET.name, "ParameterValue": bucket},
        {"ParameterKey": TEMPLATES_PREFIX.name, "ParameterValue": uploaded.prefix},
    ]
    minutes = params.setting(triggers.MONITORING_KEY)
    rollback = triggers.from_stack(stack if deployed else None, templates[ROOT], minutes)
    ui.step(rollback.describe())
    left_out = triggers.left_out_note(rollback, options.stack_name)
    if left_out:
        ui.note(left_out)
    ui.step(f"change set on stack {options.stack_name} ({kind}, nested change sets included)")
    change_set = changeset.create(cfn, options.stack_name, kind, uploaded.url(ROOT), cfn_parameters, tags,
                                  labels=labels, poll_seconds=min(options.poll_seconds, 2.0),
                                  rollback_configuration=rollback.configuration())
    if change_set.failed:
        changeset.discard(cfn, change_set)
        raise CodemateError(f"change set on stack {options.stack_name} failed: {change_set.reason}")
    proposal = Proposal(stack, change_set, labels, uploaded=uploaded.uploaded, rollback=rollback)
    detailed = changeset.has_detail(change_set.changes)
    if change_set.no_changes or (not detailed and not predicted and deployed and _unchanged(stack, tags, bucket)):
        proposal.no_changes = True
        return proposal
    try:
        judge(proposal, predicted, options.allow_replacement)
    except CodemateError:
        changeset.discard(cfn, change_set)
        raise
    return warned(aws, proposal, templates)


def warned(aws, proposal: Proposal, templates: dict[str, dict]) -> Proposal:
    """The proposal with the warnings of what may stop its deploy: secrets
    the tasks it starts would find empty."""
    stack_id = proposal.stack["StackId"] if proposal.deployed else None
    proposal.warnings = unfilled.warnings(aws, stack_id, proposal.changes, templates, proposal.labels)
    return proposal


def judge(proposal: Proposal, predicted: list, allow_replacement: set[str]) -> Proposal:
    """Give the proposal its changes (the prediction, corrected by what its
    change set says where it says more) and the stateful guard's verdict.
    InvalidInput when an --allow-replacement name matches nothing at risk."""
    found = proposal.change_set.changes
    proposal.changes = plan.merge_aws(predicted, found) if changeset.has_detail(found) else predicted
    guard.check_allowances(proposal.changes, allow_replacement)
    proposal.refused = guard.refusals(proposal.changes, allow_replacement)
    proposal.allowed = guard.refusals(proposal.changes, set()) if not proposal.refused else []
    return proposal


def discard(aws, proposal: Proposal) -> None:
    """Delete the proposal's change set (and the empty stack a first one made)."""
    if proposal.change_set is not None:
        changeset.discard(aws.cloudformation, proposal.change_set)


def keep_protected(aws, proposal: Proposal, templates: dict[str, dict], params, ui) -> None:
    """Apply the parameter file's protection to a stack a deploy left as it was."""
    if proposal.deployed:
        protect(aws, proposal.stack, templates, params, proposal.labels, ui, thorough=False)


def execute(aws, proposal: Proposal, templates: dict[str, dict], params, options: Options, ui) -> dict:
    """Execute the proposal's change set, watch it to the end and protect the
    stack; returns the deployed stack's description. DeployFailed when the
    stack did not get there (its first failures printed)."""
    cfn = aws.cloudformation
    change_set, labels = proposal.change_set, proposal.labels
    since = events.latest_timestamp(cfn, change_set.stack_id) if proposal.stack is not None else None
    if proposal.stack is not None:
        lift_for(aws, change_set.stack_id, proposal.changes, options.allow_replacement, labels, ui)
    ui.step(f"executing change set {change_set.name}")
    changeset.execute(cfn, change_set)
    final = events.watch(aws, change_set.stack_id, ui, since=since, poll_seconds=options.poll_seconds,
                         expected=len(proposal.changes), labels=labels, resume_hint=options.resume_hint)
    deployed = cfn.describe_stacks(StackName=change_set.stack_id)["Stacks"][0]
    if final not in events.SUCCEEDED:
        failure = events.explain_failure(aws, change_set.stack_id, final, ui, since=since, labels=labels)
        for line in taken.notes(failure.failures):
            ui.note(line)
        if final in events.STABLE:
            protect(aws, deployed, templates, params, labels, ui)  # restore what lift_for relaxed
        raise DeployFailed(failure_message(deployed["StackName"], final, options.command, failure.alarms))
    protected(aws, deployed, templates, params, labels, ui, options)
    return deployed


def protected(aws, deployed: dict, templates, params, labels, ui, options: Options) -> None:
    """Protect a stack the deploy got to its goal; a failure here is said in
    one line that tells what state the stack is in: deployed, and protected
    by the next deploy (the root's policy is set last, so it is found missing)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from codemate_cfn.deploy.aws import error_code, error_message

    try:
        protect(aws, deployed, templates, params, labels, ui)
    except (ClientError, BotoCoreError) as exc:
        why = f"{error_code(exc)}: {error_message(exc)}" if isinstance(exc, ClientError) else str(exc)
        raise DeployFailed(
            f"stack {deployed['StackName']} is deployed, but protecting it failed ({why}); "
            f"deploy again to apply the protection: {options.command('deploy')}"
        ) from None


def failure_message(name: str, final: str, command, alarms: list[str] = ()) -> str:
    """What a failed deploy says; `command(name, *more)` spells a hint
    (Options.command). `alarms`: the rollback triggers that rolled it back."""
    message = f"deploy of stack {name} failed: it is {final}"
    if alarms and final == "UPDATE_ROLLBACK_COMPLETE":
        return f"{message}: {events.alarm_rollback(alarms)}; the stack runs its previous templates"
    if alarms:
        message += f" ({events.alarm_rollback(alarms)})"
    if final == "ROLLBACK_COMPLETE":
        message += (f". The first create failed; fix the cause above, then deploy again with --recreate "
                    f"({command('deploy', '--recreate')})")
    elif final == "UPDATE_ROLLBACK_FAILED":
        message += f". Run `{command('continue-rollback')}` (with --skip for what cannot roll back)"
    elif final == "UPDATE_ROLLBACK_COMPLETE":
        message += ": the update was rolled back and the stack runs its previous templates"
    return message
