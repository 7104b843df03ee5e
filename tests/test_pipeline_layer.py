"""The pipeline layer as each environment sees it: the GitHub connection,
the two CodeBuild projects and what their buildspec does (run in bash with
stand-ins for aws and docker), the pipeline's stages per environment and
per image tags, its encrypted artifact store, and roles that reach only
what building and deploying need."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from codemate_cfn.wildcard_actions import STAR_ONLY_ACTIONS
from layer_values import Environment

TAG = "3f2a9c1"
COMMIT = "3f2a9c1d5e6f708192a3b4c5d6e7f8091a2b3c4d"
CONNECTION = "arn:aws:codestar-connections:ap-northeast-2:123456789012:connection/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
BRANCH = {"dev": "develop", "prod": "main"}
RETENTION = {"dev": "7", "prod": "30"}
IMAGES = {"Frontend": "frontend", "Backend": "backend"}  # image -> its container and source directory
REGISTRY = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com"


def with_images(env: str, **overrides) -> Environment:
    """The layer once both image tags are set: the services exist."""
    return Environment("pipeline", env, FrontendImageTag=TAG, BackendImageTag=TAG, **overrides)


def stages(view: Environment) -> dict[str, list[dict]]:
    """Stage name -> its actions, in the pipeline's order."""
    return {stage["Name"]: stage["Actions"] for stage in view.props("Pipeline")["Stages"]}


def by_name(actions: list[dict]) -> dict[str, dict]:
    return {a["Name"]: a for a in actions}


def statements(view: Environment, logical_id: str) -> dict[str, dict]:
    """Sid -> statement of a role's inline policy or of a policy resource."""
    props = view.props(logical_id)
    document = props["Policies"][0]["PolicyDocument"] if "Policies" in props else props["PolicyDocument"]
    return {s["Sid"]: s for s in document["Statement"]}


def spec_of(view: Environment, title: str) -> dict:
    return json.loads(view.props(f"{title}Build")["Source"]["BuildSpec"])


# -- the connection ------------------------------------------------------------------

def test_a_connection_is_created_when_the_file_names_none(pipeline):
    assert pipeline.values["CodeStarConnectionArn"] == ""
    made = pipeline.props("GitHubConnection")
    assert made["ConnectionName"] == f"codemate-github-{pipeline.env}"
    assert made["ProviderType"] == "GitHub"
    source = by_name(stages(pipeline)["Source"])["GitHub"]
    assert source["Configuration"]["ConnectionArn"] == {"Fn::GetAtt": ["GitHubConnection", "ConnectionArn"]}
    assert pipeline.output("GitHubConnectionArn") == {"Fn::GetAtt": ["GitHubConnection", "ConnectionArn"]}


def test_the_files_connection_is_used_as_it_is_and_none_is_created(pipeline):
    view = Environment("pipeline", pipeline.env, CodeStarConnectionArn=CONNECTION)
    assert not view.exists("GitHubConnection")
    assert by_name(stages(view)["Source"])["GitHub"]["Configuration"]["ConnectionArn"] == CONNECTION
    assert statements(view, "PipelineRole")["ReadGitHub"]["Resource"] == [CONNECTION]
    assert view.output("GitHubConnectionArn") == CONNECTION


# -- the build projects --------------------------------------------------------------

@pytest.mark.parametrize("title", IMAGES)
def test_each_image_has_a_privileged_small_project_of_the_environment_encrypted_with_the_project_key(pipeline, title):
    name = IMAGES[title]
    project = pipeline.props(f"{title}Build")
    assert project["Name"] == f"codemate-{name}-build-{pipeline.env}"
    assert project["Source"]["Type"] == project["Artifacts"]["Type"] == "CODEPIPELINE"
    box = project["Environment"]
    assert box["ComputeType"] == "BUILD_GENERAL1_SMALL"
    assert box["PrivilegedMode"] is True
    assert {v["Name"]: v["Value"] for v in box["EnvironmentVariables"]} == {
        "REPOSITORY_URI": {"Ref": f"{title}RepositoryUri"}, "REPOSITORY_NAME": {"Ref": f"{title}RepositoryName"}}
    assert project["EncryptionKey"] == {"Ref": "KmsKeyArn"}
    assert project["ServiceRole"] == {"Fn::GetAtt": [f"{title}BuildRole", "Arn"]}


