"""Pipeline layer: delivery from GitHub to the ECS services. The CodeStar
connection to GitHub (or the parameter file's), and, to come, the CodeBuild
projects and the CodePipeline of the environment."""

from troposphere import Equals, GetAtt, If, Ref, Sub
from troposphere.codestarconnections import Connection

from codemate_cfn.layer import Layer


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


def build(t):
    arn = connection(t)
    t.output("GitHubConnectionArn", arn, "CodeStar connection the pipeline reads GitHub through.")
    t.output("PipelineSource", Sub("${GitHubRepository}@${GitHubBranch}", GitHubRepository=t.input("GitHubRepository"),
                                   GitHubBranch=t.input("GitHubBranch")), "Repository and branch the pipeline builds.")
    t.output("PipelineApproval", t.input("RequireManualApproval"), "Whether a person approves each deploy.")


LAYER = Layer("pipeline", "CodeStar connection, CodeBuild projects and CodePipeline", build)
