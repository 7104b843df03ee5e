"""`migrate PARAMS_FILE`: the database migrations run once as the services
layer's ECS Fargate task, its log lines printed as they arrive, the
command ending with the container's exit code.

The launch and the log stream are run against the emulator. moto 5.2.5
runs no container: it walks a task through its states one step per
DescribeTasks and gives every container exit code 0, so what a migration
does while it runs (status changes, log lines, exit codes, a task that
never started, a timeout, Ctrl-C) is played from responses written here
as AWS gives them, each checked against the API's shapes by botocore's
Stubber."""

from __future__ import annotations

import time

import pytest
from botocore.stub import Stubber

from codemate_cfn.deploy import migrate as migration
from codemate_cfn.deploy.aws import Aws, Target
from codemate_cfn.deploy.events import StillRunning
from codemate_cfn.errors import CodemateError
from deploy_support import KEYS, REGION, Recorder, client_for
from run_cli import ROOT, assert_one_line_errors

pytest_plugins = ["emulator_fixtures"]

ACCOUNT = "111122223333"
ROOT_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/codemate-dev/5f3c1e20-6b1d-11ef-9a3b-0a1b2c3d4e5f"
NETWORK_ID = (f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/codemate-dev-NetworkStack-1A2B3C4D5E6F/"
              "6a1e2f30-6b1d-11ef-8c4d-06f1e2d3c4b5")
SERVICES_ID = (f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/codemate-dev-ServicesStack-7H8J9K0L1M2N/"
               "8c2d3e40-6b1d-11ef-9a3b-0a1b2c3d4e5f")
TASK_DEFINITION = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/codemate-dev-migrate:3"
TASK_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TASK = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/codemate-dev/{TASK_ID}"
SERVICES_OUTPUTS = {
    "ClusterName": "codemate-dev",
    "MigrationTaskDefinitionArn": TASK_DEFINITION,
    "MigrationSubnetIds": "subnet-0a11,subnet-0c12",
    "MigrationSecurityGroupId": "sg-0e5",
    "MigrationContainerName": "migrate",
    "MigrationLogGroupName": "/codemate/dev/backend",
    "MigrationLogStreamPrefix": "migrate",
}
STREAM = f"migrate/migrate/{TASK_ID}"
STOP = f"aws ecs stop-task --cluster codemate-dev --task {TASK} --region {REGION}"


def outputs(**values) -> list[dict]:
    """The services stack's outputs as describe_stacks gives them; a value
    of None leaves that output out."""
    merged = {**SERVICES_OUTPUTS, **values}
    return [{"OutputKey": key, "OutputValue": value} for key, value in merged.items() if value is not None]


def target(**values) -> migration.MigrationTarget:
    return migration.target_from_outputs(outputs(**values), "codemate-dev", "params/dev.json")


# -- where the migration runs: the services stack's outputs ---------------------------

def test_the_target_is_read_from_the_services_outputs():
    found = target()

    assert found == migration.MigrationTarget(
        stack="codemate-dev", cluster="codemate-dev", task_definition=TASK_DEFINITION,
        subnets=("subnet-0a11", "subnet-0c12"), security_group="sg-0e5", container="migrate",
        log_group="/codemate/dev/backend", log_stream_prefix="migrate")
    assert found.log_stream(TASK) == STREAM  # as the awslogs driver names it: <prefix>/<container>/<task id>
    assert found.stop_command(TASK, REGION) == STOP


def test_no_backend_image_yet_is_refused_saying_what_to_do():
    with pytest.raises(CodemateError) as refused:
        target(MigrationTaskDefinitionArn="")

    assert str(refused.value) == (
        "stack codemate-dev has no migration task yet (MigrationTaskDefinitionArn is empty: no backend image); "
        "set Parameters.BackendImageTag in params/dev.json and deploy first")


def test_a_services_layer_without_the_migration_outputs_names_those_missing():
    with pytest.raises(CodemateError) as refused:
        target(MigrationContainerName=None, MigrationLogStreamPrefix=None)

    assert str(refused.value) == (
        "stack codemate-dev: its services layer (ServicesStack) has no output(s) MigrationContainerName, "
        "MigrationLogStreamPrefix; deploy a build whose services layer publishes them")


# -- AWS's answers, played back ---------------------------------------------------------------

