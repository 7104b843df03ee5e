"""Helpers for deploy tests: clients for the emulator, the emulator as a
fresh account, a console that records what it shows, parameter files with
changed values, and the deploy command's flow with test defaults."""

from __future__ import annotations

import copy
import io

from botocore.awsrequest import AWSResponse

from codemate_cfn.cli import deploy as deploy_command
from codemate_cfn.cli import plan as plan_command
from codemate_cfn.compile.discovery import load_catalogue, load_conventions
from codemate_cfn.console import Console
from codemate_cfn.deploy import flow, lookups
from codemate_cfn.deploy.aws import Aws, Target
from codemate_cfn.emulator import DUMMY_KEYS, Emulator
from codemate_cfn.params.paramfile import load
from run_cli import ROOT

KEYS = DUMMY_KEYS  # moto takes any keys; these are the emulator's
REGION = "ap-northeast-2"  # the region the project's templates are made for
POLL = 0.02  # seconds between polls: the emulator finishes at once


def client_for(url: str, **target) -> Aws:
    return Aws(Target(**{"region": REGION, "endpoint_url": url, "credentials": KEYS, **target}))


class Recorder(Console):
    """A console that keeps what it shows, and answers no question."""

    def __init__(self, answer: bool | None = None):
        super().__init__(out=io.StringIO(), err=io.StringIO(), interactive=answer is not None)
        self.answer = answer

    def confirm(self, question: str) -> bool:
        self.err.write(f"{question} -> {self.answer}\n")
        return bool(self.answer)

    @property
    def shown(self) -> str:
        return self.out.getvalue()

    @property
    def noted(self) -> str:
        return self.err.getvalue()


def renamed_bucket(templates: dict) -> tuple[dict, str]:
    """The templates with one stateful bucket's name changed (a replacement)."""
    mutated = copy.deepcopy(templates)
    storage = mutated["storage"]["Resources"]
    logical_id = next(lid for lid, r in storage.items()
                      if r["Type"] == "AWS::S3::Bucket" and "BucketName" in r.get("Properties", {}))
    name = storage[logical_id]["Properties"]["BucketName"]
    storage[logical_id]["Properties"]["BucketName"] = {"Fn::Sub": name["Fn::Sub"] + "-renamed"}
    return mutated, logical_id


def params_file(project, catalogue, name: str = "dev", **changes):
    """params/<name>.json, checked; `changes` override parameter values
    (in memory: the file on disk stays as it is)."""
    loaded = load(project.params_dir / f"{name}.json", catalogue, load_conventions(project.root))
    loaded.parameters.update(changes)
    return loaded


def options(params, **settings) -> flow.Options:
    """Deploy options with test defaults: stack codemate-<env>, quick polls."""
    defaults = {"stack_name": f"codemate-{params.path.stem}", "poll_seconds": POLL,
                "params_path": f"params/{params.path.name}", "commit": "0123456789ab"}
    return flow.Options(**{**defaults, **settings})


def run_deploy(aws, templates, params, catalogue, ui=None, yes=True, execute=True, account=None,
               **settings) -> deploy_command.Outcome:
    """The deploy command's flow with test defaults (--yes unless told)."""
    return deploy_command.deploy(aws, templates, params, catalogue, options(params, **settings), ui or Recorder(),
                                 yes=yes, execute=execute, account=account)


def run_plan(aws, templates, params, catalogue, ui=None, **settings) -> flow.Proposal:
    """The plan command's flow: the proposal, its change set deleted."""
    return plan_command.plan(aws, templates, params, catalogue, options(params, **settings), ui or Recorder())

class Replay:
    """Answers a client's calls with recorded AWS responses instead of
    sending them: by operation and the stack or change set the call names,
    so a test does not depend on the order of the calls. Each response is
    checked against botocore's output shape first, as Stubber does. A call's
    recorded answers are given in turn; the last one repeats. `calls` lists
    (operation, parameters) as made."""

    def __init__(self, client, recording: list[dict]):
        from botocore.validate import validate_parameters

        self.answers: dict[tuple, list[dict]] = {}
        self.calls: list[tuple[str, dict]] = []
        model = client.meta.service_model
        for entry in recording:
            response = _with_datetimes(entry.get("response", {}))
            if "error" not in entry:
                validate_parameters(response, model.operation_model(entry["operation"]).output_shape)
            self.answers.setdefault((entry["operation"], _named(entry.get("params", {}))), []).append(entry)
        client.meta.events.register_first("before-parameter-build.*.*", self._note)
        client.meta.events.register_first("before-call.*.*", self._answer)

    def _note(self, model, params, **_):
        self.calls.append((model.name, dict(params)))

    def _answer(self, model, **_):
        from botocore.awsrequest import AWSResponse

        key = (model.name, _named(self.calls[-1][1]))
        if key not in self.answers:
            raise AssertionError(f"no recorded answer for {key}")
        queue = self.answers[key]
        entry = queue.pop(0) if len(queue) > 1 else queue[0]
        if "error" in entry:
            error = {"Error": entry["error"], "ResponseMetadata": {"HTTPStatusCode": 400}}
            return AWSResponse(None, 400, {}, None), error
        return AWSResponse(None, 200, {}, None), _with_datetimes(entry["response"])

    def answer(self, operation: str, name: str | None, *responses: dict) -> None:
        """Record (instead of what the file says) how AWS answers a call."""
        self.answers[(operation, name)] = [{"operation": operation, "response": r} for r in responses]

    def made(self, operation: str) -> list[dict]:
        return [params for name, params in self.calls if name == operation]


def _named(params: dict):
    return params.get("StackName") or params.get("ChangeSetName")


def _with_datetimes(value):
    """Recorded ISO times back to the datetimes botocore gives."""
    from datetime import datetime

    if isinstance(value, dict):
        return {k: datetime.fromisoformat(v) if isinstance(v, str) and (k.endswith("Time") or k == "Timestamp")
                else _with_datetimes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_datetimes(v) for v in value]
    return value


def replay(service: str, fixture: str, target=None):
    """An Aws whose `service` client answers from tests/fixtures/aws/<fixture>.json."""
    import json
    from pathlib import Path

    aws = Aws(target or Target(REGION, endpoint_url="http://127.0.0.1:9", credentials=KEYS, max_attempts=1))
    recording = json.loads((Path(__file__).parent / "fixtures" / "aws" / f"{fixture}.json").read_text())
    return aws, Replay(aws.client(service), recording["calls"])


THROTTLED = (b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
             b'<Code>Throttling</Code><Message>Rate exceeded</Message></Error>'
             b'<RequestId>4f8a2c1e-7b3d-4e9f-a1c2-5d6e7f8a9b0c</RequestId></ErrorResponse>')


class Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


def throttle(aws, times: int) -> list[str]:
    """Answer the first `times` DescribeStacks requests with AWS's Throttling
    error before they reach the emulator; returns what was sent, in order."""
    sent = []

    def before_send(request, **_):
        if len(sent) < times:
            sent.append("throttled")
            return AWSResponse(request.url, 400, {}, Body(THROTTLED))
        sent.append("sent")
        return None

    aws.cloudformation.meta.events.register("before-send.cloudformation.DescribeStacks", before_send)
    return sent


def account(found: Emulator) -> Emulator:
    """The emulator emptied, then holding what the account must hold before
    a first deploy (lookups.STAND_INS: the public hosted zone of params/*.json)."""
    found.reset()
    catalogue = load_catalogue(ROOT)
    params = load(ROOT / "params" / "dev.json", catalogue, load_conventions(ROOT))
    lookups.stand_in_for_the_account(client_for(found.url), params, catalogue, Recorder())
    return found
