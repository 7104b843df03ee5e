"""`migrate`: run CodeMate's database migrations as a one-off ECS Fargate
task of the backend image, as the services layer defines it (its nested
stack's outputs say where), stream the task's log lines while it runs and
end with the container's exit code."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from codemate_cfn.deploy.aws import error_code
from codemate_cfn.deploy.events import StillRunning, elapsed
from codemate_cfn.deploy.stack import existing, nested_stacks
from codemate_cfn.errors import EXIT_ERROR, CodemateError

SERVICES_STACK = "ServicesStack"  # the services layer's nested stack, by its logical ID in the root
STARTED_BY = "codemate-cfn migrate"  # ECS takes at most 36 characters
TAIL_LINES = 20  # log lines shown again when the migration fails
PAGES_PER_POLL = 50  # log pages read at most between two looks at the task

# What the services layer publishes for the migration task, by output name.
OUTPUTS = {
    "ClusterName": "cluster",
    "MigrationTaskDefinitionArn": "task_definition",
    "MigrationSubnetIds": "subnets",
    "MigrationSecurityGroupId": "security_group",
    "MigrationContainerName": "container",
    "MigrationLogGroupName": "log_group",
    "MigrationLogStreamPrefix": "log_stream_prefix",
}


class MigrationFailed(CodemateError):
    """The migration ran and failed: the command exits with the container's
    exit code when it is one a process can have (1-255), else 1."""

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code if isinstance(exit_code, int) and 1 <= exit_code <= 255 else EXIT_ERROR


@dataclass(frozen=True)
class MigrationTarget:
    """Where and how the migration task runs, read from the services stack."""

    stack: str  # the root stack, for messages
    cluster: str
    task_definition: str
    subnets: tuple[str, ...]
    security_group: str
    container: str
    log_group: str
    log_stream_prefix: str

    def log_stream(self, task_arn: str) -> str:
        """The awslogs driver's stream of the task: <prefix>/<container>/<task id>."""
        return f"{self.log_stream_prefix}/{self.container}/{task_id(task_arn)}"

    def logs_of(self, task_arn: str) -> str:
        return f"CloudWatch Logs group {self.log_group}, stream {self.log_stream(task_arn)}"

    def stop_command(self, task_arn: str, region: str) -> str:
        return f"aws ecs stop-task --cluster {self.cluster} --task {task_arn} --region {region}"


def task_id(task_arn: str) -> str:
    """The ID at the end of a task ARN (arn:...:task/<cluster>/<id> or arn:...:task/<id>)."""
    return task_arn.rsplit("/", 1)[-1]


def target_from_outputs(outputs: list[dict], stack: str, params_path: str) -> MigrationTarget:
    """The migration target from the services stack's outputs (as
    describe_stacks gives them); one error line naming the stack and what
    is missing, or saying to deploy a backend image first."""
    values = {o["OutputKey"]: o.get("OutputValue", "") for o in outputs}
    missing = [name for name in OUTPUTS if name not in values]
    if missing:
        raise CodemateError(f"stack {stack}: its services layer ({SERVICES_STACK}) has no output(s) "
                            f"{', '.join(missing)}; deploy a build whose services layer publishes them")
    if not values["MigrationTaskDefinitionArn"]:
        raise CodemateError(f"stack {stack} has no migration task yet (MigrationTaskDefinitionArn is empty: no "
                            f"backend image); set Parameters.BackendImageTag in {params_path} and deploy first")
    empty = [name for name in OUTPUTS if not values[name].strip()]
    if empty:
        raise CodemateError(f"stack {stack}: output(s) {', '.join(empty)} of its services layer ({SERVICES_STACK}) "
                            f"are empty")
    fields = {field: values[name].strip() for name, field in OUTPUTS.items()}
    fields["subnets"] = tuple(s.strip() for s in fields["subnets"].split(",") if s.strip())
    return MigrationTarget(stack=stack, **fields)


def read_target(cfn, stack: str, region: str, params_path: str) -> MigrationTarget:
    """The migration target of the deployed root stack `stack`, from the
    outputs of its services nested stack."""
    root = existing(cfn, stack, region)
    services = nested_stacks(cfn, root["StackId"]).get(SERVICES_STACK)
    if services is None:
        raise CodemateError(f"stack {stack} ({root['StackStatus']}) has no services layer (no nested stack "
                            f"{SERVICES_STACK}); deploy a build with the services layer first")
    described = cfn.describe_stacks(StackName=services)["Stacks"][0]
    return target_from_outputs(described.get("Outputs") or [], stack, params_path)


def launch(ecs, target: MigrationTarget) -> str:
    """Start the migration task once (Fargate, private subnets, no public
    IP); returns its ARN."""
    answer = ecs.run_task(
        cluster=target.cluster,
        taskDefinition=target.task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=STARTED_BY,
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": list(target.subnets),
            "securityGroups": [target.security_group],
            "assignPublicIp": "DISABLED",
        }},
    )
    failures = answer.get("failures") or []
    if failures or not answer.get("tasks"):
        why = "; ".join(f"{f.get('reason') or 'no reason given'}" + (f" ({f['detail']})" if f.get("detail") else "")
                        + (f" for {f['arn']}" if f.get("arn") else "") for f in failures)
        raise CodemateError(f"the migration task did not start in cluster {target.cluster}: "
                            f"{why or 'ECS answered with no task and no failure'}")
    return answer["tasks"][0]["taskArn"]


