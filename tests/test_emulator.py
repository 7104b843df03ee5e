"""The local AWS emulator: moto's server on 127.0.0.1, and each patch in
codemate_cfn/emulator/ shown filling its gap: the same calls fail (or
come out wrong) with the patch taken out, and work with it in."""

from __future__ import annotations

import itertools
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from codemate_cfn import emulator as local
from deploy_support import client_for

pytest_plugins = ["emulator_fixtures"]

# How a gap shows: moto's HTTP 500 (not an AWS response), or an AWS error
FAILED = (ResponseParserError, ClientError)
NAMES = itertools.count()


@pytest.fixture
def aws(emulator):
    """Clients that try once: a gap shows as an error, not as retries."""
    return client_for(emulator.url, max_attempts=1)


def upload(aws, key: str, template: dict) -> str:
    s3 = aws.s3
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket="templates", CreateBucketConfiguration={"LocationConstraint": aws.target.region})
    s3.put_object(Bucket="templates", Key=key, Body=json.dumps(template).encode())
    return f"https://templates.s3.{aws.target.region}.amazonaws.com/{key}"


def by_change_set(aws, stack: str, template: dict, kind: str = "CREATE", **parameters) -> str:
    """Create and execute a change set from an uploaded template; the stack ID."""
    cfn = aws.cloudformation
    made = cfn.create_change_set(
        StackName=stack, ChangeSetName=f"c{next(NAMES)}",
        ChangeSetType=kind, TemplateURL=upload(aws, f"{stack}/root.json", template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    cfn.execute_change_set(ChangeSetName=made["Id"])
    return made["StackId"]


def outputs(aws, stack: str) -> dict[str, str]:
    found = aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs") or []
    return {o["OutputKey"]: o["OutputValue"] for o in found}


def parent_of(aws, child: dict, stack: str, **root) -> dict:
    """A root template nesting `child` (uploaded) as resource Child."""
    url = upload(aws, f"{stack}/child.json", child)
    return {
        "Parameters": {"Label": {"Type": "String", "Default": "one"}},
        "Resources": {"Child": {"Type": "AWS::CloudFormation::Stack",
                                "Properties": {"TemplateURL": url, "Parameters": {"Label": {"Ref": "Label"}}}}},
        **root,
    }


LABELLED_QUEUE = {
    "Parameters": {"Label": {"Type": "String"}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"Label": {"Value": {"Ref": "Label"}}, "QueueUrl": {"Value": {"Ref": "Queue"}}},
}


def test_the_server_listens_on_loopback_on_a_free_port_and_forgets_on_reset(emulator, aws):
    assert emulator.url.startswith("http://127.0.0.1:")
    port = int(emulator.url.rsplit(":", 1)[1])
    assert port != 5000  # moto's fixed default: a free port was asked for
    aws.s3.create_bucket(Bucket="scratch", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    emulator.reset()
    assert aws.s3.list_buckets()["Buckets"] == []
    with urllib.request.urlopen(f"{emulator.url}/moto-api/data.json", timeout=10) as answer:
        assert answer.status == 200


def test_nested_outputs_resolve_through_getatt(aws):
    root = parent_of(aws, LABELLED_QUEUE, "nested-outputs")
    root["Resources"]["Echo"] = {"Type": "AWS::SQS::Queue",
                                 "Properties": {"QueueName": {"Fn::GetAtt": ["Child", "Outputs.Label"]}}}
    root["Outputs"] = {"Label": {"Value": {"Fn::GetAtt": ["Child", "Outputs.Label"]}}}
    with local.unpatched("nested outputs"), pytest.raises(FAILED):
        by_change_set(aws, "nested-outputs-unpatched", root, Label="unpatched")
    by_change_set(aws, "nested-outputs", root, Label="patched")
    assert outputs(aws, "nested-outputs") == {"Label": "patched"}
    assert aws.client("sqs").get_queue_url(QueueName="patched")["QueueUrl"].endswith("/patched")


def test_outputs_and_tags_show_after_a_change_set(aws):
    with local.unpatched("outputs after a change set"):
        by_change_set(aws, "outputs-unpatched", LABELLED_QUEUE, Label="one")
        assert outputs(aws, "outputs-unpatched") == {}
    by_change_set(aws, "outputs", LABELLED_QUEUE, Label="one")
    assert outputs(aws, "outputs")["Label"] == "one"


def test_a_nested_stack_is_updated_in_place(aws):
    cfn = aws.cloudformation

    def child_and_queue(stack):
        child = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Child")["StackResourceDetail"]
        return child["PhysicalResourceId"], outputs(aws, child["PhysicalResourceId"])["QueueUrl"]

    root = parent_of(aws, LABELLED_QUEUE, "in-place")
    for stack, patched in (("in-place-unpatched", False), ("in-place", True)):
        by_change_set(aws, stack, root, Label="one")
        before = child_and_queue(stack)
        if patched:
            by_change_set(aws, stack, root, kind="UPDATE", Label="two")
        else:
            with local.unpatched("nested update in place"):
                by_change_set(aws, stack, root, kind="UPDATE", Label="two")
        after = child_and_queue(stack)
        assert (after == before) is patched  # unpatched: a new nested stack with a new queue
        assert outputs(aws, after[0])["Label"] == "two"


UNMODELLED = {
    "Resources": {
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "app/token"}},
        "Cache": {"Type": "AWS::ElastiCache::ReplicationGroup",
                  "Properties": {"ReplicationGroupDescription": "cache", "CacheNodeType": "cache.t4g.micro"}},
    },
    "Outputs": {"CacheHost": {"Value": {"Fn::GetAtt": ["Cache", "PrimaryEndPoint.Address"]}},
                "SecretArn": {"Value": {"Ref": "Secret"}}},
}


def test_unmodelled_types_become_marked_placeholders_and_nothing_is_created(aws):
    cfn = aws.cloudformation
    with local.unpatched("placeholders"), pytest.raises(FAILED):
        cfn.create_stack(StackName="placeholders-unpatched", TemplateBody=json.dumps(UNMODELLED))
    cfn.create_stack(StackName="placeholders", TemplateBody=json.dumps(UNMODELLED))
    resources = cfn.describe_stack_resources(StackName="placeholders")["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} == {"Secret", "Cache"}
    assert all(local.is_placeholder(r["PhysicalResourceId"]) for r in resources)
    assert all(local.is_placeholder(v) for v in outputs(aws, "placeholders").values())
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []


def test_termination_protection_is_set_and_enforced(aws):
    cfn = aws.cloudformation
    for stack in ("protected-unpatched", "protected"):
        cfn.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}))
    with local.unpatched("termination protection"), pytest.raises(FAILED):
        cfn.update_termination_protection(StackName="protected-unpatched", EnableTerminationProtection=True)
    cfn.update_termination_protection(StackName="protected", EnableTerminationProtection=True)
    assert cfn.describe_stacks(StackName="protected")["Stacks"][0]["EnableTerminationProtection"] is True
    with pytest.raises(ClientError, match="TerminationProtection is enabled"):
        cfn.delete_stack(StackName="protected")
    assert cfn.describe_stacks(StackName="protected")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