@pytest.mark.parametrize("title", IMAGES)
def test_build_logs_go_to_a_kept_log_group_of_the_environment_with_its_retention(pipeline, title):
    group = pipeline.resource(f"{title}BuildLogGroup")
    assert group["Properties"]["LogGroupName"] == f"/aws/codebuild/codemate-{IMAGES[title]}-build-{pipeline.env}"
    assert group["Properties"]["RetentionInDays"] == RETENTION[pipeline.env]
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"
    logs = pipeline.props(f"{title}Build")["LogsConfig"]["CloudWatchLogs"]
    assert logs == {"Status": "ENABLED", "GroupName": {"Ref": f"{title}BuildLogGroup"}}


@pytest.mark.parametrize("title", IMAGES)
def test_the_buildspec_builds_dockerfile_prod_in_the_images_directory_and_pushes_only_the_commit_tag(pipeline, title):
    name = IMAGES[title]
    spec = spec_of(pipeline, title)
    assert spec["version"] == 0.2 and spec["env"]["shell"] == "bash"
    assert spec["artifacts"] == {"files": ["imagedefinitions.json"]}
    pre_build, build = spec["phases"]["pre_build"]["commands"], spec["phases"]["build"]["commands"]
    assert "IMAGE_TAG=${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}" in pre_build
    assert any("aws ecr get-login-password" in c and "docker login" in c for c in pre_build)
    [push] = [c for c in build if "docker push" in c]
    assert f"docker build -f {name}/Dockerfile.prod -t $REPOSITORY_URI:$IMAGE_TAG {name} " in push
    assert push.startswith("if aws ecr describe-images --repository-name $REPOSITORY_NAME "
                           "--image-ids imageTag=$IMAGE_TAG")
    assert "latest" not in json.dumps(spec)


def test_the_imagedefinitions_name_the_containers_of_the_services_task_definitions(pipeline):
    services = Environment("services", pipeline.env, FrontendImageTag=TAG, BackendImageTag=TAG)
    for title, name in IMAGES.items():
        [container] = services.props(f"{title}TaskDefinition")["ContainerDefinitions"]
        assert container["Name"] == name
        [write] = [c for c in spec_of(pipeline, title)["phases"]["build"]["commands"] if "imagedefinitions" in c]
        assert f'"name": "{name}"' in write


# -- the buildspec, run --------------------------------------------------------------

FAKE_AWS = """#!/bin/bash
echo "aws $*" >> "$CALLS"
case "$1 $2" in
  "ecr get-login-password") echo token ;;
  "ecr describe-images")
    for tag in $PRESENT; do [[ " $* " == *" imageTag=$tag "* ]] && { echo '{"imageDetails": [{}]}'; exit 0; }; done
    echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation" >&2; exit 254 ;;
  *) echo "unexpected aws call: $*" >&2; exit 2 ;;
esac
"""
FAKE_DOCKER = """#!/bin/bash
echo "docker $*" >> "$CALLS"
[ "$1" = login ] && cat > /dev/null
[ "$1" = "$FAIL" ] && exit 1
exit 0
"""


def run_buildspec(spec: dict, where: Path, commit: str, present: str = "",
                  fail: str = "") -> tuple[int, str, list[str]]:
    """The buildspec's phases as CodeBuild runs them: one bash, each command's
    exit status checked; aws and docker are stand-ins that record their
    calls. (exit status, stderr, calls)."""
    bin_dir, src = where / "bin", where / "src"
    bin_dir.mkdir()
    src.mkdir()
    for tool, text in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER)):
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    script = []
    for phase in ("pre_build", "build"):
        for command in spec["phases"][phase]["commands"]:
            script += [command, 'rc=$?; [ $rc -eq 0 ] || exit $rc']
    calls = where / "calls"
    calls.touch()
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "PRESENT": present, "FAIL": fail,
           "CODEBUILD_RESOLVED_SOURCE_VERSION": commit, "AWS_DEFAULT_REGION": "ap-northeast-2",
           "REPOSITORY_URI": f"{REGISTRY}/codemate-frontend-dev", "REPOSITORY_NAME": "codemate-frontend-dev"}
    assert spec["env"]["shell"] == "bash"
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=src, env=env, capture_output=True, text=True,
                          timeout=60)
    return done.returncode, done.stderr, calls.read_text().splitlines()


