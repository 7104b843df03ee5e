"""cfn-lint runs in a forked worker that warms up while the build renders,
with any custom rules directories added to its own rules; each finding
names the template, the resource, the rule and the message, and warnings
fail a build as errors do. Templates are split between two processes by
their lint cost."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from codemate_cfn.compile import lint
from codemate_cfn.errors import BuildError
from codemate_cfn.compile.lint import Finding, LintWorker, Setup, balanced_batches, failing, lint_templates
from codemate_cfn.compile.lintcache import LintCache

BAD_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Unused": {"Type": "String"}},
    "Resources": {
        "AppSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": []}},
    },
}


CACHE_WITHOUT_PROPERTIES = {"Resources": {"Cache": {"Type": "AWS::ElastiCache::CacheCluster", "Properties": {}}}}


CUSTOM_RULE = '''
from cfnlint.rules import CloudFormationLintRule, RuleMatch


class NamedSecurityGroups(CloudFormationLintRule):
    id = "W9901"
    shortdesc = "Security groups say what they are for"
    description = "A project rule, kept in the repository"
    tags = ["project"]

    def match(self, cfn):
        return [RuleMatch(["Resources", name], f"security group {name} has no purpose tag")
                for name in cfn.get_resources("AWS::EC2::SecurityGroup")]
'''


@pytest.fixture(scope="module")
def bad_templates(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bad")
    paths = [folder / "security.json", folder / "data.json"]
    for path, template in zip(paths, (BAD_TEMPLATE, CACHE_WITHOUT_PROPERTIES)):
        path.write_text(json.dumps(template, indent=2))
    return paths


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "named_security_groups.py").write_text(CUSTOM_RULE)
    return folder


@pytest.fixture(scope="module")
def linted(bad_templates, rules_dir) -> lint.Linted:
    """Both bad templates linted once, in two batches side by side, with a
    custom rules directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lint, "SPLIT_BYTES", 0)  # split however small
        return lint_templates(bad_templates, setup=Setup(rules_dirs=(str(rules_dir),)))


@pytest.fixture(scope="module")
def findings(linted) -> list[Finding]:
    return linted.findings


def test_a_finding_names_template_resource_rule_and_message(findings, bad_templates):
    lines = bad_templates[0].read_text().splitlines()
    properties_line = lines.index('      "Properties": {') + 1

    assert Finding("security.json", "AppSecurityGroup", "E3003", "error",
                   "'GroupDescription' is a required property", properties_line) in findings
    assert Finding("security.json", "Unused", "W2001", "warning", "Parameter Unused not used.", 4) in findings
    unused = next(f for f in findings if f.rule == "W2001")
    assert unused.describe() == "security.json: Unused: W2001 (warning): Parameter Unused not used. (line 4)"


def test_custom_rules_run_with_cfn_lints_own(findings, bad_templates):
    resource_line = bad_templates[0].read_text().splitlines().index('    "AppSecurityGroup": {') + 1

    assert Finding("security.json", "AppSecurityGroup", "W9901", "warning",
                   "security group AppSecurityGroup has no purpose tag", resource_line) in findings
    assert {"E3003", "W2001"} <= {f.rule for f in findings}  # cfn-lint's own rules still run


def test_each_template_is_timed(linted):
    assert set(linted.seconds) == {"security.json", "data.json"}
    assert all(seconds > 0 for seconds in linted.seconds.values())


def test_warnings_and_informational_findings_fail_like_errors(findings):
    assert {f.level for f in failing(findings)} == {"error", "warning"}
    informational = Finding("root.json", "NetworkStack", "I3011", "informational", "fyi", 1)
    assert failing([informational]) == [informational]


def test_informational_rules_run_only_when_included(bad_templates):
    """cfn-lint's I rules are off unless the setup includes them (the build
    does: compile/build.py INCLUDED_CHECKS)."""
    joined = bad_templates[0].parent / "joined.json"
    joined.write_text(json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-alerts"]]}}}}}, indent=2))

    without = lint_templates([joined], setup=Setup())
    included = lint_templates([joined], setup=Setup(include=("I",)))

    assert [f.rule for f in without.findings] == []
    assert [(f.resource, f.rule, f.level) for f in included.findings] == [("Topic", "I1022", "informational")]


def test_a_mandatory_rule_is_not_turned_off_by_an_ignore_in_the_resource(bad_templates, rules_dir):
    ignored = bad_templates[0].parent / "ignored.json"
    ignored.write_text(json.dumps({"Resources": {"AppSecurityGroup": {
        "Type": "AWS::EC2::SecurityGroup",
        "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W9901"]}}},
        "Properties": {"GroupDescription": "app"}}}}, indent=2))
    custom = (str(rules_dir),)

    plain = lint_templates([ignored], setup=Setup(rules_dirs=custom))
    mandatory = lint_templates([ignored], setup=Setup(rules_dirs=custom, mandatory=("W9901",)))

    assert [f.rule for f in plain.findings] == []
    assert [(f.resource, f.rule) for f in mandatory.findings] == [("AppSecurityGroup", "W9901")]


