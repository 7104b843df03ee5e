"""Storage layer (SPEC 5): S3 buckets for user files, static assets and logs,
and the ECR repositories."""

from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from awacs import s3 as s3_actions
from troposphere import GetAtt, Ref, Sub
from troposphere.s3 import (
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    LifecycleRuleTransition,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from codemate_cfn.layer import Layer

BLOCK_ALL_PUBLIC_ACCESS = PublicAccessBlockConfiguration(
    BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True,
)
SSE_S3 = BucketEncryption(ServerSideEncryptionConfiguration=[
    ServerSideEncryptionRule(ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="AES256"))
])


def bucket(t, logical_id: str, **props) -> Bucket:
    """A private, encrypted bucket that survives stack deletion and replacement."""
    return t.add(Bucket(
        logical_id,
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        PublicAccessBlockConfiguration=BLOCK_ALL_PUBLIC_ACCESS,
        BucketEncryption=SSE_S3,
        **props,
    ))


def deny_insecure_transport(bucket_ref) -> Statement:
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[s3_actions.Action("*")],
        Resource=[GetAtt(bucket_ref, "Arn"), Sub("${%s.Arn}/*" % bucket_ref.title)],
        Condition=Condition(Bool("aws:SecureTransport", False)),
    )


def build(t):
    logs = bucket(
        t, "LogsBucket",
        BucketName=t.name_of("logs", account=True),
        VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
        OwnershipControls=OwnershipControls(Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
        LifecycleConfiguration=LifecycleConfiguration(Rules=[
            LifecycleRule(
                Id="ArchiveThenExpire",
                Status="Enabled",
                Transitions=[LifecycleRuleTransition(StorageClass="GLACIER", TransitionInDays=90)],
                ExpirationInDays=365,
                NoncurrentVersionExpirationInDays=30,
            )
        ]),
    )
    account_logs = Sub("${LogsBucket.Arn}/vpc-flow-logs/AWSLogs/${AWS::AccountId}/*")
    t.add(BucketPolicy(
        "LogsBucketPolicy",
        Bucket=Ref(logs),
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            deny_insecure_transport(logs),
            Statement(
                Sid="FlowLogsWrite",
                Effect=Allow,
                Principal=Principal("Service", "delivery.logs.amazonaws.com"),
                Action=[s3_actions.PutObject],
                Resource=[account_logs],
                Condition=Condition([
                    StringEquals({"s3:x-amz-acl": "bucket-owner-full-control",
                                  "aws:SourceAccount": Ref("AWS::AccountId")}),
                ]),
            ),
            Statement(
                Sid="FlowLogsAclCheck",
                Effect=Allow,
                Principal=Principal("Service", "delivery.logs.amazonaws.com"),
                Action=[s3_actions.GetBucketAcl, s3_actions.ListBucket],
                Resource=[GetAtt(logs, "Arn")],
                Condition=Condition(StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})),
            ),
        ]),
    ))
    t.output("LogsBucketName", Ref(logs), "Name of the logs bucket (ALB, CloudFront, VPC flow logs).")
    t.output("LogsBucketArn", GetAtt(logs, "Arn"), "ARN of the logs bucket.")


LAYER = Layer("storage", "S3 buckets (files, static assets, logs) and ECR repositories", build)
