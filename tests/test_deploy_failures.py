"""Failure paths the emulator cannot produce, played from recorded
CloudFormation responses (tests/fixtures/aws/): a failed nested create, a
create whose names a deleted stack's kept resources still hold,
UPDATE_ROLLBACK_FAILED and continue-rollback, AWS change sets with nested
change sets, a change set never worked out, Ctrl-C while watching; and
throttling, injected before moto answers, retried by botocore."""

from __future__ import annotations

import pytest

from codemate_cfn.cli import deploy as deploy_command
from codemate_cfn.deploy import changeset
from codemate_cfn.deploy import flow as deploy
from codemate_cfn.deploy import events
from codemate_cfn.deploy.aws import Target, translated_errors
from codemate_cfn.errors import CodemateError
from codemate_cfn.deploy import status
from codemate_cfn.deploy import stack as stack_reads
from codemate_cfn.deploy import rollback
from deploy_support import KEYS, Recorder, client_for, params_file, replay, throttle

pytest_plugins = ["emulator_fixtures"]

ROOT = "arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev/5f3c1e20-6b1d-11ef-9a3b-0a1b2c3d4e5f"
LABELS = {"NetworkStack": "network", "StorageStack": "storage"}


def options(**more) -> deploy.Options:
    return deploy.Options("codemate-dev", params_path="params/dev.json", poll_seconds=0, **more)


# -- a failed first create -------------------------------------------------------

def test_watching_a_failed_create_ends_at_rollback_and_names_the_nested_cause():
    aws, _ = replay("cloudformation", "failed_nested_create")
    ui = Recorder()
    final = events.watch(aws, ROOT, ui, poll_seconds=0, expected=10, labels=LABELS, sleep=lambda _: None)
    assert final == "ROLLBACK_COMPLETE"
    lines = ui.noted.splitlines()
    assert any("network    NatEip2a" in line and "CREATE_FAILED" in line and "maximum number of addresses" in line
               for line in lines)
    times = [line.split()[2] for line in lines]
    assert times == sorted(times)  # root and nested events interleaved in time order

    found = events.report_failure(aws, ROOT, final, ui, labels=LABELS)
    assert [(e["Label"], e["LogicalResourceId"]) for e in found] == [("network", "NatEip2a")]
    first = ui.noted.split("first failures (ROLLBACK_COMPLETE):\n", 1)[1].splitlines()[0]
    assert first.startswith("  network/NatEip2a (AWS::EC2::EIP) CREATE_FAILED: Resource handler returned message: "
                            '"The maximum number of addresses has been reached.')
    assert "Embedded stack" not in ui.noted.split("first failures")[1]


def test_first_failures_skip_echoes_and_cancellations():
    aws, _ = replay("cloudformation", "failed_nested_create")
    stream = events.Stream(aws.cloudformation, ROOT, labels=LABELS)
    stream.discover()
    everything = stream.poll() + stream.poll()
    failed = [e for e in everything if e["ResourceStatus"].endswith("_FAILED")]
    assert {e["LogicalResourceId"] for e in failed} == {"NetworkStack", "NatEip2a", "PublicSubnet2a",
                                                        "codemate-dev-NetworkStack-9ZX8C7V6B5N4"}
    assert [e["LogicalResourceId"] for e in events.first_failures(everything)] == ["NatEip2a"]


def test_a_stack_left_in_rollback_complete_asks_for_recreate(project, catalogue, templates):
    aws, calls = replay("cloudformation", "failed_nested_create")
    with pytest.raises(CodemateError, match=r"stack codemate-dev is ROLLBACK_COMPLETE: its first create failed.*"
                                            r"Run again with --recreate"):
        deploy_command.deploy(aws, templates, params_file(project, catalogue), catalogue, options(), Recorder(), yes=True)
    assert calls.made("DeleteStack") == [] and calls.made("CreateChangeSet") == []


FAILED_STACK = "arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev/5f3c1e20-6b1d-11ef-9a3b-0a1b2c3d4e5f"


