"""A private S3 bucket, as every bucket of the project is (and the
deployer's own artifact bucket): all public access blocked, SSE-S3,
object ownership enforced, one lifecycle rule, kept on delete and
replacement, and a bucket policy that refuses requests without TLS.

SSE-S3 (AES-256) everywhere: the design asks it for user files, and ALB
access logs can only be delivered to SSE-S3 buckets.

A bucket may write S3 server access logs into the logs bucket (storage
layer), under s3-access/<kind>/: LOGGED_BUCKETS names those buckets, so the
layer that makes one and the logs bucket's policy, which lets S3's logging
service write for exactly these buckets, name it alike.
"""

from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Sub
from troposphere.s3 import (
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    LifecycleRuleTransition,
    LoggingConfiguration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from .policies import RETAIN

BLOCK_ALL_PUBLIC_ACCESS = PublicAccessBlockConfiguration(
    BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True,
)

ACCESS_LOGS_PREFIX = "s3-access/"
# The buckets whose S3 server access logs go to the logs bucket: kind (their
# key prefix there, s3-access/<kind>/) -> the words of the bucket's name and
# whether the name carries the account ID (t.name_of).
LOGGED_BUCKETS = {
    "files": (("files",), True),
    "static": (("static",), False),
    "artifacts": (("pipeline", "artifacts"), True),
}


def logged_bucket_name(t, kind: str) -> Sub:
    """The name of the LOGGED_BUCKETS bucket of this kind: codemate-files-<env>-<account>."""
    words, account = LOGGED_BUCKETS[kind]
    return t.name_of(*words, account=account)


def access_logs_prefix(kind: str) -> str:
    """Where a logged bucket's server access logs go in the logs bucket: s3-access/<kind>/."""
    return f"{ACCESS_LOGS_PREFIX}{kind}/"


def access_logs(destination, kind: str) -> LoggingConfiguration:
    """S3 server access logs of a LOGGED_BUCKETS bucket into `destination`
    (the logs bucket's name) under s3-access/<kind>/."""
    if kind not in LOGGED_BUCKETS:
        raise ValueError(f"access logs of a {kind!r} bucket: name it in LOGGED_BUCKETS (kit/bucket.py) so the "
                         f"logs bucket lets S3 write them")
    return LoggingConfiguration(DestinationBucketName=destination, LogFilePrefix=access_logs_prefix(kind))


def sse_s3(**rule) -> BucketEncryption:
    """SSE-S3 (AES-256) by default; `rule` adds ServerSideEncryptionRule options."""
    return BucketEncryption(ServerSideEncryptionConfiguration=[
        ServerSideEncryptionRule(ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="AES256"),
                                 **rule)
    ])


def sse_kms(key_arn) -> BucketEncryption:
    """SSE-KMS with `key_arn` (the project key), with an S3 Bucket Key so
    each object does not cost a KMS request. Not for a bucket that receives
    ALB or S3 access logs: those are delivered to SSE-S3 buckets only."""
    return BucketEncryption(ServerSideEncryptionConfiguration=[ServerSideEncryptionRule(
        ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=key_arn),
        BucketKeyEnabled=True,
    )])


def deny_insecure_transport(bucket) -> Statement:
    """Deny every S3 action on the bucket and its objects without TLS;
    `bucket` is a Bucket of the same template, or a bucket's ARN (a Ref to
    an input, for a bucket another layer made)."""
    if isinstance(bucket, Bucket):
        resources = [GetAtt(bucket, "Arn"), Sub("${%s.Arn}/*" % bucket.title)]
    elif isinstance(bucket, Ref):  # an input: "${StaticBucketArn}/*"
        resources = [bucket, Sub("${%s}/*" % bucket.to_dict()["Ref"])]
    else:
        resources = [bucket, Sub("${Arn}/*", Arn=bucket)]
    return Statement(
        Sid="DenyInsecureTransport",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[s3_actions.Action("*")],
        Resource=resources,
        Condition=Condition(Bool("aws:SecureTransport", False)),
    )


def lifecycle_rule(rule_id: str, transitions=(), **props) -> LifecycleRule:
    """An enabled lifecycle rule; transitions are (days, storage class) pairs."""
    if transitions:
        props["Transitions"] = [LifecycleRuleTransition(StorageClass=c, TransitionInDays=d) for d, c in transitions]
    return LifecycleRule(Id=rule_id, Status="Enabled", **props)


def bucket(logical_id: str, name, rule: LifecycleRule, versioned: bool = False,
           ownership: str = "BucketOwnerEnforced", encryption: BucketEncryption | None = None,
           logging: LoggingConfiguration | None = None, **props) -> Bucket:
    """A private bucket with one lifecycle rule that survives stack deletion
    and replacement; SSE-S3 unless `encryption` says otherwise; its server
    access logs where `logging` says (access_logs)."""
    if versioned:
        props["VersioningConfiguration"] = VersioningConfiguration(Status="Enabled")
    if logging is not None:
        props["LoggingConfiguration"] = logging
    return Bucket(
        logical_id,
        BucketName=name,
        PublicAccessBlockConfiguration=BLOCK_ALL_PUBLIC_ACCESS,
        BucketEncryption=encryption or sse_s3(),
        OwnershipControls=OwnershipControls(Rules=[OwnershipControlsRule(ObjectOwnership=ownership)]),
        LifecycleConfiguration=LifecycleConfiguration(Rules=[rule]),
        **RETAIN,
        **props,
    )


def bucket_policy(bucket: Bucket, *statements: Statement) -> BucketPolicy:
    """The bucket's one policy (logical ID <bucket>Policy): TLS only, plus
    the given grants."""
    return BucketPolicy(
        f"{bucket.title}Policy",
        Bucket=Ref(bucket),
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[deny_insecure_transport(bucket), *statements]),
    )