DATABASE = {
    "Parameters": {"MultiAz": {"Type": "String", "Default": "true"}, "Class": {"Type": "String", "Default": "db.t4g.micro"}},
    "Resources": {
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "db"}},
        "Params": {"Type": "AWS::RDS::DBParameterGroup",
                   "Properties": {"Description": "tls", "Family": "postgres17", "Parameters": {"rds.force_ssl": "1"}}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": "app-db", "Engine": "postgres", "EngineVersion": "17.6",
            "DBInstanceClass": {"Ref": "Class"}, "AllocatedStorage": "20", "MaxAllocatedStorage": 100,
            "MasterUsername": "app", "ManageMasterUserPassword": True, "StorageEncrypted": True,
            "MultiAZ": {"Ref": "MultiAz"}, "DeletionProtection": "true",
            "DBParameterGroupName": {"Ref": "Params"},
            "VPCSecurityGroups": [{"Fn::GetAtt": ["Group", "GroupId"]}],
            "EnableCloudwatchLogsExports": ["postgresql"],
        }},
    },
    "Outputs": {"Secret": {"Value": {"Fn::GetAtt": ["Db", "MasterUserSecret.SecretArn"]}},
                "Host": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}}},
}


def test_a_db_instance_takes_its_template_properties(aws):
    cfn = aws.cloudformation
    with local.unpatched("DB instance from a template"), pytest.raises(FAILED):
        cfn.create_stack(StackName="db-unpatched", TemplateBody=json.dumps(DATABASE))
    cfn.create_stack(StackName="db", TemplateBody=json.dumps(DATABASE))
    db = aws.client("rds").describe_db_instances(DBInstanceIdentifier="app-db")["DBInstances"][0]
    group = cfn.describe_stack_resource(StackName="db", LogicalResourceId="Group")["StackResourceDetail"]
    assert db["MultiAZ"] is True and db["DeletionProtection"] is True and db["StorageEncrypted"] is True
    assert db["MaxAllocatedStorage"] == 100
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [group["PhysicalResourceId"]]
    assert db["DBParameterGroups"][0]["DBParameterGroupName"].startswith("db-params-")
    assert db["MasterUserSecret"]["SecretArn"] == outputs(aws, "db")["Secret"]


def test_a_resource_moto_cannot_update_stays_in_the_stack(aws):
    cfn = aws.cloudformation
    template = {**DATABASE, "Resources": {**DATABASE["Resources"]}}
    template["Resources"]["Db"] = json.loads(json.dumps(DATABASE["Resources"]["Db"]).replace("app-db", "kept-db"))
    template["Resources"]["Db"]["Properties"]["DeletionProtection"] = "false"
    for stack, patched in (("kept-unpatched", False), ("kept", True)):
        body = json.dumps(template).replace("kept-db", f"{stack}-db")
        cfn.create_stack(StackName=stack, TemplateBody=body)
        update = {"StackName": stack, "TemplateBody": body,
                  "Parameters": [{"ParameterKey": "Class", "ParameterValue": "db.t4g.small"}]}
        if patched:
            cfn.update_stack(**update)
            assert outputs(aws, stack)["Host"].startswith(f"{stack}-db.")
        else:
            with local.unpatched("keep what moto cannot update"):
                cfn.update_stack(**update)
            with pytest.raises(FAILED):
                outputs(aws, stack)  # the DB instance is gone from the stack


def test_a_flow_log_can_deliver_to_a_bucket_folder(aws):
    def template(bucket):
        return json.dumps({"Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
            "Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}},
            "FlowLog": {"Type": "AWS::EC2::FlowLog", "Properties": {
                "ResourceId": {"Ref": "Vpc"}, "ResourceType": "VPC", "TrafficType": "ALL",
                "LogDestinationType": "s3", "LogDestination": {"Fn::Sub": "${Logs.Arn}/vpc-flow-logs/"}}},
        }})

    with local.unpatched("flow log to an S3 folder"), pytest.raises(FAILED):
        aws.cloudformation.create_stack(StackName="flow-unpatched", TemplateBody=template("flow-logs-a"))
    aws.cloudformation.create_stack(StackName="flow", TemplateBody=template("flow-logs-b"))
    destinations = [f["LogDestination"] for f in aws.client("ec2").describe_flow_logs()["FlowLogs"]]
    assert "arn:aws:s3:::flow-logs-b/vpc-flow-logs/" in destinations