class Recorded:
    """An Aws whose CloudFormation, ECS, CloudWatch Logs and STS clients
    answer with the responses given to them here, in order (botocore's
    Stubber: a call with no answer waiting fails the test)."""

    def __init__(self):
        self.aws = Aws(Target(REGION, endpoint_url="http://127.0.0.1:9", credentials=KEYS, max_attempts=1))
        self.cfn, self.ecs, self.logs, self.sts = (
            Stubber(self.aws.client(service)) for service in ("cloudformation", "ecs", "logs", "sts"))
        for stubber in (self.cfn, self.ecs, self.logs, self.sts):
            stubber.activate()

    def deployed(self, services_outputs: list[dict] | None = None) -> Recorded:
        """codemate-dev deployed, with a services stack publishing these outputs."""
        stack = {"StackName": "codemate-dev", "StackId": ROOT_ID, "StackStatus": "UPDATE_COMPLETE",
                 "CreationTime": "2025-09-16T02:15:01Z"}
        self.cfn.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "codemate-dev"})
        self.cfn.add_response("describe_stack_resources", {"StackResources": [
            {"StackName": "codemate-dev", "LogicalResourceId": name, "PhysicalResourceId": physical,
             "ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "UPDATE_COMPLETE",
             "Timestamp": "2025-09-16T02:20:00Z"}
            for name, physical in (("NetworkStack", NETWORK_ID), ("ServicesStack", SERVICES_ID))]},
                               {"StackName": ROOT_ID})
        if services_outputs is not None:
            services = {"StackName": "codemate-dev-ServicesStack-7H8J9K0L1M2N", "StackId": SERVICES_ID,
                        "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2025-09-16T02:16:00Z",
                        "Outputs": services_outputs}
            self.cfn.add_response("describe_stacks", {"Stacks": [services]}, {"StackName": SERVICES_ID})
        return self

    def started(self) -> Recorded:
        self.ecs.add_response("run_task", {"tasks": [task("PROVISIONING")], "failures": []})
        return self

    def task(self, status: str, **details) -> Recorded:
        self.ecs.add_response("describe_tasks", {"tasks": [task(status, **details)], "failures": []},
                              {"cluster": "codemate-dev", "tasks": [TASK]})
        return self

    def no_log_stream_yet(self) -> Recorded:
        self.logs.add_client_error("get_log_events", "ResourceNotFoundException",
                                   "The specified log stream does not exist.", 400)
        return self

    def log_lines(self, *lines: str, token: str) -> Recorded:
        """A page of log events, then the end of the stream for now (the same token again)."""
        events = [{"timestamp": 1758000000000 + i, "message": line, "ingestionTime": 1758000000500 + i}
                  for i, line in enumerate(lines)]
        self.logs.add_response("get_log_events", {"events": events, "nextForwardToken": token,
                                                  "nextBackwardToken": "b/0"})
        self.logs.add_response("get_log_events", {"events": [], "nextForwardToken": token,
                                                  "nextBackwardToken": "b/0"},
                               {"logGroupName": "/codemate/dev/backend", "logStreamName": STREAM,
                                "startFromHead": True, "nextToken": token})
        return self

    def caller(self) -> Recorded:
        self.sts.add_response("get_caller_identity", {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT,
                                                      "Arn": f"arn:aws:iam::{ACCOUNT}:user/deployer"})
        return self

    def all_answered(self) -> None:
        for stubber in (self.cfn, self.ecs, self.logs, self.sts):
            stubber.assert_no_pending_responses()


