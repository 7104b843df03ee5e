"""The AWS commands the way people run them: `python -m codemate_cfn ...`
in a fresh process, against the emulator this test process serves on
127.0.0.1 (or, for --local, one the command starts itself)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from deploy_support import params_file, run_deploy
from run_cli import assert_one_line_errors, cli

pytest_plugins = ["emulator_fixtures"]


@pytest.fixture
def env(monkeypatch, tmp_path, fresh_emulator):
    """Dummy credentials and no AWS config of the user's for the child process."""
    for name, value in {"AWS_ACCESS_KEY_ID": "emulated", "AWS_SECRET_ACCESS_KEY": "emulated",
                        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return fresh_emulator


@pytest.fixture
def run(built, env):
    """The command line with the session's build directory and the emulator's endpoint."""
    project, _ = built

    def command(name: str, *args: str, endpoint: bool = True):
        where = ["--endpoint-url", env.url] if endpoint else []
        return cli("--build-dir", project.build_dir, name, *args, *where)

    return command


def copy_of(project, tmp_path, name: str, **parameters):
    data = json.loads((project.params_dir / f"{name}.json").read_text())
    data["Parameters"].update(parameters)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_plan_output_json_and_its_exit_status(run, aws, templates, project, catalogue, tmp_path):
    first = run("plan", "params/dev.json", "--output", "json")
    assert first.returncode == 3, first.stderr
    shown = json.loads(first.stdout)
    assert (shown["stack"], shown["status"]) == ("codemate-dev", "changes")
    assert {c["action"] for c in shown["changes"]} == {"add"} and shown["refused"] == []
    assert shown["warnings"] == []  # no image tags: no task starts, so no secret is read yet
    assert "Traceback" not in first.stderr  # stdout holds only the JSON; steps and events go to stderr
    assert "- account 123456789012 (arn:aws:sts::123456789012:user/moto), region ap-northeast-2, stack codemate-dev, " \
           "endpoint http://127.0.0.1:" in first.stderr  # who and where, before anything changes

    run_deploy(aws, templates, params_file(project, catalogue), catalogue)
    same = run("diff", "params/dev.json", "--output", "json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout) == {"stack": "codemate-dev", "status": "no changes", "changes": [],
                                       "counts": {"add": 0, "modify": 0, "remove": 0, "replace": 0, "conditional": 0},
                                       "refused": [], "rollback_triggers": None,  # nothing runs: no triggers
                                       "warnings": []}

    # the same file pointed at another environment renames, so replaces, every named bucket
    renamed = copy_of(project, tmp_path, "dev", EnvironmentName="prod")
    data = json.loads(renamed.read_text())
    data["Tags"]["Environment"] = "prod"
    renamed.write_text(json.dumps(data))
    blocked = run("plan", str(renamed), "--output", "json")
    assert blocked.returncode == 4, blocked.stderr
    refused = json.loads(blocked.stdout)["refused"]
    assert refused and any("stack storage: FilesBucket (AWS::S3::Bucket) would be replaced" in r for r in refused)


@pytest.mark.subprocess
def test_plan_help_explains_the_exit_statuses():
    done = cli("plan", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "0 no changes, 3 changes (nothing executed), 4 changes the stateful guard refuses" in text


def test_deploy_outputs_and_status_from_the_command_line(run, templates):
    deployed = run("deploy", "params/dev.json", "--yes")
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed stack codemate-dev" in deployed.stdout
    assert "not emulated" in deployed.stdout and "(AWS::ElastiCache::ReplicationGroup)" in deployed.stdout
    steps = [line for line in deployed.stderr.splitlines() if line.startswith("- ")]
    order = ["- build: ", "- parameter file params/dev.json: ok", "- upload to s3://codemate-cfn-artifacts-",
             "- change set on stack codemate-dev (CREATE, nested change sets included)", "- stateful guard: ",
             "- executing change set "]
    found = [next(i for i, s in enumerate(steps) if s.startswith(step)) for step in order]
    assert found == sorted(found)  # each step shown, in the order they happen
    assert any("CREATE_COMPLETE" in line for line in deployed.stderr.splitlines() if line.startswith("["))

    outputs = run("outputs", "params/dev.json", "--output", "json")
    assert outputs.returncode == 0, outputs.stderr
    assert set(json.loads(outputs.stdout)) == set(templates["root"]["Outputs"])

    status = run("status", "params/dev.json")
    assert status.returncode == 0, status.stderr
    assert "stack codemate-dev: CREATE_COMPLETE" in status.stdout
    assert "deployed templates match the local build" in status.stdout

    again = run("deploy", "params/dev.json", "--yes")
    assert again.returncode == 0 and "no changes" in again.stdout


def test_the_endpoint_can_come_from_aws_endpoint_url(run, env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", env.url)
    done = run("bootstrap", endpoint=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("artifact bucket: codemate-cfn-artifacts-123456789012-ap-northeast-2")


def test_deploy_without_a_terminal_or_yes_stops_after_the_plan(run, aws):
    done = run("deploy", "params/dev.json")
    assert done.returncode == 3
    assert "stopped after the plan (no terminal to confirm on; pass --yes" in done.stderr
    assert "Plan:" in done.stdout
    assert [s["StackName"] for s in aws.cloudformation.list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"] == ["codemate-cfn-bootstrap"]


def test_deleting_a_protected_stack_is_refused_with_how_to_lift_it(run, aws, templates, project, catalogue):
    run_deploy(aws, templates, params_file(project, catalogue, "prod"), catalogue)
    done = run("delete", "params/prod.json", "--yes")
    assert done.returncode == 1
    assert assert_one_line_errors(done) == [
        "stack codemate-prod has termination protection on; to delete it, lift it first with: "
        "aws cloudformation update-termination-protection --no-enable-termination-protection "
        "--stack-name codemate-prod --region ap-northeast-2"]


def test_errors_are_one_line_naming_what_is_wrong(run, project, tmp_path):
    missing = run("status", "params/dev.json")
    assert missing.returncode == 1
    assert assert_one_line_errors(missing) == ["stack codemate-dev does not exist in ap-northeast-2"]

    bad = copy_of(project, tmp_path, "dev", NatGatewayCount="3")
    invalid = run("deploy", str(bad), "--yes")
    assert invalid.returncode == 2
    assert assert_one_line_errors(invalid) == [
        f"{bad}: Parameters.NatGatewayCount: '3' is not one of the allowed values: 1, 2"]

    profile = run("outputs", "params/dev.json", "--profile", "nosuch", endpoint=False)
    assert assert_one_line_errors(profile) == ["AWS profile 'nosuch' not found in the AWS config files"]


@pytest.mark.subprocess
def test_deploy_local_runs_on_its_own_emulator(built, env):
    project, _ = built
    done = cli("--build-dir", project.build_dir, "deploy", "params/dev.json", "--local", "--yes")
    assert done.returncode == 0, done.stderr
    assert "- local AWS emulator (moto) at http://127.0.0.1:" in done.stderr
    # The fresh emulator is given the hosted zone an account would hold; the lookup then finds it.
    assert "- local: public hosted zone code1398.io made, standing in for the account's" in done.stderr
    assert re.search(r"^- HostedZoneId: \S+ \(public hosted zone code1398\.io\)$", done.stderr, re.MULTILINE)
    assert "deployed stack codemate-dev" in done.stdout
    listed = done.stdout.split("not emulated", 1)[1].splitlines()[1:]
    assert listed and all(line.startswith("  ") and "(AWS::" in line for line in listed if line)


def test_the_review_path_from_the_command_line(run, aws):
    left = run("deploy", "params/dev.json", "--no-execute")
    assert left.returncode == 0, left.stderr
    hint = next(line for line in left.stderr.splitlines() if "left for review" in line)
    command = hint.split("execute it with: ", 1)[1]
    name = command.rsplit(" ", 1)[1]
    assert command == f"python -m codemate_cfn deploy params/dev.json --execute {name}"

    waiting = run("status", "params/dev.json")
    assert waiting.returncode == 0, waiting.stderr
    assert "stack codemate-dev: REVIEW_IN_PROGRESS, waiting for review" in waiting.stdout
    assert f"execute: {command}" in waiting.stdout
    assert "discard (the stack in review with its change sets): python -m codemate_cfn delete params/dev.json" \
        in waiting.stdout
    followed = run("status", "params/dev.json", "--follow")  # returns at once: nothing is deploying
    assert followed.returncode == 0 and "waiting for review (REVIEW_IN_PROGRESS): nothing to follow" in followed.stdout
    shown = json.loads(run("status", "params/dev.json", "--output", "json").stdout)
    assert shown["waiting_for_review"] is True and shown["status"] == "REVIEW_IN_PROGRESS"
    assert [(c["name"], c["status"], c["execution_status"]) for c in shown["pending_change_sets"]] == [
        (name, "CREATE_COMPLETE", "AVAILABLE")]
    assert shown["commands"] == {"execute": [command], "discard": ["python -m codemate_cfn delete params/dev.json"]}

    executed = run("deploy", "params/dev.json", "--execute", name)
    assert executed.returncode == 0, executed.stderr
    assert "deployed stack codemate-dev" in executed.stdout and "Plan:" in executed.stdout
    assert "- build: " not in executed.stderr and "- upload to " not in executed.stderr  # nothing built or uploaded
    after = run("status", "params/dev.json")
    assert "stack codemate-dev: CREATE_COMPLETE" in after.stdout and "pending change sets: none" in after.stdout
    assert "deployed templates match the local build" in after.stdout
    again = run("deploy", "params/dev.json", "--execute", name)
    assert again.returncode == 1
    assert assert_one_line_errors(again) == [
        f"change set {name} on stack codemate-dev is CREATE_COMPLETE (execution EXECUTE_COMPLETE); only a change "
        f"set that is CREATE_COMPLETE and AVAILABLE can be executed"]


def test_status_output_json_is_the_whole_status_on_stdout(run, aws, templates, project, catalogue):
    run_deploy(aws, templates, params_file(project, catalogue), catalogue)
    done = run("status", "params/dev.json", "--output", "json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["stack"], shown["status"], shown["waiting_for_review"]) == ("codemate-dev", "CREATE_COMPLETE", False)
    assert shown["commit"] == "0123456789ab" and shown["termination_protection"] is False
    assert shown["pending_change_sets"] == [] and shown["commands"] == {}
    assert shown["local_build"]["compared"] is True and shown["local_build"]["matches"] is True
    assert {t["template"] for t in shown["local_build"]["templates"]} == set(templates)
    assert shown["recent_events"] and {"time", "stack", "logical_id", "status"} <= set(shown["recent_events"][-1])
    assert shown["last_change"].startswith("20")


def test_status_and_outputs_read_the_stack_without_building(env, built, aws, templates, project, catalogue, tmp_path):
    run_deploy(aws, templates, params_file(project, catalogue), catalogue)
    empty = tmp_path / "nothing-built"
    status = cli("--build-dir", empty, "status", "params/dev.json", "--endpoint-url", env.url)
    assert status.returncode == 0, status.stderr
    assert f"no local build to compare with ({empty / 'manifest.json'} not found; `python -m codemate_cfn build` " \
           f"makes one)" in status.stdout
    outputs = cli("--build-dir", empty, "outputs", "params/dev.json", "--endpoint-url", env.url)
    assert outputs.returncode == 0, outputs.stderr
    assert not empty.exists()  # nothing was built

    session, _ = built
    copy = tmp_path / "changed-build"
    shutil.copytree(session.build_dir, copy)
    (copy / "templates" / "network.json").write_text("{}")
    changed = cli("--build-dir", copy, "status", "params/dev.json", "--endpoint-url", env.url)
    assert f"no local build to compare with ({copy / 'templates' / 'network.json'} changed since the build that " \
           f"wrote {copy / 'manifest.json'})" in changed.stdout


def test_execute_goes_with_neither_no_execute_nor_recreate(run):
    both = run("deploy", "params/dev.json", "--execute", "cs", "--no-execute")
    assert both.returncode == 64 and "not allowed with argument" in both.stderr
    recreate = run("deploy", "params/dev.json", "--execute", "cs", "--recreate")
    assert recreate.returncode == 64
    assert assert_one_line_errors(recreate) == [
        "--recreate cannot go with --execute: a change set left for review is executed as it is"]


def test_a_first_deploy_that_starts_tasks_warns_of_the_secrets_it_creates_empty(run, project, tmp_path):
    tagged = copy_of(project, tmp_path, "dev", FrontendImageTag="abc1234", BackendImageTag="abc1234")
    done = run("plan", str(tagged), "--output", "json")
    assert done.returncode == 3, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert [w.split(" ", 1)[0] for w in warnings] == ["data/AnthropicSecret", "data/GithubOAuthSecret"]
    assert warnings[0] == (
        "data/AnthropicSecret (AWS::SecretsManager::Secret) is created empty by this deploy, which also starts tasks "
        "that read it: they cannot start until it has a value. Deploy with the image tags empty first, fill it, then "
        "set the tags (docs/first-deployment.md, The secrets)")
    shown = run("plan", str(tagged))
    assert [line for line in shown.stderr.splitlines() if line.startswith("warning: ")] == [
        f"warning: {w}" for w in warnings]
