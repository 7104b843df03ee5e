"""`python -m codemate_cfn emulator` serves the patched local AWS as a
process of its own; a deploy from another process creates real stacks in it,
read back here through the AWS API."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from deploy_support import client_for
from run_cli import ROOT, cli


@pytest.fixture
def emulator_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "codemate_cfn", "emulator"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = process.stdout.readline()
        found = re.search(r"listening at (http://127\.0\.0\.1:\d+)$", first.strip())
        assert found, f"no address in {first!r}: {process.stderr.read() if process.poll() is not None else ''}"
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


@pytest.mark.subprocess
def test_a_deploy_from_another_process_creates_every_stack_in_the_emulator_process(
        emulator_process, built, monkeypatch, tmp_path):
    project, result = built
    for name, value in {"AWS_ACCESS_KEY_ID": "emulated", "AWS_SECRET_ACCESS_KEY": "emulated",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # It holds the hosted zone the parameter files look up, as the account would.
    zones = client_for(emulator_process).route53.list_hosted_zones_by_name(DNSName="code1398.io.")["HostedZones"]
    assert [(z["Name"], z["Config"]["PrivateZone"]) for z in zones] == [("code1398.io.", False)]

    done = cli("--build-dir", project.build_dir, "deploy", "params/dev.json", "--yes",
               "--endpoint-url", emulator_process)

    assert done.returncode == 0, done.stderr
    cloudformation = client_for(emulator_process).client("cloudformation")
    root = cloudformation.describe_stacks(StackName="codemate-dev")["Stacks"][0]
    assert root["StackStatus"] == "CREATE_COMPLETE"
    nested = {r["LogicalResourceId"] for r in cloudformation.describe_stack_resources(StackName="codemate-dev")["StackResources"]}
    assert nested == {f"{name.capitalize()}Stack" for name in result.order}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in root["Outputs"]}
    assert outputs["RdsEndpoint"].endswith(":5432")


@pytest.mark.subprocess
def test_the_emulator_listens_on_the_port_asked_for():
    probe = subprocess.run([sys.executable, "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
                            "print(s.getsockname()[1])"], capture_output=True, text=True, check=True)
    port = int(probe.stdout)
    process = subprocess.Popen([sys.executable, "-m", "codemate_cfn", "emulator", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout.readline().strip().endswith(f"listening at http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
