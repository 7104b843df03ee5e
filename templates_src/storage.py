"""Storage layer: S3 buckets for user files, static assets and logs,
the ECR repositories, and the project's KMS key (used by ECR here, by the
data layer for RDS, ElastiCache and the secrets, by every layer's log
groups, by the pipeline's artifacts, and by the observability layer for the
alarm topic and the CloudTrail trail, which the key's and the logs bucket's
policies name)."""

import json

from awacs import kms as kms_actions
from awacs import s3 as s3_actions
from awacs.aws import (
    Allow,
    ArnEquals,
    ArnLike,
    Bool,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringLike,
)
from troposphere import Equals, GetAtt, If, Ref, Sub
from troposphere.s3 import LifecycleRuleTransition
from troposphere.ecr import EncryptionConfiguration, ImageScanningConfiguration, LifecyclePolicy, Repository
from troposphere.kms import Alias, Key
from troposphere.s3 import AbortIncompleteMultipartUpload, Bucket, CorsConfiguration, CorsRules

from codemate_cfn.layer import Layer

from .kit.bucket import (
    LOGGED_BUCKETS,
    access_logs,
    access_logs_prefix,
    bucket,
    bucket_policy,
    lifecycle_rule,
    logged_bucket_name,
)
from .kit.policies import RETAIN
from .kit.scanner import scanner_skip
from .project import ELB_LOG_DELIVERY_ACCOUNT, ENVIRONMENT, PROJECT, trail_arn

LOG_PREFIXES = {"Alb": "alb/", "CloudFront": "cloudfront/", "VpcFlow": "vpc-flow-logs/", "CloudTrail": "cloudtrail/"}
# Services that publish to the alarm topic (SSE-KMS with this key) and so
# must use the key: CloudWatch alarms and AWS Budgets.
TOPIC_PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")

# The project key's policy keeps administering the key apart from using it
# (KMS developer guide, "Default key policy": the key administrators and
# key users statements). Both go to the account's principals through IAM
# (the account principal delegates to IAM policies), so who administers and
# who uses is decided in IAM, and the key policy bounds what either can be
# given. Administration: the actions of the default key administrators
# statement for a single-Region symmetric key, spelt out, but CreateGrant
# (a grant would give key use; it stays with use, for AWS resources only),
# and with on-demand rotation; no cryptographic operation. Keeping
# PutKeyPolicy here keeps the key manageable (no lock-out), and these are
# every action CloudFormation manages the key and its alias with.
KEY_ADMINISTRATION = (
    "CreateAlias", "UpdateAlias", "DeleteAlias", "DescribeKey", "UpdateKeyDescription",
    "EnableKey", "DisableKey", "EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand",
    "GetKeyRotationStatus", "ListKeyRotations", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    "ListGrants", "RevokeGrant", "ListResourceTags", "TagResource", "UntagResource",
    "ScheduleKeyDeletion", "CancelKeyDeletion",
)
# Use: the default key users statement's cryptographic operations.
KEY_USE = ("Encrypt", "Decrypt", "ReEncrypt*", "GenerateDataKey*", "DescribeKey")
# Grants, for AWS services (RDS, ElastiCache, ECR) that use the key for a
# resource made with the caller's permissions (kms:GrantIsForAWSResource).
KEY_GRANTS = ("CreateGrant", "ListGrants", "RevokeGrant")
# CloudWatch Logs encrypting and reading the log groups of this account and
# region that name the key (CloudWatch Logs user guide, "Encrypt log data in
# CloudWatch Logs using AWS Key Management Service").
LOGS_KEY_USE = ("Encrypt*", "Decrypt*", "ReEncrypt*", "GenerateDataKey*", "Describe*")

FILES_TRANSITIONS = ((30, "STANDARD_IA"), (90, "GLACIER_IR"), (365, "DEEP_ARCHIVE"))
# FilesIntelligentTiering: every user file goes to Intelligent-Tiering at once
# (day 0), which moves it between access tiers by its own reads, instead of the ladder.
FILES_TIERING = "FilesIntelligentTiering"  # the condition: FilesIntelligentTiering is true
FILES_INTELLIGENT_TIERING = ((0, "INTELLIGENT_TIERING"),)
STATIC_EXPIRY_DAYS = 30
LOGS_TRANSITIONS = ((90, "GLACIER"),)
LOGS_EXPIRY_DAYS = 365
CORS_METHODS = ("GET", "PUT", "POST", "DELETE")
CORS_MAX_AGE = 3000
REPOSITORIES = ("frontend", "backend")
IMAGES_KEPT = 10


