"""Bad input of every kind (docs/deploy.md, "Bad input") is one line naming
the file, key, stack or value, a non-zero exit and no traceback, and leaves
build/ and any deployed stack as they were. Mistakes inside a parameter
file have their own fixtures and tests in test_paramfile.py."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil

import pytest

from codemate_cfn.cli import common
from codemate_cfn.compile import build as build_module
from codemate_cfn.compile import limits, lint, output
from codemate_cfn.compile.build import build
from codemate_cfn.compile.lint import Finding, Linted
from codemate_cfn.compile.project import Project
from run_cli import ROOT, assert_one_line_errors

pytest_plugins = ["emulator_fixtures"]

STACK_COMMANDS = ["delete", "outputs", "status", "continue-rollback", "deploy", "plan", "diff"]


def must_not_be_called(*args, **kwargs):
    raise AssertionError("called before the parameter file was checked")


# 1. A stack command on a parameter file that does not exist.

@pytest.mark.parametrize("command", STACK_COMMANDS)
def test_a_stack_command_on_a_missing_parameter_file_stops_before_building_or_calling_aws(command, run_main,
                                                                                          monkeypatch):
    monkeypatch.setattr("codemate_cfn.deploy.aws.Aws", must_not_be_called)
    monkeypatch.setattr(common, "chosen_region", must_not_be_called)
    monkeypatch.setattr(build_module, "build", must_not_be_called)

    done = run_main(command, "params/typo.json")

    assert (done.returncode, done.stdout) == (2, "")
    assert assert_one_line_errors(done) == ["params/typo.json: file not found"]


# 2. A build that fails or is interrupted leaves the last good build.

EXTRA_LAYER = '''import sys

from codemate_cfn.layer import Layer


class Boom(BaseException):
    pass


def build(t):
    {statement}


LAYER = Layer("extra", "a layer that stops the build", build)
'''
NETWORK_DESCRIPTION = "VPC, subnets"


def snapshot(project: Project) -> dict[str, bytes]:
    """The last good build as a deploy reads it: templates, manifest, cache."""
    files = {f"templates/{p.name}": p.read_bytes() for p in project.templates_dir.glob("*.json")}
    for name in ("manifest.json", "cache.json"):
        files[name] = (project.build_dir / name).read_bytes()
    return files


def assert_complete_and_consistent(folder) -> None:
    """Every template the manifest in `folder` lists, with its bytes, and no other."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["templates"]:
        assert hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    assert sorted(p.name for p in (folder / "templates").iterdir()) == sorted(
        entry["file"].split("/")[-1] for entry in manifest["templates"])


def fail_on_second_write(exc: BaseException, failed_at: list):
    """A stand-in for output.write_file that writes one file, then raises
    `exc` (naming the file, for an OSError) and records where."""
    def write_file(path, data):
        assert not failed_at, "written after the failure"
        if getattr(write_file, "wrote", False):
            failed_at.append(path)
            if isinstance(exc, OSError):
                exc.filename = str(path)
            raise exc
        write_file.wrote = True
        path.write_bytes(data)

    return write_file


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def edit_network(project: Project) -> None:
    network = project.sources / "network.py"
    network.write_text(network.read_text().replace(NETWORK_DESCRIPTION, "VPC (edited), subnets"))


