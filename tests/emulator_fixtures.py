"""Fixtures for tests against the local AWS emulator: moto's server on
127.0.0.1 (started once per test session, on a free port, stopped at
exit), forgotten (reset) at the start of each test module that uses it.

Import the fixtures into a test module:
`from emulator_fixtures import aws, emulator, ...`.
"""

from __future__ import annotations

import atexit
import io
import json

import pytest

from codemate_cfn import deploy, emulator as local
from codemate_cfn.aws import Aws, Target
from codemate_cfn.console import Console
from codemate_cfn.discovery import load_catalogue
from codemate_cfn.paramfile import load

KEYS = ("emulated", "emulated")
POLL = 0.02  # seconds between polls: the emulator finishes at once
_server: list[local.Emulator] = []


def server() -> local.Emulator:
    """The session's emulator, started on first use."""
    if not _server:
        _server.append(local.start())
        atexit.register(_server[0].stop)
    return _server[0]


def client_for(url: str, **target) -> Aws:
    return Aws(Target(endpoint_url=url, credentials=KEYS, **target))


@pytest.fixture(scope="module")
def emulator() -> local.Emulator:
    """The emulator, with nothing in it at the start of the module."""
    found = server()
    found.reset()
    return found


@pytest.fixture
def fresh_emulator(emulator) -> local.Emulator:
    """The emulator, with nothing in it at the start of the test."""
    emulator.reset()
    return emulator


@pytest.fixture
def aws(emulator) -> Aws:
    return client_for(emulator.url)


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


@pytest.fixture(scope="session")
def templates(built) -> dict[str, dict]:
    """The built templates as dicts, by name."""
    project, result = built
    return {t.name: json.loads((project.build_dir / t.file).read_text()) for t in result.templates}


@pytest.fixture(scope="session")
def catalogue(project):
    return load_catalogue(project.root)


def params_file(project, catalogue, name: str = "dev", **changes):
    """params/<name>.json, checked; `changes` override parameter values
    (in memory: the file on disk stays as it is)."""
    loaded = load(project.params_dir / f"{name}.json", catalogue)
    loaded.parameters.update(changes)
    return loaded


def run_deploy(aws, templates, params, catalogue, ui=None, **options) -> deploy.Result:
    """deploy.run with test defaults: stack codemate-<env>, --yes, quick polls."""
    settings = {"stack_name": f"codemate-{params.path.stem}", "yes": True, "poll_seconds": POLL,
                "params_path": f"params/{params.path.name}", "commit": "0123456789ab"}
    settings.update(options)
    return deploy.run(aws, templates, params, catalogue, deploy.Options(**settings), ui or Recorder())