def test_findings_of_both_batches_are_merged_and_sorted(findings):
    assert {(f.template, f.resource) for f in failing(findings)} >= {
        ("security.json", "AppSecurityGroup"), ("data.json", "Cache")
    }
    assert findings == sorted(findings, key=lambda f: (f.template, f.line, f.rule))
    assert multiprocessing.active_children() == []


def files_of(folder: Path, sizes: dict[str, int]) -> list[Path]:
    for name, size in sizes.items():
        (folder / name).write_text("x" * size)
    return [folder / name for name in sizes]


def test_batches_are_balanced_by_size(tmp_path):
    paths = files_of(tmp_path, {"a": 900, "b": 500, "c": 400, "d": 100})

    batches = balanced_batches(paths, 2)

    assert [[Path(p).name for p in b] for b in batches] == [["a", "d"], ["b", "c"]]


def test_batches_are_balanced_by_cost_when_costs_are_known(tmp_path):
    """The data layer costs several times more per byte than the others: by
    size it would share a batch, by cost it is alone."""
    paths = files_of(tmp_path, {"data.json": 20_300, "network.json": 19_800, "storage.json": 19_300,
                                "root.json": 10_200, "security.json": 8_400})
    costs = {"data.json": 1.0, "network.json": 0.25, "storage.json": 0.3, "root.json": 0.1, "security.json": 0.15}

    by_size = balanced_batches(paths, 2)
    by_cost = balanced_batches(paths, 2, costs)

    assert [Path(p).name for p in by_size[0]] != ["data.json"]
    assert [[Path(p).name for p in b] for b in by_cost] == [
        ["data.json"], ["storage.json", "network.json", "security.json", "root.json"]
    ]


def test_cost_estimates_scale_the_last_time_and_fall_back_to_bytes():
    cache = LintCache("linter")
    assert cache.costs({"a.json": 100, "b.json": 300}) == {"a.json": 100.0, "b.json": 300.0}  # nothing known: bytes

    cache.record("a.json", "sha-a", 100, 1.0, [])
    cache.record("b.json", "sha-b", 100, 3.0, [])
    costs = cache.costs({"a.json": 200, "b.json": 100, "new.json": 100})

    assert costs == pytest.approx({"a.json": 2.0, "b.json": 3.0, "new.json": 2.0})  # new: the mean rate


def test_a_crash_inside_cfn_lint_is_a_build_error_naming_the_batch(bad_templates, monkeypatch):
    config = lint._config

    def crash_on_a_batch(paths, setup):
        if paths:
            raise RuntimeError("rule blew up")
        return config(paths, setup)

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
    monkeypatch.setattr(lint, "start_worker", lambda *_: pytest.fail("started a worker for no templates"))
    assert lint_templates([]) == lint.Linted([], {})


def test_another_linter_voids_the_findings_but_keeps_the_costs(tmp_path):
    finding = Finding("a.json", "Vpc", "W1", "warning", "w", 3)
    old = LintCache("cfn-lint 1.58")
    old.record("a.json", "sha-a", 100, 1.0, [finding])
    old.write(tmp_path, ["a.json"], "inputs")

    same, other = LintCache.read(tmp_path, "cfn-lint 1.58"), LintCache.read(tmp_path, "cfn-lint 1.99")

    assert (same.findings("a.json", "sha-a"), same.rendered_from) == ([finding], "inputs")
    assert other.findings("a.json", "sha-a") is None
    assert other.costs({"a.json": 200}) == {"a.json": 2.0}


def test_the_linter_key_covers_the_rules_included_and_the_mandatory_ones():
    from codemate_cfn.compile.lintcache import linter_key

    keys = {linter_key("1.58.0", setup, code="code") for setup in (
        Setup(), Setup(include=("I",)), Setup(mandatory=("E9006",)), Setup(include=("I",), mandatory=("E9006",)))}
    assert len(keys) == 4


def test_the_linter_key_covers_the_modules_the_rules_import():
    """A rule imports codemate_cfn.tagging, .stateful, ...: a change anywhere
    in the package voids cached findings (and the kept cfn-lint process)."""
    from codemate_cfn.compile.lintcache import linter_key

    before = linter_key("1.58.0", Setup())
    probe = Path(lint.__file__).resolve().parent.parent / "zz_linter_key_probe.py"
    probe.write_text("VALUE = 1\n")
    try:
        assert linter_key("1.58.0", Setup()) != before
    finally:
        probe.unlink()
    assert linter_key("1.58.0", Setup()) == before
