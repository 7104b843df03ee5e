"""`bootstrap`: the small stack holding the artifact bucket the nested
templates are uploaded to: versioned, encrypted, all public access
blocked, TLS only, old versions expire.

The deployer's own stack follows the project's bucket and tag conventions:
its bucket is made by the layers' kit (templates_src.kit.bucket), so it is
exactly as private as the project's buckets, and it carries the project's
fixed tags (Project and ManagedBy from templates_src.project; no
Environment: the bucket serves every environment in the account). That is
why this module, alone in codemate_cfn, imports the installed package
templates_src, absolutely. It does so where the template and the tags are
made rather than at the top, so a deploy has loaded the project's sources
(compile.discovery) before anything here imports them.
"""

from __future__ import annotations

from troposphere import Output, Ref, Sub, Tags, Template
from troposphere.s3 import AbortIncompleteMultipartUpload, NoncurrentVersionExpiration

from codemate_cfn.deploy import events
from codemate_cfn.deploy.stack import find_stack
from codemate_cfn.errors import CodemateError
from codemate_cfn.compile.render import to_json

STACK_NAME = "codemate-cfn-bootstrap"
BUCKET_OUTPUT = "ArtifactBucketName"
OLD_VERSION_DAYS = 30


def tags() -> dict[str, str]:
    """The bootstrap stack's and its bucket's tags: the project's fixed tags."""
    from templates_src.project import CONVENTIONS

    return CONVENTIONS.fixed_tags


def template() -> dict:
    from templates_src.kit.bucket import bucket, bucket_policy, lifecycle_rule, sse_s3

    t = Template(Description="codemate-cfn artifact bucket: nested templates uploaded by deploy (codemate-cfn bootstrap).")
    artifacts = t.add_resource(bucket(
        "ArtifactBucket",
        # Account and region in the name: one bucket per account and region.
        Sub("codemate-cfn-artifacts-${AWS::AccountId}-${AWS::Region}"),
        lifecycle_rule(
            "ExpireOldVersions",
            NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=OLD_VERSION_DAYS),
            AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
        ),
        versioned=True,
        encryption=sse_s3(BucketKeyEnabled=True),
        Tags=Tags(**tags()),
    ))
    t.add_resource(bucket_policy(artifacts))
    t.add_output(Output(BUCKET_OUTPUT, Value=Ref(artifacts), Description="Bucket holding the uploaded templates."))
    return t.to_dict()


def _bucket(stack: dict) -> str:
    for output in stack.get("Outputs") or []:
        if output["OutputKey"] == BUCKET_OUTPUT:
            return output["OutputValue"]
    raise CodemateError(f"stack {STACK_NAME} has no output {BUCKET_OUTPUT}: run `python -m codemate_cfn bootstrap` again")


def find_bucket(aws) -> str | None:
    """The artifact bucket's name, or None before the first bootstrap."""
    stack = find_stack(aws.cloudformation, STACK_NAME)
    if stack is None or stack["StackStatus"] not in events.STABLE:
        return None
    return _bucket(stack)


def ensure(aws, ui, poll_seconds: float = 5.0) -> str:
    """Create or update the bootstrap stack; returns the bucket name."""
    from botocore.exceptions import ClientError

    cfn = aws.cloudformation
    body = to_json(template())
    stack = find_stack(cfn, STACK_NAME)
    stack_tags = [{"Key": k, "Value": v} for k, v in tags().items()]
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        ui.step(f"removing {STACK_NAME} (ROLLBACK_COMPLETE after a failed create)")
        cfn.delete_stack(StackName=stack["StackId"])
        events.watch(aws, stack["StackId"], ui, since=None, poll_seconds=poll_seconds)
        stack = None
    if stack is None:
        ui.step(f"creating stack {STACK_NAME} (artifact bucket)")
        stack_id = cfn.create_stack(StackName=STACK_NAME, TemplateBody=body, Tags=stack_tags)["StackId"]
        since = None
    else:
        if stack["StackStatus"] not in events.STABLE:
            raise CodemateError(f"stack {STACK_NAME} is {stack['StackStatus']}; wait for it or fix it in the console")
        since = events.latest_timestamp(cfn, stack["StackId"])
        try:
            stack_id = cfn.update_stack(StackName=STACK_NAME, TemplateBody=body, Tags=stack_tags)["StackId"]
        except ClientError as exc:
            if "No updates are to be performed" in str(exc):
                return _bucket(stack)
            raise
        ui.step(f"updating stack {STACK_NAME}")
    final = events.watch(aws, stack_id, ui, since=since, poll_seconds=poll_seconds)
    if final not in events.STABLE:
        events.report_failure(aws, stack_id, final, ui, since=since)
        raise CodemateError(f"stack {STACK_NAME} ended {final}")
    return _bucket(cfn.describe_stacks(StackName=stack_id)["Stacks"][0])