def bucket_outputs(t, b: Bucket, what: str) -> None:
    name = b.title.removesuffix("Bucket")
    t.output(f"{name}BucketName", Ref(b), f"Name of the {what} bucket.")
    t.output(f"{name}BucketArn", GetAtt(b, "Arn"), f"ARN of the {what} bucket.")


def account_logs(logs, prefix: str) -> Sub:
    """Where a log service writes for this account: <bucket>/<prefix>AWSLogs/<account>/*."""
    return Sub("${%s.Arn}/%sAWSLogs/${AWS::AccountId}/*" % (logs.title, prefix))


def kms_actions_of(names) -> list:
    return [kms_actions.Action(name) for name in names]


def through_iam(sid: str, actions, **props) -> Statement:
    """A key policy statement for the account's principals (the account
    principal): each gets what its IAM policies give it, within `actions`."""
    account = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))
    return Statement(Sid=sid, Effect=Allow, Principal=account, Action=kms_actions_of(actions), Resource=["*"], **props)


def kms_key(t) -> Key:
    this_account = StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})
    this_trail = StringEquals({"aws:SourceArn": trail_arn()})
    # In a key policy Resource "*" means this key.
    key = t.add(Key(
        "KmsKey",
        Description=Sub(f"CodeMate {ENVIRONMENT}: RDS storage, ElastiCache, secrets, ECR images, log groups, "
                        "pipeline artifacts, alarm topic, CloudTrail logs"),
        EnableKeyRotation=True,
        PendingWindowInDays=30,
        KeyPolicy=PolicyDocument(Version="2012-10-17", Statement=[
            # Administration and use through IAM (KEY_ADMINISTRATION, KEY_USE).
            # The deploying principal's IAM permissions make and update the
            # key, let Secrets Manager and SNS use it on the caller's behalf,
            # and make the grants RDS, ElastiCache and ECR use it through; the
            # roles of CodeBuild, CodePipeline and the ECS tasks use it with
            # their own IAM policies.
            through_iam("AccountAdministersKeyThroughIam", KEY_ADMINISTRATION),
            through_iam("AccountUsesKeyThroughIam", KEY_USE),
            through_iam("AccountGrantsKeyToAwsResourcesThroughIam", KEY_GRANTS,
                        Condition=Condition(Bool("kms:GrantIsForAWSResource", True))),
            # Every log group of the project names this key (kit/logs.py):
            # CloudWatch Logs in this region uses it for this account's log
            # groups only (the log group's ARN is the encryption context).
            Statement(
                Sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                Effect=Allow,
                Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
                Action=kms_actions_of(LOGS_KEY_USE),
                Resource=["*"],
                Condition=Condition(ArnLike({"kms:EncryptionContext:aws:logs:arn": Sub(
                    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")})),
            ),
            # A service principal is not covered by the root statement: CloudWatch
            # alarms and AWS Budgets publishing to the SSE-KMS alarm topic need the
            # key themselves (SNS developer guide, "Key management": compatibility
            # between event sources from AWS services and encrypted topics), for
            # this account's alarms and budgets only.
            Statement(
                Sid="AlarmsAndBudgetsPublishToTheAlarmTopic",
                Effect=Allow,
                Principal=Principal("Service", list(TOPIC_PUBLISHERS)),
                Action=[kms_actions.Decrypt, kms_actions.Action("GenerateDataKey*")],
                Resource=["*"],
                Condition=Condition(this_account),
            ),
            # CloudTrail encrypts the account baseline's trail logs with this key
            # (CloudTrail user guide, "Configure AWS KMS key policies for
            # CloudTrail"): only for this environment's trail, and only with the
            # encryption context of a trail of this account.
            Statement(
                Sid="CloudTrailEncryptsThisTrailsLogs",
                Effect=Allow,
                Principal=Principal("Service", "cloudtrail.amazonaws.com"),
                Action=[kms_actions.Action("GenerateDataKey*")],
                Resource=["*"],
                Condition=Condition([
                    this_trail,
                    StringLike({"kms:EncryptionContext:aws:cloudtrail:arn":
                                Sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*")}),
                ]),
            ),
            Statement(
                Sid="CloudTrailDescribesTheKey",
                Effect=Allow,
                Principal=Principal("Service", "cloudtrail.amazonaws.com"),
                Action=[kms_actions.DescribeKey],
                Resource=["*"],
                Condition=Condition(this_trail),
            ),
        ]),
        **RETAIN,
    ))
    t.add(Alias("KmsKeyAlias", AliasName=Sub(f"alias/{PROJECT}-{ENVIRONMENT}"), TargetKeyId=Ref(key)))
    return key


def transitions(pairs) -> list[LifecycleRuleTransition]:
    return [LifecycleRuleTransition(StorageClass=c, TransitionInDays=d) for d, c in pairs]


def files_bucket(t, logs):
    t.condition(FILES_TIERING, Equals(t.input("FilesIntelligentTiering"), "true"))
    files = t.add(bucket(
        "FilesBucket", logged_bucket_name(t, "files"),
        lifecycle_rule("TierDownAgeingFiles",
                       Transitions=If(FILES_TIERING, transitions(FILES_INTELLIGENT_TIERING),
                                      transitions(FILES_TRANSITIONS)),
                       AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=7)),
        versioned=True,
        logging=access_logs(Ref(logs), "files"),
        DependsOn=f"{logs.title}Policy",  # S3 may write its logs from the start
        CorsConfiguration=CorsConfiguration(CorsRules=[CorsRules(
            AllowedOrigins=[Sub("https://${DomainName}", DomainName=t.input("DomainName"))],
            AllowedMethods=list(CORS_METHODS),
            AllowedHeaders=["*"],
            MaxAge=CORS_MAX_AGE,
        )]),
    ))
    t.add(bucket_policy(files))
    bucket_outputs(t, files, "user-files (AWS_S3_BUCKET)")


def static_bucket(t, logs):
    static = t.add(bucket(
        "StaticBucket", logged_bucket_name(t, "static"),
        lifecycle_rule("ExpireOldAssets", ExpirationInDays=STATIC_EXPIRY_DAYS),
        logging=access_logs(Ref(logs), "static"),
        DependsOn=f"{logs.title}Policy",
    ))
    scanner_skip(static, "CKV_AWS_21", "Unversioned by design: it holds only build output (Next.js _next/static) "
                 f"that every release uploads again, and objects expire after {STATIC_EXPIRY_DAYS} days.")
    # Its policy (TLS only; reads by CloudFront's origin access control)
    # names the distribution, so the edge layer, which makes it, writes it.
    bucket_outputs(t, static, "static-assets (Next.js _next/static)")
    t.output("StaticBucketRegionalDomainName", GetAtt(static, "RegionalDomainName"),
             "Regional domain name of the static-assets bucket (CloudFront origin).")


def delivery_grants(logs, name: str, service: str, prefix: str, source: dict, acl_actions: list) -> list:
    """What a service delivering logs needs on the logs bucket, for `source`
    (its aws:Source* condition) only: write objects the bucket owner owns
    under <prefix>AWSLogs/<account>/ (<name>Write), and check the bucket's
    ACL (<name>AclCheck)."""
    principal = Principal("Service", service)
    return [
        Statement(
            Sid=f"{name}Write",
            Effect=Allow,
            Principal=principal,
            Action=[s3_actions.PutObject],
            Resource=[account_logs(logs, prefix)],
            Condition=Condition([StringEquals({"s3:x-amz-acl": "bucket-owner-full-control", **source})]),
        ),
        Statement(
            Sid=f"{name}AclCheck",
            Effect=Allow,
            Principal=principal,
            Action=list(acl_actions),
            Resource=[GetAtt(logs, "Arn")],
            Condition=Condition(StringEquals(source)),
        ),
    ]


def access_log_grants(t, logs) -> list[Statement]:
    """S3 server access logging writes each LOGGED_BUCKETS bucket's logs under
    its own s3-access/<kind>/, for that bucket of this account only (S3 user
    guide, "Permissions for log delivery": a bucket policy for the logging
    service principal, which works whether the bucket's ACLs are on or off)."""
    return [Statement(
        Sid=f"S3AccessLogsWrite{kind.capitalize()}",
        Effect=Allow,
        Principal=Principal("Service", "logging.s3.amazonaws.com"),
        Action=[s3_actions.PutObject],
        Resource=[Sub("${%s.Arn}/%s*" % (logs.title, access_logs_prefix(kind)))],
        Condition=Condition([
            ArnEquals({"aws:SourceArn": Sub("arn:${AWS::Partition}:s3:::"
                                            + logged_bucket_name(t, kind).to_dict()["Fn::Sub"])}),
            StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
        ]),
    ) for kind in LOGGED_BUCKETS]


def logs_bucket(t):
    logs = t.add(bucket(
        "LogsBucket", t.name_of("logs", account=True),
        lifecycle_rule("ArchiveThenExpire", LOGS_TRANSITIONS, ExpirationInDays=LOGS_EXPIRY_DAYS,
                       NoncurrentVersionExpirationInDays=30),
        versioned=True,
        # CloudFront standard logging (legacy) writes through bucket ACLs (it
        # adds the awslogsdelivery account to the bucket ACL) and fails on a
        # bucket with BucketOwnerEnforced. BucketOwnerPreferred keeps ACLs on
        # while objects written with bucket-owner-full-control (ALB, VPC flow
        # logs) still become the bucket owner's. Public ACLs stay blocked.
        ownership="BucketOwnerPreferred",
    ))
    scanner_skip(logs, "CKV_AWS_18", "The destination of the other buckets' access logs: logging it into itself "
                 "would log every delivery of its own logs, without end (S3 advises another bucket).")
    t.add(bucket_policy(
        logs,
        Statement(
            Sid="AlbAccessLogsWrite",
            Effect=Allow,
            Principal=Principal("AWS", Sub(f"arn:${{AWS::Partition}}:iam::{ELB_LOG_DELIVERY_ACCOUNT}:root")),
            Action=[s3_actions.PutObject],
            Resource=[account_logs(logs, LOG_PREFIXES["Alb"])],
        ),
        *delivery_grants(logs, "FlowLogs", "delivery.logs.amazonaws.com", LOG_PREFIXES["VpcFlow"],
                         {"aws:SourceAccount": Ref("AWS::AccountId")},
                         [s3_actions.GetBucketAcl, s3_actions.ListBucket]),
        # The account baseline's trail (observability layer), this
        # environment's only (CloudTrail user guide, "Amazon S3 bucket policy
        # for CloudTrail").
        *delivery_grants(logs, "CloudTrail", "cloudtrail.amazonaws.com", LOG_PREFIXES["CloudTrail"],
                         {"aws:SourceArn": trail_arn()}, [s3_actions.GetBucketAcl]),
        *access_log_grants(t, logs),
    ))
    bucket_outputs(t, logs, "logs (ALB, CloudFront, VPC flow logs, CloudTrail, S3 access logs)")
    t.output("LogsBucketDomainName", GetAtt(logs, "DomainName"),
             "Domain name of the logs bucket (CloudFront standard logging).")
    for source, prefix in LOG_PREFIXES.items():
        t.output(f"{source}LogPrefix", prefix, f"Key prefix of the {source} logs in the logs bucket.")
    return logs


def lifecycle_keep_last(count: int) -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1,
        "description": f"Keep the {count} most recent images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": count},
        "action": {"type": "expire"},
    }]}, sort_keys=True)