def test_a_security_group_takes_an_all_traffic_rule_without_ports(aws):
    def template(name):
        return json.dumps({"Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.8.0.0/16"}},
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupName": name, "GroupDescription": "all traffic from one subnet", "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [{"IpProtocol": "-1", "CidrIp": "10.8.1.0/24", "Description": "subnet"}]}},
        }, "Outputs": {"GroupId": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}}})

    with local.unpatched("security group rules on every port"), pytest.raises(FAILED):
        aws.cloudformation.create_stack(StackName="sg-unpatched", TemplateBody=template("all-a"))
    aws.cloudformation.create_stack(StackName="sg", TemplateBody=template("all-b"))
    (group,) = aws.client("ec2").describe_security_groups(GroupNames=["all-b"])["SecurityGroups"]
    assert [(r["IpProtocol"], [c["CidrIp"] for c in r["IpRanges"]]) for r in group["IpPermissions"]] == [
        ("-1", ["10.8.1.0/24"])]


def test_a_kms_key_keeps_its_tags_and_policy(aws):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}
    template = json.dumps({"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
        "KeyPolicy": policy, "EnableKeyRotation": True, "Tags": [{"Key": "Environment", "Value": "dev"}]}}}})
    with local.unpatched("KMS key from a template"), pytest.raises(FAILED):
        aws.cloudformation.create_stack(StackName="kms-unpatched", TemplateBody=template)
    aws.cloudformation.create_stack(StackName="kms", TemplateBody=template)
    key = aws.cloudformation.describe_stack_resource(StackName="kms", LogicalResourceId="Key")["StackResourceDetail"]
    kms = aws.client("kms")
    assert kms.list_resource_tags(KeyId=key["PhysicalResourceId"])["Tags"] == [{"TagKey": "Environment", "TagValue": "dev"}]
    assert json.loads(kms.get_key_policy(KeyId=key["PhysicalResourceId"], PolicyName="default")["Policy"]) == policy


def test_resources_get_events_and_placeholders_none(aws):
    cfn = aws.cloudformation
    template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"},
                                         **UNMODELLED["Resources"]}})
    with local.unpatched("resource events"):
        cfn.create_stack(StackName="events-unpatched", TemplateBody=template)
    cfn.create_stack(StackName="events", TemplateBody=template)

    def resource_events(stack):
        return {(e["LogicalResourceId"], e["ResourceStatus"]) for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
                if e["LogicalResourceId"] != stack}

    assert resource_events("events-unpatched") == set()
    assert resource_events("events") == {("Queue", "CREATE_COMPLETE")}


def test_an_update_that_flips_a_condition_creates_and_deletes(aws):
    cfn = aws.cloudformation
    template = json.dumps({
        "Parameters": {"Two": {"Type": "String", "Default": "false"}},
        "Conditions": {"WantTwo": {"Fn::Equals": [{"Ref": "Two"}, "true"]}},
        "Resources": {"First": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-1"}}},
                      "Second": {"Type": "AWS::SQS::Queue", "Condition": "WantTwo",
                                 "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-2"}}}},
    })

    def queues(stack):
        return sorted(url.rsplit("/", 1)[1] for url in aws.client("sqs").list_queues(QueueNamePrefix=stack).get("QueueUrls", []))

    def update(stack, two):
        cfn.update_stack(StackName=stack, TemplateBody=template, Parameters=[{"ParameterKey": "Two", "ParameterValue": two}])

    for stack in ("flop", "flip"):
        cfn.create_stack(StackName=stack, TemplateBody=template)
    with local.unpatched("conditions on update"):
        update("flop", "true")
    update("flip", "true")
    assert queues("flop") == ["flop-1"]
    assert queues("flip") == ["flip-1", "flip-2"]
    update("flip", "false")
    assert queues("flip") == ["flip-1"]


def installed_last() -> dict:
    """(owner, attribute) -> what the last patch touching it installed."""
    found = {}
    for triples in local._installed.values():
        for owner, attr, _, new in triples:
            found[(owner, attr)] = new
    return found


def test_every_patch_is_applied_and_can_be_taken_out_and_put_back():
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Stack

    local.apply_patches()
    assert list(local._installed) == list(local.PATCHES)
    assert all(vars(owner)[attr] is new for (owner, attr), new in installed_last().items())
    with local.unpatched("nested outputs"):
        assert not hasattr(Stack, "get_cfn_attribute")
    assert hasattr(Stack, "get_cfn_attribute")
    # two patches wrap the same function: taking out the first keeps the second
    with local.unpatched("keep what moto cannot update"):
        assert parsing.parse_and_update_resource is local._installed["resource events"][1][3]
    assert all(vars(owner)[attr] is new for (owner, attr), new in installed_last().items())


def test_a_parameter_inside_fn_sub_counts_as_a_reference(aws):
    first = upload(aws, "sub/v1/child.json", LABELLED_QUEUE)
    upload(aws, "sub/v2/child.json", {**LABELLED_QUEUE, "Outputs": {**LABELLED_QUEUE["Outputs"], "Version": {"Value": "2"}}})
    root = {
        "Parameters": {"Prefix": {"Type": "String"}},
        "Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {
            "TemplateURL": {"Fn::Sub": first.replace("v1/", "${Prefix}")}, "Parameters": {"Label": "x"}}}},
    }

    def child_outputs(stack):
        child = aws.cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="Child")
        return outputs(aws, child["StackResourceDetail"]["PhysicalResourceId"])

    for stack in ("sub-unpatched", "sub"):
        by_change_set(aws, stack, root, Prefix="v1/")
    with local.unpatched("Sub references"):
        by_change_set(aws, "sub-unpatched", root, kind="UPDATE", Prefix="v2/")
    by_change_set(aws, "sub", root, kind="UPDATE", Prefix="v2/")
    assert "Version" not in child_outputs("sub-unpatched")
    assert child_outputs("sub")["Version"] == "2"