def definitions(where: Path) -> list[dict] | None:
    found = where / "src" / "imagedefinitions.json"
    return json.loads(found.read_text()) if found.exists() else None


@pytest.mark.subprocess
@pytest.mark.parametrize("title", IMAGES)
def test_a_new_commit_is_built_tagged_with_its_short_hash_pushed_and_defined(pipeline, title, tmp_path):
    name, image = IMAGES[title], f"{REGISTRY}/codemate-frontend-dev:{TAG}"
    status, _err, calls = run_buildspec(spec_of(pipeline, title), tmp_path, COMMIT)
    assert status == 0
    login, rest = calls[:2], calls[2:]  # the two ends of one pipe: either may record first
    assert sorted(login) == ["aws ecr get-login-password --region ap-northeast-2",
                             f"docker login --username AWS --password-stdin {REGISTRY}"]
    assert rest == [
        f"aws ecr describe-images --repository-name codemate-frontend-dev --image-ids imageTag={TAG}",
        f"docker build -f {name}/Dockerfile.prod -t {image} {name}",
        f"docker push {image}",
    ]
    assert definitions(tmp_path) == [{"name": name, "imageUri": image}]


@pytest.mark.subprocess
@pytest.mark.parametrize("title", IMAGES)
def test_a_commit_whose_tag_is_there_already_is_not_pushed_again_and_still_deploys(pipeline, title, tmp_path):
    status, _err, calls = run_buildspec(spec_of(pipeline, title), tmp_path, COMMIT, present=f"0000000 {TAG}")
    assert status == 0
    assert not [c for c in calls if c.startswith(("docker build", "docker push"))]
    assert definitions(tmp_path) == [{"name": IMAGES[title], "imageUri": f"{REGISTRY}/codemate-frontend-dev:{TAG}"}]


@pytest.mark.subprocess
def test_without_a_commit_hash_the_build_fails_saying_so_before_anything_else(pipeline, tmp_path):
    status, err, calls = run_buildspec(spec_of(pipeline, "Backend"), tmp_path, "")
    assert status != 0
    assert "no commit hash" in err
    assert calls == [] and definitions(tmp_path) is None


@pytest.mark.subprocess
def test_a_failed_docker_build_fails_the_build_and_pushes_nothing(pipeline, tmp_path):
    status, _err, calls = run_buildspec(spec_of(pipeline, "Frontend"), tmp_path, COMMIT, fail="build")
    assert status != 0
    assert not [c for c in calls if c.startswith("docker push")]
    assert definitions(tmp_path) is None


# -- the pipeline --------------------------------------------------------------------