class LogTail:
    """The lines of one CloudWatch Logs stream as they arrive, read forward
    from the last token; a stream not there yet (the task has not started
    its container) has no lines. Keeps the last `keep` lines."""

    def __init__(self, logs, group: str, stream: str, keep: int = TAIL_LINES):
        self.logs, self.group, self.stream = logs, group, stream
        self.token: str | None = None
        self.last: deque[str] = deque(maxlen=keep)

    def poll(self) -> list[str]:
        """The lines written since the last poll."""
        from botocore.exceptions import ClientError

        lines: list[str] = []
        for _ in range(PAGES_PER_POLL):
            ask = {"logGroupName": self.group, "logStreamName": self.stream, "startFromHead": True}
            if self.token:
                ask["nextToken"] = self.token
            try:
                page = self.logs.get_log_events(**ask)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                break  # not there yet
            new = [event["message"].rstrip("\n") for event in page.get("events") or []]
            lines += new
            token, self.token = self.token, page.get("nextForwardToken") or self.token
            if not new or token == self.token:  # the end of the stream, for now
                break
        self.last.extend(lines)
        return lines


def describe(ecs, target: MigrationTarget, task_arn: str) -> dict:
    answer = ecs.describe_tasks(cluster=target.cluster, tasks=[task_arn])
    if not answer.get("tasks"):
        why = "; ".join(f.get("reason") or "" for f in answer.get("failures") or []) or "not in the answer"
        raise CodemateError(f"migration task {task_arn} not found in cluster {target.cluster}: {why}")
    return answer["tasks"][0]


def watch(aws, target: MigrationTarget, task_arn: str, ui, timeout: float, poll_seconds: float = 5.0,
          sleep=time.sleep, clock=time.monotonic) -> tuple[dict, LogTail]:
    """Show the task's status changes and print its log lines as they
    arrive until it has STOPPED; returns the stopped task and its log.
    Past `timeout` seconds, or on Ctrl-C, the task keeps running and one
    line says how to stop it."""
    ecs = aws.client("ecs")
    log = LogTail(aws.client("logs"), target.log_group, target.log_stream(task_arn))
    left = f"its logs: {target.logs_of(task_arn)}; stop it with: {target.stop_command(task_arn, aws.target.region)}"
    started = clock()
    status = None
    try:
        while True:
            task = describe(ecs, target, task_arn)
            if task.get("lastStatus") != status:
                status = task.get("lastStatus")
                ui.step(f"task {task_id(task_arn)}: {status} ({elapsed(clock() - started)})")
            for line in log.poll():
                ui.say(line)
            if status == "STOPPED":
                return task, log
            if clock() - started >= timeout:
                raise CodemateError(f"migration task {task_arn} is still {status} after {elapsed(timeout)} "
                                    f"(--timeout {timeout:g}) and keeps running; {left}")
            sleep(poll_seconds)
    except KeyboardInterrupt:
        raise StillRunning(f"stopped watching: migration task {task_arn} keeps running in cluster {target.cluster}; "
                           f"{left}") from None


def outcome(task: dict, target: MigrationTarget, log: LogTail, ui) -> str:
    """The success line for a task whose container exited with 0; else the
    last log lines on the console and MigrationFailed, with the container's
    exit code or, when it never ran to one, the reason the task stopped."""
    arn = task["taskArn"]
    container = next((c for c in task.get("containers") or [] if c.get("name") == target.container), {})
    code = container.get("exitCode")
    if code == 0:
        return f"migrations ran: container {target.container} of task {task_id(arn)} exited with 0"
    if log.last:
        ui.note(f"last {len(log.last)} log line(s) of task {task_id(arn)} ({target.logs_of(arn)}):")
        for line in log.last:
            ui.note(f"  {line}")
    else:
        ui.note(f"no log lines in {target.logs_of(arn)}")
    reason = container.get("reason")
    if code is None:
        why = task.get("stoppedReason") or reason or "no reason given"
        raise MigrationFailed(f"migration task {arn} stopped without an exit code from container "
                              f"{target.container}: {why}")
    more = f" ({reason})" if reason else ""
    raise MigrationFailed(f"migration failed: container {target.container} of task {arn} exited with code "
                          f"{code}{more}", code)


def migrate(aws, stack: str, params_path: str, ui, timeout: float, poll_seconds: float = 5.0,
            sleep=time.sleep, clock=time.monotonic) -> str:
    """Run the migrations of the deployed stack `stack` once; returns the
    success line, else raises (MigrationFailed, or one line saying what is
    missing or still running)."""
    target = read_target(aws.cloudformation, stack, aws.target.region, params_path)
    arn = launch(aws.client("ecs"), target)
    ui.step(f"migration task {arn} started (task definition {target.task_definition}, cluster {target.cluster})")
    ui.step(f"logs: {target.logs_of(arn)}")
    task, log = watch(aws, target, arn, ui, poll_seconds=poll_seconds, timeout=timeout, sleep=sleep, clock=clock)
    return outcome(task, target, log, ui)