def bucket_template(name: str) -> str:
    return json.dumps({"Resources": {"Bucket": {
        "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": name,
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "LifecycleConfiguration": {"Rules": [{"Id": "Tidy", "Status": "Enabled", "ExpirationInDays": 365,
                                                  "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 90}],
                                                  "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]},
            "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.com"],
                                                 "AllowedHeaders": ["*"], "MaxAge": 3000}]},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        }}}})


def test_a_bucket_takes_its_template_settings_and_a_retained_replacement_stays(aws):
    s3, cfn = aws.s3, aws.cloudformation
    with local.unpatched("bucket from a template"):
        cfn.create_stack(StackName="bucket-unpatched", TemplateBody=bucket_template("plain-bucket"))
        assert "Status" not in s3.get_bucket_versioning(Bucket="plain-bucket")
        cfn.update_stack(StackName="bucket-unpatched", TemplateBody=bucket_template("plain-bucket-2"))
        assert "plain-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    cfn.create_stack(StackName="bucket", TemplateBody=bucket_template("kept-bucket"))
    assert s3.get_bucket_versioning(Bucket="kept-bucket")["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket="kept-bucket")["PublicAccessBlockConfiguration"].values())
    rule = s3.get_bucket_lifecycle_configuration(Bucket="kept-bucket")["Rules"][0]
    assert (rule["ID"], rule["Expiration"]["Days"], rule["NoncurrentVersionExpiration"]["NoncurrentDays"]) == ("Tidy", 365, 30)
    assert rule["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]
    cors = s3.get_bucket_cors(Bucket="kept-bucket")["CORSRules"][0]
    assert (cors["AllowedOrigins"], cors["MaxAgeSeconds"]) == (["https://example.com"], 3000)
    ownership = s3.get_bucket_ownership_controls(Bucket="kept-bucket")["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    cfn.update_stack(StackName="bucket", TemplateBody=bucket_template("kept-bucket-2"))
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "kept-bucket" in names and "kept-bucket-2" in names  # UpdateReplacePolicy Retain
    assert s3.get_bucket_versioning(Bucket="kept-bucket-2")["Status"] == "Enabled"


def test_reading_a_deleted_stack_creates_nothing_again(aws):
    cfn = aws.cloudformation
    root = parent_of(aws, LABELLED_QUEUE, "deleted")

    def live_children():
        return [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]
                if s["StackName"].startswith("deleted-") and s["StackStatus"] != "DELETE_COMPLETE"]

    for stack, patched in (("deleted-unpatched", False), ("deleted", True)):
        stack_id = by_change_set(aws, stack, root, Label="one")
        cfn.delete_stack(StackName=stack_id)
        if patched:
            cfn.describe_stack_resources(StackName=stack_id)
            assert live_children() == []
        else:
            with local.unpatched("deleted stays deleted"):
                cfn.describe_stack_resources(StackName=stack_id)
            assert len(live_children()) == 1  # the nested stack came back
            for name in live_children():
                cfn.delete_stack(StackName=name)


def test_an_ecr_repository_takes_its_scan_encryption_and_lifecycle_settings(aws):
    rules = {"rules": [{"rulePriority": 1, "description": "keep 5", "action": {"type": "expire"},
                        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}}]}

    def template(name):
        return json.dumps({"Resources": {"Repo": {"Type": "AWS::ECR::Repository", "Properties": {
            "RepositoryName": name, "ImageTagMutability": "IMMUTABLE",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "EncryptionConfiguration": {"EncryptionType": "AES256"},
            "LifecyclePolicy": {"LifecyclePolicyText": json.dumps(rules)}}}}})

    ecr = aws.client("ecr")
    with local.unpatched("ECR repository from a template"):
        aws.cloudformation.create_stack(StackName="ecr-unpatched", TemplateBody=template("plain"))
    aws.cloudformation.create_stack(StackName="ecr", TemplateBody=template("scanned"))
    plain, scanned = (ecr.describe_repositories(repositoryNames=[n])["repositories"][0] for n in ("plain", "scanned"))
    assert "scanOnPush" not in plain["imageScanningConfiguration"]
    assert scanned["imageScanningConfiguration"] == {"scanOnPush": True}
    assert scanned["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert json.loads(ecr.get_lifecycle_policy(repositoryName="scanned")["lifecyclePolicyText"]) == rules


def test_a_resource_whose_condition_is_false_is_not_listed(aws):
    template = json.dumps({
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"},
                      "Spare": {"Type": "AWS::SQS::Queue", "Condition": "Never"}},
    })
    cfn = aws.cloudformation
    for stack in ("absent-unpatched", "absent"):
        cfn.create_stack(StackName=stack, TemplateBody=template)
    with local.unpatched("absent resources"):
        unpatched = cfn.describe_stack_resources(StackName="absent-unpatched")["StackResources"]
    listed = cfn.describe_stack_resources(StackName="absent")["StackResources"]
    assert len(unpatched) == 2 and [r.get("LogicalResourceId") for r in unpatched].count(None) == 1
    assert [r["LogicalResourceId"] for r in listed] == ["Queue"]


def queues_template(*names: str) -> str:
    return json.dumps({"Resources": {name: {"Type": "AWS::SQS::Queue"} for name in names}})


def live_stacks(cfn, name: str) -> list[str]:
    return [s["StackId"] for s in cfn.list_stacks()["StackSummaries"]
            if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"]


def test_a_create_change_set_on_a_stack_in_review_joins_that_stack(aws):
    cfn = aws.cloudformation

    def review(stack, name, kind="CREATE"):
        return cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=kind,
                                     TemplateBody=queues_template("Queue"))

    with local.unpatched("change sets on a stack in review"):
        first, second = review("review-unpatched", "a"), review("review-unpatched", "b")
        assert second["StackId"] != first["StackId"] and len(live_stacks(cfn, "review-unpatched")) == 2
        with pytest.raises(FAILED):
            review("review-unpatched", "c", "UPDATE")
    first, second = review("review", "a"), review("review", "b")
    assert second["StackId"] == first["StackId"] and live_stacks(cfn, "review") == [first["StackId"]]
    with pytest.raises(ClientError, match="is in REVIEW_IN_PROGRESS state and can not be updated"):
        review("review", "c", "UPDATE")
    cfn.execute_change_set(ChangeSetName=second["Id"])
    assert cfn.describe_stacks(StackName="review")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    with pytest.raises(ClientError, match=r"Stack \[review\] already exists and cannot be created again"):
        review("review", "d")


def test_executing_a_change_set_deletes_the_stacks_other_change_sets(aws):
    cfn = aws.cloudformation

    def left(stack):
        return sorted((s["ChangeSetName"], s["ExecutionStatus"]) for s in cfn.list_change_sets(StackName=stack)["Summaries"]
                      if s["StackName"] == stack)

    for stack in ("others-unpatched", "others"):
        cfn.create_stack(StackName=stack, TemplateBody=queues_template("Queue"))
        made = [cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType="UPDATE",
                                      TemplateBody=queues_template("Queue", name))["Id"] for name in ("One", "Two")]
        if stack.endswith("unpatched"):
            with local.unpatched("other change sets go on execution"):
                cfn.execute_change_set(ChangeSetName=made[0])
        else:
            cfn.execute_change_set(ChangeSetName=made[0])
    assert left("others-unpatched") == [("One", "EXECUTE_COMPLETE"), ("Two", "AVAILABLE")]
    assert left("others") == [("One", "EXECUTE_COMPLETE")]