def task(status: str, exit_code: int | None = None, stopped_reason: str | None = None,
         container_reason: str | None = None) -> dict:
    """The migration task as DescribeTasks describes it."""
    container = {"containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/codemate-dev/{TASK_ID}/5e6f",
                 "taskArn": TASK, "name": "migrate", "lastStatus": status if status != "PROVISIONING" else "PENDING"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if container_reason:
        container["reason"] = container_reason
    described = {"taskArn": TASK, "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/codemate-dev",
                 "taskDefinitionArn": TASK_DEFINITION, "lastStatus": status,
                 "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING", "launchType": "FARGATE",
                 "startedBy": "codemate-cfn migrate", "containers": [container]}
    if stopped_reason:
        described["stoppedReason"] = stopped_reason
    return described


class Clock:
    """Time that passes only when the code sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_migration(recorded: Recorded, ui, timeout: float = 1800, sleep=None) -> str:
    clock = Clock()
    return migration.migrate(recorded.aws, "codemate-dev", "params/dev.json", ui, timeout=timeout, poll_seconds=5,
                             sleep=sleep or clock.sleep, clock=clock)


# -- reading the target from the deployed stack ------------------------------------------

def test_the_target_comes_from_the_nested_stack_named_services_stack():
    recorded = Recorded().deployed(outputs())

    found = migration.read_target(recorded.aws.cloudformation, "codemate-dev", REGION, "params/dev.json")

    assert found == target()
    recorded.all_answered()


def test_a_stack_without_the_services_layer_is_one_line_naming_it():
    recorded = Recorded()
    recorded.cfn.add_response("describe_stacks", {"Stacks": [
        {"StackName": "codemate-dev", "StackId": ROOT_ID, "StackStatus": "CREATE_COMPLETE",
         "CreationTime": "2025-09-16T02:15:01Z"}]})
    recorded.cfn.add_response("describe_stack_resources", {"StackResources": [
        {"StackName": "codemate-dev", "LogicalResourceId": "DataStack", "PhysicalResourceId": ROOT_ID + "-data",
         "ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "CREATE_COMPLETE",
         "Timestamp": "2025-09-16T02:20:00Z"}]})

    with pytest.raises(CodemateError) as refused:
        migration.read_target(recorded.aws.cloudformation, "codemate-dev", REGION, "params/dev.json")

    assert str(refused.value) == ("stack codemate-dev (CREATE_COMPLETE) has no services layer (no nested stack "
                                  "ServicesStack); deploy a build with the services layer first")


def test_an_empty_task_definition_output_launches_nothing():
    recorded = Recorded().deployed(outputs(MigrationTaskDefinitionArn=""))  # no answer waiting for ECS

    with pytest.raises(CodemateError, match=r"set Parameters\.BackendImageTag in params/dev\.json and deploy first"):
        run_migration(recorded, Recorder())
    recorded.all_answered()


# -- a migration as it runs ------------------------------------------------------------------

def test_migrations_that_pass_print_their_log_lines_and_a_success_line():
    recorded = (Recorded().deployed(outputs()).started()
                .task("PENDING").no_log_stream_yet()
                .task("RUNNING").log_lines("query: SELECT * FROM migrations", token="f/1")
                .task("STOPPED", exit_code=0).log_lines("Migration AddReviews1758000000000 has been executed "
                                                        "successfully.", token="f/2"))
    ui = Recorder()

    done = run_migration(recorded, ui)

    assert done == f"migrations ran: container migrate of task {TASK_ID} exited with 0"
    assert ui.shown.splitlines() == ["query: SELECT * FROM migrations",
                                     "Migration AddReviews1758000000000 has been executed successfully."]
    assert [line for line in ui.noted.splitlines() if line.startswith(f"- task {TASK_ID}: ")] == [
        f"- task {TASK_ID}: PENDING (0s)", f"- task {TASK_ID}: RUNNING (5s)", f"- task {TASK_ID}: STOPPED (10s)"]
    assert f"- migration task {TASK} started (task definition {TASK_DEFINITION}, cluster codemate-dev)" in ui.noted
    recorded.all_answered()


@pytest.mark.parametrize("exit_code, reason", [
    (1, None), (137, "OutOfMemoryError: Container killed due to memory usage")])
def test_a_failed_migration_exits_with_the_container_code_and_shows_the_last_log_lines(exit_code, reason):
    lines = [f"query: ALTER TABLE step {n}" for n in range(1, 25)]
    recorded = (Recorded().deployed(outputs()).started()
                .task("RUNNING").log_lines(*lines[:12], token="f/1")
                .task("STOPPED", exit_code=exit_code, container_reason=reason)
                .log_lines(*lines[12:], "QueryFailedError: relation \"review\" already exists", token="f/2"))
    ui = Recorder()

    with pytest.raises(migration.MigrationFailed) as failed:
        run_migration(recorded, ui)

    assert failed.value.exit_code == exit_code
    more = f" ({reason})" if reason else ""
    assert str(failed.value) == f"migration failed: container migrate of task {TASK} exited with code {exit_code}{more}"
    assert ui.shown.splitlines() == [*lines, "QueryFailedError: relation \"review\" already exists"]  # as they came
    shown_again = ui.noted.split(f"last 20 log line(s) of task {TASK_ID} (CloudWatch Logs group /codemate/dev/backend, "
                                 f"stream {STREAM}):\n", 1)[1].splitlines()
    assert shown_again == [f"  {line}" for line in [*lines[5:], "QueryFailedError: relation \"review\" already exists"]]
    recorded.all_answered()


def test_a_task_that_never_started_its_container_fails_with_the_reason():
    pull = ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
            f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/codemate-backend-dev:9f8e7d6: not found")
    recorded = (Recorded().deployed(outputs()).started()
                .task("STOPPED", stopped_reason=pull, container_reason=pull).no_log_stream_yet())
    ui = Recorder()

    with pytest.raises(migration.MigrationFailed) as failed:
        run_migration(recorded, ui)

    assert failed.value.exit_code == 1
    assert str(failed.value) == f"migration task {TASK} stopped without an exit code from container migrate: {pull}"
    assert f"no log lines in CloudWatch Logs group /codemate/dev/backend, stream {STREAM}" in ui.noted
    recorded.all_answered()


def test_a_task_ecs_cannot_place_is_an_error_with_the_reason():
    recorded = Recorded().deployed(outputs())
    recorded.ecs.add_response("run_task", {"tasks": [], "failures": [
        {"arn": TASK_DEFINITION, "reason": "Capacity is unavailable at this time. Please try again later or in a "
                                           "different availability zone"}]})

    with pytest.raises(CodemateError) as failed:
        run_migration(recorded, Recorder())

    assert str(failed.value) == (
        "the migration task did not start in cluster codemate-dev: Capacity is unavailable at this time. Please try "
        f"again later or in a different availability zone for {TASK_DEFINITION}")
    recorded.all_answered()


def test_past_the_timeout_the_task_keeps_running_and_the_error_says_how_to_stop_it():
    recorded = Recorded().deployed(outputs()).started()
    for _ in range(4):  # looks at 0, 5, 10 and 15 seconds
        recorded.task("RUNNING").no_log_stream_yet()

    with pytest.raises(CodemateError) as waited:
        run_migration(recorded, Recorder(), timeout=15)

    assert waited.value.exit_code == 1
    assert str(waited.value) == (
        f"migration task {TASK} is still RUNNING after 15s (--timeout 15) and keeps running; its logs: CloudWatch Logs "
        f"group /codemate/dev/backend, stream {STREAM}; stop it with: {STOP}")
    recorded.all_answered()


def test_ctrl_c_leaves_the_task_running_and_names_it():
    recorded = Recorded().deployed(outputs()).started().task("RUNNING").no_log_stream_yet()

    def interrupted(_):
        raise KeyboardInterrupt

    with pytest.raises(StillRunning) as stopped:
        run_migration(recorded, Recorder(), sleep=interrupted)

    assert stopped.value.exit_code == 130
    assert str(stopped.value) == (
        f"stopped watching: migration task {TASK} keeps running in cluster codemate-dev; its logs: CloudWatch Logs "
        f"group /codemate/dev/backend, stream {STREAM}; stop it with: {STOP}")


# -- on the emulator --------------------------------------------------------------------------

@pytest.fixture
def cluster(fresh_emulator) -> tuple[Aws, migration.MigrationTarget]:
    """A cluster, a Fargate task definition with a container named as the
    services layer names it, and a VPC with two private subnets and a
    security group, made with the ECS and EC2 APIs: the target as the
    services stack's outputs would give it."""
    aws = client_for(fresh_emulator.url)
    ec2, ecs = aws.client("ec2"), aws.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the network layer does
    subnets = tuple(ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
                    for cidr, zone in (("10.0.11.0/24", f"{REGION}a"), ("10.0.12.0/24", f"{REGION}c")))
    group = ec2.create_security_group(GroupName="codemate-dev-tasks", Description="ECS tasks", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="codemate-dev")
    definition = ecs.register_task_definition(
        family="codemate-dev-migrate", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{
            "name": "migrate", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/codemate-backend-dev:9f8e7d6",
            "essential": True, "memory": 512,  # moto 5.2.5 cannot run a task whose containers have no memory
            "command": ["npm", "run", "typeorm", "migration:run"]}],
    )["taskDefinition"]["taskDefinitionArn"]
    return aws, target(MigrationTaskDefinitionArn=definition, MigrationSubnetIds=",".join(subnets),
                       MigrationSecurityGroupId=group)


