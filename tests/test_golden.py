"""The rendered templates match the snapshots committed in tests/golden/, so
any change to what the build produces shows up in review as a diff.

After an intended change, refresh the snapshots with

    python -m pytest tests/test_golden.py --update-golden

and commit tests/golden/ with the change.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from codemate_cfn.compile.render import to_json
from run_cli import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = "python -m pytest tests/test_golden.py --update-golden"
SHOWN_LINES = 30


def differences(texts: dict[str, str], golden: Path) -> list[str]:
    """One report per template that differs from its snapshot: the name and
    the first differing lines; snapshots with no template are reported too."""
    reports = []
    for name, text in texts.items():
        path = golden / f"{name}.json"
        if not path.exists():
            reports.append(f"{name}.json: no snapshot in {golden.name}/")
            continue
        old = path.read_text()
        if old != text:
            diff = list(difflib.unified_diff(
                old.splitlines(), text.splitlines(), f"{golden.name}/{name}.json", f"rendered {name}.json", n=2, lineterm=""
            ))
            more = f"\n... ({len(diff) - SHOWN_LINES} more diff lines)" if len(diff) > SHOWN_LINES else ""
            reports.append(f"{name}.json differs from its snapshot:\n" + "\n".join(diff[:SHOWN_LINES]) + more)
    for path in sorted(golden.glob("*.json")):
        if path.stem not in texts:
            reports.append(f"{path.name}: snapshot of a template that is no longer rendered")
    return reports


def update(texts: dict[str, str], golden: Path) -> None:
    golden.mkdir(exist_ok=True)
    for name, text in texts.items():
        (golden / f"{name}.json").write_text(text)
    for path in golden.glob("*.json"):
        if path.stem not in texts:
            path.unlink()


def test_rendered_templates_match_the_golden_snapshots(rendered, request):
    texts = {name: to_json(template) for name, template in rendered.templates.items()}
    if request.config.getoption("--update-golden"):
        update(texts, GOLDEN)

    reports = differences(texts, GOLDEN)

    assert not reports, "\n\n".join(reports) + f"\n\nIf the change is intended: {UPDATE}"


def test_a_difference_names_the_template_and_shows_the_first_differing_lines(tmp_path):
    snapshot = {"root": '{\n  "Resources": {}\n}\n', "network": '{\n  "CidrBlock": "10.0.0.0/16"\n}\n'}
    update(snapshot, tmp_path)
    (tmp_path / "edge.json").write_text("{}\n")

    reports = differences({**snapshot, "network": '{\n  "CidrBlock": "10.1.0.0/16"\n}\n', "data": "{}\n"}, tmp_path)

    assert reports[0].splitlines()[0] == "network.json differs from its snapshot:"
    assert '-  "CidrBlock": "10.0.0.0/16"' in reports[0].splitlines()
    assert '+  "CidrBlock": "10.1.0.0/16"' in reports[0].splitlines()
    assert reports[1:] == [
        f"data.json: no snapshot in {tmp_path.name}/",
        "edge.json: snapshot of a template that is no longer rendered",
    ]


def test_update_writes_every_template_and_drops_stale_snapshots(tmp_path):
    (tmp_path / "edge.json").write_text("{}\n")

    update({"root": "{}\n", "network": "{}\n"}, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.json", "root.json"]
    assert differences({"root": "{}\n", "network": "{}\n"}, tmp_path) == []