def test_get_template_of_a_change_set_gives_its_template(aws):
    cfn = aws.cloudformation
    body = queues_template("Queue")
    for stack in ("template-unpatched", "template"):
        made = cfn.create_change_set(StackName=stack, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body)
        if stack.endswith("unpatched"):
            with local.unpatched("template of a change set"):
                unpatched = cfn.get_template(ChangeSetName=made["Id"], StackName=stack)["TemplateBody"]
        else:
            patched = cfn.get_template(ChangeSetName=made["Id"], StackName=stack)["TemplateBody"]
    assert unpatched != json.loads(body)
    assert patched == json.loads(body)


def network(cidr: str, **resources) -> dict:
    """A template: a VPC (cidr a /16 ending in .0.0/16) with a subnet in
    each of two zones and a security group, and `resources`."""
    prefix = cidr.rsplit(".", 2)[0]
    subnets = {f"Subnet{zone.upper()}": {"Type": "AWS::EC2::Subnet", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "CidrBlock": f"{prefix}.{n}.0/24", "AvailabilityZone": f"ap-northeast-2{zone}"}}
        for n, zone in enumerate("ac", 1)}
    return {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
        **subnets,
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "app", "VpcId": {"Ref": "Vpc"}}},
        **resources,
    }}


SUBNETS = [{"Ref": "SubnetA"}, {"Ref": "SubnetC"}]
GROUP = {"Fn::GetAtt": ["Group", "GroupId"]}
TAGS = [{"Key": "Environment", "Value": "dev"}]


def balancer(name: str) -> dict:
    return {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
        "Name": name, "Type": "application", "Scheme": "internet-facing", "Subnets": SUBNETS,
        "SecurityGroups": [GROUP], "Tags": TAGS,
        "LoadBalancerAttributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "3600"},
                                   {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]}}


def target_group(name: str) -> dict:
    return {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
        "Name": name, "TargetType": "ip", "Protocol": "HTTP", "Port": 3001, "VpcId": {"Ref": "Vpc"},
        "HealthCheckPath": "/health", "Tags": TAGS,
        "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "120"},
                                  {"Key": "stickiness.enabled", "Value": "true"}]}}


def physical(aws, stack: str, logical_id: str) -> str:
    found = aws.cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return found["StackResourceDetail"]["PhysicalResourceId"]


def elbv2_attributes(aws, stack: str, logical_id: str) -> dict[str, str]:
    """The attributes of a stack's load balancer or target group, by key."""
    arn, elbv2 = physical(aws, stack, logical_id), aws.client("elbv2")
    if ":targetgroup/" in arn:
        found = elbv2.describe_target_group_attributes(TargetGroupArn=arn)
    else:
        found = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)
    return {a["Key"]: a["Value"] for a in found["Attributes"]}