def break_the_build(how: str, project: Project, rendered, monkeypatch):
    """Make the next build fail `how`: (exit status, the lines on stderr
    besides progress, or what gives them once the build ran; None for a
    lint failure, which is reported on stdout)."""
    layer = project.sources / "extra.py"
    if how == "Ctrl-C while linting":
        edit_network(project)
        monkeypatch.setattr(lint, "lint_templates", interrupt)
        return 130, ["interrupted"]
    if how == "Ctrl-C while writing":
        monkeypatch.setattr(output, "write_file", fail_on_second_write(KeyboardInterrupt(), []))
        return 130, ["interrupted"]
    if how == "disk full while writing":
        failed_at = []
        monkeypatch.setattr(output, "write_file", fail_on_second_write(OSError(errno.ENOSPC, "No space left on device"),
                                                                       failed_at))
        return 1, lambda: [f"error: {failed_at[0]}: cannot write the build: No space left on device; "
                           f"{project.templates_dir} keeps the last good build"]
    if how == "a template over a CloudFormation limit":
        count = len(rendered.templates["network"]["Resources"])
        monkeypatch.setattr(limits, "MAX_RESOURCES", count - 1)
        return 1, [f"error: network.json: {count} resources exceeds CloudFormation's limit of {count - 1}"]
    if how == "a policy or lint failure":
        edit_network(project)
        finding = Finding("network.json", "Vpc", "E9001", "error", "no DeletionPolicy", 40)
        monkeypatch.setattr(lint, "lint_templates", lambda paths, *a, **k: Linted(
            [finding], {p.name: 0.1 for p in paths}))
        return 1, None
    statement, status, error = {
        "a layer calling sys.exit": ("sys.exit(3)", 1, "error: layer extra: called sys.exit(3) "
                                     "(templates_src/extra.py line 11, SystemExit)"),
        "a layer raising SystemExit": ("raise SystemExit('stop')", 1, "error: layer extra: called sys.exit('stop') "
                                       "(templates_src/extra.py line 11, SystemExit)"),
        "a layer raising KeyboardInterrupt": ("raise KeyboardInterrupt", 130, "interrupted"),
        "a layer raising BaseException": ("raise Boom('boom')", 1,
                                          "error: layer extra: boom (templates_src/extra.py line 11, Boom)"),
    }[how]
    layer.write_text(EXTRA_LAYER.format(statement=statement))
    return status, [error]


FAILURES = ["Ctrl-C while linting", "Ctrl-C while writing", "disk full while writing",
            "a template over a CloudFormation limit", "a policy or lint failure", "a layer calling sys.exit",
            "a layer raising SystemExit", "a layer raising KeyboardInterrupt", "a layer raising BaseException"]


@pytest.mark.parametrize("how", FAILURES)
def test_a_failed_or_interrupted_build_leaves_the_last_good_build(how, copy_build, rendered, run_main, monkeypatch):
    good = snapshot(copy_build)
    status, errors = break_the_build(how, copy_build, rendered, monkeypatch)

    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "build", "--force")

    assert done.returncode == status, done.stderr
    failed = copy_build.build_dir / "failed"
    if errors is None:  # checks failed: the templates are kept to be read, apart from the good build
        assert done.stdout.rstrip().endswith(
            f"build failed: 1 error(s), 0 warning(s); the failing templates are in {failed / 'templates'}/, "
            f"{copy_build.templates_dir}/ keeps the last good build")
        assert_complete_and_consistent(failed)
        assert "(edited)" in (failed / "templates" / "network.json").read_text()
    else:
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if not line.startswith("- ")]
        assert lines == (errors() if callable(errors) else errors)
        assert not failed.exists()
    assert snapshot(copy_build) == good
    assert_complete_and_consistent(copy_build.build_dir)
    assert [p.name for p in copy_build.build_dir.glob(".build-*")] == [os.readlink(copy_build.build_dir / "current")]


# 4. Stack names CloudFormation refuses, and two files for one environment.

STACK_NAME_RULE = "a letter, then letters, digits and hyphens, at most 128 characters"


@pytest.mark.parametrize("file, option, message", [
    ("dev_eu.json", [], "{path}: the stack name 'codemate-dev_eu' made from the file name is not a valid "
                        f"CloudFormation stack name ({STACK_NAME_RULE}); rename the file or pass --stack-name"),
    ("d" * 120 + ".json", [], "{path}: the stack name 'codemate-" + "d" * 50 + "…' made from the file name is not "
                              f"a valid CloudFormation stack name ({STACK_NAME_RULE}); rename the file or pass "
                              "--stack-name"),
    ("dev.json", ["--stack-name", "1codemate"], f"--stack-name '1codemate': not a valid CloudFormation stack name "
                                                f"({STACK_NAME_RULE})"),
])
def test_a_stack_name_cloudformation_refuses_is_one_line_before_any_aws_call(file, option, message, tmp_path,
                                                                             run_main, monkeypatch):
    path = tmp_path / file
    shutil.copy(ROOT / "params" / "dev.json", path)
    monkeypatch.setattr("codemate_cfn.deploy.aws.Aws", must_not_be_called)

    for command in ("outputs", "delete"):
        done = run_main(command, path, *option)

        assert (done.returncode, done.stdout) == (2, "")
        assert assert_one_line_errors(done) == [message.format(path=path)]


