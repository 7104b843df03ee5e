"""The deploy flow end to end against the local AWS emulator (moto's server
over HTTP): bootstrap, first deploy, outputs, a no-op deploy, a parameter
change, the stateful guard, leaving or dropping a change set, status and
delete. Each test starts from an empty emulator."""

from __future__ import annotations

import copy
import json

import pytest

from codemate_cfn.deploy import bootstrap
from codemate_cfn.deploy import flow as deploy
from codemate_cfn.deploy import upload
from codemate_cfn.emulator import is_placeholder, not_emulated
from codemate_cfn.stateful import is_stateful
from codemate_cfn.deploy import status
from codemate_cfn.deploy import stack as stack_reads
from codemate_cfn.deploy import provenance
from codemate_cfn.compile import layout
from codemate_cfn import errors
from codemate_cfn.deploy import delete
from codemate_cfn.cli.plan import exit_code
from codemate_cfn.cli import deploy as deploy_command
from codemate_cfn.deploy import protection
from deploy_support import Recorder, options, params_file, renamed_bucket, run_deploy, run_plan

pytest_plugins = ["emulator_fixtures"]


def stack_names(aws) -> dict[str, str]:
    return {s["StackName"]: s["StackStatus"] for s in aws.cloudformation.list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"}


def nested(aws, stack: str = "codemate-dev") -> dict[str, str]:
    return stack_reads.nested_stacks(aws.cloudformation, stack)


def pending_change_sets(aws, stack: str = "codemate-dev") -> list[str]:
    """Change sets waiting to be executed (the emulator also lists executed ones)."""
    return [s["ChangeSetId"] for s in aws.cloudformation.list_change_sets(StackName=stack)["Summaries"]
            if s.get("ExecutionStatus") == "AVAILABLE"]


def tags_of(aws, stack: str = "codemate-dev") -> dict[str, str]:
    return stack_reads.as_dict(aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Tags"], "Key", "Value")


@pytest.fixture
def dev(project, catalogue):
    return params_file(project, catalogue, "dev")


@pytest.fixture
def deployed(fresh_emulator, aws, templates, dev, catalogue):
    """params/dev.json deployed on an empty emulator."""
    result = run_deploy(aws, templates, dev, catalogue)
    assert result.outcome == "deployed"
    return result


def test_bootstrap_makes_a_private_versioned_encrypted_bucket(fresh_emulator, aws):
    ui = Recorder()
    name = bootstrap.ensure(aws, ui, poll_seconds=0.01)
    s3 = aws.s3
    assert name == "codemate-cfn-artifacts-123456789012-ap-northeast-2"
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"][0]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == bootstrap.OLD_VERSION_DAYS
    # moto does not model bucket policies: the TLS-only policy is a placeholder, reported as such
    policy = aws.cloudformation.describe_stack_resource(
        StackName=bootstrap.STACK_NAME, LogicalResourceId="ArtifactBucketPolicy")["StackResourceDetail"]
    assert is_placeholder(policy["PhysicalResourceId"])
    # a second bootstrap changes nothing and finds the same bucket
    assert bootstrap.ensure(aws, Recorder(), poll_seconds=0.01) == name
    assert "LastUpdatedTime" not in aws.cloudformation.describe_stacks(StackName=bootstrap.STACK_NAME)["Stacks"][0]


def test_first_deploy_creates_the_root_and_every_nested_stack(deployed, aws, templates):
    layers = layout.nested_names(templates["root"])
    assert set(layers.values()) == set(templates) - {"root"}
    found = nested(aws)
    assert set(found) == set(layers)
    for stack in ["codemate-dev", *found.values()]:
        assert aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    tags = tags_of(aws)
    assert tags[provenance.TAGS["templates"]] == upload.content_hash(upload.texts(templates))
    assert tags[provenance.TAGS["commit"]] == "0123456789ab"
    assert tags["Environment"] == "dev"
    assert deployed.uploaded == sorted(templates, key=list(templates).index)


def test_what_the_emulator_does_not_model_is_listed_and_never_shown_as_created(fresh_emulator, aws, templates, dev, catalogue):
    ui = Recorder()
    run_deploy(aws, templates, dev, catalogue, ui)
    resources = stack_reads.all_resources(aws.cloudformation, "codemate-dev", layout.nested_names(templates["root"]))
    listed = {line.split(" ")[0] for line in not_emulated(resources)}
    placeholders = {f"{r['Label']}/{r['LogicalResourceId']}" for r in resources
                    if is_placeholder(r.get("PhysicalResourceId"))}
    assert listed == placeholders and listed
    created = {f"{line.split()[3]}/{line.split()[4]}" for line in ui.noted.splitlines()
               if line.startswith("[") and "CREATE_COMPLETE" in line}
    assert not listed & created
    assert "storage/FilesBucket" in created  # what moto models is created and shown


def test_outputs_are_the_nested_outputs_the_root_re_exports(deployed, aws, templates):
    root_outputs = {o["OutputKey"]: o["OutputValue"] for o in deployed.outputs}
    assert set(root_outputs) == set(templates["root"].get("Outputs", {}))
    stacks = nested(aws)
    for name, output in templates["root"]["Outputs"].items():
        logical_id, attribute = output["Value"]["Fn::GetAtt"]
        inner = aws.cloudformation.describe_stacks(StackName=stacks[logical_id])["Stacks"][0]["Outputs"]
        assert root_outputs[name] == {o["OutputKey"]: o["OutputValue"] for o in inner}[attribute.split(".", 1)[1]]


def test_a_second_deploy_with_nothing_changed_uploads_nothing_and_updates_nothing(deployed, aws, templates, dev, catalogue):
    cfn = aws.cloudformation
    before = cfn.describe_stack_events(StackName="codemate-dev")["StackEvents"]
    ui = Recorder()
    calls_before = sum(aws.calls.values())
    again = run_deploy(aws, templates, dev, catalogue, ui)
    assert again.outcome == "no changes" and again.exit_code == 0
    assert again.uploaded == [] and again.change_set is None  # no upload, no change set
    assert sum(aws.calls.values()) - calls_before <= 6
    assert "tagged as running these templates and parameters: nothing to upload" in ui.noted
    stack = cfn.describe_stacks(StackName="codemate-dev")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and "LastUpdatedTime" not in stack
    assert cfn.describe_stack_events(StackName="codemate-dev")["StackEvents"] == before
    assert pending_change_sets(aws) == []
    assert "no changes" in ui.shown


def test_a_parameter_change_shows_exactly_the_expected_rows(deployed, aws, templates, dev, catalogue, conventions,
                                                           tmp_path):
    from codemate_cfn.params.paramfile import load

    data = json.loads(dev.path.read_text())
    data["Parameters"]["NatGatewayCount"] = "2"
    (tmp_path / "dev.json").write_text(json.dumps(data))
    changed = load(tmp_path / "dev.json", catalogue, conventions)
    result = run_deploy(aws, templates, changed, catalogue)
    rows = {(c.stack, c.action, c.logical_id, c.replacement if c.action == "modify" else "-") for c in result.changes}
    assert rows == {
        ("root", "modify", "NetworkStack", "false"),
        # dev's NATs are instances (NatType): the second comes with its Elastic IP and recovery alarm
        ("network", "add", "NatInstance2c", "-"),
        ("network", "add", "NatInstanceEip2c", "-"),
        ("network", "add", "NatInstanceRecoveryAlarm2c", "-"),
        ("network", "modify", "AppDefaultRoute2c", "false"),
    }
    assert next(c for c in result.changes if c.logical_id == "NetworkStack").details == ["parameter NatGatewayCount"]
    assert result.outcome == "deployed"
    instances = [i for r in aws.client("ec2").describe_instances()["Reservations"] for i in r["Instances"]]
    assert [i["InstanceType"] for i in instances] == ["t4g.nano", "t4g.nano"]
    assert stack_reads.as_dict(aws.cloudformation.describe_stacks(StackName="codemate-dev")["Stacks"][0]["Parameters"],
                          "ParameterKey", "ParameterValue")["NatGatewayCount"] == "2"
    assert tags_of(aws)[provenance.TAGS["params"]] != provenance.params_hash(
        deploy.stack_parameters(templates["root"], dev, catalogue), dev.tags)


def test_the_guard_refuses_replacing_a_stateful_bucket_until_it_is_allowed(deployed, aws, templates, dev, catalogue):
    mutated, bucket = renamed_bucket(templates)
    cfn = aws.cloudformation
    old_name = cfn.describe_stack_resource(StackName=nested(aws)["StorageStack"], LogicalResourceId=bucket)[
        "StackResourceDetail"]["PhysicalResourceId"]

    ui = Recorder()
    refused = run_deploy(aws, mutated, dev, catalogue, ui)
    assert refused.outcome == "blocked" and refused.exit_code == errors.EXIT_BLOCKED
    row = next(c for c in refused.changes if c.logical_id == bucket)
    assert (row.stack, row.action, row.replacement, row.stateful) == ("storage", "modify", "true", True)
    assert any(r.startswith(f"stack storage: {bucket} (AWS::S3::Bucket) would be replaced") for r in refused.refused)
    assert f"--allow-replacement {bucket}" in ui.shown
    assert pending_change_sets(aws) == []
    assert "LastUpdatedTime" not in cfn.describe_stacks(StackName="codemate-dev")["Stacks"][0]

    allowed = run_deploy(aws, mutated, dev, catalogue, allow_replacement={bucket})
    assert allowed.outcome == "deployed" and allowed.refused == []
    new_name = cfn.describe_stack_resource(StackName=nested(aws)["StorageStack"], LogicalResourceId=bucket)[
        "StackResourceDetail"]["PhysicalResourceId"]
    assert new_name == old_name + "-renamed"
    aws.s3.head_bucket(Bucket=new_name)


def test_plan_only_and_unconfirmed_deploys_leave_nothing_behind(fresh_emulator, aws, templates, dev, catalogue):
    cfn = aws.cloudformation
    planned = run_plan(aws, templates, dev, catalogue)
    assert exit_code(planned) == errors.EXIT_CHANGES
    assert {c.action for c in planned.changes} == {"add"}
    ui = Recorder()  # no terminal and no --yes
    unconfirmed = run_deploy(aws, templates, dev, catalogue, ui, yes=False)
    assert unconfirmed.outcome == "not confirmed" and unconfirmed.exit_code == errors.EXIT_CHANGES
    assert "pass --yes" in ui.noted
    assert stack_reads.find_stack(cfn, "codemate-dev") is None  # the stack made for the change set went too


def live_stacks(aws, name: str = "codemate-dev") -> list[str]:
    return [s["StackId"] for s in aws.cloudformation.list_stacks()["StackSummaries"]
            if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"]


def test_a_stack_waiting_for_review_is_reused_never_duplicated(fresh_emulator, aws, templates, dev, catalogue):
    ui = Recorder()
    left = run_deploy(aws, templates, dev, catalogue, ui, execute=False)
    assert left.outcome == "left for review" and left.exit_code == 0
    assert pending_change_sets(aws) == [left.change_set.id]
    assert (f"execute it with: python -m codemate_cfn deploy params/dev.json --execute {left.change_set.name}"
            in ui.noted)
    stack_id = left.change_set.stack_id
    again = run_deploy(aws, templates, dev, catalogue, execute=False)
    declined = run_deploy(aws, templates, dev, catalogue, Recorder(answer=False), yes=False)
    assert declined.outcome == "not confirmed"
    assert {again.change_set.stack_id, declined.change_set.stack_id} == {stack_id}
    assert live_stacks(aws) == [stack_id]
    # the declined change set went; the stack stays for the two still waiting
    assert pending_change_sets(aws) == [left.change_set.id, again.change_set.id]
    assert stack_reads.find_stack(aws.cloudformation, "codemate-dev")["StackStatus"] == "REVIEW_IN_PROGRESS"
    # a later deploy creates the stack from its review state, and the others go
    assert run_deploy(aws, templates, dev, catalogue).outcome == "deployed"
    assert live_stacks(aws) == [stack_id] and pending_change_sets(aws) == []


class Interrupted(Recorder):
    """A person who presses Ctrl-C at the question."""

    def confirm(self, question: str) -> bool:
        self.err.write(f"{question} -> Ctrl-C\n")
        raise KeyboardInterrupt


def test_ctrl_c_at_the_question_deletes_the_change_set_as_no_does(fresh_emulator, aws, templates, dev, catalogue):
    ui = Interrupted(answer=True)
    first = run_deploy(aws, templates, dev, catalogue, ui, yes=False)
    assert first.outcome == "interrupted" and first.exit_code == errors.EXIT_INTERRUPTED
    assert "stopped after the plan (interrupted at the question); the change set was deleted" in ui.noted
    assert stack_reads.find_stack(aws.cloudformation, "codemate-dev") is None  # as after "no": no stack in review
    run_deploy(aws, templates, dev, catalogue)
    mutated, bucket = renamed_bucket(templates)
    update = run_deploy(aws, mutated, dev, catalogue, Interrupted(answer=True), yes=False, allow_replacement={bucket})
    assert update.outcome == "interrupted" and pending_change_sets(aws) == []
    assert "LastUpdatedTime" not in aws.cloudformation.describe_stacks(StackName="codemate-dev")["Stacks"][0]


def test_the_console_passes_ctrl_c_at_a_question_on_after_ending_the_line(monkeypatch):
    import io

    from codemate_cfn.console import Console

    def ctrl_c():
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", ctrl_c)
    console = Console(out=io.StringIO(), err=io.StringIO(), interactive=True)
    with pytest.raises(KeyboardInterrupt):
        console.confirm("Execute?")
    assert console.err.getvalue() == "Execute? [y/N] \n"


def test_a_change_set_left_for_review_is_executed_checked_and_protected(fresh_emulator, aws, templates, project,
                                                                       catalogue):
    prod = params_file(project, catalogue, "prod")
    left = run_deploy(aws, templates, prod, catalogue, execute=False)
    ui = Recorder()
    done = deploy_command.execute_reviewed(aws, left.change_set.id, prod, options(prod), ui)
    assert done.outcome == "deployed" and done.exit_code == 0
    assert {c.action for c in done.changes} == {"add"} and "Plan:" in ui.shown
    stack = aws.cloudformation.describe_stacks(StackName="codemate-prod")["Stacks"][0]
    assert (stack["StackId"], stack["StackStatus"]) == (left.change_set.stack_id, "CREATE_COMPLETE")
    assert stack["EnableTerminationProtection"] is True
    labels = layout.nested_names(templates["root"])
    wanted = protection.desired_policies(templates, prod, labels)
    ids = stack_reads.stack_ids(aws.cloudformation, stack["StackId"], labels)
    assert {name: protection.current_policy(aws.cloudformation, ids[name]) for name in wanted} == wanted
    assert done.outputs and pending_change_sets(aws, "codemate-prod") == []


def test_a_reviewed_change_set_is_judged_again_by_the_guard(deployed, aws, templates, dev, catalogue):
    mutated, bucket = renamed_bucket(templates)
    left = run_deploy(aws, mutated, dev, catalogue, execute=False, allow_replacement={bucket})
    assert left.outcome == "left for review"
    ui = Recorder()
    refused = deploy_command.execute_reviewed(aws, left.change_set.name, dev, options(dev), ui)
    assert refused.outcome == "blocked" and refused.exit_code == errors.EXIT_BLOCKED
    assert any(r.startswith(f"stack storage: {bucket} (AWS::S3::Bucket) would be replaced") for r in refused.refused)
    assert f"change set {left.change_set.name} is left as it is" in ui.noted
    assert pending_change_sets(aws) == [left.change_set.id]
    allowed = deploy_command.execute_reviewed(aws, left.change_set.name, dev, options(dev, allow_replacement={bucket}),
                                              Recorder())
    assert allowed.outcome == "deployed"
    storage = nested(aws)["StorageStack"]
    name = aws.cloudformation.describe_stack_resource(StackName=storage, LogicalResourceId=bucket)[
        "StackResourceDetail"]["PhysicalResourceId"]
    assert name.endswith("-renamed")


def test_executing_a_change_set_is_refused_unless_it_can_run_as_reviewed(deployed, aws, templates, dev, project,
                                                                         catalogue):
    from codemate_cfn.errors import CodemateError

    def execute(ref, params=dev):
        return deploy_command.execute_reviewed(aws, ref, params, options(params), Recorder())

    with pytest.raises(CodemateError, match="^change set nosuch not found on stack codemate-dev$"):
        execute("nosuch")
    other = run_deploy(aws, templates, params_file(project, catalogue, "prod"), catalogue, execute=False)
    with pytest.raises(CodemateError, match=r"belongs to stack codemate-prod \(.*\), not to codemate-dev"):
        execute(other.change_set.id)
    mutated = copy.deepcopy(templates)
    mutated["network"]["Description"] = "changed"
    left = run_deploy(aws, mutated, dev, catalogue, execute=False)
    prefix = next(p["ParameterValue"] for p in aws.cloudformation.describe_change_set(
        ChangeSetName=left.change_set.id)["Parameters"] if p["ParameterKey"] == "TemplatesKeyPrefix")
    bucket = bootstrap.find_bucket(aws)
    body = aws.s3.get_object(Bucket=bucket, Key=f"{prefix}network.json")["Body"].read()
    aws.s3.delete_object(Bucket=bucket, Key=f"{prefix}network.json")
    with pytest.raises(CodemateError, match=rf"cannot work out what change set {left.change_set.name} would change "
                                            rf"\(s3://{bucket}/{prefix}network.json: NoSuchKey\); refusing"):
        execute(left.change_set.name)
    aws.s3.put_object(Bucket=bucket, Key=f"{prefix}network.json", Body=body)
    assert execute(left.change_set.name).outcome == "deployed"
    with pytest.raises(CodemateError, match=rf"change set {left.change_set.name} on stack codemate-dev is "
                                            rf"CREATE_COMPLETE \(execution EXECUTE_COMPLETE\); only a change set"):
        execute(left.change_set.name)


def test_status_tells_whether_the_stack_runs_the_local_build(deployed, aws, templates):
    ui = Recorder()
    assert status.status(aws, "codemate-dev", templates, ui) == "CREATE_COMPLETE"
    assert "deployed templates match the local build" in ui.shown
    assert "git commit: 0123456789ab" in ui.shown
    assert "last events:" in ui.shown and "codemate-dev" in ui.shown
    mutated, _ = renamed_bucket(templates)
    ui = Recorder()
    status.status(aws, "codemate-dev", mutated, ui)
    assert "deployed templates differ from the local build" in ui.shown
    assert [line.split()[0] for line in ui.shown.splitlines() if line.endswith("differs")] == ["storage"]


def test_delete_removes_every_stack_and_keeps_what_the_policies_keep(deployed, aws, templates):
    cfn = aws.cloudformation
    stacks = nested(aws)
    buckets = [r["PhysicalResourceId"] for r in cfn.describe_stack_resources(StackName=stacks["StorageStack"])["StackResources"]
               if r["ResourceType"] == "AWS::S3::Bucket"]
    ui = Recorder()
    assert delete.delete(aws, "codemate-dev", ui, yes=True, poll_seconds=0.01) == "DELETE_COMPLETE"
    assert stack_reads.find_stack(cfn, "codemate-dev") is None
    assert stack_names(aws) == {bootstrap.STACK_NAME: "CREATE_COMPLETE"}  # nested stacks went too
    retained = [lid for lid, r in templates["storage"]["Resources"].items()
                if is_stateful(r["Type"]) and r.get("DeletionPolicy") == "Retain" and r["Type"] == "AWS::S3::Bucket"]
    assert len(buckets) == len(retained)
    for name in buckets:
        aws.s3.head_bucket(Bucket=name)  # DeletionPolicy Retain: still there
    assert all(f"storage/{lid} (AWS::S3::Bucket): kept" in ui.noted for lid in retained)
    # only what the stacks held: dev has no read replica (its condition is false)
    assert "data/Database (AWS::RDS::DBInstance): deleted after a final snapshot" in ui.noted
    assert "DatabaseReadReplica" in json.dumps(templates["data"]) and "DatabaseReadReplica" not in ui.noted


def test_delete_asks_and_stops_without_an_answer(deployed, aws):
    from codemate_cfn.errors import CodemateError

    with pytest.raises(CodemateError, match="stack codemate-dev not deleted .no terminal to confirm on; pass --yes"):
        delete.delete(aws, "codemate-dev", Recorder(), poll_seconds=0.01)
    assert stack_reads.find_stack(aws.cloudformation, "codemate-dev")["StackStatus"] == "CREATE_COMPLETE"


def test_a_person_at_a_terminal_is_asked_before_execution(fresh_emulator, aws, templates, dev, catalogue):
    declined = Recorder(answer=False)
    assert run_deploy(aws, templates, dev, catalogue, declined, yes=False, account="123456789012").outcome == "not confirmed"
    assert "Execute this change set on stack codemate-dev in account 123456789012 (ap-northeast-2)? -> False" in declined.noted
    assert "stopped after the plan (not confirmed)" in declined.noted
    accepted = Recorder(answer=True)
    assert run_deploy(aws, templates, dev, catalogue, accepted, yes=False).outcome == "deployed"