def test_a_listener_takes_the_certificate_its_template_requests(aws):
    def template(name, certificate):
        return json.dumps(network("10.21.0.0/16", Balancer=balancer(name), Group1=target_group(name), Certificate={
            "Type": "AWS::CertificateManager::Certificate",
            "Properties": {"DomainName": "app.example.com", "ValidationMethod": "DNS"}}, Https={
            "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
                "LoadBalancerArn": {"Ref": "Balancer"}, "Port": 443, "Protocol": "HTTPS",
                "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "Certificates": [{"CertificateArn": certificate}],
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Group1"}}]}}))

    cfn = aws.cloudformation
    with local.unpatched("listener on a placeholder certificate"), pytest.raises(ClientError, match="CertificateNotFound"):
        cfn.create_stack(StackName="cert-unpatched", TemplateBody=template("cert-unpatched", {"Ref": "Certificate"}))
    cfn.create_stack(StackName="cert", TemplateBody=template("cert", {"Ref": "Certificate"}))
    listener = aws.client("elbv2").describe_listeners(ListenerArns=[physical(aws, "cert", "Https")])["Listeners"][0]
    assert listener["Certificates"] == [{"CertificateArn": physical(aws, "cert", "Certificate")}]
    assert local.is_placeholder(listener["Certificates"][0]["CertificateArn"])
    unknown = "arn:aws:acm:ap-northeast-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError, match="CertificateNotFound"):  # as on AWS
        cfn.create_stack(StackName="cert-unknown", TemplateBody=template("cert-unknown", unknown))


def test_a_load_balancer_takes_its_attributes_and_answers_getatt(aws):
    outputs_of_interest = {name: {"Value": {"Fn::GetAtt": ["Balancer", name]}}
                           for name in ("CanonicalHostedZoneID", "LoadBalancerFullName")}

    def template(name):
        return json.dumps({**network("10.22.0.0/16", Balancer=balancer(name)), "Outputs": outputs_of_interest})

    elbv2, cfn = aws.client("elbv2"), aws.cloudformation

    def attributes(stack):
        return elbv2_attributes(aws, stack, "Balancer")

    with local.unpatched("load balancer from a template"):
        cfn.create_stack(StackName="alb-unpatched", TemplateBody=template("alb-unpatched"))
        unresolved = outputs(aws, "alb-unpatched")
    assert unresolved == {name: str(value["Value"]) for name, value in outputs_of_interest.items()}  # "{'Fn::GetAtt': ...}"
    assert "idle_timeout.timeout_seconds" not in attributes("alb-unpatched")
    cfn.create_stack(StackName="alb", TemplateBody=template("alb"))
    assert attributes("alb")["idle_timeout.timeout_seconds"] == "3600"
    assert attributes("alb")["routing.http.drop_invalid_header_fields.enabled"] == "true"
    arn = physical(aws, "alb", "Balancer")
    described = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert outputs(aws, "alb") == {"CanonicalHostedZoneID": described["CanonicalHostedZoneId"],
                                   "LoadBalancerFullName": arn.split(":loadbalancer/")[1]}
    assert outputs(aws, "alb")["LoadBalancerFullName"].startswith("app/alb/")
    assert elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == TAGS


def test_a_target_group_takes_its_attributes_and_answers_getatt(aws):
    def template(name):
        return json.dumps({**network("10.23.0.0/16", Group1=target_group(name)),
                           "Outputs": {"FullName": {"Value": {"Fn::GetAtt": ["Group1", "TargetGroupFullName"]}}}})

    elbv2, cfn = aws.client("elbv2"), aws.cloudformation

    def attributes(stack):
        return elbv2_attributes(aws, stack, "Group1")

    with local.unpatched("target group from a template"):
        cfn.create_stack(StackName="tg-unpatched", TemplateBody=template("tg-unpatched"))
        assert outputs(aws, "tg-unpatched") == {}  # no GetAtt at all: the stack lost its outputs
    assert attributes("tg-unpatched")["stickiness.enabled"] == "false"
    assert attributes("tg-unpatched")["deregistration_delay.timeout_seconds"] == "300"  # moto's default
    cfn.create_stack(StackName="tg", TemplateBody=template("tg"))
    assert attributes("tg")["stickiness.enabled"] == "true"
    assert attributes("tg")["deregistration_delay.timeout_seconds"] == "120"
    arn = physical(aws, "tg", "Group1")
    assert outputs(aws, "tg") == {"FullName": "targetgroup/tg/" + arn.rsplit("/", 1)[1]}
    assert elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == TAGS


def test_an_ecs_cluster_takes_its_settings(aws):
    def template(name):
        return json.dumps({"Resources": {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterName": name, "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}], "Tags": TAGS}}}})

    ecs = aws.client("ecs")
    with local.unpatched("ECS cluster from a template"):
        aws.cloudformation.create_stack(StackName="cluster-unpatched", TemplateBody=template("plain-cluster"))
    aws.cloudformation.create_stack(StackName="cluster", TemplateBody=template("insights-cluster"))
    plain, insights = ecs.describe_clusters(clusters=["plain-cluster", "insights-cluster"], include=["TAGS"])["clusters"]
    assert plain["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert insights["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert insights["tags"] == [{"key": "Environment", "value": "dev"}]


def fargate_task(family: str) -> dict:
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": {
        "Family": family, "Cpu": "512", "Memory": "1024", "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "RuntimePlatform": {"OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"},
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/execution", "Tags": TAGS,
        "ContainerDefinitions": [{
            "Name": "app", "Image": {"Fn::Sub": "example/app:${Tag}"}, "Essential": True,
            "PortMappings": [{"ContainerPort": 3001, "Protocol": "tcp"}],
            "HealthCheck": {"Command": ["CMD-SHELL", "true"], "Interval": 30, "Timeout": 5, "Retries": 3},
            "Secrets": [{"Name": "TOKEN", "ValueFrom": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:t"}],
        }]}}


def test_a_task_definition_takes_every_property_and_an_update_is_a_new_revision(aws):
    def template(family):
        return json.dumps({"Parameters": {"Tag": {"Type": "String"}}, "Resources": {"Task": fargate_task(family)}})

    ecs, cfn = aws.client("ecs"), aws.cloudformation

    def update(stack, family, tag):
        cfn.update_stack(StackName=stack, TemplateBody=template(family), Parameters=[{"ParameterKey": "Tag", "ParameterValue": tag}])

    for stack in ("task-unpatched", "task"):
        if stack.endswith("unpatched"):
            with local.unpatched("task definition from a template"):
                cfn.create_stack(StackName=stack, TemplateBody=template(stack),
                                 Parameters=[{"ParameterKey": "Tag", "ParameterValue": "1"}])
                update(stack, stack, "2")
        else:
            cfn.create_stack(StackName=stack, TemplateBody=template(stack), Parameters=[{"ParameterKey": "Tag", "ParameterValue": "1"}])
            update(stack, stack, "2")
    plain = ecs.describe_task_definition(taskDefinition="task-unpatched:1")["taskDefinition"]
    assert plain["networkMode"] == "bridge" and "cpu" not in plain and "runtimePlatform" not in plain
    updated_plain = ecs.describe_task_definition(taskDefinition="task-unpatched:2")["taskDefinition"]
    assert "name" not in updated_plain["containerDefinitions"][0]  # CloudFormation's "Name" kept
    first = ecs.describe_task_definition(taskDefinition="task:1")["taskDefinition"]
    assert (first["cpu"], first["memory"], first["networkMode"]) == ("512", "1024", "awsvpc")
    assert first["requiresCompatibilities"] == ["FARGATE"]
    assert first["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"}
    assert first["executionRoleArn"] == "arn:aws:iam::123456789012:role/execution"
    assert first["status"] == "INACTIVE"
    second = ecs.describe_task_definition(taskDefinition="task:2", include=["TAGS"])
    container = second["taskDefinition"]["containerDefinitions"][0]
    assert (container["name"], container["image"]) == ("app", "example/app:2")
    assert container["healthCheck"]["command"] == ["CMD-SHELL", "true"]
    assert container["secrets"] == [{"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:t"}]
    assert second["taskDefinition"]["networkMode"] == "awsvpc" and second["tags"] == [{"key": "Environment", "value": "dev"}]
    assert physical(aws, "task", "Task") == second["taskDefinition"]["taskDefinitionArn"]


def test_an_ecs_service_takes_its_network_load_balancer_and_deployment_settings(aws):
    def template(name):
        return json.dumps({"Parameters": {"Tag": {"Type": "String", "Default": "1"}},
                           **network("10.24.0.0/16", Cluster={"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": name}},
                                     Task=fargate_task(name), Group1=target_group(name), Service={
            "Type": "AWS::ECS::Service", "Properties": {
                "ServiceName": name, "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"},
                "LaunchType": "FARGATE", "PlatformVersion": "LATEST", "DesiredCount": 2,
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": SUBNETS, "SecurityGroups": [GROUP],
                                                                 "AssignPublicIp": "DISABLED"}},
                "LoadBalancers": [{"ContainerName": "app", "ContainerPort": 3001, "TargetGroupArn": {"Ref": "Group1"}}],
                "HealthCheckGracePeriodSeconds": 60, "PropagateTags": "SERVICE", "EnableECSManagedTags": True,
                "DeploymentController": {"Type": "ECS"},
                "DeploymentConfiguration": {"MinimumHealthyPercent": 100, "MaximumPercent": 200,
                                            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}},
                "Tags": TAGS}})})

    ecs, cfn = aws.client("ecs"), aws.cloudformation
    with local.unpatched("ECS service from a template"):
        cfn.create_stack(StackName="service-unpatched", TemplateBody=template("service-unpatched"))
    cfn.create_stack(StackName="service", TemplateBody=template("service"))
    plain = ecs.describe_services(cluster="service-unpatched", services=["service-unpatched"])["services"][0]
    assert plain["launchType"] == "EC2" and plain["networkConfiguration"] == {} and plain["loadBalancers"] == []
    assert "deploymentConfiguration" not in plain
    found = ecs.describe_services(cluster="service", services=["service"], include=["TAGS"])["services"][0]
    assert (found["launchType"], found["platformVersion"], found["desiredCount"]) == ("FARGATE", "LATEST", 2)
    vpc = found["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc["subnets"] == [physical(aws, "service", "SubnetA"), physical(aws, "service", "SubnetC")]
    assert vpc["securityGroups"] == [physical(aws, "service", "Group")] and vpc["assignPublicIp"] == "DISABLED"
    assert found["loadBalancers"] == [{"containerName": "app", "containerPort": 3001,
                                       "targetGroupArn": physical(aws, "service", "Group1")}]
    assert found["deploymentConfiguration"] == {"minimumHealthyPercent": 100, "maximumPercent": 200,
                                                "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    assert found["healthCheckGracePeriodSeconds"] == 60
    assert (found["propagateTags"], found["enableECSManagedTags"]) == ("SERVICE", True)
    assert found["tags"] == [{"key": "Environment", "value": "dev"}]


def test_an_ecs_service_on_capacity_providers_shows_its_strategy_and_no_launch_type(aws):
    def template(name):
        return json.dumps({"Parameters": {"Tag": {"Type": "String", "Default": "1"}}, **network("10.25.0.0/16", Cluster={"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterName": name, "CapacityProviders": ["FARGATE", "FARGATE_SPOT"]}}, Task=fargate_task(name), Service={
            "Type": "AWS::ECS::Service", "Properties": {
                "ServiceName": name, "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"},
                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Base": 1, "Weight": "25"},
                                             {"CapacityProvider": "FARGATE_SPOT", "Weight": "75"}],
                "DesiredCount": 2,
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": SUBNETS, "SecurityGroups": [GROUP],
                                                                 "AssignPublicIp": "DISABLED"}}}})})

    ecs, cfn = aws.client("ecs"), aws.cloudformation
    with local.unpatched("ECS service from a template"):
        cfn.create_stack(StackName="spot-unpatched", TemplateBody=template("spot-unpatched"))
    cfn.create_stack(StackName="spot", TemplateBody=template("spot"))
    plain = ecs.describe_services(cluster="spot-unpatched", services=["spot-unpatched"])["services"][0]
    assert plain["launchType"] == "EC2" and "capacityProviderStrategy" not in plain
    found = ecs.describe_services(cluster="spot", services=["spot"])["services"][0]
    assert "launchType" not in found
    assert found["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "base": 1, "weight": 25},
                                                 {"capacityProvider": "FARGATE_SPOT", "weight": 75}]


