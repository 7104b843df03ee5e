"""Before anything changes, a command knows and says where it works: the
region resolved as the AWS CLI does and refused when the templates are not
made for it, the account from STS, a checked endpoint; every bad value is
one line before anything starts."""

from __future__ import annotations

import pytest

from codemate_cfn.cli import main
from codemate_cfn.deploy.aws import resolve_region
from codemate_cfn.errors import CodemateError

FALLBACK = "ap-northeast-2"


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """No AWS settings from the machine: an empty config file and no region variables."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return config


def test_the_region_comes_from_the_option_then_the_environment_then_the_profile_then_the_project(aws_env, monkeypatch):
    assert resolve_region(None, None, FALLBACK) == (FALLBACK, "the project's default")
    aws_env.write_text("[profile work]\nregion = eu-west-1\n")
    assert resolve_region(None, "work", FALLBACK) == ("eu-west-1", "profile work")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert resolve_region(None, "work", FALLBACK) == ("us-west-2", "AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    assert resolve_region(None, "work", FALLBACK) == ("us-east-2", "AWS_REGION")
    assert resolve_region("ap-southeast-1", "work", FALLBACK) == ("ap-southeast-1", "--region")


def test_a_missing_profile_and_a_malformed_config_file_are_one_line_each(aws_env):
    with pytest.raises(CodemateError, match=r"^AWS profile 'nosuch' not found in the AWS config files$"):
        resolve_region(None, "nosuch", FALLBACK)
    aws_env.write_text("[profile broken\nregion = x\n")
    with pytest.raises(CodemateError, match=r"^AWS config: "):
        resolve_region(None, "broken", FALLBACK)


def errors_of(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if not line.startswith("- ")]


@pytest.mark.parametrize("argv, env, message, status", [
    (["outputs", "params/dev.json", "--region", "us-east-1"], {},
     "error: region us-east-1 (from --region): the templates are made for ap-northeast-2 only", 2),
    (["status", "params/dev.json"], {"AWS_REGION": "eu-central-1"},
     "error: region eu-central-1 (from AWS_REGION): the templates are made for ap-northeast-2 only", 2),
    (["outputs", "params/dev.json", "--endpoint-url", "ftp://example"], {},
     "error: --endpoint-url 'ftp://example': not an http:// or https:// URL with a host", 2),
    (["outputs", "params/dev.json", "--endpoint-url", "http://127.0.0.1:99999"], {},
     "error: --endpoint-url 'http://127.0.0.1:99999': Port out of range 0-65535", 2),
    (["outputs", "params/dev.json"], {"AWS_ENDPOINT_URL": "not a url"},
     "error: AWS_ENDPOINT_URL 'not a url': not an http:// or https:// URL with a host", 2),
    (["outputs", "params/dev.json", "--profile", "nosuch"], {},
     "error: AWS profile 'nosuch' not found in the AWS config files", 1),
    (["emulator", "--port", "70000"], {},
     "error: --port 70000: a port is a number from 1 to 65535 (0 picks a free one)", 2),
])
def test_bad_places_to_work_are_refused_in_one_line_before_anything_starts(argv, env, message, status, aws_env,
                                                                          monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == status
    assert errors_of(capsys) == [message]


def test_a_port_in_use_is_named(capsys):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        assert main(["emulator", "--port", str(port)]) == 1
    finally:
        taken.close()
    (line,) = errors_of(capsys)
    assert line.startswith(f"error: port {port} on 127.0.0.1 cannot be used: ")
