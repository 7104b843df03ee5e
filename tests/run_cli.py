"""Runs the command line the way people do: `python -m codemate_cfn ...` in
a fresh process, or its `main()` in this one; and checks that errors come
out as one line each."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_project(where: Path) -> Path:
    """A copy of the project's sources and parameter files in `where`."""
    where.mkdir(parents=True)
    for part in ("templates_src", "params"):
        shutil.copytree(ROOT / part, where / part, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m codemate_cfn ARGS` in a fresh process of this Python,
    running this tree's codemate_cfn wherever `cwd` is."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "codemate_cfn", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Done:
    """What `main()` run in this process did: as a CompletedProcess says it."""

    returncode: int
    stdout: str
    stderr: str


def in_process(capsys, *args: str) -> Done:
    """`codemate_cfn.cli.main(ARGS)` in this process, its output captured
    with pytest's `capsys`. Any project (`--project-dir`) can be built here:
    each is imported as a package of its own."""
    from codemate_cfn.cli import main

    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Done(status, out, err)


def assert_one_line_errors(done: subprocess.CompletedProcess | Done) -> list[str]:
    """stderr holds only `error: ...` lines (and `- progress` lines), no
    traceback; returns the error lines without the `error: ` prefix."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("- ")]
    assert lines, "expected at least one error line on stderr"
    for line in lines:
        assert line.startswith("error: "), f"not a one-line error: {line!r}"
    return [line[len("error: "):] for line in lines]
