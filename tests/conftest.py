"""Shared fixtures: the project, its templates rendered and built once per
session, copies of it to change and build in this process, and the command
line run in this process (`run_main`) or in a fresh one (run_cli.cli).

`python -m pytest tests/test_golden.py --update-golden` rewrites the golden
snapshots in tests/golden/ from the templates as they render now.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codemate_cfn.compile.build import build
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.render import render
from run_cli import ROOT, copy_project, in_process


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.json from the templates as they render now",
    )


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