def test_a_dns_record_is_made_as_the_route53_api_makes_it(aws):
    zone = aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="records")["HostedZone"]["Id"]

    def template(name):
        return json.dumps({"Resources": {"Record": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": zone.rsplit("/", 1)[1], "Name": name, "Type": "A",
            "AliasTarget": {"DNSName": "lb-1.ap-northeast-2.elb.amazonaws.com", "HostedZoneId": "ZLB",
                            "EvaluateTargetHealth": False}}}}})

    cfn = aws.cloudformation
    with local.unpatched("record set from a template"):
        cfn.create_stack(StackName="record-unpatched", TemplateBody=template("plain.example.com"))
        cfn.create_stack(StackName="record-elsewhere", TemplateBody=template("app.example.org"))  # not in the zone
    cfn.create_stack(StackName="record", TemplateBody=template("app.example.com"))
    records = aws.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert {r["Name"] for r in records if r["Type"] == "A"} == {"plain.example.com", "app.example.org", "app.example.com."}
    alias = next(r for r in records if r["Name"] == "app.example.com.")["AliasTarget"]
    assert alias == {"DNSName": "lb-1.ap-northeast-2.elb.amazonaws.com", "HostedZoneId": "ZLB", "EvaluateTargetHealth": False}
    with pytest.raises(ClientError, match="InvalidChangeBatch"):
        cfn.create_stack(StackName="record-outside", TemplateBody=template("app.example.net"))


