"""Shared fixtures: the project, its templates rendered and built once per
session, copies of it to change and build in this process, and the command
line run in this process (`run_main`) or in a fresh one (run_cli.cli).

`python -m pytest tests/test_golden.py tests/test_golden_views.py
--update-golden` rewrites the golden snapshots in tests/golden/.

Markers, for the fast subset (`python -m pytest -m "not emulator and not
subprocess"`): a test that uses the local AWS emulator is marked `emulator`
by the fixtures it asks for; one that starts a process must be marked
`subprocess`, and fails when it is not.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codemate_cfn.compile.build import build
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.render import render
from codemate_cfn.compile.discovery import load_layers
from layer_values import ENVIRONMENTS, Environment
from run_cli import ROOT, copy_project, in_process


# tests/security runs checkov, which lives in the security environment of
# its own (`tox -e security`): without checkov, those tests are not
# collected at all (not skipped), and the main run never imports it.
collect_ignore = [] if importlib.util.find_spec("checkov") else ["security"]

# No build in the tests (nor in the processes they start) leaves a kept
# cfn-lint process behind: tests/test_lintd.py turns it on where it is tested.
os.environ["CODEMATE_CFN_LINT_DAEMON"] = "0"

# Fixtures of emulator_fixtures.py that start or use the local AWS emulator.
EMULATOR_FIXTURES = {"server", "emulator", "fresh_emulator", "empty_emulator", "aws", "deployed", "run"}


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the snapshots in tests/golden/ from what the code produces now",
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if EMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.emulator)


@pytest.fixture(autouse=True)
def processes_are_marked(request, monkeypatch):
    """A test that starts a process without the `subprocess` marker fails,
    so the fast subset stays fast and free of processes."""
    if request.node.get_closest_marker("subprocess") or request.node.get_closest_marker("emulator"):
        return
    def refuse(self, args, *rest, **options):
        pytest.fail(f"{request.node.name} starts a process ({args!r}): mark it @pytest.mark.subprocess")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture(scope="session")
def project() -> Project:
    return Project.find(ROOT)


@pytest.fixture(scope="session")
def rendered(project):
    """Every template of the real project, rendered once."""
    return render(project)


@pytest.fixture(scope="session")
def built(project, tmp_path_factory):
    """The real project built once into a session directory: (project, result).
    Tests that change the build directory copy it first (`build_copy`)."""
    out = Project(project.root, output=tmp_path_factory.mktemp("build"))
    return out, build(out)


@pytest.fixture
def build_copy(built, tmp_path) -> Project:
    """A private copy of the session build: a Project whose build directory
    tests may edit."""
    source, _ = built
    shutil.copytree(source.build_dir, tmp_path / "build", symlinks=True)
    return Project(source.root, output=tmp_path / "build")


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A copy of the project's sources and parameter files to change freely,
    and to build in this process: `build(Project(project_copy, output=...))`,
    `copy_build`, or `run_main("--project-dir", project_copy, ...)`."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def copy_build(project_copy, built, tmp_path) -> Project:
    """The copy as a Project whose build directory starts as a copy of the
    session build: built again, it lints only what the test changed."""
    source, _ = built
    shutil.copytree(source.build_dir, tmp_path / "out", symlinks=True)
    return Project(project_copy, output=tmp_path / "out")


@pytest.fixture
def run_main(capsys):
    """The command line in this process: run_main(ARGS...) -> returncode, stdout, stderr."""
    return lambda *args: in_process(capsys, *args)


def _layer_view(name: str):
    @pytest.fixture(name=name, params=ENVIRONMENTS)
    def view(request) -> Environment:
        f"""The {name} layer as each environment's parameter file sees it
        (the test runs once per environment; `.env` says which)."""
        return Environment(name, request.param)

    return view


# One fixture per layer, named after it (`network`, `data`, ...), for every
# layer the project has: a layer's tests ask for it by name.
for _layer in load_layers(ROOT):
    globals()[f"_{_layer.name}_view"] = _layer_view(_layer.name)
