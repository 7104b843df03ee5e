"""The storage layer holds the design's values for dev and prod:
bucket names, versioning, encryption, lifecycle, CORS, public access
blocks, bucket policies, ECR repositories and the project's KMS key."""

import json

import pytest

from codemate_cfn.params import paramfile
from layer_values import ROOT, Environment, catalogue, conventions, templates

BUCKETS = ("FilesBucket", "StaticBucket", "LogsBucket")
WITH_POLICY = ("FilesBucket", "LogsBucket")  # the static bucket's is the edge layer's
DOMAINS = {"dev": "codemate-dev.code1398.io", "prod": "codemate.code1398.io"}
ELB_ACCOUNT_AP_NORTHEAST_2 = "600734575887"


def transitions(rule: dict) -> list[tuple[int, str]]:
    return [(t["TransitionInDays"], t["StorageClass"]) for t in rule.get("Transitions", [])]


def only_rule(storage: Environment, bucket: str) -> dict:
    rules = storage.props(bucket)["LifecycleConfiguration"]["Rules"]
    assert len(rules) == 1
    assert rules[0]["Status"] == "Enabled"
    return rules[0]


def policy_of(storage: Environment, bucket: str) -> list[dict]:
    policies = [p["Properties"] for p in storage.of_type("AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": bucket}]
    assert len(policies) == 1, f"{bucket} should have exactly one bucket policy"
    return policies[0]["PolicyDocument"]["Statement"]


def test_bucket_names_carry_the_environment_and_the_account(storage):
    env = storage.env
    assert storage.props("FilesBucket")["BucketName"] == {"Fn::Sub": f"codemate-files-{env}-${{AWS::AccountId}}"}
    assert storage.props("StaticBucket")["BucketName"] == f"codemate-static-{env}"
    assert storage.props("LogsBucket")["BucketName"] == {"Fn::Sub": f"codemate-logs-{env}-${{AWS::AccountId}}"}


