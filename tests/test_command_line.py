"""The command line behaves as people expect: options before or after the
positional arguments and the command name, repeated options accumulate,
-y, --version, and a wrong command line has its own exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

import codemate_cfn
from codemate_cfn.cli import main, parser
from codemate_cfn.errors import EXIT_INVALID, EXIT_USAGE


def parse(*argv: str):
    return parser().parse_args(list(argv))


def test_repeated_options_accumulate_wherever_they_stand():
    args = parse("deploy", "--allow-replacement", "FilesBucket", "params/dev.json", "--allow-replacement",
                 "data/Database", "-y")
    assert args.allow_replacement == ["FilesBucket", "data/Database"]
    assert args.params_file == Path("params/dev.json") and args.yes
    assert parse("continue-rollback", "params/dev.json", "--skip", "A", "--skip", "NetworkStack.B").skip == [
        "A", "NetworkStack.B"]
    assert parse("plan", "params/prod.json", "--allow-replacement", "X").allow_replacement == ["X"]


def test_global_options_work_before_and_after_the_command_name():
    before = parse("--project-dir", "/p", "--build-dir", "/b", "build")
    after = parse("build", "--project-dir", "/p", "--build-dir", "/b")
    assert (before.project_dir, before.build_dir) == (after.project_dir, after.build_dir) == (Path("/p"), Path("/b"))
    assert parse("status", "params/dev.json").project_dir is None  # the default when given nowhere


def test_yes_has_a_short_form_for_deploy_and_delete():
    assert parse("deploy", "params/dev.json", "-y").yes and parse("delete", "-y", "params/dev.json").yes


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"codemate-cfn {codemate_cfn.__version__}"


@pytest.mark.parametrize("argv", [["deploy"], ["no-such-command"], ["build", "--no-such-option"],
                                  ["plan", "params/dev.json", "--output", "yaml"]])
def test_a_wrong_command_line_is_a_usage_error_with_its_own_exit_status(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == EXIT_USAGE != EXIT_INVALID
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: ")