def test_the_migration_task_is_launched_once_on_fargate_in_the_private_subnets(cluster):
    aws, where = cluster
    ecs = aws.client("ecs")
    asked = []
    ecs.meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: asked.append(params))

    arn = migration.launch(ecs, where)

    assert ecs.list_tasks(cluster="codemate-dev")["taskArns"] == [arn]
    (launched,) = ecs.describe_tasks(cluster="codemate-dev", tasks=[arn])["tasks"]
    assert launched["taskDefinitionArn"] == where.task_definition
    assert launched["launchType"] == "FARGATE"
    assert launched["startedBy"] == "codemate-cfn migrate"
    (attachment,) = launched["attachments"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["subnetId"] in where.subnets
    (interface,) = aws.client("ec2").describe_network_interfaces(
        NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"]
    assert [g["GroupId"] for g in interface["Groups"]] == [where.security_group]
    assert "Association" not in interface  # no public IP
    # moto does not model assignPublicIp: what ECS was asked for says it
    assert asked[0]["networkConfiguration"] == {"awsvpcConfiguration": {
        "subnets": list(where.subnets), "securityGroups": [where.security_group], "assignPublicIp": "DISABLED"}}


def test_log_lines_are_read_once_each_as_the_stream_grows(cluster):
    aws, where = cluster
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=where.log_group)
    tail = migration.LogTail(logs, where.log_group, where.log_stream(TASK), keep=3)

    assert tail.poll() == []  # the container has not started: no stream yet

    # what the awslogs driver does once the container runs
    logs.create_log_stream(logGroupName=where.log_group, logStreamName=where.log_stream(TASK))

    def written(*lines: str) -> None:
        now = int(time.time() * 1000)  # CloudWatch Logs takes events of the last 14 days only
        logs.put_log_events(logGroupName=where.log_group, logStreamName=where.log_stream(TASK),
                            logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)])

    written("query: SELECT version()", "query: START TRANSACTION\n")
    assert tail.poll() == ["query: SELECT version()", "query: START TRANSACTION"]
    assert tail.poll() == []
    written("query: CREATE TABLE review", "query: COMMIT")
    assert tail.poll() == ["query: CREATE TABLE review", "query: COMMIT"]
    assert list(tail.last) == ["query: START TRANSACTION", "query: CREATE TABLE review", "query: COMMIT"]