def test_every_bucket_blocks_all_public_access_and_uses_sse_s3(storage):
    buckets = storage.of_type("AWS::S3::Bucket")
    assert sorted(buckets) == sorted(BUCKETS)
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }
        rule, = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_versioning_on_files_and_logs_off_for_static_assets(storage):
    assert storage.props("FilesBucket")["VersioningConfiguration"] == {"Status": "Enabled"}
    assert storage.props("LogsBucket")["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "VersioningConfiguration" not in storage.props("StaticBucket")


def test_lifecycle_rules_match_the_spec(storage):
    files = only_rule(storage, "FilesBucket")
    assert transitions(files) == [(30, "STANDARD_IA"), (90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
    assert "ExpirationInDays" not in files  # user files are never expired
    static = only_rule(storage, "StaticBucket")
    assert static["ExpirationInDays"] == 30 and transitions(static) == []
    logs = only_rule(storage, "LogsBucket")
    assert transitions(logs) == [(90, "GLACIER")]
    assert logs["ExpirationInDays"] == 365


def test_files_bucket_cors_allows_only_the_environments_site(storage):
    rule, = storage.props("FilesBucket")["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == [f"https://{DOMAINS[storage.env]}"]
    assert sorted(rule["AllowedMethods"]) == ["DELETE", "GET", "POST", "PUT"]
    assert rule["AllowedHeaders"] == ["*"]
    assert rule["MaxAge"] == 3000


def test_every_bucket_policy_denies_requests_without_tls(storage):
    for bucket in WITH_POLICY:
        first = policy_of(storage, bucket)[0]
        assert first["Effect"] == "Deny" and first["Principal"] == "*" and first["Action"] == ["s3:*"]
        assert first["Condition"] == {"Bool": {"aws:SecureTransport": False}}
        assert first["Resource"] == [{"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Sub": "${%s.Arn}/*" % bucket}]


def test_no_bucket_policy_allows_everyone(storage):
    for bucket in WITH_POLICY:
        for statement in policy_of(storage, bucket):
            if statement["Effect"] == "Allow":
                assert statement["Principal"] != "*", f"{bucket}: {statement['Sid']} allows anyone"


def test_logs_bucket_accepts_alb_access_logs_from_the_seoul_elb_account(storage):
    statement, = [s for s in policy_of(storage, "LogsBucket") if s["Sid"] == "AlbAccessLogsWrite"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{ELB_ACCOUNT_AP_NORTHEAST_2}:root"}}
    assert statement["Action"] == ["s3:PutObject"]
    assert statement["Resource"] == [{"Fn::Sub": "${LogsBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"}]
    assert storage.output("AlbLogPrefix") == "alb/"


def test_logs_bucket_accepts_the_flow_logs_the_network_layer_sends(storage):
    writes, = [s for s in policy_of(storage, "LogsBucket") if s["Sid"] == "FlowLogsWrite"]
    assert writes["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert writes["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    prefix = storage.output("VpcFlowLogPrefix")
    assert writes["Resource"] == [{"Fn::Sub": "${LogsBucket.Arn}/%sAWSLogs/${AWS::AccountId}/*" % prefix}]
    flow_log = Environment("network", storage.env).props("VpcFlowLog")
    assert flow_log["LogDestination"]["Fn::Sub"] == "${LogsBucketArn}/" + prefix


def test_logs_bucket_keeps_acls_for_cloudfront_standard_logging(storage):
    # CloudFront standard logging needs bucket ACLs; the other buckets have none.
    ownership = {b: storage.props(b)["OwnershipControls"]["Rules"][0]["ObjectOwnership"] for b in BUCKETS}
    assert ownership == {"FilesBucket": "BucketOwnerEnforced", "StaticBucket": "BucketOwnerEnforced",
                         "LogsBucket": "BucketOwnerPreferred"}
    assert storage.output("CloudFrontLogPrefix") == "cloudfront/"
    assert storage.output("LogsBucketDomainName") == {"Fn::GetAtt": ["LogsBucket", "DomainName"]}


def test_static_bucket_policy_is_the_edge_layers(storage):
    # It names the CloudFront distribution, which the edge layer makes
    # (tests/test_edge_layer.py); a bucket has one policy.
    assert "StaticBucketPolicy" not in storage.template["Resources"]
    assert policy_of(storage, "FilesBucket") and policy_of(storage, "LogsBucket")


@pytest.mark.parametrize("service", ["frontend", "backend"])
def test_ecr_repositories_scan_keep_ten_images_and_never_move_tags(storage, service):
    props = storage.props(f"{service.capitalize()}Repository")
    assert props["RepositoryName"] == f"codemate-{service}-{storage.env}"
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["ImageTagMutability"] == "IMMUTABLE"
    assert props["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": {"Fn::GetAtt": ["KmsKey", "Arn"]}}
    rule, = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}
    assert rule["action"] == {"type": "expire"}


def key_statements(storage: Environment) -> dict[str, dict]:
    return {s["Sid"]: s for s in storage.props("KmsKey")["KeyPolicy"]["Statement"]}


def trail_arn(env: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/"
                       f"codemate-trail-{env}"}


def test_kms_key_rotates_and_is_named_per_environment(storage):
    key = storage.props("KmsKey")
    assert key["EnableKeyRotation"] is True
    admin = key_statements(storage)["AccountAdministersKeyThroughIam"]
    assert admin["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert storage.props("KmsKeyAlias") == {"AliasName": f"alias/codemate-{storage.env}",
                                            "TargetKeyId": {"Ref": "KmsKey"}}
    assert storage.output("KmsKeyArn") == {"Fn::GetAtt": ["KmsKey", "Arn"]}


def test_kms_key_grants_services_only_what_they_need_for_this_account(storage):
    statements = key_statements(storage)
    assert set(statements) == {"AccountAdministersKeyThroughIam", "AlarmsAndBudgetsPublishToTheAlarmTopic",
                               "CloudTrailEncryptsThisTrailsLogs", "CloudTrailDescribesTheKey"}
    for sid, statement in statements.items():
        assert statement["Effect"] == "Allow" and statement["Resource"] == ["*"], sid  # "*": this key
        if "Service" in statement["Principal"]:
            assert "Condition" in statement, f"{sid}: a service principal unconditioned"
    # CloudWatch alarms and AWS Budgets publish to the SSE-KMS alarm topic (observability layer)
    publish = statements["AlarmsAndBudgetsPublishToTheAlarmTopic"]
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]}
    assert publish["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_kms_key_encrypts_only_this_environments_trail(storage):
    statements = key_statements(storage)
    encrypt = statements["CloudTrailEncryptsThisTrailsLogs"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == ["kms:GenerateDataKey*"]
    assert encrypt["Condition"] == {
        "StringEquals": {"aws:SourceArn": trail_arn(storage.env)},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                       {"Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"}},
    }
    describe = statements["CloudTrailDescribesTheKey"]
    assert describe["Action"] == ["kms:DescribeKey"]
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn(storage.env)}}


def test_logs_bucket_accepts_this_environments_cloudtrail_trail(storage):
    statements = {s["Sid"]: s for s in policy_of(storage, "LogsBucket") if "Sid" in s}
    check, write = statements["CloudTrailAclCheck"], statements["CloudTrailWrite"]
    for statement in (check, write):
        assert statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert check["Action"] == ["s3:GetBucketAcl"]
    assert check["Resource"] == [{"Fn::GetAtt": ["LogsBucket", "Arn"]}]
    assert check["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn(storage.env)}}
    prefix = storage.output("CloudTrailLogPrefix")
    assert prefix == "cloudtrail/"
    assert write["Action"] == ["s3:PutObject"]
    assert write["Resource"] == [{"Fn::Sub": "${LogsBucket.Arn}/cloudtrail/AWSLogs/${AWS::AccountId}/*"}]
    assert write["Condition"] == {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control",
                                                   "aws:SourceArn": trail_arn(storage.env)}}


def test_root_prints_the_repository_urls():
    outputs = templates()["root"]["Outputs"]
    for service in ("frontend", "backend"):
        name = f"{service.capitalize()}RepositoryUri"
        assert outputs[name] == {"Description": f"ecr_{service}_url",
                                 "Value": {"Fn::GetAtt": ["StorageStack", f"Outputs.{name}"]}}


def test_a_domain_name_that_is_not_a_host_name_is_rejected(tmp_path):
    source = json.loads((ROOT / "params" / "dev.json").read_text())
    source["Parameters"]["DomainName"] = "https://Codemate.example"
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(source))
    _, problems = paramfile.check(path, catalogue(), conventions())
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: Parameters.DomainName: 'https://Codemate.example' does not match")
