"""`python -m codemate_cfn build` as people run it: a table per template on
success, and on failure one error line per problem, never a traceback. The
entry point itself runs in fresh processes; broken projects are built
through `main()` in this process."""

from __future__ import annotations

import json
import re

import pytest

from run_cli import assert_one_line_errors, cli

COLUMNS = ["template", "resources", "parameters", "outputs", "bytes", "sha256"]


def table_rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    assert lines[0].split() == COLUMNS
    assert set(lines[1]) <= {"-", " "}
    rows = []
    for line in lines[2:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def expected_rows(build_dir) -> list[list[str]]:
    manifest = json.loads((build_dir / "manifest.json").read_text())
    return [
        [t["name"], str(t["resources"]), str(t["parameters"]), str(t["outputs"]), f"{t['bytes']:,}", t["sha256"][:12]]
        for t in manifest["templates"]
    ]


@pytest.mark.subprocess
def test_build_prints_a_table_per_template_and_exits_0(tmp_path):
    out = tmp_path / "build"

    done = cli("--build-dir", out, "build")

    assert done.returncode == 0, done.stderr
    assert table_rows(done.stdout) == expected_rows(out)
    assert table_rows(done.stdout)[0][0] == "root"
    assert re.search(r"^built \d+ templates \(\d+ resources\) into .*: cfn-lint clean, within CloudFormation limits",
                     done.stdout, re.MULTILINE)
    assert all(line.startswith("- ") for line in done.stderr.splitlines()), done.stderr

    again = cli("--build-dir", out, "build")

    assert again.returncode == 0
    assert table_rows(again.stdout) == expected_rows(out)
    assert "up to date: nothing changed since the last build" in again.stdout


@pytest.mark.subprocess
def test_outside_a_project_build_says_so_in_one_line(tmp_path):
    done = cli("build", cwd=tmp_path)

    assert done.returncode == 1
    assert assert_one_line_errors(done) == [
        f"no codemate-cfn project (templates_src/catalogue.py) in {tmp_path.resolve()} or above"
    ]


BROKEN_LAYERS = {
    "a syntax error": (
        "from codemate_cfn.layer import Layer\n\nLAYER = Layer('extra', 'broken'\n",
        r"templates_src/extra\.py line 3: SyntaxError: '\(' was never closed",
    ),
    "a bug in the builder": (
        "from codemate_cfn.layer import Layer\n\n\ndef build(t):\n    t.add(Vcp)\n\n\nLAYER = Layer('extra', 'broken', build)\n",
        r"layer extra: name 'Vcp' is not defined \(templates_src/extra\.py line 5, NameError\)",
    ),
    "an input with no source": (
        "from codemate_cfn.layer import Layer\n\n\ndef build(t):\n    t.input('WildcardCertificateArn')\n\n\nLAYER = Layer('extra', 'broken', build)\n",
        r"layer extra: input WildcardCertificateArn has no source \(no root parameter and no layer output of that name\)",
    ),
}


@pytest.mark.parametrize("mistake", sorted(BROKEN_LAYERS))
def test_a_broken_layer_is_one_error_line_saying_where(mistake, project_copy, tmp_path, run_main):
    source, expected = BROKEN_LAYERS[mistake]
    (project_copy / "templates_src" / "extra.py").write_text(source)

    done = run_main("--project-dir", project_copy, "--build-dir", tmp_path / "out", "build")

    assert done.returncode == 1
    (error,) = assert_one_line_errors(done)
    assert re.fullmatch(expected, error), error


@pytest.mark.subprocess
def test_a_project_without_conventions_is_one_error_line_naming_its_module(project_copy, tmp_path):
    module = project_copy / "templates_src" / "project.py"
    module.write_text(module.read_text().replace("CONVENTIONS = Conventions(", "UNUSED = Conventions("))

    done = cli("--build-dir", tmp_path / "out", "build", cwd=project_copy)

    assert done.returncode == 1
    assert assert_one_line_errors(done) == [
        "templates_src/project.py: no CONVENTIONS (a codemate_cfn.layer.Conventions)"
    ]


@pytest.mark.subprocess
def test_validate_of_a_missing_file_is_one_line_and_exit_2(tmp_path):
    done = cli("validate", tmp_path / "staging.json")

    assert done.returncode == 2
    assert assert_one_line_errors(done) == [f"{tmp_path / 'staging.json'}: file not found"]


def test_a_build_directory_that_cannot_be_made_is_one_line(tmp_path, run_main):
    (tmp_path / "build").write_text("a file, not a directory")

    done = run_main("--build-dir", tmp_path / "build" / "inner", "build")

    assert done.returncode == 1
    (error,) = assert_one_line_errors(done)
    assert str(tmp_path / "build") in error
