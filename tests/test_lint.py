"""cfn-lint runs in forked workers that warm up while the build renders;
each finding names the template, the resource, the rule and the message,
and warnings fail a build as errors do."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from codemate_cfn import lint
from codemate_cfn.errors import BuildError
from codemate_cfn.lint import Finding, LintWorkers, balanced_batches, failing, lint_templates

BAD_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Unused": {"Type": "String"}},
    "Resources": {
        "AppSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": []}},
    },
}


@pytest.fixture
def bad_template(tmp_path) -> Path:
    path = tmp_path / "security.json"
    path.write_text(json.dumps(BAD_TEMPLATE, indent=2))
    return path


def test_lint_names_template_resource_rule_and_message(bad_template):
    findings = lint_templates([bad_template])

    lines = bad_template.read_text().splitlines()
    properties_line = lines.index('      "Properties": {') + 1
    assert Finding("security.json", "AppSecurityGroup", "E3003", "error",
                   "'GroupDescription' is a required property", properties_line) in findings
    assert Finding("security.json", "Unused", "W2001", "warning", "Parameter Unused not used.", 4) in findings
    assert failing(findings) == [f for f in findings if f.level in ("error", "warning")]
    assert findings[0].describe() == "security.json: Unused: W2001 (warning): Parameter Unused not used. (line 4)"


def test_two_batches_lint_side_by_side_and_findings_merge(bad_template, tmp_path, monkeypatch):
    other = tmp_path / "data.json"
    other.write_text(json.dumps({"Resources": {"Cache": {"Type": "AWS::ElastiCache::CacheCluster", "Properties": {}}}}))
    monkeypatch.setattr(lint, "SPLIT_BYTES", 0)  # split however small

    with LintWorkers(2) as workers:
        findings = workers.lint([bad_template, other])

    assert {(f.template, f.resource) for f in failing(findings)} >= {
        ("security.json", "AppSecurityGroup"), ("data.json", "Cache")
    }
    assert multiprocessing.active_children() == []


def test_batches_are_balanced_by_size(tmp_path):
    sizes = {"a": 900, "b": 500, "c": 400, "d": 100}
    paths = []
    for name, size in sizes.items():
        (tmp_path / name).write_text("x" * size)
        paths.append(tmp_path / name)

    batches = balanced_batches(paths, 2)

    assert [[Path(p).name for p in b] for b in batches] == [["a", "d"], ["b", "c"]]




def test_a_crash_inside_cfn_lint_is_a_build_error_naming_the_batch(bad_template, monkeypatch):
    def crash(match):
        raise RuntimeError("rule blew up")

    monkeypatch.setattr(lint, "_finding", crash)  # the forked worker inherits it

    with pytest.raises(BuildError, match=r"^cfn-lint failed on security\.json: RuntimeError: rule blew up$"):
        lint_templates([bad_template])
    assert multiprocessing.active_children() == []


def test_nothing_to_lint_starts_nothing(monkeypatch):
    monkeypatch.setattr(lint, "start_workers", lambda: pytest.fail("started workers for no templates"))
    assert lint_templates([]) == []
