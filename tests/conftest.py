"""Shared fixtures: the project, its templates rendered and built once per
session, and a way to run the command line in a fresh process.

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
from run_cli import ROOT


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
    shutil.copytree(source.build_dir, tmp_path / "build")
    return Project(source.root, output=tmp_path / "build")


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A copy of the project's sources and parameter files to change freely.
    Use it through run_cli.cli (a fresh process): this process has already
    imported templates_src from the real project."""
    copy = tmp_path / "project"
    copy.mkdir()
    for part in ("templates_src", "params"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    return copy