def recreating(emulator, project, catalogue, templates):
    """deploy --recreate of the recorded ROLLBACK_COMPLETE stack, whose
    storage stack kept the logs bucket: CloudFormation answers from the
    recording, S3 and the other services from the emulator."""
    from codemate_cfn.deploy.aws import Target

    aws, calls = replay("cloudformation", "failed_nested_create",
                        Target("ap-northeast-2", endpoint_url=emulator.url, credentials=KEYS, max_attempts=1))
    calls.answer("DeleteStack", FAILED_STACK, {})
    ui = Recorder()
    with pytest.raises(CodemateError) as stopped:
        deploy_command.deploy(aws, templates, params_file(project, catalogue), catalogue, options(recreate=True), ui,
                              yes=True)
    return str(stopped.value), calls, ui


def test_recreate_is_refused_while_a_kept_resource_is_still_there(empty_emulator, project, catalogue, templates):
    s3 = client_for(empty_emulator.url).s3
    s3.create_bucket(Bucket="codemate-logs-dev-111122223333",
                     CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    refused, calls, _ = recreating(empty_emulator, project, catalogue, templates)
    assert refused == (
        "--recreate refused: stack codemate-dev kept resources when it rolled back, and a new create would collide "
        "with them: storage/LogsBucket (codemate-logs-dev-111122223333): the bucket exists. Delete or import them "
        "first (docs/stateful-resources.md, When a name is already taken)")
    assert calls.made("DeleteStack") == []


def test_recreate_goes_ahead_once_the_kept_resources_are_gone(empty_emulator, project, catalogue, templates):
    """The stack still records the bucket as kept (DELETE_SKIPPED) after it
    was deleted: the record alone must not block the way out."""
    stopped, calls, ui = recreating(empty_emulator, project, catalogue, templates)
    assert ("- the 1 resource(s) the failed create kept are gone or cannot collide: "
            "storage/LogsBucket (codemate-logs-dev-111122223333)") in ui.noted
    assert [c["StackName"] for c in calls.made("DeleteStack")] == [FAILED_STACK]
    assert "could not be deleted" in stopped  # the recording's stack never leaves ROLLBACK_COMPLETE


@pytest.mark.parametrize("kind, name, make, remove", [
    ("AWS::Logs::LogGroup", "/aws/ecs/codemate-backend-dev",
     lambda aws, n: aws.client("logs").create_log_group(logGroupName=n),
     lambda aws, n: aws.client("logs").delete_log_group(logGroupName=n)),
    ("AWS::ECR::Repository", "codemate-backend-dev",
     lambda aws, n: aws.client("ecr").create_repository(repositoryName=n),
     lambda aws, n: aws.client("ecr").delete_repository(repositoryName=n)),
    ("AWS::SecretsManager::Secret", "codemate/dev/anthropic",
     lambda aws, n: aws.client("secretsmanager").create_secret(Name=n),
     lambda aws, n: aws.client("secretsmanager").delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)),
])
def test_each_kept_type_is_in_the_way_while_it_exists_and_not_after(empty_emulator, kind, name, make, remove):
    from codemate_cfn.deploy.kept import in_the_way

    aws = client_for(empty_emulator.url)
    row = {"ResourceType": kind, "PhysicalResourceId": name}
    assert in_the_way(aws, row) is None
    make(aws, name)
    assert in_the_way(aws, row).endswith("exists")
    remove(aws, name)
    assert in_the_way(aws, row) is None


def test_a_secret_scheduled_for_deletion_still_holds_its_name(empty_emulator):
    from codemate_cfn.deploy.kept import in_the_way

    aws = client_for(empty_emulator.url)
    aws.client("secretsmanager").create_secret(Name="codemate/dev/nextauth")
    aws.client("secretsmanager").delete_secret(SecretId="codemate/dev/nextauth", RecoveryWindowInDays=7)
    why = in_the_way(aws, {"ResourceType": "AWS::SecretsManager::Secret", "PhysicalResourceId": "codemate/dev/nextauth"})
    assert why.startswith("the secret is scheduled for deletion") and "--force-delete-without-recovery" in why


