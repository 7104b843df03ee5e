"""Pipeline layer: delivery from GitHub to the ECS services, one pipeline
per environment. The CodeStar connection to GitHub (or the parameter
file's), a CodeBuild project per image, the pipeline's encrypted artifact
bucket, and the CodePipeline (V2): a push to GitHubBranch of GitHubRepository
starts it; it builds and pushes both images, tagged with the commit, waits
for a person's approval when RequireManualApproval is "true" (prod), then
deploys both services.

The pipeline always exists: its first runs build and push the first images.
Its Deploy stage exists only once both services do, that is once
FrontendImageTag and BackendImageTag are set (the services layer's
conditions FrontendImageSet and BackendImageSet, declared here the same way
from the same root parameters); so do the pipeline role's ECS grants. The
ECS deploy action registers task definition revisions outside
CloudFormation: set the image tags in the parameter file to what the
pipeline deployed before the next `deploy`, or that deploy puts the older
images back (README, Pipeline)."""

import json

from awacs import codebuild, codeconnections, codestar_connections, ecr, ecs, iam, kms, logs, s3
from awacs.aws import Allow, Condition, Statement, StringEquals
from troposphere import And, Condition as ConditionRef, Equals, GetAtt, If, NoValue, Ref, Sub
from troposphere.codebuild import (
    Artifacts,
    CloudWatchLogs,
    Environment,
    EnvironmentVariable,
    LogsConfig,
    Project,
    Source,
)
from troposphere.codepipeline import (
    Actions,
    ActionTypeId,
    ArtifactStore,
    EncryptionKey,
    GitBranchFilterCriteria,
    GitConfiguration,
    GitPushFilter,
    InputArtifacts,
    OutputArtifacts,
    Pipeline,
    PipelineTriggerDeclaration,
    Stages,
)
from troposphere.codestarconnections import Connection
from troposphere.s3 import AbortIncompleteMultipartUpload

from codemate_cfn.layer import Layer

from .kit.bucket import access_logs, bucket, bucket_policy, lifecycle_rule, logged_bucket_name, sse_kms
from .kit.iam import role, role_policy
from .kit.logs import log_group
from .kit.images import SERVICES, image_set

IMAGES = tuple(SERVICES)  # "Frontend", "Backend": the services, their repositories and their containers
SOURCE_ACTION = "GitHub"
SOURCE_ARTIFACT = "Source"
IMAGE_DEFINITIONS = "imagedefinitions.json"
ARTIFACT_EXPIRY_DAYS = 30
NONCURRENT_ARTIFACT_DAYS = 7  # an overwritten or deleted artifact can be got back for a week
# A current standard Linux image (Ubuntu, with Docker), small compute.
BUILD_IMAGE = "aws/codebuild/standard:7.0"
BUILD_COMPUTE = "BUILD_GENERAL1_SMALL"
# FargateArchitecture ARM64: the images are built natively on an ARM (Graviton)
# build host, Amazon Linux with Docker, small compute: no emulated cross-build
# (buildx with QEMU is several times slower, more build minutes), and ARM build
# minutes cost less than x86 ones.
ARM_BUILDS = "ArmBuilds"  # the condition: FargateArchitecture is ARM64
ARM_BUILD_TYPE = "ARM_CONTAINER"
ARM_BUILD_IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
BUILD_TIMEOUT_MINUTES = 30
DEPLOY_TIMEOUT_MINUTES = 30


def container_of(title: str) -> str:
    """The container (and source directory) of an image: "frontend"."""
    return SERVICES[title]


