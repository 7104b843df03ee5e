"""The storage layer holds the design's values for dev and prod:
bucket names, versioning, encryption, lifecycle, CORS, public access
blocks, bucket policies, ECR repositories and the project's KMS key."""

import fnmatch
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
    assert set(statements) == {"AccountAdministersKeyThroughIam", "AccountUsesKeyThroughIam",
                               "AccountGrantsKeyToAwsResourcesThroughIam", "CloudWatchLogsEncryptsThisAccountsLogGroups",
                               "AlarmsAndBudgetsPublishToTheAlarmTopic", "CloudTrailEncryptsThisTrailsLogs",
                               "CloudTrailDescribesTheKey"}
    for sid, statement in statements.items():
        assert statement["Effect"] == "Allow" and statement["Resource"] == ["*"], sid  # "*": this key
        if "Service" in statement["Principal"]:
            assert "Condition" in statement, f"{sid}: a service principal unconditioned"
    # CloudWatch alarms and AWS Budgets publish to the SSE-KMS alarm topic (observability layer)
    publish = statements["AlarmsAndBudgetsPublishToTheAlarmTopic"]
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]}
    assert publish["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


ACCOUNT = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
# What KMS authorizes on a key: the cryptographic operations and what hands
# them to someone else (a grant). Administration holds none of them.
KEY_USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                   "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
                   "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateMac", "kms:VerifyMac", "kms:Sign",
                   "kms:Verify", "kms:DeriveSharedSecret", "kms:CreateGrant"}


def allows(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def test_kms_key_administration_manages_the_key_and_cannot_use_it(storage):
    admin = key_statements(storage)["AccountAdministersKeyThroughIam"]
    assert admin["Principal"] == ACCOUNT and "Condition" not in admin
    assert not any("*" in action for action in admin["Action"]), "administration is spelt out, no wildcard"
    assert [a for a in KEY_USE_ACTIONS if allows(admin["Action"], a)] == []
    # no lock-out: the key's policy stays changeable, and the key deletable only after its waiting period
    assert {"kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
            "kms:EnableKeyRotation", "kms:DisableKey", "kms:EnableKey"} <= set(admin["Action"])


def cloudformation_handler_permissions(resource_type: str) -> set[str]:
    """The KMS permissions CloudFormation's handlers of `resource_type` call
    (create, read, update, delete, list), from the resource schema cfn-lint ships."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("ap-northeast-2", resource_type).schema
    return {p for handler in schema["handlers"].values() for p in handler["permissions"] if p.startswith("kms:")}


def test_kms_key_administration_covers_every_call_cloudformation_makes_on_the_key_and_its_alias(storage):
    """Deploys keep working: everything CloudFormation calls to make, read,
    update and delete the key and its alias is administration (kms:CreateKey,
    ListKeys and ListAliases act on no key: IAM alone decides them)."""
    admin = key_statements(storage)["AccountAdministersKeyThroughIam"]["Action"]
    needed = (cloudformation_handler_permissions("AWS::KMS::Key")
              | cloudformation_handler_permissions("AWS::KMS::Alias")) - {"kms:CreateKey", "kms:ListKeys",
                                                                          "kms:ListAliases"}
    assert {"kms:PutKeyPolicy", "kms:CreateAlias", "kms:UpdateKeyDescription"} <= needed
    assert sorted(a for a in needed if not allows(admin, a)) == []


def test_kms_key_use_is_the_cryptographic_operations_and_grants_only_for_aws_resources(storage):
    statements = key_statements(storage)
    use = statements["AccountUsesKeyThroughIam"]
    assert (use["Principal"], use["Action"]) == (
        ACCOUNT, ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"])
    assert "Condition" not in use
    grants = statements["AccountGrantsKeyToAwsResourcesThroughIam"]
    assert (grants["Principal"], grants["Action"]) == (ACCOUNT, ["kms:CreateGrant", "kms:ListGrants",
                                                                 "kms:RevokeGrant"])
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": True}}
    # Nothing else gives the account (or anyone) the key: no kms:* left
    for sid, statement in statements.items():
        assert "kms:*" not in statement["Action"], sid
        if statement["Principal"] == ACCOUNT:
            assert sid in {"AccountAdministersKeyThroughIam", "AccountUsesKeyThroughIam",
                           "AccountGrantsKeyToAwsResourcesThroughIam"}


def test_kms_key_lets_cloudwatch_logs_of_this_region_encrypt_this_accounts_log_groups(storage):
    logs = key_statements(storage)["CloudWatchLogsEncryptsThisAccountsLogGroups"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert logs["Action"] == ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                              "kms:Describe*"]
    assert logs["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}}


def test_every_log_group_of_every_layer_is_encrypted_with_the_project_key():
    """The key's CloudWatch Logs statement is for them; a log group of a
    layer added later gets the key through the kit's log_group."""
    root = templates()["root"]["Resources"]
    groups = {(name, lid): r for name, template in templates().items()
              for lid, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert {name for name, _ in groups} == {"data", "services", "pipeline"}
    for (name, lid), group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Ref": "KmsKeyArn"}, f"{name}/{lid}"
        assert root[f"{name.capitalize()}Stack"]["Properties"]["Parameters"]["KmsKeyArn"] == {
            "Fn::GetAtt": ["StorageStack", "Outputs.KmsKeyArn"]}


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


def test_files_intelligent_tiering_is_off_in_both_committed_files_and_by_default():
    assert catalogue()["FilesIntelligentTiering"].default == "false"
    for env in ("dev", "prod"):
        given = paramfile.load(ROOT / "params" / f"{env}.json", catalogue(), conventions()).parameters
        assert given["FilesIntelligentTiering"] == "false"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_with_intelligent_tiering_user_files_go_there_at_once_instead_of_the_ladder(env):
    tiered = Environment("storage", env, FilesIntelligentTiering="true")
    files = only_rule(tiered, "FilesBucket")
    assert transitions(files) == [(0, "INTELLIGENT_TIERING")]
    assert "ExpirationInDays" not in files
    assert files["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    laddered = only_rule(Environment("storage", env, FilesIntelligentTiering="false"), "FilesBucket")
    assert transitions(laddered) == [(30, "STANDARD_IA"), (90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")]
