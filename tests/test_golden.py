"""The rendered templates match the snapshots committed in tests/golden/, so
any change to what the build produces shows up in review as a diff.

After an intended change, refresh the snapshots (templates, plans, status)
with

    python -m pytest tests/test_golden.py tests/test_golden_views.py --update-golden

and commit tests/golden/ with the change.
"""

from __future__ import annotations

from codemate_cfn.compile.render import to_json
from snapshots import GOLDEN, check, differences, update


def test_rendered_templates_match_the_golden_snapshots(rendered, request):
    check({name: to_json(template) for name, template in rendered.templates.items()}, GOLDEN, request)


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
        "edge.json: snapshot of something no longer produced",
    ]


def test_update_writes_every_template_and_drops_stale_snapshots(tmp_path):
    (tmp_path / "edge.json").write_text("{}\n")

    update({"root": "{}\n", "network": "{}\n"}, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.json", "root.json"]
    assert differences({"root": "{}\n", "network": "{}\n"}, tmp_path) == []