def test_two_parameter_files_for_one_environment_are_refused_naming_both(project_copy, tmp_path, run_main):
    params = project_copy / "params"
    shutil.copy(params / "dev.json", params / "staging.json")
    expected = [f"{params / 'dev.json'} and {params / 'staging.json'}: Parameters.EnvironmentName: both are 'dev'; "
                "their stacks' resources would have the same names"]

    for command in (["validate"], ["--build-dir", tmp_path / "out", "build"]):
        done = run_main("--project-dir", project_copy, *command)

        assert done.returncode == 2
        assert assert_one_line_errors(done) == expected
    assert not (tmp_path / "out").exists()


# 5. Mistakes in templates_src/catalogue.py (or templates_src/ itself).

def break_catalogue(project_dir, how: str) -> str:
    """Make the mistake `how`; the one line it must give."""
    catalogue = project_dir / "templates_src" / "catalogue.py"
    text = catalogue.read_text()
    if how == "no __init__.py":
        (project_dir / "templates_src" / "__init__.py").unlink()
        return "templates_src/__init__.py: not found; templates_src/ must be a package (an empty __init__.py will do)"
    if how == "no PARAMETERS":
        catalogue.write_text(text.replace("PARAMETERS = [", "PARAMS = ["))
        return "templates_src/catalogue.py: no PARAMETERS (a list of codemate_cfn.layer.Param)"
    if how == "an entry that is not a Param":
        catalogue.write_text(text.replace("PARAMETERS = [", "PARAMETERS = [\n    'VpcId',"))
        return "templates_src/catalogue.py: PARAMETERS[0]: 'VpcId' is not a codemate_cfn.layer.Param"
    if how == "an invalid pattern":
        catalogue.write_text(text.replace('pattern=r"^17\\.[0-9]+$"', 'pattern=r"^17\\.[0-9+$"'))
        return ("templates_src/catalogue.py: parameter DbEngineVersion: invalid pattern '^17\\\\.[0-9+$': "
                "unterminated character set at position 5")
    relation = 'relation=lambda v: storage_ceiling_problem(v["DbAllocatedStorage"], v["DbMaxAllocatedStorage"])'
    catalogue.write_text(text.replace(relation, 'relation=lambda v: v["DbMaxStorage"]'))
    line = text[:text.index(relation)].count("\n") + 1
    return (f"templates_src/catalogue.py line {line}: parameter DbMaxAllocatedStorage: its relation check raised "
            "KeyError: 'DbMaxStorage'")


@pytest.mark.parametrize("how", ["no __init__.py", "no PARAMETERS", "an entry that is not a Param",
                                 "an invalid pattern", "a relation check that raises"])
def test_a_mistake_in_the_catalogue_is_one_line_naming_it(how, project_copy, tmp_path, run_main):
    message = break_catalogue(project_copy, how)

    for command in (["validate"], ["--build-dir", tmp_path / "out", "build"]):
        done = run_main("--project-dir", project_copy, *command)

        assert done.returncode == 1
        assert assert_one_line_errors(done) == [message]


# 6. A command about one environment reads only its own parameter file.

@pytest.mark.emulator  # plan and deploy --local start the emulator
def test_deploy_and_plan_of_one_environment_work_while_another_file_is_broken(copy_build, run_main):
    prod = copy_build.params_dir / "prod.json"
    prod.write_text(prod.read_text().replace('"NatGatewayCount": "2"', '"NatGatewayCount": "3"'))
    where = ["--project-dir", copy_build.root, "--build-dir", copy_build.build_dir]
    dev = copy_build.params_dir / "dev.json"

    planned = run_main(*where, "plan", dev, "--local", "--output", "json")
    deployed = run_main(*where, "deploy", dev, "--local", "--yes")

    assert planned.returncode == 3, planned.stderr
    assert json.loads(planned.stdout)["stack"] == "codemate-dev"
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed stack codemate-dev" in deployed.stdout
    assert str(prod) not in planned.stderr + deployed.stderr


def test_a_plain_build_after_a_build_for_one_environment_checks_every_file(copy_build, run_main):
    dev, prod = copy_build.params_dir / "dev.json", copy_build.params_dir / "prod.json"
    prod.write_text(prod.read_text().replace('"NatGatewayCount": "2"', '"NatGatewayCount": "3"'))
    # as deploy and plan build: the build is done again (forced here), and its cache records dev.json only
    assert build(copy_build, force=True, param_files=[dev]).failed is False
    assert build(copy_build, param_files=[dev]).cached is True

    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "build")

    assert done.returncode == 2
    assert "up to date" not in done.stdout
    assert assert_one_line_errors(done) == [
        f"{prod}: Parameters.NatGatewayCount: '3' is not one of the allowed values: 1, 2"]
