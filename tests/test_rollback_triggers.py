"""Deploys that roll back on the application's own alarms: the parameter
file's Deployment.RollbackMonitoringMinutes, the rollback triggers read from
the deployed root stack's RollbackAlarmArns output and sent with every
change set, shown in the plan, kept by a change set left for review, and a
rollback they caused reported as such.

moto 5.2.5 takes CreateChangeSet's RollbackConfiguration and drops it: its
change sets and stacks never describe one. The emulator tests read what
boto3 sends instead, and `Keeps` makes DescribeChangeSet answer with it as
AWS does. The rollback itself is played from recorded responses
(tests/fixtures/aws/alarm_rollback.json)."""

from __future__ import annotations

import copy
import json

import pytest

from codemate_cfn import errors
from codemate_cfn.cli import deploy as deploy_command
from codemate_cfn.deploy import events, triggers
from codemate_cfn.deploy import flow as deploy
from codemate_cfn.deploy.changeset import ChangeSet
from codemate_cfn.deploy.plan import Change
from codemate_cfn.deploy.plan_view import format_plan, plan_json
from codemate_cfn.params import paramfile
from deploy_support import Recorder, options, params_file, replay, run_deploy
from run_cli import ROOT as PROJECT_ROOT
from run_cli import assert_one_line_errors

pytest_plugins = ["emulator_fixtures"]

ACCOUNT = "123456789012"  # the emulator's
ALARMS = ["codemate-dev-backend-5xx", "codemate-dev-frontend-5xx"]
ARNS = [f"arn:aws:cloudwatch:ap-northeast-2:{ACCOUNT}:alarm:{name}" for name in ALARMS]
WITH_OUTPUT = {"Outputs": {triggers.OUTPUT: {"Value": "x"}}}  # a root template that makes the output
NO_OUTPUT = {"Outputs": {}}


# -- the parameter file ------------------------------------------------------------

def with_deployment(tmp_path, env: str = "dev", **settings):
    data = json.loads((PROJECT_ROOT / "params" / f"{env}.json").read_text())
    data["Deployment"].update(settings)
    path = tmp_path / f"{env}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def conventions():
    from codemate_cfn.compile.discovery import load_conventions

    return load_conventions(PROJECT_ROOT)


@pytest.mark.parametrize("value, problem", [
    (True, "wrong type: expected a whole number of minutes (0 to 180), got true"),
    ("10", 'wrong type: expected a whole number of minutes (0 to 180), got "10"'),
    (10.5, "wrong type: expected a whole number of minutes (0 to 180), got 10.5"),
    (10.0, "wrong type: expected a whole number of minutes (0 to 180), got 10.0"),
    (None, "wrong type: expected a whole number of minutes (0 to 180), got null"),
    (-1, "-1 is below the minimum 0"),
    (181, "181 is above the maximum 180"),
])
def test_rollback_monitoring_minutes_is_a_whole_number_from_0_to_180(value, problem, catalogue, conventions, tmp_path):
    path = with_deployment(tmp_path, RollbackMonitoringMinutes=value)

    result, problems = paramfile.check(path, catalogue, conventions)

    assert result is None
    assert problems == [f"{path}: Deployment.RollbackMonitoringMinutes: {problem}"]


@pytest.mark.parametrize("value", [0, 1, 180])
def test_every_minute_cloudformation_takes_is_accepted(value, catalogue, conventions, tmp_path):
    params = paramfile.load(with_deployment(tmp_path, RollbackMonitoringMinutes=value), catalogue, conventions)
    assert params.setting("RollbackMonitoringMinutes") == value


def test_the_monitoring_time_is_0_when_the_file_leaves_it_out(catalogue, conventions, tmp_path):
    path = with_deployment(tmp_path)
    data = json.loads(path.read_text())
    del data["Deployment"]["RollbackMonitoringMinutes"]
    path.write_text(json.dumps(data))
    assert paramfile.load(path, catalogue, conventions).setting("RollbackMonitoringMinutes") == 0


@pytest.mark.parametrize("env, minutes", [("dev", 0), ("prod", 10)])
def test_the_environment_files_set_their_monitoring_time(env, minutes, catalogue, conventions):
    params = paramfile.load(PROJECT_ROOT / "params" / f"{env}.json", catalogue, conventions)
    assert params.deployment["RollbackMonitoringMinutes"] == minutes


@pytest.mark.parametrize("value, got", [(1, "1"), ("true", '"true"'), (None, "null")])
def test_the_flags_still_take_only_true_or_false(value, got, catalogue, conventions, tmp_path):
    path = with_deployment(tmp_path, TerminationProtection=value)
    assert paramfile.check(path, catalogue, conventions)[1] == [
        f"{path}: Deployment.TerminationProtection: wrong type: expected true or false, got {got}"]


