"""A change set left for review (`deploy --no-execute`, or made by other
means): find it on the stack, check that it can be executed, and work its
plan out again from its own template and parameters against what the
stack runs now, so that the stateful guard judges it as it judges a fresh
deploy. Nothing is built or uploaded: the change set's templates are the
ones it names."""

from __future__ import annotations

import json

from codemate_cfn.compile.layout import ROOT, nested_names, template_file
from codemate_cfn.deploy import changeset, flow, triggers
from codemate_cfn.deploy.stack import as_dict, existing, is_gone
from codemate_cfn.errors import CodemateError
from codemate_cfn.params.parameter import TEMPLATES_BUCKET, TEMPLATES_PREFIX

EXECUTABLE = ("CREATE_COMPLETE", "AVAILABLE")  # Status, ExecutionStatus


def describe(cfn, stack: dict, ref: str) -> dict:
    """The change set `ref` (name or ARN) of `stack`, refused unless it
    belongs to that stack and is ready to be executed."""
    from botocore.exceptions import ClientError

    by_name = {} if ref.startswith("arn:") else {"StackName": stack["StackId"]}
    try:
        found = cfn.describe_change_set(ChangeSetName=ref, **by_name)
    except ClientError as exc:
        if is_gone(exc) or exc.response.get("Error", {}).get("Code") == "ChangeSetNotFound":
            raise CodemateError(f"change set {ref} not found on stack {stack['StackName']}") from None
        raise
    name = found.get("ChangeSetName") or changeset.short_name(ref)
    if found.get("StackId") != stack["StackId"]:
        raise CodemateError(f"change set {name} belongs to stack {found.get('StackName')} ({found.get('StackId')}), "
                            f"not to {stack['StackName']} ({stack['StackId']}); refusing to execute it")
    state = (found.get("Status"), found.get("ExecutionStatus"))
    if state != EXECUTABLE:
        reason = f": {found['StatusReason']}" if found.get("StatusReason") else ""
        raise CodemateError(f"change set {name} on stack {stack['StackName']} is {state[0]} (execution "
                            f"{state[1]}){reason}; only a change set that is CREATE_COMPLETE and AVAILABLE "
                            f"can be executed")
    return found


def _refused(name: str, why: str) -> CodemateError:
    return CodemateError(f"cannot work out what change set {name} would change ({why}); "
                         f"refusing to execute it unchecked")


def templates_of(aws, found: dict) -> dict[str, dict]:
    """The templates the change set deploys: its own root template, and the
    nested templates it points at through TemplatesBucketName and
    TemplatesKeyPrefix."""
    from botocore.exceptions import ClientError

    name = found["ChangeSetName"]
    body = aws.cloudformation.get_template(ChangeSetName=found["ChangeSetId"], StackName=found["StackId"],
                                           TemplateStage="Original")["TemplateBody"]
    try:
        root = json.loads(body) if isinstance(body, str) else dict(body)
    except ValueError as exc:
        raise _refused(name, f"its template is not JSON: {exc}") from None
    values = as_dict(found.get("Parameters"), "ParameterKey", "ParameterValue")
    bucket, prefix = values.get(TEMPLATES_BUCKET.name), values.get(TEMPLATES_PREFIX.name)
    if not bucket or prefix is None:
        raise _refused(name, f"it sets no {TEMPLATES_BUCKET.name} and {TEMPLATES_PREFIX.name}")
    templates = {ROOT: root}
    for layer in nested_names(root).values():
        key = f"{prefix}{template_file(layer)}"
        try:
            templates[layer] = json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            raise _refused(name, f"s3://{bucket}/{key}: {exc.response.get('Error', {}).get('Code', exc)}") from None
        except ValueError as exc:
            raise _refused(name, f"s3://{bucket}/{key} is not JSON: {exc}") from None
    return templates


def kept_rollback(found: dict, stack: dict, templates: dict[str, dict], params, options: flow.Options,
                  ui) -> triggers.Rollback:
    """The rollback triggers the change set runs with: those it was created
    with (ExecuteChangeSet takes none), said; with `params`, a note when a
    deploy now would give others (the stack's RollbackAlarmArns output or
    the parameter file's monitoring time changed since)."""
    kept = triggers.from_change_set(found)
    name = found["ChangeSetName"]
    ui.step(kept.describe(f"rollback triggers, as change set {name} was created with them"))
    if params is not None:
        now = triggers.from_stack(stack if flow.runs_templates(stack) else None, templates[ROOT],
                                  params.setting(triggers.MONITORING_KEY))
        if triggers.differs(kept, now):
            ui.note(f"note: change set {name} keeps the rollback triggers it was created with; a new change set "
                    f"would have: {now.summary()}. To run with those, propose again: "
                    f"{options.command('deploy', '--no-execute')}")
    return kept


def propose(aws, ref: str, options: flow.Options, ui, params=None) -> tuple[flow.Proposal, dict[str, dict]]:
    """The change set `ref` on the options' stack as a judged proposal, and
    the templates it deploys (for the protection applied afterwards).
    With `params` (the parameter file), its rollback triggers are compared
    with those a deploy would give it now."""
    cfn = aws.cloudformation
    stack = existing(cfn, options.stack_name, aws.target.region)
    found = describe(cfn, stack, ref)
    ui.step(f"change set {found['ChangeSetName']} on stack {stack['StackName']}: {found['Status']}, "
            f"created {found['CreationTime']:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    templates = templates_of(aws, found)
    rollback = kept_rollback(found, stack, templates, params, options, ui)
    labels = nested_names(templates[ROOT])
    predicted = flow.predict_over(aws, stack, templates, as_dict(found.get("Parameters"), "ParameterKey",
                                                                 "ParameterValue"))
    made = changeset.ChangeSet(found["ChangeSetId"], stack["StackId"],
                               "UPDATE" if flow.runs_templates(stack) else "CREATE",
                               found["Status"], found.get("StatusReason", ""),
                               changes=changeset.resource_changes(cfn, found["ChangeSetId"], labels=labels))
    proposal = flow.judge(flow.Proposal(stack, made, labels, rollback=rollback), predicted, options.allow_replacement)
    return flow.warned(aws, proposal, templates), templates