def repositories(t, key):
    for service in REPOSITORIES:
        title = service.capitalize()
        # Named per environment: with immutable tags, dev and prod sharing
        # one account (or one repository) would collide on commit tags.
        repo = t.add(Repository(
            f"{title}Repository",
            RepositoryName=t.name_of(service),
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            ImageTagMutability="IMMUTABLE",
            EncryptionConfiguration=EncryptionConfiguration(EncryptionType="KMS", KmsKey=GetAtt(key, "Arn")),
            LifecyclePolicy=LifecyclePolicy(LifecyclePolicyText=lifecycle_keep_last(IMAGES_KEPT)),
            **RETAIN,
        ))
        t.output(f"{title}RepositoryName", Ref(repo), f"Name of the {service} ECR repository.")
        t.output(f"{title}RepositoryArn", GetAtt(repo, "Arn"), f"ARN of the {service} ECR repository.")
        t.output(f"{title}RepositoryUri", GetAtt(repo, "RepositoryUri"), f"URI of the {service} ECR repository.",
                 root=f"ecr_{service}_url")


def build(t):
    key = kms_key(t)
    t.output("KmsKeyArn", GetAtt(key, "Arn"),
             "ARN of the project's KMS key (RDS, ElastiCache, secrets, ECR, log groups, pipeline artifacts, "
             "alarm topic, CloudTrail).")
    logs = logs_bucket(t)
    files_bucket(t, logs)
    static_bucket(t, logs)
    repositories(t, key)


LAYER = Layer("storage", "KMS key, S3 buckets (files, static assets, logs) and ECR repositories", build)
