"""docs/adding-a-layer.md runs as written: its layer and its test, put into
a copy of the project, build, test, snapshot and deploy as the page shows,
and breaking a policy fails the build with the line it shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from run_cli import ROOT, copy_project, in_process

PAGE = (ROOT / "docs" / "adding-a-layer.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", PAGE, re.S)


def files() -> dict[str, str]:
    """The page's code blocks that name their file on the first line."""
    found = {}
    for language, text in BLOCKS:
        first, _, rest = text.partition("\n")
        if language == "python" and first.startswith("# ") and "/" in first:
            found[first[2:].strip()] = rest
    return found


def shown_topic() -> dict:
    (text,) = [text for language, text in BLOCKS if language == "json"]
    return json.loads(text)


@pytest.fixture
def copy_with_notice(tmp_path) -> Path:
    copy = copy_project(tmp_path / "project")
    shutil.copytree(ROOT / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for name, text in files().items():
        (copy / name).write_text(text)
    return copy


def test_the_page_names_the_layer_and_its_test():
    assert set(files()) == {"templates_src/notice.py", "tests/test_notice_layer.py"}


def test_the_layer_builds_as_shown(copy_with_notice, capsys):
    done = in_process(capsys, "--project-dir", copy_with_notice, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    rendered = re.search(r"^- rendered .*$", PAGE, re.MULTILINE).group(0)
    totals = re.search(r"^built \d+ templates \(\d+ resources\)", PAGE, re.MULTILINE).group(0)
    assert rendered in done.stderr  # the page shows what the build prints
    assert totals in done.stdout
    built = json.loads((copy_with_notice / "build" / "templates" / "notice.json").read_text())
    assert built["Resources"]["AlertTopic"] == shown_topic()
    root = json.loads((copy_with_notice / "build" / "templates" / "root.json").read_text())
    assert root["Resources"]["NoticeStack"]["Properties"]["Parameters"]["KmsKeyArn"] == {
        "Fn::GetAtt": ["StorageStack", "Outputs.KmsKeyArn"]}


def test_breaking_a_policy_fails_with_the_line_shown(copy_with_notice, capsys):
    layer = copy_with_notice / "templates_src" / "notice.py"
    layer.write_text(layer.read_text().replace("topic = t.add(Topic(", "topic = t.template.add_resource(Topic("))
    done = in_process(capsys, "--project-dir", copy_with_notice, "build")
    assert done.returncode == 1
    shown = re.search(r"  (notice\.json: AlertTopic: E9002 .*) \(line \d+\)", PAGE).group(1)
    assert any(line.strip().startswith(shown) for line in done.stdout.splitlines()), done.stdout


def pytest_in(copy: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.subprocess
def test_its_test_passes_and_the_golden_snapshot_is_written_as_shown(copy_with_notice):
    tested = pytest_in(copy_with_notice, "tests/test_notice_layer.py", "-q")
    assert tested.returncode == 0 and "2 passed" in tested.stdout, tested.stdout

    missing = pytest_in(copy_with_notice, "tests/test_golden.py", "-q")
    assert missing.returncode == 1 and "notice.json: no snapshot in golden/" in missing.stdout

    written = pytest_in(copy_with_notice, "tests/test_golden.py", "tests/test_golden_views.py", "--update-golden", "-q")
    assert written.returncode == 0, written.stdout
    assert (copy_with_notice / "tests" / "golden" / "notice.json").is_file()


@pytest.mark.emulator
def test_it_deploys_on_the_emulator_as_shown(copy_with_notice, capsys):
    done = in_process(capsys, "--project-dir", copy_with_notice, "deploy", "params/dev.json", "--local", "--yes")
    assert done.returncode == 0, done.stderr
    assert "add     -            AlertTopic  AWS::SNS::Topic" in done.stdout
    assert re.search(r"AlertTopicArn +arn:aws:sns:ap-northeast-2:123456789012:codemate-alerts-dev +alert_topic_arn",
                     done.stdout)
