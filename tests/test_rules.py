"""The project's policies as cfn-lint custom rules (codemate_cfn/compile/rules).

Each rule has a bad fixture, where it must fire on exactly the resources
that break the policy, and a good fixture of legitimate near misses, where
it must stay quiet. The project's own templates pass every rule. All the
fixtures and the project's templates are linted in one cfn-lint call, the
way the build will call it (cfn-lint's set-up is the slow part)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from troposphere import encode_to_dict

from codemate_cfn.compile.discovery import load_conventions
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.build import INCLUDED_CHECKS
from codemate_cfn.compile.rules import MANDATORY_RULES, RULE_IDS, RULES_DIR, rule_config
from codemate_cfn.compile.render import to_json
from run_cli import ROOT

CONVENTIONS = load_conventions(ROOT)

FIXTURES = Path(__file__).parent / "fixtures" / "rules"

# Per rule: the resources (or parameters) of its bad fixture it must name.
BAD = {
    "E9001": {"FilesBucket", "Database", "AppLogs", "ApiSecret"},
    "E9002": {"UntaggedBucket", "ApiUrlParameter", "HostedZone", "WebSecurityGroup", "ProdOnlyTagsBucket",
              "MapTagsOnListType"},
    "E9003": {"ReadAnyObjectRole", "AdminPolicy", "LogsPolicy", "MixedPolicy", "EverythingButPolicy",
              "NotActionPolicy", "QueuePolicy", "LogDeliveryPolicy"},
    "E9004": {"WebSecurityGroup", "AlbSecurityGroup", "AppSecurityGroup", "AppIngressFromInternet",
              "AlbAllPortsFromInternet", "AppEgressUndescribed"},
    "E9005": {"DbPassword", "GithubToken", "Database", "Cluster", "Redis", "ApiSecret", "BackendTask", "Deployer",
              "Certificate"},
    # "cfn-lint": the template's own Metadata.cfn-lint (settings for every resource)
    "E9006": {"NoReason", "BlankReason", "OtherRulesReason", "IgnoresTheReasonRule", "IgnoresAString",
              "ReasonsAList", "cfn-lint"},
}
# Resources of the project's templates that E9002 finds today: none (every
# taggable resource the layers write takes list-form Tags, which
# LayerTemplate.add fills in; nested stacks are exempt).
KNOWN_TAG_GAPS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Hit:
    file: str  # "E9001/bad.json", or "project/storage.json"
    resource: str
    rule: str
    message: str


def _hit(match) -> Hit:
    path = Path(match.filename)
    folder = path.parent.name if path.parent.parent == FIXTURES else "project"
    where = getattr(match, "path", None) or []
    return Hit(f"{folder}/{path.name}", str(where[1]) if len(where) > 1 else "-", match.rule.id, match.message)


@pytest.fixture(scope="module")
def hits(rendered, tmp_path_factory) -> list[Hit]:
    from cfnlint.api import lint_by_config
    from cfnlint.config import ManualArgs

    project = tmp_path_factory.mktemp("project")
    for name, template in rendered.templates.items():
        (project / f"{name}.json").write_text(to_json(template))
    paths = sorted(FIXTURES.glob("*/*.json")) + sorted(project.glob("*.json"))
    config = ManualArgs(templates=[str(p) for p in paths], regions=list(CONVENTIONS.regions), append_rules=[str(RULES_DIR)],
                        configure_rules=rule_config(CONVENTIONS), include_checks=list(INCLUDED_CHECKS),
                        mandatory_checks=list(MANDATORY_RULES))
    return [_hit(m) for m in lint_by_config(config)]


def named(hits, file: str, rule: str) -> set[str]:
    return {h.resource for h in hits if h.file == file and h.rule == rule}


@pytest.mark.parametrize("rule", RULE_IDS)
def test_a_rule_names_every_resource_of_its_bad_fixture_that_breaks_it(hits, rule):
    assert named(hits, f"{rule}/bad.json", rule) == BAD[rule]


@pytest.mark.parametrize("rule", RULE_IDS)
def test_a_rule_stays_quiet_on_its_good_fixture(hits, rule):
    assert [h.message for h in hits if h.file == f"{rule}/good.json" and h.rule == rule] == []


def test_good_fixtures_are_valid_templates_for_cfn_lint_itself(hits):
    built_in = [h for h in hits if h.file.endswith("/good.json") and h.rule not in RULE_IDS and h.rule[0] in "EW"]
    assert built_in == []


def test_the_project_templates_pass_every_project_rule(hits):
    project = {(h.file, h.resource, h.rule) for h in hits if h.file.startswith("project/") and h.rule in RULE_IDS}
    assert project == {(f"project/{t}", r, "E9002") for t, r in KNOWN_TAG_GAPS}


def test_stateful_message_says_what_is_missing_and_what_a_delete_loses(hits):
    messages = {h.message for h in hits if h.file == "E9001/bad.json" and h.resource == "Database" and h.rule == "E9001"}
    assert messages == {
        "Database (AWS::RDS::DBInstance) needs DeletionPolicy Retain or RetainExceptOnCreate or Snapshot "
        "(has Delete); without it a delete loses the database and its automated backups"
    }


def test_tag_messages_name_the_tag_property_its_form_and_each_problem(hits):
    messages = {h.resource: h.message for h in hits if h.file == "E9002/bad.json" and h.rule == "E9002"}
    assert messages["ApiUrlParameter"] == (
        'ApiUrlParameter (AWS::SSM::Parameter) Tags, a map of key to value: lacks ManagedBy; '
        'Project is "other" (expected "codemate")'
    )
    assert messages["HostedZone"].startswith("HostedZone (AWS::Route53::HostedZone) HostedZoneTags, a list of")
    assert 'Environment is "dev" (expected {"Ref": "EnvironmentName"})' in messages["WebSecurityGroup"]


def test_the_tag_rule_expects_the_values_the_compiler_writes():
    from codemate_cfn.compile.rules.ProjectTags import ProjectTags

    rule = ProjectTags()
    rule.configure(rule_config(CONVENTIONS)["E9002"])
    written = {tag["Key"]: tag["Value"] for tag in encode_to_dict(CONVENTIONS.standard_tags().to_dict())}
    assert rule.expected() == written == {"Environment": {"Ref": "EnvironmentName"}, "Project": "codemate",
                                          "ManagedBy": "cloudformation"}


def test_unconfigured_the_tag_rule_asks_for_no_tag():
    from codemate_cfn.compile.rules.ProjectTags import ProjectTags

    assert ProjectTags().expected() == {}


def test_wildcard_message_names_only_the_actions_that_need_an_arn(hits):
    [message] = [h.message for h in hits if h.resource == "MixedPolicy"]
    assert "statement LoginAndPullAnything allows ecr:BatchGetImage on" in message
    assert "GetAuthorizationToken" not in message


def test_open_ingress_and_missing_descriptions_are_told_apart(hits):
    messages = {h.resource: h.message for h in hits if h.file == "E9004/bad.json" and h.rule == "E9004"}
    assert "SecurityGroupIngress/1 lets in tcp 22-22 from ::/0" in messages["AlbSecurityGroup"]
    assert messages["AppSecurityGroup"].endswith("SecurityGroupEgress/0 has no Description")


def test_secret_findings_never_repeat_the_secret(hits):
    messages = " ".join(h.message for h in hits if h.rule == "E9005")
    for secret in ("correct-horse-battery", "AKIAIOSFODNN7EXAMPLE", "not-a-real", "MIIE", "sk-not-a-real-key"):
        assert secret not in messages
    assert "DbPassword is named like a secret and has a Default and no NoEcho" in messages


@pytest.mark.subprocess
def test_the_cfn_lint_command_line_loads_the_rules_from_their_directory():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the rules import this tree's codemate_cfn
    done = subprocess.run(
        [str(cfn_lint), "--append-rules", str(RULES_DIR), "--configure-rule", "E9002:environment_tags=Environment",
         "--format", "parseable", "--",
         *map(str, sorted(FIXTURES.glob("*/bad.json")))],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    assert done.returncode != 0 and "Tried to append rules" not in done.stderr, done.stderr
    found = {line.split(":")[5] for line in done.stdout.splitlines() if line.count(":") >= 6}
    assert found >= set(RULE_IDS)


BREAKS_EVERY_POLICY = '''
from awacs.aws import Allow, PolicyDocument, Statement
from awacs import s3
from troposphere.ec2 import SecurityGroup, SecurityGroupRule
from troposphere.iam import ManagedPolicy
from troposphere.s3 import Bucket
from troposphere.ssm import Parameter

from codemate_cfn.layer import Layer


def build(t):
    t.template.add_resource(Bucket("Scratch"))  # no policies (E9001), and past t.add: no tags (E9002)
    t.add(ManagedPolicy("ReadAnything", PolicyDocument=PolicyDocument(Statement=[
        Statement(Effect=Allow, Action=[s3.GetObject], Resource=["*"])])))  # E9003
    t.add(SecurityGroup("Ssh", GroupDescription="ssh", VpcId="vpc-1", SecurityGroupIngress=[
        SecurityGroupRule(IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0",
                          Description="ssh from anywhere")]))  # E9004
    t.add(Parameter("Key", Type="String", Value="AKIAIOSFODNN7EXAMPLE"))  # E9005


LAYER = Layer("scratch", "a layer that breaks every policy", build)
'''


def test_breaking_a_policy_in_a_layer_fails_the_build_naming_template_resource_and_rule(project_copy, capsys):
    from codemate_cfn.cli import main

    (project_copy / "templates_src" / "scratch.py").write_text(BREAKS_EVERY_POLICY)
    assert main(["--project-dir", str(project_copy), "build"]) == 1
    failed = [line.strip() for line in capsys.readouterr().out.splitlines() if ": E900" in line]
    assert {tuple(line.split(": ")[:3]) for line in failed} == {
        ("scratch.json", "Scratch", "E9001 (error)"),
        ("scratch.json", "Scratch", "E9002 (error)"),
        ("scratch.json", "ReadAnything", "E9003 (error)"),
        ("scratch.json", "Ssh", "E9004 (error)"),
        ("scratch.json", "Key", "E9005 (error)"),
    }
    assert all(line.count("\n") == 0 for line in failed)


INFORMATIONAL_FINDING = '''
from troposphere import Join, Ref
from troposphere.sns import Topic

from codemate_cfn.layer import Layer, ignore_check


def build(t):
    alerts = Topic("Alerts", TopicName=Join("", [Ref("AWS::StackName"), "-alerts"]))  # I1022
    t.add(IGNORE)


LAYER = Layer("scratch", "a layer with an informational finding", build)
'''
IGNORES = {
    "none": "alerts",
    "with a reason": 'ignore_check(alerts, "I1022", "The topic name follows the stack name, as the design says.")',
    "without a reason": 'setattr(alerts, "Metadata", {"cfn-lint": {"config": {"ignore_checks": ["I1022"]}}}) or alerts',
}


@pytest.mark.parametrize("ignore", IGNORES)
def test_an_informational_finding_fails_the_build_unless_ignored_next_to_its_resource_with_a_reason(
        copy_build, ignore):
    from codemate_cfn.compile.build import build

    (copy_build.root / "templates_src" / "scratch.py").write_text(
        INFORMATIONAL_FINDING.replace("IGNORE", IGNORES[ignore]))
    result = build(copy_build)

    found = {(f.template, f.resource, f.rule, f.level) for f in result.findings}
    assert result.failed == (ignore != "with a reason")
    assert found == {
        "none": {("scratch.json", "Alerts", "I1022", "informational")},
        "with a reason": set(),
        "without a reason": {("scratch.json", "Alerts", "E9006", "error")},
    }[ignore]


def test_every_check_the_project_ignores_has_its_reason_beside_it(rendered):
    """Read off the templates, whatever the rule says: each ignore has a
    reason of its own, and the build's setting makes the rule unskippable."""
    from codemate_cfn.compile.build import lint_setup, RULES_DIRS
    from codemate_cfn.ignores import ignored, reasons

    for name, template in rendered.templates.items():
        assert "cfn-lint" not in template.get("Metadata", {}), f"{name}: cfn-lint settings for the whole template"
        for logical_id, resource in template["Resources"].items():
            metadata = resource.get("Metadata", {})
            given = reasons(metadata)
            for rule in ignored(metadata):
                assert isinstance(given.get(rule), str) and given[rule].strip(), f"{name}: {logical_id} ignores {rule}"
    assert "E9006" in lint_setup(Project(ROOT), RULES_DIRS).mandatory