def test_the_pipeline_is_v2_named_per_environment_with_an_encrypted_artifact_store(pipeline):
    made = pipeline.props("Pipeline")
    assert made["Name"] == f"codemate-pipeline-{pipeline.env}"
    assert made["PipelineType"] == "V2"
    assert made["RoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}
    assert made["ArtifactStore"] == {"Type": "S3", "Location": {"Ref": "ArtifactBucket"},
                                     "EncryptionKey": {"Id": {"Ref": "KmsKeyArn"}, "Type": "KMS"}}


def test_the_artifact_bucket_is_private_kept_expires_old_artifacts_and_refuses_plain_http(pipeline):
    made = pipeline.resource("ArtifactBucket")
    props = made["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "codemate-pipeline-artifacts-%s-${AWS::AccountId}" % pipeline.env}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert made["DeletionPolicy"] == made["UpdateReplacePolicy"] == "Retain"
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == 30
    [deny] = pipeline.props("ArtifactBucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "KmsKeyArn"}},
                          "BucketKeyEnabled": True}  # the project key, for anything written there


def test_a_push_to_the_environments_branch_of_the_repository_starts_it(pipeline):
    branch = BRANCH[pipeline.env]
    [source] = stages(pipeline)["Source"]
    assert source["Name"] == "GitHub"
    assert source["ActionTypeId"] == {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection",
                                      "Version": "1"}
    config = source["Configuration"]
    assert (config["FullRepositoryId"], config["BranchName"]) == ("Nharu/codemate", branch)
    assert source["OutputArtifacts"] == [{"Name": "Source"}]
    [trigger] = pipeline.props("Pipeline")["Triggers"]
    assert trigger == {"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {
        "SourceActionName": "GitHub", "Push": [{"Branches": {"Includes": [branch]}}]}}


def test_the_build_stage_runs_both_projects_on_the_source(pipeline):
    builds = by_name(stages(pipeline)["Build"])
    assert set(builds) == set(IMAGES)
    for title, build in builds.items():
        assert build["ActionTypeId"]["Provider"] == "CodeBuild"
        assert build["Configuration"] == {"ProjectName": {"Ref": f"{title}Build"}}
        assert build["InputArtifacts"] == [{"Name": "Source"}]
        assert build["OutputArtifacts"] == [{"Name": f"{title}Image"}]


def test_before_the_image_tags_are_set_there_is_nothing_to_deploy(pipeline):
    expected = {"dev": ["Source", "Build"], "prod": ["Source", "Build", "Approval"]}[pipeline.env]
    assert list(stages(pipeline)) == expected
    assert not pipeline.exists("PipelineDeployPolicy")
    one_tag = Environment("pipeline", pipeline.env, FrontendImageTag=TAG)
    assert "Deploy" not in stages(one_tag) and not one_tag.exists("PipelineDeployPolicy")


def test_with_both_tags_set_it_deploys_both_services_after_prods_approval(pipeline):
    view = with_images(pipeline.env)
    expected = {"dev": ["Source", "Build", "Deploy"], "prod": ["Source", "Build", "Approval", "Deploy"]}[pipeline.env]
    assert list(stages(view)) == expected
    deploys = by_name(stages(view)["Deploy"])
    assert set(deploys) == set(IMAGES)
    for title, deploy in deploys.items():
        assert deploy["ActionTypeId"] == {"Category": "Deploy", "Owner": "AWS", "Provider": "ECS", "Version": "1"}
        config = deploy["Configuration"]
        assert config["ClusterName"] == {"Ref": "ClusterName"}
        assert config["ServiceName"] == {"Ref": f"{title}ServiceName"}
        assert config["FileName"] == "imagedefinitions.json"
        assert deploy["InputArtifacts"] == [{"Name": f"{title}Image"}]


def test_the_approval_is_a_manual_one_and_only_where_the_file_asks_for_it(pipeline):
    asks = pipeline.values["RequireManualApproval"] == "true"
    assert asks == (pipeline.env == "prod")
    assert ("Approval" in stages(pipeline)) == asks
    if asks:
        [approve] = stages(pipeline)["Approval"]
        assert approve["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual",
                                           "Version": "1"}
    flipped = Environment("pipeline", pipeline.env, RequireManualApproval="false" if asks else "true")
    assert ("Approval" in stages(flipped)) != asks


# -- roles ---------------------------------------------------------------------------

def every_statement(view: Environment) -> list[dict]:
    found = []
    for logical_id in [*view.of_type("AWS::IAM::Role"), *view.of_type("AWS::IAM::Policy")]:
        found += statements(view, logical_id).values()
    return found


def test_no_statement_allows_anything_on_star_but_what_aws_authorizes_on_star_alone(pipeline):
    view = with_images(pipeline.env)
    on_star = [s for s in every_statement(view) if "*" in s["Resource"]]
    assert {a for s in on_star for a in s["Action"]} == {"ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"}
    assert all(a.lower() in STAR_ONLY_ACTIONS for s in on_star for a in s["Action"])


@pytest.mark.parametrize("title", IMAGES)
def test_a_build_role_pushes_to_its_own_repository_and_writes_its_own_log_group(pipeline, title):
    granted = statements(pipeline, f"{title}BuildRole")
    assert granted["PushImage"]["Resource"] == [{"Ref": f"{title}RepositoryArn"}]
    assert {"ecr:PutImage", "ecr:DescribeImages", "ecr:CompleteLayerUpload"} <= set(granted["PushImage"]["Action"])
    assert granted["BuildLogs"]["Resource"] == [{"Fn::GetAtt": [f"{title}BuildLogGroup", "Arn"]}]
    assert granted["Artifacts"]["Resource"] == [{"Fn::Sub": "${ArtifactBucket.Arn}/*"}]
    assert granted["ArtifactKey"]["Resource"] == [{"Ref": "KmsKeyArn"}]
    assert pipeline.props(f"{title}BuildRole")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "codebuild.amazonaws.com"}