def buildspec(directory: str, container: str) -> str:
    """The build of one image: log in to ECR, build <directory>/Dockerfile.prod
    in <directory>, tag it with the commit's first 7 characters, push it
    unless that tag is there already (tags are immutable: a re-run of the
    same commit must not fail on it, and nothing pushes `latest`), and
    write imagedefinitions.json for `container`. REPOSITORY_URI and
    REPOSITORY_NAME come from the project's environment."""
    image = "$REPOSITORY_URI:$IMAGE_TAG"
    definitions = json.dumps([{"name": container, "imageUri": "%s"}])
    no_commit = "no commit hash (CODEBUILD_RESOLVED_SOURCE_VERSION is empty): images are tagged with the commit"
    return json.dumps({
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "pre_build": {"commands": [
                f'test -n "$CODEBUILD_RESOLVED_SOURCE_VERSION" || {{ echo "{no_commit}" >&2; exit 1; }}',
                "IMAGE_TAG=${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}",
                "aws ecr get-login-password --region $AWS_DEFAULT_REGION"
                " | docker login --username AWS --password-stdin ${REPOSITORY_URI%%/*}",
            ]},
            "build": {"commands": [
                f"if aws ecr describe-images --repository-name $REPOSITORY_NAME --image-ids imageTag=$IMAGE_TAG"
                f" > /dev/null 2>&1; then echo \"{image} is there already: not built again\"; else"
                f" docker build -f {directory}/Dockerfile.prod -t {image} {directory} && docker push {image}; fi",
                f"printf '{definitions}' \"{image}\" > {IMAGE_DEFINITIONS}",
            ]},
        },
        "artifacts": {"files": [IMAGE_DEFINITIONS]},
    }, indent=2)


def connection(t):
    """The parameter file's connection, or a new one (PENDING until someone
    approves it once in the console: README)."""
    create = t.condition("CreateConnection", Equals(t.input("CodeStarConnectionArn"), ""))
    made = t.add(Connection(
        "GitHubConnection",
        Condition=create,
        ConnectionName=t.name_of("github"),
        ProviderType="GitHub",
    ))
    return If(create, GetAtt(made, "ConnectionArn"), Ref("CodeStarConnectionArn"))


def artifact_bucket(t):
    """Where the pipeline passes the source and the image definitions from
    stage to stage: encrypted with the project key (by the pipeline, and by
    default for anything else written there), versioned, with its server
    access logs in the logs bucket."""
    made = t.add(bucket(
        "ArtifactBucket", logged_bucket_name(t, "artifacts"),
        lifecycle_rule("ExpireOldArtifacts", ExpirationInDays=ARTIFACT_EXPIRY_DAYS,
                       NoncurrentVersionExpirationInDays=NONCURRENT_ARTIFACT_DAYS,
                       AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=1)),
        versioned=True,
        logging=access_logs(t.input("LogsBucketName"), "artifacts"),
        encryption=sse_kms(t.input("KmsKeyArn")),
    ))
    t.add(bucket_policy(made))
    return made


def artifact_statements(artifacts, key) -> list[Statement]:
    """Read and write the artifact bucket's objects, with the project key."""
    return [
        Statement(Sid="Artifacts", Effect=Allow, Action=[s3.GetObject, s3.GetObjectVersion, s3.PutObject],
                  Resource=[Sub("${%s.Arn}/*" % artifacts.title)]),
        Statement(Sid="ArtifactBucket", Effect=Allow, Action=[s3.GetBucketLocation, s3.GetBucketVersioning],
                  Resource=[GetAtt(artifacts, "Arn")]),
        Statement(Sid="ArtifactKey", Effect=Allow, Action=[kms.Decrypt, kms.GenerateDataKey, kms.DescribeKey],
                  Resource=[key]),
    ]