# -- the command line ---------------------------------------------------------------------------

@pytest.fixture
def dummy_credentials(monkeypatch, tmp_path):
    """The emulator's keys and none of the user's AWS config."""
    for name, value in {"AWS_ACCESS_KEY_ID": KEYS[0], "AWS_SECRET_ACCESS_KEY": KEYS[1],
                        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_migrate_on_a_stack_that_does_not_exist_is_one_line(emulator, dummy_credentials, run_main):
    done = run_main("--project-dir", ROOT, "migrate", "params/dev.json", "--endpoint-url", emulator.url)

    assert (done.returncode, done.stdout) == (1, "")
    assert assert_one_line_errors(done) == ["stack codemate-dev does not exist in ap-northeast-2"]


def test_migrate_on_a_missing_parameter_file_stops_before_calling_aws(run_main, monkeypatch):
    monkeypatch.setattr("codemate_cfn.deploy.aws.Aws", lambda *a, **k: pytest.fail("AWS called"))

    done = run_main("--project-dir", ROOT, "migrate", "params/typo.json")

    assert (done.returncode, done.stdout) == (2, "")
    assert assert_one_line_errors(done) == ["params/typo.json: file not found"]


def test_the_command_exits_with_the_container_exit_code(run_main, dummy_credentials, monkeypatch):
    recorded = (Recorded().caller().deployed(outputs()).started()
                .task("STOPPED", exit_code=3).log_lines("Error: connect ECONNREFUSED 10.0.21.5:5432", token="f/1"))
    monkeypatch.setattr("codemate_cfn.deploy.aws.Aws", lambda target: recorded.aws)

    done = run_main("--project-dir", ROOT, "migrate", "params/dev.json", "--region", REGION)

    assert done.returncode == 3
    assert done.stdout == "Error: connect ECONNREFUSED 10.0.21.5:5432\n"
    assert done.stderr.splitlines()[-2:] == [
        "  Error: connect ECONNREFUSED 10.0.21.5:5432",
        f"error: migration failed: container migrate of task {TASK} exited with code 3"]
    recorded.all_answered()
