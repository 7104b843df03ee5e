"""The layer author's kit (templates_src/kit/), by example: each block is
used in a tiny layer, rendered the way the build renders layers (with the
project's conventions), and what it makes is read back. Then the borders:
the bootstrap stack's bucket is made like the project's, the compiler
imports no AWS resource module, and templates_src imports nothing of the
compiler but codemate_cfn.layer."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from awacs import ecr, ecs, logs
from awacs.aws import Allow, Statement
from troposphere import Equals, GetAtt, Ref, Sub
from troposphere.elasticache import ReplicationGroup
from troposphere.secretsmanager import Secret
from troposphere.sns import Topic

from codemate_cfn.compile.render import render_layers, to_json
from codemate_cfn.deploy import bootstrap
from codemate_cfn.errors import BuildError
from codemate_cfn.layer import Layer, Param, ignore_check
from layer_values import templates
from run_cli import ROOT
from templates_src.kit.bucket import bucket, bucket_policy, lifecycle_rule
from templates_src.kit.iam import role, role_policy
from templates_src.kit.logs import log_group
from templates_src.kit.policies import RETAIN, SNAPSHOT
from templates_src.kit.security_group import (
    ANYWHERE,
    NO_EGRESS,
    egress,
    ingress,
    security_group,
    separate_ingress,
)
from templates_src.project import CONVENTIONS

ENVIRONMENT = Param("EnvironmentName", "dev or prod", allowed_values=("dev", "prod"))
LOG_RETENTION = Param("LogRetentionDays", "Days of logs kept.", type="Number", default="7",
                      allowed_values=("7", "30"))
VPC_ID = Param("VpcId", "The VPC.", type="AWS::EC2::VPC::Id")
KMS_KEY = Param("KmsKeyArn", "The project's key.")
STANDARD_TAGS = [
    {"Key": "Environment", "Value": {"Ref": "EnvironmentName"}},
    {"Key": "ManagedBy", "Value": "cloudformation"},
    {"Key": "Project", "Value": "codemate"},
]


def render(build, *params: Param) -> dict:
    """The template of a tiny layer "kit" that `build` fills, rendered with
    the catalogue `params` (plus EnvironmentName) and the project's conventions."""
    catalogue = {p.name: p for p in (ENVIRONMENT, *params)}
    return render_layers([Layer("kit", "kit example", build)], catalogue, CONVENTIONS).templates["kit"]


def properties(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"]


def task_execution_statements(*extra: Statement) -> list[Statement]:
    return [
        Statement(Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(Effect=Allow, Action=[logs.CreateLogStream, logs.PutLogEvents],
                  Resource=[Sub("${BackendLogGroup.Arn}")]),
        *extra,
    ]


# -- policies ------------------------------------------------------------------------

def test_stateful_resources_keep_their_data_with_retain_or_snapshot():
    def build(t):
        t.add(Secret("Token", Name="codemate/dev/token", **RETAIN))
        t.add(ReplicationGroup("Cache", ReplicationGroupDescription="cache", NumCacheClusters=1, **SNAPSHOT))

    template = render(build)

    assert {lid: (r["DeletionPolicy"], r["UpdateReplacePolicy"]) for lid, r in template["Resources"].items()} == {
        "Token": ("Retain", "Retain"),
        "Cache": ("Snapshot", "Snapshot"),
    }


# -- bucket --------------------------------------------------------------------------

def test_a_bucket_is_private_encrypted_kept_and_refuses_requests_without_tls():
    def build(t):
        files = t.add(bucket("FilesBucket", t.name_of("files", account=True),
                             lifecycle_rule("TierDown", ((30, "STANDARD_IA"),)), versioned=True))
        t.add(bucket_policy(files))

    template = render(build)
    files = template["Resources"]["FilesBucket"]
    props = files["Properties"]

    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
    ]}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LifecycleConfiguration"]["Rules"] == [
        {"Id": "TierDown", "Status": "Enabled", "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]},
    ]
    assert props["BucketName"] == {"Fn::Sub": "codemate-files-${EnvironmentName}-${AWS::AccountId}"}
    assert props["Tags"] == STANDARD_TAGS
    assert (files["DeletionPolicy"], files["UpdateReplacePolicy"]) == ("Retain", "Retain")

    (tls_only,) = properties(template, "FilesBucketPolicy")["PolicyDocument"]["Statement"]
    assert tls_only == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:*"],
        "Resource": [{"Fn::GetAtt": ["FilesBucket", "Arn"]}, {"Fn::Sub": "${FilesBucket.Arn}/*"}],
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }


def test_a_bucket_policy_puts_its_grants_after_the_tls_statement():
    grant = Statement(Sid="Read", Effect=Allow, Action=[ecr.BatchGetImage], Resource=["arn:aws:s3:::x/*"])

    def build(t):
        t.add(bucket_policy(t.add(bucket("LogsBucket", "logs", lifecycle_rule("Expire", ExpirationInDays=1))), grant))

    statements = properties(render(build), "LogsBucketPolicy")["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport", "Read"]


# -- log group -----------------------------------------------------------------------

def test_a_log_group_is_named_per_environment_and_keeps_logs_as_long_as_its_input_says():
    def build(t):
        log_group(t, "BackendLogGroup", "/aws/ecs/", "backend", retention_input="LogRetentionDays")

    template = render(build, LOG_RETENTION, KMS_KEY)
    group = template["Resources"]["BackendLogGroup"]

    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"] == {
        "LogGroupName": {"Fn::Sub": "/aws/ecs/codemate-backend-${EnvironmentName}"},
        "RetentionInDays": {"Ref": "LogRetentionDays"},
        "KmsKeyId": {"Ref": "KmsKeyArn"},
        "Tags": STANDARD_TAGS,
    }
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # the input keeps the catalogue's checks (its default stays in the root)
    assert template["Parameters"]["LogRetentionDays"] == {
        "Type": "Number", "Description": "Days of logs kept.", "AllowedValues": ["7", "30"],
    }


# -- role ----------------------------------------------------------------------------

def test_a_role_is_assumed_by_its_service_and_holds_its_statements_inline():
    def build(t):
        t.add(role("TaskExecutionRole", "ecs-tasks.amazonaws.com", task_execution_statements()))

    props = properties(render(build), "TaskExecutionRole")

    assert props["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": ["sts:AssumeRole"]},
    ]
    (policy,) = props["Policies"]
    assert policy["PolicyName"] == "TaskExecutionRole"
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [{"Fn::Sub": "${BackendLogGroup.Arn}"}]},
    ]
    assert props["Tags"] == STANDARD_TAGS


def test_a_role_refuses_resource_star_for_an_action_aws_scopes_to_arns():
    pull_anything = Statement(Sid="PullImages", Effect=Allow, Action=[ecr.GetAuthorizationToken, ecr.BatchGetImage],
                              Resource=["*"])

    with pytest.raises(ValueError) as refused:
        role("TaskExecutionRole", "ecs-tasks.amazonaws.com", task_execution_statements(pull_anything))

    assert str(refused.value) == (
        'role TaskExecutionRole: PullImages allows ecr:BatchGetImage on Resource "*"; scope it to ARNs '
        '(only actions AWS authorizes on "*" alone may have it: codemate_cfn/wildcard_actions.py)'
    )


def test_a_refused_role_fails_the_build_naming_the_layer_and_the_role():
    def build(t):
        t.add(role("TaskRole", "ecs-tasks.amazonaws.com",
                   [Statement(Effect=Allow, Action=[logs.PutLogEvents], Resource=["*"])]))

    with pytest.raises(BuildError, match=r'^layer kit: role TaskRole: statement 1 allows logs:PutLogEvents on Resource "\*"'):
        render(build)


def test_a_role_reads_the_one_list_of_actions_allowed_on_star():
    from awacs import xray

    made = role("Tracer", "ecs-tasks.amazonaws.com",
                [Statement(Effect=Allow, Action=[xray.PutTraceSegments], Resource=["*"])])

    assert made.title == "Tracer"  # xray:PutTraceSegments is on codemate_cfn/wildcard_actions.py's list



def test_a_role_policy_is_a_policy_of_its_own_for_the_role_that_can_wait_for_a_condition():
    def build(t):
        made = t.add(role("DeployRole", "codepipeline.amazonaws.com", task_execution_statements()))
        t.condition("Deploying", Equals(t.input("EnvironmentName"), "prod"))
        t.add(role_policy("DeployPolicy", [Ref(made)], [
            Statement(Sid="Update", Effect=Allow, Action=[ecs.UpdateService], Resource=[Sub("${Service}")]),
            Statement(Sid="Read", Effect=Allow, Action=[ecs.DescribeTaskDefinition], Resource=["*"]),
        ], Condition="Deploying"))

    made = render(build)["Resources"]["DeployPolicy"]

    assert made["Type"] == "AWS::IAM::Policy" and made["Condition"] == "Deploying"
    assert made["Properties"]["PolicyName"] == "DeployPolicy"
    assert made["Properties"]["Roles"] == [{"Ref": "DeployRole"}]
    assert [s["Sid"] for s in made["Properties"]["PolicyDocument"]["Statement"]] == ["Update", "Read"]