def build_project(t, title: str, artifacts, key) -> Project:
    """codemate-<image>-build-<env>, its log group and its role."""
    name = container_of(title)
    t.condition(ARM_BUILDS, Equals(t.input("FargateArchitecture"), "ARM64"))
    group = log_group(t, f"{title}BuildLogGroup", "/aws/codebuild/", name, "build", retention_input="LogRetentionDays")
    repository = t.input(f"{title}RepositoryArn")
    builder = t.add(role(f"{title}BuildRole", "codebuild.amazonaws.com", [
        Statement(Sid="BuildLogs", Effect=Allow, Action=[logs.CreateLogStream, logs.PutLogEvents],
                  Resource=[GetAtt(group, "Arn")]),
        # AWS authorizes GetAuthorizationToken on "*" only.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(Sid="PushImage", Effect=Allow, Action=[
            ecr.DescribeImages, ecr.BatchCheckLayerAvailability, ecr.GetDownloadUrlForLayer, ecr.BatchGetImage,
            ecr.InitiateLayerUpload, ecr.UploadLayerPart, ecr.CompleteLayerUpload, ecr.PutImage,
        ], Resource=[repository]),
        *artifact_statements(artifacts, key),
    ], RoleName=t.name_of(name, "codebuild")))
    return t.add(Project(
        f"{title}Build",
        Name=t.name_of(name, "build"),
        Description=f"Builds the {name} image (Dockerfile.prod in {name}/), tagged with the commit, and pushes it.",
        ServiceRole=GetAtt(builder, "Arn"),
        Source=Source(Type="CODEPIPELINE", BuildSpec=buildspec(name, name)),
        Artifacts=Artifacts(Type="CODEPIPELINE"),
        Environment=Environment(
            Type=If(ARM_BUILDS, ARM_BUILD_TYPE, "LINUX_CONTAINER"),
            ComputeType=BUILD_COMPUTE,
            Image=If(ARM_BUILDS, ARM_BUILD_IMAGE, BUILD_IMAGE),
            PrivilegedMode=True,  # docker build
            EnvironmentVariables=[
                EnvironmentVariable(Name="REPOSITORY_URI", Type="PLAINTEXT", Value=t.input(f"{title}RepositoryUri")),
                EnvironmentVariable(Name="REPOSITORY_NAME", Type="PLAINTEXT", Value=t.input(f"{title}RepositoryName")),
            ],
        ),
        EncryptionKey=key,
        LogsConfig=LogsConfig(CloudWatchLogs=CloudWatchLogs(Status="ENABLED", GroupName=Ref(group))),
        TimeoutInMinutes=BUILD_TIMEOUT_MINUTES,
    ))


def pipeline_role(t, artifacts, key, connection_arn, projects: dict):
    """The pipeline's role: artifacts, the two builds, the connection; and,
    once both services exist, deploying them (a policy of its own)."""
    made = t.add(role("PipelineRole", "codepipeline.amazonaws.com", [
        *artifact_statements(artifacts, key),
        Statement(Sid="RunBuilds", Effect=Allow, Action=[codebuild.StartBuild, codebuild.BatchGetBuilds],
                  Resource=[GetAtt(project, "Arn") for project in projects.values()]),
        Statement(Sid="ReadGitHub", Effect=Allow,
                  Action=[codestar_connections.UseConnection, codeconnections.UseConnection],
                  Resource=[connection_arn]),
    ], RoleName=t.name_of("pipeline")))
    # Every revision of each service's family, in one Fn::Sub (the family's name is one too).
    families = [Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/"
                    + t.name_of(container_of(title)).to_dict()["Fn::Sub"] + ":*") for title in IMAGES]
    t.add(role_policy("PipelineDeployPolicy", [Ref(made)], [
        Statement(Sid="UpdateServices", Effect=Allow, Action=[ecs.DescribeServices, ecs.UpdateService],
                  Resource=[t.input(f"{title}ServiceArn") for title in IMAGES]),
        Statement(Sid="RegisterRevisions", Effect=Allow, Action=[ecs.RegisterTaskDefinition], Resource=families),
        Statement(Sid="TagRevisions", Effect=Allow, Action=[ecs.TagResource], Resource=families,
                  Condition=Condition(StringEquals({"ecs:CreateAction": "RegisterTaskDefinition"}))),
        # AWS authorizes DescribeTaskDefinition on "*" only.
        Statement(Sid="ReadRevisions", Effect=Allow, Action=[ecs.DescribeTaskDefinition], Resource=["*"]),
        Statement(Sid="PassTaskRoles", Effect=Allow, Action=[iam.PassRole],
                  Resource=[t.input("TaskExecutionRoleArn"), t.input("BackendTaskRoleArn")],
                  Condition=Condition(StringEquals({"iam:PassedToService": "ecs-tasks.amazonaws.com"}))),
    ], Condition="DeployServices"))
    return made


