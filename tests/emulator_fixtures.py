"""Fixtures for tests against the local AWS emulator: moto's server on
127.0.0.1 (started once per test session, on a free port, stopped at
exit), emptied (reset) at the start of each test module that uses it and
then given what an account running CodeMate holds before its first deploy
(the site's public hosted zone, as `deploy --local` makes it).

A test module loads them with `pytest_plugins = ["emulator_fixtures"]`;
helpers are in deploy_support.
"""

from __future__ import annotations

import atexit
import json

import pytest

from codemate_cfn import emulator as local
from codemate_cfn.compile.discovery import load_catalogue, load_conventions
from deploy_support import account, client_for

_server: list[local.Emulator] = []


def server() -> local.Emulator:
    """The session's emulator, started on first use."""
    if not _server:
        _server.append(local.start())
        atexit.register(_server[0].stop)
    return _server[0]


@pytest.fixture(scope="module")
def emulator() -> local.Emulator:
    """The emulator as a fresh account at the start of the module."""
    return account(server())


@pytest.fixture
def fresh_emulator(emulator) -> local.Emulator:
    """The emulator as a fresh account at the start of the test."""
    return account(emulator)


@pytest.fixture
def empty_emulator(emulator) -> local.Emulator:
    """The emulator with nothing at all in it at the start of the test."""
    emulator.reset()
    return emulator


@pytest.fixture
def aws(emulator):
    return client_for(emulator.url)


@pytest.fixture(scope="session")
def templates(built) -> dict[str, dict]:
    """The built templates as dicts, by name."""
    project, result = built
    return {t.name: json.loads((project.build_dir / t.file).read_text()) for t in result.templates}


@pytest.fixture(scope="session")
def catalogue(project):
    return load_catalogue(project.root)


@pytest.fixture(scope="session")
def conventions(project):
    return load_conventions(project.root)


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries without waiting (the waits are botocore's, not ours)."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    monkeypatch.setattr("botocore.retries.adaptive.ClientRateLimiter.on_sending_request", lambda self, request, **_: None)
