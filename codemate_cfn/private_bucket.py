"""What every private S3 bucket of the project shares, whether a layer or
the bootstrap stack builds it: all public access blocked, SSE-S3, and the
policy statement that refuses requests without TLS."""

from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Bool, Condition, Deny, Principal, Statement
from troposphere import GetAtt, Sub
from troposphere.s3 import (
    Bucket,
    BucketEncryption,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
)

BLOCK_ALL_PUBLIC_ACCESS = PublicAccessBlockConfiguration(
    BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True,
)


def sse_s3(**rule) -> BucketEncryption:
    """SSE-S3 (AES-256) by default; `rule` adds ServerSideEncryptionRule options."""
    return BucketEncryption(ServerSideEncryptionConfiguration=[
        ServerSideEncryptionRule(ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="AES256"),
                                 **rule)
    ])


def deny_insecure_transport(bucket: Bucket) -> Statement:
    """Deny every S3 action on the bucket and its objects without TLS."""
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[s3_actions.Action("*")],
        Resource=[GetAtt(bucket, "Arn"), Sub("${%s.Arn}/*" % bucket.title)],
        Condition=Condition(Bool("aws:SecureTransport", False)),
    )
