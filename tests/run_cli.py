"""Runs the command line the way people do: `python -m codemate_cfn ...` in
a fresh process, and checks that errors come out as one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m codemate_cfn ARGS` in a fresh process of this Python, with
    this tree's codemate_cfn importable from any `cwd` (not only the copy
    installed in the environment, which may be another checkout's)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "codemate_cfn", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_errors(done: subprocess.CompletedProcess) -> list[str]:
    """stderr holds only `error: ...` lines (and `- progress` lines), no
    traceback; returns the error lines without the `error: ` prefix."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("- ")]
    assert lines, "expected at least one error line on stderr"
    for line in lines:
        assert line.startswith("error: "), f"not a one-line error: {line!r}"
    return [line[len("error: "):] for line in lines]