def action(name: str, category: str, provider: str, configuration: dict, inputs=(), outputs=(),
           **props) -> Actions:
    if inputs:
        props["InputArtifacts"] = [InputArtifacts(Name=n) for n in inputs]
    if outputs:
        props["OutputArtifacts"] = [OutputArtifacts(Name=n) for n in outputs]
    return Actions(
        Name=name,
        ActionTypeId=ActionTypeId(Category=category, Owner="AWS", Provider=provider, Version="1"),
        Configuration=configuration,
        RunOrder=1,
        **props,
    )


def stages(t, connection_arn, projects: dict) -> list:
    images = {title: f"{title}Image" for title in IMAGES}
    source = Stages(Name="Source", Actions=[action(
        SOURCE_ACTION, "Source", "CodeStarSourceConnection", {
            "ConnectionArn": connection_arn,
            "FullRepositoryId": t.input("GitHubRepository"),
            "BranchName": t.input("GitHubBranch"),
            "OutputArtifactFormat": "CODE_ZIP",
        }, outputs=[SOURCE_ARTIFACT])])
    build = Stages(Name="Build", Actions=[
        action(title, "Build", "CodeBuild", {"ProjectName": Ref(projects[title])}, inputs=[SOURCE_ARTIFACT],
               outputs=[images[title]])
        for title in IMAGES])
    approval = Stages(Name="Approval", Actions=[action(
        "Approve", "Approval", "Manual",
        {"CustomData": Sub("Deploy ${GitHubRepository}@${GitHubBranch} to ${EnvironmentName}?")})])
    deploy = Stages(Name="Deploy", Actions=[
        action(title, "Deploy", "ECS", {
            "ClusterName": t.input("ClusterName"),
            "ServiceName": t.input(f"{title}ServiceName"),
            "FileName": IMAGE_DEFINITIONS,
            "DeploymentTimeout": str(DEPLOY_TIMEOUT_MINUTES),
        }, inputs=[images[title]])
        for title in IMAGES])
    return [source, build, If("ManualApproval", approval, NoValue), If("DeployServices", deploy, NoValue)]


def pipeline(t, connection_arn, artifacts, key, projects: dict) -> Pipeline:
    t.condition("ManualApproval", Equals(t.input("RequireManualApproval"), "true"))
    t.condition("DeployServices", And(*(ConditionRef(image_set(t, title)) for title in IMAGES)))
    runner = pipeline_role(t, artifacts, key, connection_arn, projects)
    return t.add(Pipeline(
        "Pipeline",
        Name=t.name_of("pipeline"),
        PipelineType="V2",
        RoleArn=GetAtt(runner, "Arn"),
        ArtifactStore=ArtifactStore(Type="S3", Location=Ref(artifacts),
                                    EncryptionKey=EncryptionKey(Id=key, Type="KMS")),
        Stages=stages(t, connection_arn, projects),
        Triggers=[PipelineTriggerDeclaration(
            ProviderType="CodeStarSourceConnection",
            GitConfiguration=GitConfiguration(SourceActionName=SOURCE_ACTION, Push=[
                GitPushFilter(Branches=GitBranchFilterCriteria(Includes=[t.input("GitHubBranch")])),
            ]),
        )],
        RestartExecutionOnUpdate=False,
    ))


def build(t):
    key = t.input("KmsKeyArn")
    arn = connection(t)
    artifacts = artifact_bucket(t)
    projects = {title: build_project(t, title, artifacts, key) for title in IMAGES}
    runner = pipeline(t, arn, artifacts, key, projects)
    t.output("GitHubConnectionArn", arn, "CodeStar connection the pipeline reads GitHub through (a new one waits "
             "for its handshake in the console: README).", root="github_connection_arn")
    t.output("PipelineName", Ref(runner), "Name of the environment's CodePipeline.", root="pipeline_name")
    t.output("PipelineSource", Sub("${GitHubRepository}@${GitHubBranch}"), "Repository and branch the pipeline builds.")
    t.output("ArtifactBucketName", Ref(artifacts), "Bucket of the pipeline's artifacts.")
    for title, project in projects.items():
        t.output(f"{title}BuildProjectName", Ref(project), f"CodeBuild project of the {container_of(title)} image.")


LAYER = Layer("pipeline", "CodeStar connection, CodeBuild projects and CodePipeline", build)