def test_an_update_that_flips_a_condition_updates_what_chooses_by_it(aws):
    template = json.dumps({
        "Parameters": {"Slow": {"Type": "String", "Default": "false"}},
        "Conditions": {"IsSlow": {"Fn::Equals": [{"Ref": "Slow"}, "true"]}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": {"Fn::Sub": "${AWS::StackName}-queue"}, "VisibilityTimeout": {"Fn::If": ["IsSlow", 300, 30]}}}},
    })
    cfn, sqs = aws.cloudformation, aws.client("sqs")

    def timeout(stack):
        url = sqs.get_queue_url(QueueName=f"{stack}-queue")["QueueUrl"]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]

    def slow(stack):
        cfn.update_stack(StackName=stack, TemplateBody=template, Parameters=[{"ParameterKey": "Slow", "ParameterValue": "true"}])

    for stack in ("if-unpatched", "if"):
        cfn.create_stack(StackName=stack, TemplateBody=template)
    with local.unpatched("Fn::If on a flipped condition"):
        slow("if-unpatched")
    slow("if")
    assert (timeout("if-unpatched"), timeout("if")) == ("30", "300")


def test_a_vpc_takes_its_dns_settings(aws):
    def template():
        return json.dumps({"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": "10.9.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True}}}})

    with local.unpatched("VPC from a template"):
        aws.cloudformation.create_stack(StackName="vpc-unpatched", TemplateBody=template())
    aws.cloudformation.create_stack(StackName="vpc", TemplateBody=template())
    ec2 = aws.client("ec2")
    found = {}
    for stack in ("vpc-unpatched", "vpc"):
        vpc = aws.cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="Vpc")
        vpc_id = vpc["StackResourceDetail"]["PhysicalResourceId"]
        found[stack] = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")[
            "EnableDnsHostnames"]["Value"]
    assert found == {"vpc-unpatched": False, "vpc": True}


def test_a_fargate_task_whose_containers_leave_memory_to_the_task_runs(aws):
    ec2, ecs = aws.client("ec2"), aws.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="tasks", Description="tasks")["GroupId"]
    ecs.create_cluster(clusterName="memory")
    ecs.register_task_definition(family="memory", cpu="512", memory="1024", networkMode="awsvpc",
                                 requiresCompatibilities=["FARGATE"],
                                 containerDefinitions=[{"name": "migrate", "image": "example/app:1"}])
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
    with local.unpatched("Fargate task without container memory"):
        with pytest.raises(ClientError, match="500"):
            ecs.run_task(cluster="memory", taskDefinition="memory", launchType="FARGATE",
                         networkConfiguration=network)
    started = ecs.run_task(cluster="memory", taskDefinition="memory", launchType="FARGATE",
                           networkConfiguration=network)
    assert [t["lastStatus"] for t in started["tasks"]] and started["failures"] == []


def test_create_stack_refuses_a_value_outside_allowed_values(aws):
    cfn = aws.cloudformation
    template = json.dumps({"Parameters": {"Count": {"Type": "String", "AllowedValues": ["1", "2"]}},
                           "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    with local.unpatched("allowed values on create"):
        cfn.create_stack(StackName="allowed-unpatched", TemplateBody=template,
                         Parameters=[{"ParameterKey": "Count", "ParameterValue": "3"}])
    with pytest.raises(ClientError, match="Parameter 'Count' must be one of AllowedValues"):
        cfn.create_stack(StackName="allowed", TemplateBody=template,
                         Parameters=[{"ParameterKey": "Count", "ParameterValue": "3"}])
    cfn.create_stack(StackName="allowed", TemplateBody=template,
                     Parameters=[{"ParameterKey": "Count", "ParameterValue": "2"}])
    assert cfn.describe_stacks(StackName="allowed")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
