"""The cfn-lint process kept between builds: it answers what linting in the
build would, a rebuild after editing one layer uses it, and anything wrong
with it means linting in the build, never a failed build."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from codemate_cfn.compile import lint, lintd
from codemate_cfn.compile.build import RULES_DIRS, build, lint_setup
from codemate_cfn.compile.project import Project
from run_cli import ROOT


@pytest.fixture
def short_folder():
    """A private folder with a short path (Unix socket paths are short)."""
    folder = Path(tempfile.mkdtemp(prefix="cl", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def wait_for(path: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while lintd.ask(path, []) is None:
        assert time.monotonic() < deadline, f"no kept linter answered at {path}"
        time.sleep(0.1)


def test_the_kept_process_finds_what_linting_here_finds(short_folder, built):
    project, _ = built
    setup = lint_setup(Project(ROOT), RULES_DIRS)
    path = lintd.address("test-key", short_folder)
    serving = threading.Thread(target=lintd.serve, args=(path, setup, 60.0), daemon=True)
    serving.start()
    wait_for(path)
    templates = sorted(str(p) for p in project.templates_dir.glob("*.json"))

    answered = lint._collect(lintd.ask(path, [templates]))
    here = lint.lint_templates([Path(t) for t in templates], setup=setup)

    assert answered.findings == here.findings and set(answered.seconds) == {Path(t).name for t in templates}
    assert lintd.stop(path) is True
    serving.join(timeout=10)
    assert not serving.is_alive() and not path.exists()


def test_the_kept_process_is_started_with_the_builds_whole_setup(monkeypatch, tmp_path):
    """Regions, rules, their settings, the included and the mandatory rules
    all reach the process (start's arguments, read back by main)."""
    import json
    import subprocess

    setup = lint_setup(Project(ROOT), RULES_DIRS)
    assert setup.include == ("I",) and setup.mandatory == ("E9006",)
    started, served = [], []
    monkeypatch.setattr(subprocess, "Popen", lambda args, **options: started.append(args))
    monkeypatch.setattr(lintd, "serve", lambda path, given: served.append((path, given)))

    lintd.start(tmp_path / "lint.sock", setup)
    lintd.main(started[0][-2:])

    (path, given), = served
    assert path == tmp_path / "lint.sock" and given == setup and given.configure == setup.configure
    assert json.loads(started[0][-1])["mandatory"] == ["E9006"]


def test_nothing_answering_means_linting_here(short_folder):
    path = short_folder / "lint-nobody.sock"
    assert lintd.ask(path, [["x.json"]]) is None  # no socket at all
    path.write_text("not a socket")
    assert lintd.ask(path, [["x.json"]]) is None
    assert lintd.stop(path) is False


def test_a_folder_others_may_enter_is_refused(short_folder):
    short_folder.chmod(0o777)
    with pytest.raises(OSError, match="not a private directory"):
        lintd.address("key", short_folder)


@pytest.mark.subprocess
def test_a_rebuild_after_editing_a_layer_lints_in_the_kept_process(project_copy, tmp_path, short_folder,
                                                                   monkeypatch):
    monkeypatch.setenv(lintd.ENV, "1")
    monkeypatch.setattr(lintd, "address", lambda key, folder=None: Path(short_folder) / "lint-test.sock")
    out = Project(project_copy, output=tmp_path / "out")
    steps: list[str] = []
    first = build(out, progress=steps.append)
    assert not first.cached and not any("kept process" in s for s in steps)
    path = short_folder / "lint-test.sock"
    wait_for(path)  # started by the first build, for the next
    try:
        layer = project_copy / "templates_src" / "network.py"
        layer.write_text(layer.read_text().replace('"network", "', '"network", "The '))
        steps.clear()
        second = build(out, progress=steps.append)
        assert any(re.match(r"linting 1 of \d+ templates \(network\)", s) and s.endswith("kept process") for s in steps), steps
        assert second.findings == [] and second.info("network").sha256 != first.info("network").sha256
    finally:
        assert lintd.stop(path) is True
