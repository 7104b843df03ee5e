"""Golden snapshots: texts the tests produce, compared with files committed
under tests/golden/, so a change to what the tool builds or shows appears in
review as a diff. `python -m pytest --update-golden` (or with the test
files named) rewrites the snapshots of the tests it runs."""

from __future__ import annotations

import difflib
from pathlib import Path

from run_cli import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = "python -m pytest tests/test_golden.py tests/test_golden_views.py --update-golden"
SHOWN_LINES = 30


def differences(texts: dict[str, str], golden: Path, suffix: str = ".json") -> list[str]:
    """One report per text that differs from its snapshot: the name and the
    first differing lines; snapshots with no text are reported too."""
    reports = []
    for name, text in texts.items():
        path = golden / f"{name}{suffix}"
        if not path.exists():
            reports.append(f"{path.name}: no snapshot in {golden.name}/")
            continue
        old = path.read_text()
        if old != text:
            diff = list(difflib.unified_diff(
                old.splitlines(), text.splitlines(), f"{golden.name}/{path.name}", f"now {path.name}", n=2, lineterm=""
            ))
            more = f"\n... ({len(diff) - SHOWN_LINES} more diff lines)" if len(diff) > SHOWN_LINES else ""
            reports.append(f"{path.name} differs from its snapshot:\n" + "\n".join(diff[:SHOWN_LINES]) + more)
    for path in sorted(golden.glob(f"*{suffix}")):
        if path.name.removesuffix(suffix) not in texts:
            reports.append(f"{path.name}: snapshot of something no longer produced")
    return reports


def update(texts: dict[str, str], golden: Path, suffix: str = ".json") -> None:
    golden.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (golden / f"{name}{suffix}").write_text(text)
    for path in golden.glob(f"*{suffix}"):
        if path.name.removesuffix(suffix) not in texts:
            path.unlink()


def check(texts: dict[str, str], golden: Path, request, suffix: str = ".json") -> None:
    """Assert `texts` match their snapshots in `golden` (rewritten first with --update-golden)."""
    if request.config.getoption("--update-golden"):
        update(texts, golden, suffix)
    reports = differences(texts, golden, suffix)
    assert not reports, "\n\n".join(reports) + f"\n\nIf the change is intended: {UPDATE}"