def test_the_pipeline_role_runs_the_two_builds_reads_github_and_uses_the_artifacts(pipeline):
    granted = statements(pipeline, "PipelineRole")
    assert granted["RunBuilds"]["Action"] == ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]
    assert granted["RunBuilds"]["Resource"] == [{"Fn::GetAtt": [f"{t}Build", "Arn"]} for t in IMAGES]
    assert set(granted["ReadGitHub"]["Action"]) == {"codestar-connections:UseConnection",
                                                     "codeconnections:UseConnection"}
    assert granted["Artifacts"]["Resource"] == [{"Fn::Sub": "${ArtifactBucket.Arn}/*"}]
    assert granted["ArtifactKey"]["Resource"] == [{"Ref": "KmsKeyArn"}]
    assert not [s for s in granted.values() if any(a.startswith(("ecs:", "iam:")) for a in s["Action"])]


def test_deploying_updates_only_the_two_services_and_passes_only_their_roles_to_ecs_tasks(pipeline):
    view = with_images(pipeline.env)
    policy = view.props("PipelineDeployPolicy")
    assert policy["Roles"] == [{"Ref": "PipelineRole"}]
    granted = statements(view, "PipelineDeployPolicy")
    assert granted["UpdateServices"]["Resource"] == [{"Ref": f"{t}ServiceArn"} for t in IMAGES]
    families = [{"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/"
                            f"codemate-{name}-{pipeline.env}:*"} for name in IMAGES.values()]
    assert granted["RegisterRevisions"]["Resource"] == families
    assert granted["TagRevisions"]["Resource"] == families
    assert granted["TagRevisions"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    passes = [s for s in every_statement(view) if "iam:PassRole" in s["Action"]]
    assert passes == [granted["PassTaskRoles"]]
    assert passes[0]["Action"] == ["iam:PassRole"]
    assert passes[0]["Resource"] == [{"Ref": "TaskExecutionRoleArn"}, {"Ref": "BackendTaskRoleArn"}]
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_the_services_layer_publishes_the_arns_the_pipeline_deploys_with(pipeline):
    services = Environment("services", pipeline.env, FrontendImageTag=TAG, BackendImageTag=TAG)
    assert services.output("TaskExecutionRoleArn") == {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}
    assert services.output("BackendTaskRoleArn") == {"Fn::GetAtt": ["BackendTaskRole", "Arn"]}
    for title in IMAGES:
        assert services.output(f"{title}ServiceArn") == {"Ref": f"{title}Service"}
        assert Environment("services", pipeline.env).output(f"{title}ServiceArn") == ""


# -- FargateArchitecture: the images are built for the tasks' architecture ---------

BUILD_HOSTS = {"X86_64": ("LINUX_CONTAINER", "aws/codebuild/standard:7.0"),
               "ARM64": ("ARM_CONTAINER", "aws/codebuild/amazonlinux-aarch64-standard:3.0")}


@pytest.mark.parametrize("architecture", sorted(BUILD_HOSTS))
@pytest.mark.parametrize("title", IMAGES)
def test_images_are_built_natively_for_the_tasks_architecture(pipeline, title, architecture):
    from layer_values import Environment
    box = Environment("pipeline", pipeline.env, FargateArchitecture=architecture).props(f"{title}Build")["Environment"]
    assert (box["Type"], box["Image"]) == BUILD_HOSTS[architecture]
    assert box["ComputeType"] == "BUILD_GENERAL1_SMALL" and box["PrivilegedMode"] is True


def test_the_committed_files_build_arm64_images_in_both_environments(pipeline):
    box = pipeline.props("BackendBuild")["Environment"]
    assert (box["Type"], box["Image"]) == BUILD_HOSTS["ARM64"]