def test_a_kept_resource_that_cannot_be_checked_counts_as_in_the_way():
    from codemate_cfn.deploy.kept import in_the_way

    aws, _ = replay("cloudformation", "failed_nested_create")  # nothing answers S3 at its endpoint
    assert in_the_way(aws, {"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "b"}).startswith(
        "it could not be checked")
    assert in_the_way(aws, {"ResourceType": "AWS::DynamoDB::Table", "PhysicalResourceId": "t"}) == (
        "AWS::DynamoDB::Table is not checked here: it may still exist")
    assert in_the_way(aws, {"ResourceType": "AWS::KMS::Key", "PhysicalResourceId": "k"}) is None


def test_a_failed_deploy_says_what_to_do_next():
    command = options().command
    assert "--recreate" in deploy.failure_message("codemate-dev", "ROLLBACK_COMPLETE", command)
    assert "continue-rollback params/dev.json" in deploy.failure_message("codemate-dev", "UPDATE_ROLLBACK_FAILED", command)
    assert "runs its previous templates" in deploy.failure_message("codemate-dev", "UPDATE_ROLLBACK_COMPLETE", command)
    named = options(stack_option="codemate-dev-blue").command
    assert ("(python -m codemate_cfn deploy params/dev.json --stack-name codemate-dev-blue --recreate)"
            in deploy.failure_message("codemate-dev-blue", "ROLLBACK_COMPLETE", named))



def test_a_create_that_collides_with_a_kept_resource_names_it_and_points_to_the_guide():
    aws, calls = replay("cloudformation", "retained_name_taken")
    change_set = ("arn:aws:cloudformation:ap-northeast-2:111122223333:changeSet/codemate-20250918-011200-5d6e7f/"
                  "8a9b0c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d")
    proposal = deploy.Proposal(None, changeset.ChangeSet(change_set, ROOT, "CREATE", "CREATE_COMPLETE"),
                               {"StorageStack": "storage"})
    ui = Recorder()
    with pytest.raises(deploy.DeployFailed, match="it is ROLLBACK_COMPLETE"):
        deploy.execute(aws, proposal, {}, None, options(), ui)
    assert calls.made("ExecuteChangeSet") == [{"ChangeSetName": change_set}]
    assert [line for line in ui.noted.splitlines() if line.startswith("name taken: ")] == [
        "name taken: storage/LogsBucket (AWS::S3::Bucket) could not be created: codemate-logs-dev-111122223333 "
        "already exists, most likely kept (DeletionPolicy Retain) by a stack deleted before; import it, rename it or "
        "delete it: see docs/stateful-resources.md (When a name is already taken)",
        "name taken: storage/BackendRepository (AWS::ECR::Repository) could not be created: codemate-backend-dev "
        "already exists, most likely kept (DeletionPolicy Retain) by a stack deleted before; import it, rename it or "
        "delete it: see docs/stateful-resources.md (When a name is already taken)",
    ]
    assert "Resource creation cancelled" not in ui.noted.split("first failures")[1]


@pytest.mark.parametrize("reason, physical_id, name", [
    ("codemate-static-dev already exists", "", "codemate-static-dev"),
    ('Resource handler returned message: "The operation failed because the secret codemate/dev/nextauth already '
     'exists. (Service: SecretsManager, Status Code: 400)" (HandlerErrorCode: AlreadyExists)', "", "codemate/dev/nextauth"),
    ("Resource of type 'AWS::Logs::LogGroup' with identifier '/codemate/dev/app' already exists.", "", "/codemate/dev/app"),
    ("Your previous request to create the named bucket succeeded and you already own it. (Service: Amazon S3; "
     "Status Code: 409; Error Code: BucketAlreadyOwnedByYou)", "codemate-files-dev-111122223333",
     "codemate-files-dev-111122223333"),
    ("Your previous request to create the named bucket succeeded and you already own it. (Service: Amazon S3; "
     "Status Code: 409; Error Code: BucketAlreadyOwnedByYou)", "", None),
])
def test_every_wording_of_a_taken_name_is_recognised(reason, physical_id, name):
    from codemate_cfn.deploy import taken

    event = {"ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": reason, "PhysicalResourceId": physical_id,
             "Label": "storage", "LogicalResourceId": "Thing", "ResourceType": "AWS::S3::Bucket"}
    assert taken.is_taken(event) and taken.taken_name(event) == name
    assert taken.notes([event])[0].startswith(f"name taken: storage/Thing (AWS::S3::Bucket) could not be created: "
                                              f"{name or 'its name'} already exists")
    assert taken.notes([{**event, "ResourceStatus": "UPDATE_FAILED"}]) == []  # a route that exists is another story

# -- UPDATE_ROLLBACK_FAILED ---------------------------------------------------------

def test_update_rollback_failed_offers_continue_rollback_with_what_to_skip(project, catalogue, templates):
    aws, calls = replay("cloudformation", "update_rollback_failed")
    with pytest.raises(CodemateError) as stuck:
        deploy_command.deploy(aws, templates, params_file(project, catalogue), catalogue, options(), Recorder(), yes=True)
    message = str(stuck.value)
    assert message.startswith("stack codemate-dev is UPDATE_ROLLBACK_FAILED: CloudFormation could not roll back "
                              "(NetworkStack.NatGateway2a: Resource handler returned message: \"The natGateway ID")
    assert message.endswith("`python -m codemate_cfn continue-rollback params/dev.json --skip NetworkStack.NatGateway2a`")
    assert calls.made("CreateChangeSet") == []


def test_continue_rollback_skips_the_named_resources_and_watches_to_the_end():
    aws, calls = replay("cloudformation", "update_rollback_failed")
    ui = Recorder()
    final = rollback.continue_rollback(aws, "codemate-dev", ["NetworkStack.NatGateway2a"], ui, poll_seconds=0)
    assert final == "UPDATE_ROLLBACK_COMPLETE"
    assert calls.made("ContinueUpdateRollback") == [{"StackName": ROOT, "ResourcesToSkip": ["NetworkStack.NatGateway2a"]}]
    assert "UPDATE_ROLLBACK_COMPLETE" in ui.noted and "UPDATE_FAILED" not in ui.noted  # only events after the call
    assert "rolled back: UPDATE_ROLLBACK_COMPLETE" in ui.shown


def test_continue_rollback_refuses_to_skip_what_did_not_fail():
    aws, calls = replay("cloudformation", "update_rollback_failed")
    with pytest.raises(CodemateError, match=r"--skip NetworkStack.Vpc: not among the resources that failed to roll back "
                                            r"\(NetworkStack.NatGateway2a\)"):
        rollback.continue_rollback(aws, "codemate-dev", ["NetworkStack.Vpc"], Recorder(), poll_seconds=0)
    assert calls.made("ContinueUpdateRollback") == []


# -- change sets as AWS answers them -------------------------------------------------

def create(aws, stack: str) -> changeset.ChangeSet:
    return changeset.create(aws.cloudformation, stack, "UPDATE", "https://example/root.json", [], {"Environment": "dev"},
                            labels={"NetworkStack": "network"}, poll_seconds=0, sleep=lambda _: None)


def test_aws_change_sets_are_read_with_their_nested_change_sets():
    aws, calls = replay("cloudformation", "change_sets")
    made = create(aws, "codemate-dev")
    assert made.status == "CREATE_COMPLETE" and not made.no_changes
    assert set(made.changes) == {"root", "network"}
    assert [c["LogicalResourceId"] for c in made.changes["network"]] == ["NatEip2c", "NatGateway2c", "AppDefaultRoute2c"]
    assert changeset.has_detail(made.changes)
    request = calls.made("CreateChangeSet")[0]
    assert request["IncludeNestedStacks"] is True and request["ChangeSetType"] == "UPDATE"
    assert "CAPABILITY_AUTO_EXPAND" in request["Capabilities"]


def test_what_aws_says_wins_over_the_prediction():
    from codemate_cfn.deploy.plan import Change, merge_aws

    aws, _ = replay("cloudformation", "change_sets")
    made = create(aws, "codemate-dev")
    predicted = [Change("network", "modify", "AppDefaultRoute2c", "AWS::EC2::Route", "conditional", ["property NatGatewayId"], False)]
    merged = {(c.stack, c.logical_id): c for c in merge_aws(predicted, made.changes)}
    route = merged[("network", "AppDefaultRoute2c")]
    assert (route.replacement, route.source) == ("false", "aws")
    assert ("network", "NatGateway2c") in merged and ("root", "NetworkStack") in merged


def test_a_change_set_without_changes_is_a_no_op_and_a_broken_one_a_failure():
    aws, _ = replay("cloudformation", "change_sets")
    same, broken = create(aws, "codemate-same"), create(aws, "codemate-broken")
    assert same.no_changes and not same.failed
    assert broken.failed and "Template format error" in broken.reason
    # AWS's other wording of the same news, from UpdateStack
    assert changeset.ChangeSet("id", "stack", "UPDATE", "FAILED", "No updates are to be performed.").no_changes



def test_a_change_set_that_aws_never_works_out_fails_at_its_deadline():
    aws, calls = replay("cloudformation", "change_sets")
    made = calls.answers[("CreateChangeSet", "codemate-dev")][0]["response"]["Id"]
    pending = dict(calls.answers[("DescribeChangeSet", made)][0]["response"])  # CREATE_IN_PROGRESS, for ever
    calls.answer("DescribeChangeSet", made, pending)
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    with pytest.raises(CodemateError) as stuck:
        changeset.create(aws.cloudformation, "codemate-dev", "UPDATE", "https://example/root.json", [], {},
                         poll_seconds=5, sleep=sleep, clock=lambda: now[0], deadline_seconds=600)
    assert str(stuck.value) == (
        "change set codemate-20250912-041500-3fa9c1 on stack codemate-dev is still CREATE_IN_PROGRESS after 10m00s; "
        "look at it in the CloudFormation console, or delete it with: aws cloudformation delete-change-set "
        f"--change-set-name {made}")
    assert len(slept) == 120 and calls.made("DeleteChangeSet") == []


def test_ctrl_c_while_aws_works_out_the_change_set_deletes_it():
    aws, calls = replay("cloudformation", "change_sets")
    made = calls.answers[("CreateChangeSet", "codemate-dev")][0]["response"]["Id"]
    pending = dict(calls.answers[("DescribeChangeSet", made)][0]["response"])  # CREATE_IN_PROGRESS
    calls.answer("DescribeChangeSet", made, pending)
    calls.answer("DeleteChangeSet", made, {})

    def interrupted(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        changeset.create(aws.cloudformation, "codemate-dev", "UPDATE", "https://example/root.json", [], {},
                         poll_seconds=5, sleep=interrupted)
    assert calls.made("DeleteChangeSet") == [{"ChangeSetName": made}]

# -- Ctrl-C while watching -------------------------------------------------------------

def test_ctrl_c_while_watching_leaves_the_stack_deploying_and_says_how_to_resume():
    aws, _ = replay("cloudformation", "failed_nested_create")

    def interrupted(_):
        raise KeyboardInterrupt

    with pytest.raises(events.StillRunning) as stopped:
        events.watch(aws, ROOT, Recorder(), poll_seconds=5, labels=LABELS, sleep=interrupted,
                     resume_hint=options().resume_hint)
    assert stopped.value.exit_code == 130
    assert str(stopped.value) == (
        f"stopped watching: stack {ROOT} is still CREATE_IN_PROGRESS and CloudFormation carries on. "
        f"Watch it again with: python -m codemate_cfn status params/dev.json --follow")


# -- throttling -------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_throttling_is_retried(emulator, no_backoff, mode):
    aws = client_for(emulator.url, retry_mode=mode, max_attempts=4)
    sent = throttle(aws, 2)
    assert stack_reads.find_stack(aws.cloudformation, "codemate-dev") is None  # the emulator's answer, after two throttles
    assert sent == ["throttled", "throttled", "sent"]
    assert aws.calls["cloudformation:DescribeStacks"] == 1  # one API call, three HTTP requests


def test_throttling_past_the_attempts_is_one_clear_error(emulator, no_backoff):
    target = Target("ap-northeast-2", endpoint_url=emulator.url, credentials=KEYS, retry_mode="standard", max_attempts=2)
    aws = client_for(emulator.url, retry_mode="standard", max_attempts=2)
    sent = throttle(aws, 5)
    with pytest.raises(CodemateError) as failed, translated_errors(target):
        aws.cloudformation.describe_stacks(StackName="codemate-dev")
    assert str(failed.value) == (f"{emulator.url} (ap-northeast-2) kept throttling DescribeStacks through every retry: "
                                 "Throttling: Rate exceeded")
    assert sent == ["throttled", "throttled"]


def test_recreate_deletes_the_rolled_back_stack_when_nothing_was_kept():
    aws, calls = replay("cloudformation", "failed_nested_create")
    storage = "arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev-StorageStack-1QW2E3R4T5Y6/6a1e2f30-6b1d-11ef-8c4d-06f1e2d3c4b5"
    calls.answer("DescribeStackResources", storage, {"StackResources": []})
    calls.answer("DeleteStack", ROOT, {})
    deleted = aws.cloudformation.describe_stacks(StackName=ROOT)
    deleted["Stacks"][0]["StackStatus"] = "DELETE_COMPLETE"
    calls.answer("DescribeStacks", ROOT, deleted)
    stack = aws.cloudformation.describe_stacks(StackName="codemate-dev")["Stacks"][0]
    ui = Recorder()
    assert deploy.change_set_kind(aws, stack, options(recreate=True), ui, LABELS) == "CREATE"
    assert calls.made("DeleteStack") == [{"StackName": ROOT}]
    assert "deleting stack codemate-dev (ROLLBACK_COMPLETE) to create it anew" in ui.noted


# -- status --follow -----------------------------------------------------------------

def test_status_follow_streams_an_update_until_it_ends():
    aws, _ = replay("cloudformation", "update_in_progress")
    deployed = aws.cloudformation.get_template(StackName=ROOT)["TemplateBody"]  # the local build is the same
    ui = Recorder()
    final = status.status(aws, "codemate-dev", {"root": deployed}, ui, follow=True, poll_seconds=0)
    assert final == "UPDATE_COMPLETE"
    assert "stack codemate-dev: UPDATE_IN_PROGRESS" in ui.shown
    assert "git commit: 4e5f6a7b8c9d" in ui.shown and "deployed templates match the local build" in ui.shown
    followed = [line.split()[4:6] for line in ui.noted.splitlines()]  # [n elapsed] time stack logical-id status
    assert followed == [["Queue", "UPDATE_COMPLETE"], ["codemate-dev", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"],
                        ["codemate-dev", "UPDATE_COMPLETE"]]


def test_status_follow_as_json_prints_the_settled_stack_alone_on_stdout():
    import json

    aws, _ = replay("cloudformation", "update_in_progress")
    deployed = aws.cloudformation.get_template(StackName=ROOT)["TemplateBody"]
    ui = Recorder()
    final = status.status(aws, "codemate-dev", {"root": deployed}, ui, follow=True, poll_seconds=0, output="json")
    shown = json.loads(ui.shown)  # nothing else on stdout
    assert final == shown["status"] == "UPDATE_COMPLETE"
    assert shown["local_build"]["matches"] is True and shown["pending_change_sets"] == []
    assert "UPDATE_COMPLETE" in ui.noted  # the events followed, on stderr