def test_a_role_policy_refuses_resource_star_as_a_role_does():
    with pytest.raises(ValueError) as refused:
        role_policy("DeployPolicy", [], [Statement(Effect=Allow, Action=[ecs.UpdateService], Resource=["*"])])

    assert str(refused.value).startswith('policy DeployPolicy: statement 1 allows ecs:UpdateService on Resource "*"')

# -- security groups -----------------------------------------------------------------

def test_security_group_rules_name_their_port_and_peer_and_are_described():
    def build(t):
        app = security_group(t, "AppSecurityGroup", "app-sg", "app tasks", [], [egress(443, ANYWHERE, "HTTPS out")])
        app_id = GetAtt(app, "GroupId")
        db = security_group(t, "DbSecurityGroup", "db-sg", "database",
                            [ingress(5432, app_id, "PostgreSQL from the app")], [NO_EGRESS])
        t.add(separate_ingress("AppFromDb", app_id, 8080, GetAtt(db, "GroupId"), "callbacks from the database"))

    template = render(build, VPC_ID)
    app, db = properties(template, "AppSecurityGroup"), properties(template, "DbSecurityGroup")

    assert app["GroupName"] == {"Fn::Sub": "codemate-app-sg-${EnvironmentName}"}
    assert app["VpcId"] == {"Ref": "VpcId"}
    assert "SecurityGroupIngress" not in app
    assert app["SecurityGroupEgress"] == [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "HTTPS out"},
    ]
    assert db["SecurityGroupIngress"] == [
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "Description": "PostgreSQL from the app",
         "SourceSecurityGroupId": {"Fn::GetAtt": ["AppSecurityGroup", "GroupId"]}},
    ]
    assert db["SecurityGroupEgress"][0]["Description"].startswith("No outbound traffic")
    assert properties(template, "AppFromDb") == {
        "GroupId": {"Fn::GetAtt": ["AppSecurityGroup", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 8080,
        "ToPort": 8080, "SourceSecurityGroupId": {"Fn::GetAtt": ["DbSecurityGroup", "GroupId"]},
        "Description": "callbacks from the database",
    }


@pytest.mark.parametrize("make", [ingress, egress])
@pytest.mark.parametrize("description", ["", "   "])
def test_a_security_group_rule_without_a_description_is_refused(make, description):
    with pytest.raises(ValueError, match=r"on port 443 to or from 0\.0\.0\.0/0: a description is required"):
        make(443, ANYWHERE, description)


def test_a_security_group_without_egress_rules_is_refused():
    def build(t):
        security_group(t, "OpenSecurityGroup", "open-sg", "would get AWS's allow-all egress", [], [])

    with pytest.raises(BuildError, match=r"security group OpenSecurityGroup: egress must be explicit"):
        render(build, VPC_ID)


# -- a cfn-lint check ignored, with its reason ------------------------------------------

def test_a_check_is_ignored_on_its_resource_with_the_reason_beside_it_and_other_metadata_kept():
    def build(t):
        topic = Topic("Alerts", TopicName="alerts", Metadata={"checkov": {"skip": [{"id": "CKV_AWS_26",
                                                                                   "comment": "scanner's"}]}})
        t.add(ignore_check(ignore_check(topic, "I1022", "Named as the design says."), "W3005", "Kept for order."))

    assert render(build)["Resources"]["Alerts"]["Metadata"] == {
        "checkov": {"skip": [{"id": "CKV_AWS_26", "comment": "scanner's"}]},
        "cfn-lint": {"config": {"ignore_checks": ["I1022", "W3005"]}},
        "codemate": {"cfn-lint-reasons": {"I1022": "Named as the design says.", "W3005": "Kept for order."}},
    }
    with pytest.raises(ValueError, match="ignoring I1022 on Alerts: give the reason"):
        ignore_check(Topic("Alerts"), "I1022", "  ")


# -- all together, as cfn-lint sees it ----------------------------------------------------

def test_a_layer_made_of_every_block_lints_clean(tmp_path):
    from codemate_cfn.compile.build import INCLUDED_CHECKS, RULES_DIRS
    from codemate_cfn.compile.lint import Setup, failing, lint_templates
    from codemate_cfn.compile.rules import MANDATORY_RULES, rule_config

    def build(t):
        t.add(bucket_policy(t.add(bucket("FilesBucket", t.name_of("files", account=True),
                                         lifecycle_rule("Expire", ExpirationInDays=30)))))
        log_group(t, "BackendLogGroup", "/aws/ecs/", "backend", retention_input="LogRetentionDays")
        t.add(role("TaskExecutionRole", "ecs-tasks.amazonaws.com", task_execution_statements()))
        security_group(t, "AlbSecurityGroup", "alb-sg", "load balancer", [ingress(443, ANYWHERE, "HTTPS in")], [NO_EGRESS])

    catalogue = {p.name: p for p in (ENVIRONMENT, LOG_RETENTION, VPC_ID, KMS_KEY)}
    rendered = render_layers([Layer("kit", "kit example", build)], catalogue, CONVENTIONS)
    paths = []
    for name, template in rendered.templates.items():
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(to_json(template))

    # cfn-lint's rules and the project's policies alike
    setup = Setup(regions=CONVENTIONS.regions, rules_dirs=tuple(map(str, RULES_DIRS)), configure=rule_config(CONVENTIONS),
                  include=INCLUDED_CHECKS, mandatory=MANDATORY_RULES)
    assert failing(lint_templates(paths, setup=setup).findings) == []


# -- borders -------------------------------------------------------------------------------

def encryption_by_default(bucket_properties: dict) -> list[dict]:
    return [rule["ServerSideEncryptionByDefault"]
            for rule in bucket_properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]]


def test_the_bootstrap_bucket_is_as_private_as_the_storage_buckets_and_tagged_like_the_project():
    storage = templates()["storage"]["Resources"]
    artifacts = bootstrap.template()["Resources"]["ArtifactBucket"]["Properties"]

    for name in ("FilesBucket", "StaticBucket", "LogsBucket"):
        ours = storage[name]["Properties"]
        assert artifacts["PublicAccessBlockConfiguration"] == ours["PublicAccessBlockConfiguration"]
        assert encryption_by_default(artifacts) == encryption_by_default(ours) == [{"SSEAlgorithm": "AES256"}]
    # no Environment tag: the artifact bucket serves every environment in the account
    assert artifacts["Tags"] == [{"Key": "ManagedBy", "Value": "cloudformation"}, {"Key": "Project", "Value": "codemate"}]
    assert bootstrap.tags() == {"Project": "codemate", "ManagedBy": "cloudformation"}


def imports(path: Path) -> list[tuple[str, int]]:
    """(module, line) for every import in `path`: `from a import b` counts as
    a.b when a.b is a module, else as a; relative imports start with dots."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                whole = f"{module}.{alias.name}"
                found.append((whole if node.level == 0 and _is_module(whole) else module, node.lineno))
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


# The compiler's own AWS resource: the root template nests one stack per layer.
COMPILER_RESOURCE_MODULES = {"troposphere.cloudformation"}
# The deployer's own stack (the artifact bucket) is made of resources, like a layer.
DEPLOYER_OWN_STACK = Path("codemate_cfn/deploy/bootstrap.py")


def test_the_compiler_imports_no_aws_resource_module():
    found = []
    for path in sorted((ROOT / "codemate_cfn").rglob("*.py")):
        if path.relative_to(ROOT) == DEPLOYER_OWN_STACK:
            continue
        for module, line in imports(path):
            resource_module = module.startswith("troposphere.") and module not in COMPILER_RESOURCE_MODULES
            if resource_module or module.split(".")[0] == "awacs":
                found.append(f"{path.relative_to(ROOT)} line {line}: {module}")

    assert found == []


def test_the_bootstrap_stack_is_the_one_place_in_the_compiler_that_imports_templates_src():
    found = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "codemate_cfn").rglob("*.py"))
             if any(module.split(".")[0] == "templates_src" for module, _ in imports(path))]

    assert found == [str(DEPLOYER_OWN_STACK)]


def test_templates_src_imports_only_codemate_cfn_layer_and_its_own_modules_relatively():
    found = []
    for path in sorted((ROOT / "templates_src").rglob("*.py")):
        for module, line in imports(path):
            top = module.split(".")[0]
            if (top == "codemate_cfn" and module != "codemate_cfn.layer") or top == "templates_src":
                found.append(f"{path.relative_to(ROOT)} line {line}: {module}")

    assert found == []
