"""cfn-lint runs in a forked worker that warms up while the build renders;
each finding names the template, the resource, the rule and the message,
and warnings fail a build as errors do."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from codemate_cfn.compile import lint
from codemate_cfn.errors import BuildError
from codemate_cfn.compile.lint import Finding, LintWorker, balanced_batches, failing, lint_templates

BAD_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Unused": {"Type": "String"}},
    "Resources": {
        "AppSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": []}},
    },
}


CACHE_WITHOUT_PROPERTIES = {"Resources": {"Cache": {"Type": "AWS::ElastiCache::CacheCluster", "Properties": {}}}}


@pytest.fixture(scope="module")
def bad_templates(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bad")
    paths = [folder / "security.json", folder / "data.json"]
    for path, template in zip(paths, (BAD_TEMPLATE, CACHE_WITHOUT_PROPERTIES)):
        path.write_text(json.dumps(template, indent=2))
    return paths


@pytest.fixture(scope="module")
def findings(bad_templates) -> list[Finding]:
    """Both bad templates linted once, in two batches side by side."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lint, "SPLIT_BYTES", 0)  # split however small
        return lint_templates(bad_templates)


def test_a_finding_names_template_resource_rule_and_message(findings, bad_templates):
    lines = bad_templates[0].read_text().splitlines()
    properties_line = lines.index('      "Properties": {') + 1

    assert Finding("security.json", "AppSecurityGroup", "E3003", "error",
                   "'GroupDescription' is a required property", properties_line) in findings
    assert Finding("security.json", "Unused", "W2001", "warning", "Parameter Unused not used.", 4) in findings
    unused = next(f for f in findings if f.rule == "W2001")
    assert unused.describe() == "security.json: Unused: W2001 (warning): Parameter Unused not used. (line 4)"


def test_warnings_fail_like_errors(findings):
    assert {f.level for f in failing(findings)} == {"error", "warning"}
    assert failing([Finding("root.json", "-", "I3011", "informational", "fyi", 1)]) == []


def test_findings_of_both_batches_are_merged_and_sorted(findings):
    assert {(f.template, f.resource) for f in failing(findings)} >= {
        ("security.json", "AppSecurityGroup"), ("data.json", "Cache")
    }
    assert findings == sorted(findings, key=lambda f: (f.template, f.line, f.rule))
    assert multiprocessing.active_children() == []


def test_batches_are_balanced_by_size(tmp_path):
    sizes = {"a": 900, "b": 500, "c": 400, "d": 100}
    paths = []
    for name, size in sizes.items():
        (tmp_path / name).write_text("x" * size)
        paths.append(tmp_path / name)

    batches = balanced_batches(paths, 2)

    assert [[Path(p).name for p in b] for b in batches] == [["a", "d"], ["b", "c"]]


def test_a_crash_inside_cfn_lint_is_a_build_error_naming_the_batch(bad_templates, monkeypatch):
    config = lint._config

    def crash_on_a_batch(paths):
        if paths:
            raise RuntimeError("rule blew up")
        return config(paths)

    monkeypatch.setattr(lint, "_config", crash_on_a_batch)  # the forked worker inherits it
    monkeypatch.setattr(lint, "SPLIT_BYTES", 0)

    with LintWorker(batches=2) as worker, pytest.raises(BuildError) as raised:
        worker.lint(bad_templates)
    assert str(raised.value).splitlines() == [
        "cfn-lint failed on security.json: RuntimeError: rule blew up",
        "cfn-lint failed on data.json: RuntimeError: rule blew up",
    ]
    assert multiprocessing.active_children() == []


def test_nothing_to_lint_starts_nothing(monkeypatch):
    monkeypatch.setattr(lint, "start_worker", lambda: pytest.fail("started a worker for no templates"))
    assert lint_templates([]) == []