def test_validate_says_it_in_one_line_naming_the_file_and_the_key(tmp_path, run_main):
    path = with_deployment(tmp_path, "prod", RollbackMonitoringMinutes=240)

    done = run_main("validate", path)

    assert (done.returncode, done.stdout) == (errors.EXIT_INVALID, "")
    assert assert_one_line_errors(done) == [f"{path}: Deployment.RollbackMonitoringMinutes: 240 is above the maximum 180"]


# -- the triggers, from the deployed root stack -------------------------------------

def stack(outputs: dict[str, str] | None = None) -> dict:
    found = {"StackName": "codemate-dev", "StackId": "arn:...:stack/codemate-dev/1", "StackStatus": "UPDATE_COMPLETE"}
    if outputs is not None:
        found["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return found


@pytest.mark.parametrize("deployed, template, line", [
    (None, WITH_OUTPUT, "rollback triggers: none yet (the alarms are created by this deploy)"),
    (None, NO_OUTPUT, "rollback triggers: none (the templates have no RollbackAlarmArns output)"),
    (stack(), WITH_OUTPUT, "rollback triggers: none yet (stack codemate-dev has no RollbackAlarmArns output; "
                           "the alarms are created by this deploy)"),
    (stack({"Other": "x"}), NO_OUTPUT, "rollback triggers: none (stack codemate-dev has no RollbackAlarmArns output; "
                                       "the templates have no RollbackAlarmArns output)"),
    (stack({triggers.OUTPUT: " , "}), WITH_OUTPUT, "rollback triggers: none (the RollbackAlarmArns output of stack "
                                                   "codemate-dev is empty)"),
])
def test_without_alarms_to_watch_the_change_set_clears_every_trigger(deployed, template, line):
    rollback = triggers.from_stack(deployed, template, minutes=10)
    assert rollback.describe() == line
    # stated in full: an empty list, or CloudFormation would keep the stack's earlier triggers; no wait for nothing
    assert rollback.configuration() == {"RollbackTriggers": [], "MonitoringTimeInMinutes": 0}


def test_the_alarms_of_the_root_output_become_the_triggers_with_the_files_minutes():
    listed = f" {ARNS[0]},{ARNS[1]}, ,{ARNS[0]}"  # blanks and repeats dropped
    rollback = triggers.from_stack(stack({triggers.OUTPUT: listed}), NO_OUTPUT, minutes=10)
    assert rollback.configuration() == {
        "RollbackTriggers": [{"Arn": ARNS[0], "Type": "AWS::CloudWatch::Alarm"},
                             {"Arn": ARNS[1], "Type": "AWS::CloudWatch::Alarm"}],
        "MonitoringTimeInMinutes": 10}
    assert rollback.describe() == (
        "rollback triggers: codemate-dev-backend-5xx, codemate-dev-frontend-5xx; CloudFormation rolls the deploy "
        "back if one goes into ALARM during the deploy and for 10 minute(s) after its resources are deployed")
    assert triggers.left_out_note(rollback, "codemate-dev") is None


def test_monitoring_time_0_still_watches_the_alarms_during_the_deploy():
    rollback = triggers.from_stack(stack({triggers.OUTPUT: ARNS[0]}), NO_OUTPUT, minutes=0)
    assert rollback.configuration()["RollbackTriggers"] == [{"Arn": ARNS[0], "Type": "AWS::CloudWatch::Alarm"}]
    assert rollback.describe() == (
        "rollback triggers: codemate-dev-backend-5xx; CloudFormation rolls the deploy back if one goes into ALARM "
        "during the deploy only (monitoring time 0: the watch ends when the resources are deployed)")


def test_past_cloudformations_five_triggers_the_rest_are_named_as_not_watched():
    arns = [f"arn:aws:cloudwatch:ap-northeast-2:{ACCOUNT}:alarm:a{i}" for i in range(7)]
    rollback = triggers.from_stack(stack({triggers.OUTPUT: ",".join(arns)}), NO_OUTPUT, minutes=5)
    assert [t["Arn"] for t in rollback.configuration()["RollbackTriggers"]] == arns[:5]
    assert triggers.left_out_note(rollback, "codemate-dev") == (
        "warning: the RollbackAlarmArns output of stack codemate-dev lists 7 alarms and CloudFormation takes at "
        "most 5 rollback triggers: these are not watched: a5, a6")


# -- the plan --------------------------------------------------------------------

CHANGES = [Change("services", "modify", "BackendService", "AWS::ECS::Service", "false", ["property TaskDefinition"], False)]


def test_the_plan_shows_the_triggers_above_its_summary():
    watched = triggers.Rollback(tuple(ARNS), 10)
    lines = format_plan(CHANGES, [], watched).splitlines()
    assert lines[-3:] == [
        "Rollback triggers: codemate-dev-backend-5xx, codemate-dev-frontend-5xx, watched during the deploy and for "
        "10 minute(s) after its resources are deployed",
        "",
        "Plan: 0 to add, 1 to modify, 0 to remove, 0 replaced, 0 may be replaced."]
    first = triggers.from_stack(None, WITH_OUTPUT, 10)
    assert format_plan(CHANGES, [], first).splitlines()[-3] == (
        "Rollback triggers: none yet (the alarms are created by this deploy)")
    assert "Rollback triggers" not in format_plan(CHANGES, [])  # not known: not shown


def test_the_json_plan_has_the_triggers():
    shown = json.loads(json.dumps(plan_json(CHANGES, [], triggers.Rollback((ARNS[0],), 0))))
    assert shown["rollback_triggers"] == {"alarms": [{"name": ALARMS[0], "arn": ARNS[0]}], "monitoring_minutes": 0,
                                          "note": None}
    none = plan_json(CHANGES, [], triggers.from_stack(None, WITH_OUTPUT, 10))["rollback_triggers"]
    assert none == {"alarms": [], "monitoring_minutes": 0, "note": "none yet (the alarms are created by this deploy)"}
    assert plan_json(CHANGES, [])["rollback_triggers"] is None


# -- on the emulator ---------------------------------------------------------------

class Keeps:
    """What boto3 sends with CreateChangeSet (the RollbackConfiguration,
    which moto drops), and DescribeChangeSet answering with it, as AWS does."""

    def __init__(self, aws):
        self.sent: list[dict] = []
        self.by_id: dict[str, dict] = {}
        events_ = aws.cloudformation.meta.events
        events_.register("before-parameter-build.cloudformation.CreateChangeSet", self._sent)
        events_.register("after-call.cloudformation.CreateChangeSet", self._made)
        events_.register("after-call.cloudformation.DescribeChangeSet", self._described)

    def _sent(self, params, **_):
        self.sent.append(copy.deepcopy(params))

    def _made(self, parsed, **_):
        if "RollbackConfiguration" in self.sent[-1]:
            self.by_id[parsed["Id"]] = self.sent[-1]["RollbackConfiguration"]

    def _described(self, parsed, **_):
        if parsed.get("ChangeSetId") in self.by_id:
            parsed["RollbackConfiguration"] = self.by_id[parsed["ChangeSetId"]]

    @property
    def last(self) -> dict:
        return self.sent[-1]["RollbackConfiguration"]


def without_the_output(templates: dict) -> dict:
    """The templates as they were before the root had a RollbackAlarmArns output."""
    mutated = copy.deepcopy(templates)
    mutated["root"].get("Outputs", {}).pop(triggers.OUTPUT, None)
    return mutated


def making_the_output(templates: dict) -> dict:
    """The templates with a root output RollbackAlarmArns listing two alarms
    of the account by ARN (the emulator does not model CloudWatch alarms, so
    the ARNs of the observability layer's would be stand-ins)."""
    mutated = copy.deepcopy(templates)
    mutated["root"].setdefault("Outputs", {})[triggers.OUTPUT] = {"Value": {"Fn::Join": [",", [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{name}"}
        for name in ALARMS]]}}
    return mutated


def changed(templates: dict) -> dict:
    """The same templates with one change, so that a deploy has something to do."""
    mutated = copy.deepcopy(templates)
    mutated["network"]["Description"] = mutated["network"].get("Description", "") + " (changed)"
    return mutated


@pytest.fixture
def dev(project, catalogue):
    return params_file(project, catalogue, "dev")


def test_a_first_deploy_runs_without_triggers_and_the_next_watches_the_root_outputs_alarms(
        fresh_emulator, aws, templates, dev, catalogue):
    kept = Keeps(aws)
    first = making_the_output(templates)
    ui = Recorder()
    assert run_deploy(aws, first, dev, catalogue, ui).outcome == "deployed"
    assert "- rollback triggers: none yet (the alarms are created by this deploy)\n" in ui.noted
    assert kept.last == {"RollbackTriggers": [], "MonitoringTimeInMinutes": 0}
    assert "Rollback triggers: none yet (the alarms are created by this deploy)" in ui.shown
    root = aws.cloudformation.describe_stacks(StackName="codemate-dev")["Stacks"][0]
    assert {o["OutputKey"]: o["OutputValue"] for o in root["Outputs"]}[triggers.OUTPUT] == ",".join(ARNS)

    dev.deployment["RollbackMonitoringMinutes"] = 7
    ui = Recorder()
    assert run_deploy(aws, changed(first), dev, catalogue, ui).outcome == "deployed"
    assert kept.last == {"RollbackTriggers": [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in ARNS],
                         "MonitoringTimeInMinutes": 7}
    said = [line for line in ui.noted.splitlines() if line.startswith("- rollback triggers")]
    assert said == ["- rollback triggers: codemate-dev-backend-5xx, codemate-dev-frontend-5xx; CloudFormation rolls "
                    "the deploy back if one goes into ALARM during the deploy and for 7 minute(s) after its "
                    "resources are deployed"]
    assert "arn:aws:cloudwatch" not in said[0]  # names, not whole ARNs
    assert ("Rollback triggers: codemate-dev-backend-5xx, codemate-dev-frontend-5xx, watched during the deploy and "
            "for 7 minute(s) after its resources are deployed") in ui.shown


def test_a_stack_deployed_before_the_output_existed_runs_without_triggers(fresh_emulator, aws, templates, dev,
                                                                          catalogue):
    run_deploy(aws, without_the_output(templates), dev, catalogue)
    kept = Keeps(aws)
    ui = Recorder()
    run_deploy(aws, making_the_output(templates), dev, catalogue, ui)
    assert kept.last == {"RollbackTriggers": [], "MonitoringTimeInMinutes": 0}
    assert ("- rollback triggers: none yet (stack codemate-dev has no RollbackAlarmArns output; the alarms are "
            "created by this deploy)") in ui.noted


def test_the_plan_command_shows_the_triggers_as_text_and_json(fresh_emulator, aws, templates, dev, catalogue, project,
                                                              run_main, monkeypatch):
    first = making_the_output(templates)
    run_deploy(aws, first, dev, catalogue)
    monkeypatch.setattr("codemate_cfn.cli.plan.built_templates", lambda args, ui: (project, changed(first)))
    for name, value in {"AWS_ACCESS_KEY_ID": "emulated", "AWS_SECRET_ACCESS_KEY": "emulated"}.items():
        monkeypatch.setenv(name, value)
    command = ["plan", PROJECT_ROOT / "params" / "dev.json", "--endpoint-url", fresh_emulator.url, "--poll-seconds", "0"]

    as_json = run_main(*command, "--output", "json")
    assert as_json.returncode == errors.EXIT_CHANGES, as_json.stderr
    assert json.loads(as_json.stdout)["rollback_triggers"] == {
        "alarms": [{"name": name, "arn": arn} for name, arn in zip(ALARMS, ARNS)],
        "monitoring_minutes": 0, "note": None}  # params/dev.json: 0

    as_text = run_main(*command)
    assert ("Rollback triggers: codemate-dev-backend-5xx, codemate-dev-frontend-5xx, watched during the deploy only "
            "(monitoring time 0: the watch ends when the resources are deployed)") in as_text.stdout.splitlines()


def test_a_change_set_left_for_review_runs_with_the_triggers_it_was_created_with(fresh_emulator, aws, templates, dev,
                                                                                 catalogue):
    kept = Keeps(aws)
    first = making_the_output(templates)
    run_deploy(aws, first, dev, catalogue)
    dev.deployment["RollbackMonitoringMinutes"] = 5
    left = run_deploy(aws, changed(first), dev, catalogue, execute=False)
    assert kept.by_id[left.change_set.id]["MonitoringTimeInMinutes"] == 5

    dev.deployment["RollbackMonitoringMinutes"] = 15  # the file changed since: the change set keeps its 5
    ui, made = Recorder(), len(kept.sent)
    done = deploy_command.execute_reviewed(aws, left.change_set.name, dev, options(dev), ui)
    assert done.outcome == "deployed" and len(kept.sent) == made  # executed as it is: no change set made again
    assert (f"- rollback triggers, as change set {left.change_set.name} was created with them: "
            "codemate-dev-backend-5xx, codemate-dev-frontend-5xx; CloudFormation rolls the deploy back if one goes "
            "into ALARM during the deploy and for 5 minute(s) after its resources are deployed") in ui.noted
    assert (f"note: change set {left.change_set.name} keeps the rollback triggers it was created with; a new "
            "change set would have: codemate-dev-backend-5xx, codemate-dev-frontend-5xx, watched during the deploy "
            "and for 15 minute(s) after its resources are deployed. To run with those, propose again: "
            "python -m codemate_cfn deploy params/dev.json --no-execute") in ui.noted
    assert "watched during the deploy and for 5 minute(s)" in ui.shown  # the plan shows what applies


def test_a_reviewed_change_set_with_the_triggers_a_deploy_would_give_says_nothing_more(fresh_emulator, aws, templates,
                                                                                      dev, catalogue):
    Keeps(aws)
    first = making_the_output(templates)
    run_deploy(aws, first, dev, catalogue)
    left = run_deploy(aws, changed(first), dev, catalogue, execute=False)
    ui = Recorder()
    deploy_command.execute_reviewed(aws, left.change_set.name, dev, options(dev), ui)
    assert f"as change set {left.change_set.name} was created with them: codemate-dev-backend-5xx" in ui.noted
    assert "keeps the rollback triggers it was created with" not in ui.noted


# -- a rollback the triggers caused (recorded CloudFormation responses) -----------------

ROOT_ARN = "arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev/5f3c1e20-6b1d-11ef-9a3b-0a1b2c3d4e5f"
CHANGE_SET = ("arn:aws:cloudformation:ap-northeast-2:111122223333:changeSet/codemate-20250912-060400-7c1d2e/"
              "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7")


def test_a_deploy_its_alarm_rolled_back_names_the_alarm_and_the_trigger(project, catalogue):
    aws, calls = replay("cloudformation", "alarm_rollback")
    before = aws.cloudformation.describe_stacks(StackName=ROOT_ARN)["Stacks"][0]
    proposal = deploy.Proposal(before, ChangeSet(CHANGE_SET, ROOT_ARN, "UPDATE", "CREATE_COMPLETE"),
                               {"ServicesStack": "services"})
    params, ui = params_file(project, catalogue), Recorder()

    with pytest.raises(deploy.DeployFailed) as failed:
        deploy.execute(aws, proposal, {}, params, options(params), ui)

    assert calls.made("ExecuteChangeSet") == [{"ChangeSetName": CHANGE_SET}]
    assert failed.value.exit_code == errors.EXIT_ERROR  # as for any failed deploy
    assert str(failed.value) == (
        "deploy of stack codemate-dev failed: it is UPDATE_ROLLBACK_COMPLETE: rolled back because alarm "
        "codemate-dev-backend-5xx went into ALARM during the deploy (rollback trigger); the stack runs its previous "
        "templates")
    lines = ui.noted.splitlines()
    report = lines[lines.index(lines[-1]) - 2:]
    assert report == [
        "rolled back because alarm codemate-dev-backend-5xx went into ALARM during the deploy (rollback trigger)",
        "events (UPDATE_ROLLBACK_COMPLETE):",
        "  root/codemate-dev (AWS::CloudFormation::Stack) UPDATE_ROLLBACK_IN_PROGRESS: The following CloudWatch "
        "Alarms were in ALARM state: codemate-dev-backend-5xx",
    ]  # the cancelled updates only echo the rollback
    assert "first failures" not in ui.noted


def test_the_generic_report_stays_for_rollbacks_no_alarm_caused():
    aws, _ = replay("cloudformation", "failed_nested_create")
    ui = Recorder()
    failure = events.explain_failure(aws, "arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev/"
                                     "5f3c1e20-6b1d-11ef-9a3b-0a1b2c3d4e5f", "ROLLBACK_COMPLETE", ui,
                                     labels={"NetworkStack": "network", "StorageStack": "storage"})
    assert failure.alarms == [] and [e["LogicalResourceId"] for e in failure.failures] == ["NatEip2a"]
    assert ui.noted.startswith("first failures (ROLLBACK_COMPLETE):\n") and "rollback trigger" not in ui.noted


def test_every_alarm_cloudformation_names_is_reported():
    event = {"ResourceType": "AWS::CloudFormation::Stack", "PhysicalResourceId": "s", "StackId": "s",
             "ResourceStatus": "UPDATE_ROLLBACK_IN_PROGRESS",
             "ResourceStatusReason": "The following CloudWatch Alarms were in ALARM state: a-5xx, b-latency"}
    assert events.rollback_alarms([event]) == ["a-5xx", "b-latency"]
    assert events.alarm_rollback(["a-5xx", "b-latency"]) == (
        "rolled back because alarms a-5xx, b-latency went into ALARM during the deploy (rollback trigger)")
    # the same words on a resource's event, or on a stack that is not rolling back, are not CloudFormation's verdict
    assert events.rollback_alarms([{**event, "PhysicalResourceId": "other"}]) == []
    assert events.rollback_alarms([{**event, "ResourceStatus": "UPDATE_IN_PROGRESS"}]) == []
