"""Who may do what on which ARN: every IAM role of every layer, with its
inline policies, the managed policies attached to it and the policies that
are resources of their own (AWS::IAM::Policy, ManagedPolicy, RolePolicy),
read the way one environment deploys it, as rows

    (role, effect, action, resource, condition)

and compared with the table written out below. A grant that widens (a new
action, a broader ARN, a dropped condition, a new role) fails here and is
read in review. ARNs are shown as the environment resolves them; what only
AWS knows is written ${layer:Resource.Attribute} (an input that another
layer's output feeds is followed to that layer), ${AWS::...} for pseudo
parameters. The trust policies (which service assumes each role) are
compared the same way.

The variants are the environments where roles differ: the pipeline's
deploy policy exists once both image tags are set; CloudFront and the
account baseline (CloudTrail, GuardDuty) add no role, which is checked too."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import NamedTuple

import pytest

from codemate_cfn.compile.layout import nested_names
from codemate_cfn.deploy.conditions import NO_VALUE
from layer_values import Environment, templates

TAG = "3f2a9c1"
IMAGES = {"FrontendImageTag": TAG, "BackendImageTag": TAG}
CLOUDFRONT = {"EnableCloudFront": "true",
              "CloudFrontCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}

# name -> (parameter file, overrides)
VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev with images": ("dev", IMAGES),
    "prod with images": ("prod", IMAGES),
    "prod with images and CloudFront": ("prod", {**IMAGES, **CLOUDFRONT}),
    "prod without the account baseline": ("prod", {"EnableAccountBaseline": "false"}),
    "dev with the account baseline and images": ("dev", {**IMAGES, "EnableAccountBaseline": "true"}),
}
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}


class Row(NamedTuple):
    who: str  # layer/RoleLogicalId
    effect: str
    action: str
    resource: str
    condition: str = ""


# -- reading the templates ---------------------------------------------------

class View:
    """Every layer of one variant, with the root's wiring to follow inputs."""

    def __init__(self, env: str, overrides: dict):
        self.env, self.overrides = env, overrides
        root = templates()["root"]
        self.layer_of_stack = nested_names(root)
        self.wiring = {self.layer_of_stack[lid]: r["Properties"].get("Parameters", {})
                       for lid, r in root["Resources"].items() if lid in self.layer_of_stack}
        self.layers = {name: Environment(name, env, **overrides) for name in self.wiring}

    def show(self, layer: str, value) -> str:
        """A value of `layer`'s template as text: resolved for this variant,
        inputs from other layers followed to the value they come from."""
        return self._text(layer, self.layers[layer].context.resolve(value))

    def _text(self, layer: str, value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return ",".join(self._text(layer, v) for v in value)
        if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
            parts = value["Fn::Sub"]
            return "".join(self._text(layer, p) for p in (parts if isinstance(parts, list) else [parts]))
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name.startswith("AWS::"):
                return "${%s}" % name
            view = self.layers[layer]
            if name in view.template.get("Parameters", {}):
                return self._input(layer, name)
            return "${%s:%s}" % (layer, name)
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            target, attribute = value["Fn::GetAtt"]
            return "${%s:%s.%s}" % (layer, target, attribute)
        return json.dumps(value, sort_keys=True)  # anything else is shown as it is, to be read

    def _input(self, layer: str, name: str) -> str:
        """Where the root wires `layer`'s input `name` from: another layer's
        output (followed) or a root parameter no value was given for."""
        source = self.wiring[layer].get(name)
        if isinstance(source, dict) and "Fn::GetAtt" in source:
            stack, output = source["Fn::GetAtt"]
            producer = self.layer_of_stack[stack]
            return self.show(producer, templates()[producer]["Outputs"][output.removeprefix("Outputs.")]["Value"])
        return "${%s}" % name

    def condition_text(self, layer: str, condition) -> str:
        if not condition:
            return ""
        return " and ".join(f"{key} {operator} {self.show(layer, value)}"
                            for operator, tests in sorted(condition.items())
                            for key, value in sorted(tests.items()))


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statement_rows(view: View, layer: str, who: str, document: dict) -> set[Row]:
    rows = set()
    for statement in as_list(document["Statement"]):
        assert "NotAction" not in statement and "NotResource" not in statement, f"{who}: Not* widens everything"
        condition = view.condition_text(layer, statement.get("Condition"))
        for action in as_list(statement["Action"]):
            for resource in as_list(view.layers[layer].context.resolve(statement["Resource"])):
                if resource is not NO_VALUE:
                    rows.add(Row(who, statement["Effect"], action, view._text(layer, resource), condition))
    return rows


def trust_rows(view: View, layer: str, who: str, document: dict) -> set[Row]:
    rows = set()
    for statement in as_list(document["Statement"]):
        for kind, principals in statement["Principal"].items():
            for principal in as_list(principals):
                for action in as_list(statement["Action"]):
                    rows.add(Row(who, statement["Effect"], action, f"{kind}:{view.show(layer, principal)}",
                                 view.condition_text(layer, statement.get("Condition"))))
    return rows


def managed_rows(view: View, layer: str, who: str, arns) -> set[Row]:
    """A managed policy attached to a role (ManagedPolicyArns): one row naming
    it, since what an AWS managed policy allows is AWS's to change."""
    return {Row(who, "Allow", "(managed policy)", view._text(layer, arn))
            for arn in view.layers[layer].context.resolve(arns)}


@lru_cache(maxsize=None)
def read(variant: str) -> tuple[frozenset[Row], frozenset[Row]]:
    """(permission rows, trust rows) of every role in every layer of `variant`."""
    view = View(*VARIANTS[variant])
    permissions, trust = set(), set()
    for layer, env in view.layers.items():
        for lid, resource in env.template["Resources"].items():
            kind = resource["Type"]
            if not kind.startswith("AWS::IAM::") or not env.exists(lid):
                continue
            assert kind in IAM_TYPES, f"{layer}/{lid}: {kind} is not read by this test; read it"
            props = env.template["Resources"][lid]["Properties"]
            if kind == "AWS::IAM::Role":
                who = f"{layer}/{lid}"
                trust |= trust_rows(view, layer, who, props["AssumeRolePolicyDocument"])
                for policy in props.get("Policies", []):
                    permissions |= statement_rows(view, layer, who, policy["PolicyDocument"])
                permissions |= managed_rows(view, layer, who, props.get("ManagedPolicyArns", []))
            else:
                roles = props.get("Roles", []) if kind != "AWS::IAM::RolePolicy" else [props["RoleName"]]
                for role in roles:
                    assert set(role) == {"Ref"}, f"{layer}/{lid}: a policy of a role of another stack"
                    permissions |= statement_rows(view, layer, f"{layer}/{role['Ref']}", props["PolicyDocument"])
    return frozenset(permissions), frozenset(trust)


# -- the table ---------------------------------------------------------------

KEY = "${storage:KmsKey.Arn}"
TASK_DEFINITIONS = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/codemate-%s-%s:*"


def grants(who: str, *entries) -> set[Row]:
    """Rows of `who` from (actions, resources[, condition]) entries, all Allow."""
    rows = set()
    for actions, resources, *condition in entries:
        for action in as_list(actions):
            for resource in as_list(resources):
                rows.add(Row(who, "Allow", action, resource, *condition))
    return rows


def build_role(image: str) -> set[Row]:
    """A CodeBuild project's role: its log group, ECR login and push to its
    own repository, the pipeline's artifacts with the project key."""
    return grants(
        f"pipeline/{image}BuildRole",
        (["logs:CreateLogStream", "logs:PutLogEvents"], "${pipeline:%sBuildLogGroup.Arn}" % image),
        ("ecr:GetAuthorizationToken", "*"),
        (["ecr:DescribeImages", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
          "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"],
         "${storage:%sRepository.Arn}" % image),
        *ARTIFACTS,
    )


ARTIFACTS = (
    (["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], "${pipeline:ArtifactBucket.Arn}/*"),
    (["s3:GetBucketLocation", "s3:GetBucketVersioning"], "${pipeline:ArtifactBucket.Arn}"),
    (["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], KEY),
)


def expected_permissions(env: str, images: bool) -> set[Row]:
    rows = grants(
        "data/DbMonitoringRole",  # RDS enhanced monitoring: AWS's own policy for it, nothing else
        ("(managed policy)", "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"),
    ) | grants(
        "services/TaskExecutionRole",
        ("ecr:GetAuthorizationToken", "*"),
        (["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
         ["${storage:FrontendRepository.Arn}", "${storage:BackendRepository.Arn}"]),
        (["logs:CreateLogStream", "logs:PutLogEvents"],
         ["${services:FrontendLogGroup.Arn}", "${services:BackendLogGroup.Arn}"]),
        ("secretsmanager:GetSecretValue", ["${data:DatabaseSecret}", "${data:NextAuthSecret}",
                                           "${data:AnthropicSecret}", "${data:GithubOAuthSecret}",
                                           "${data:RedisAuthTokenSecret}"]),
        ("kms:Decrypt", KEY),
    ) | grants(
        "services/BackendTaskRole",
        (["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "${storage:FilesBucket.Arn}/*"),
        ("s3:ListBucket", "${storage:FilesBucket.Arn}"),
    ) | build_role("Frontend") | build_role("Backend") | grants(
        "pipeline/PipelineRole",
        *ARTIFACTS,
        (["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
         ["${pipeline:FrontendBuild.Arn}", "${pipeline:BackendBuild.Arn}"]),
        (["codestar-connections:UseConnection", "codeconnections:UseConnection"],
         "${pipeline:GitHubConnection.ConnectionArn}"),
    )
    if images:  # PipelineDeployPolicy: the ECS deploy stage, once both services exist
        families = [TASK_DEFINITIONS % (service, env) for service in ("frontend", "backend")]
        rows |= grants(
            "pipeline/PipelineRole",
            (["ecs:DescribeServices", "ecs:UpdateService"], ["${services:FrontendService}", "${services:BackendService}"]),
            ("ecs:RegisterTaskDefinition", families),
            ("ecs:TagResource", families, "ecs:CreateAction StringEquals RegisterTaskDefinition"),
            ("ecs:DescribeTaskDefinition", "*"),
            ("iam:PassRole", ["${services:TaskExecutionRole.Arn}", "${services:BackendTaskRole.Arn}"],
             "iam:PassedToService StringEquals ecs-tasks.amazonaws.com"),
        )
    return rows


TRUSTED = {
    "data/DbMonitoringRole": "monitoring.rds.amazonaws.com",
    "services/TaskExecutionRole": "ecs-tasks.amazonaws.com",
    "services/BackendTaskRole": "ecs-tasks.amazonaws.com",
    "pipeline/FrontendBuildRole": "codebuild.amazonaws.com",
    "pipeline/BackendBuildRole": "codebuild.amazonaws.com",
    "pipeline/PipelineRole": "codepipeline.amazonaws.com",
}


# -- the tests -----------------------------------------------------------------

def difference(found: set[Row], expected: set[Row]) -> str:
    lines = [f"  granted, not in the table: {row}" for row in sorted(found - expected)]
    lines += [f"  in the table, not granted: {row}" for row in sorted(expected - found)]
    return "\n".join(lines)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_role_may_do_only_what_the_table_says_on_the_arns_it_names(variant):
    env, overrides = VARIANTS[variant]
    found, _ = read(variant)
    expected = expected_permissions(env, images=overrides.get("FrontendImageTag") == TAG)
    assert set(found) == expected, f"{variant}:\n{difference(set(found), expected)}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_role_is_assumed_by_its_one_service_only(variant):
    _, trust = read(variant)
    assert set(trust) == {Row(who, "Allow", "sts:AssumeRole", f"Service:{service}")
                          for who, service in TRUSTED.items()}


def test_the_table_names_a_grant_on_every_role_every_variant_has():
    """Every role in TRUSTED has grants in every variant, and nothing grants
    a role the table does not name."""
    for variant in VARIANTS:
        found, _ = read(variant)
        assert {row.who for row in found} == set(TRUSTED), variant


def test_resource_star_is_only_for_actions_aws_authorizes_on_star_alone():
    from codemate_cfn.wildcard_actions import STAR_ONLY_ACTIONS

    found, _ = read("prod with images")
    assert sorted({row.action for row in found if row.resource == "*"}) == [
        "ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"]
    assert all(row.action.lower() in STAR_ONLY_ACTIONS for row in found if row.resource == "*")


def test_a_widened_grant_shows_as_a_row_the_table_lacks():
    """The reading itself: the backend given s3:* on the files bucket's
    objects, and PassRole without its condition, are rows the table lacks."""
    view = View("prod", IMAGES)
    everything_on_files = {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::Sub": "${FilesBucketArn}/*"}}
    pass_anywhere = {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [{"Ref": "BackendTaskRoleArn"}]}
    rows = (statement_rows(view, "services", "services/BackendTaskRole", {"Statement": [everything_on_files]})
            | statement_rows(view, "pipeline", "pipeline/PipelineRole", {"Statement": [pass_anywhere]}))
    expected = expected_permissions("prod", images=True)
    assert rows - expected == {
        Row("services/BackendTaskRole", "Allow", "s3:*", "${storage:FilesBucket.Arn}/*"),
        Row("pipeline/PipelineRole", "Allow", "iam:PassRole", "${services:BackendTaskRole.Arn}"),
    }


def test_an_attached_managed_policy_is_a_row_of_its_own():
    view = View("dev", {})
    arn = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"}
    assert managed_rows(view, "data", "data/DbMonitoringRole", [arn]) == {
        Row("data/DbMonitoringRole", "Allow", "(managed policy)",
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")}
