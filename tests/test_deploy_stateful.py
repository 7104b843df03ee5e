"""The stateful layers deployed on the local AWS emulator, dev and prod:
what the emulator models (buckets, KMS key, ECR repositories, the DB
instance) is read back through the AWS API and compared with the
templates and parameter files; prod gets termination protection and stack
policies on the root and every nested stack holding stateful resources."""

from __future__ import annotations

import json

import pytest

from codemate_cfn.emulator import is_placeholder
from codemate_cfn.errors import CodemateError
from codemate_cfn.stateful import is_stateful
from codemate_cfn.deploy import stack as stack_reads
from codemate_cfn.compile import layout
from codemate_cfn.deploy import delete
from deploy_support import Recorder, params_file, renamed_bucket, run_deploy

pytest_plugins = ["emulator_fixtures"]


@pytest.fixture(params=["dev", "prod"])
def env(request, fresh_emulator, aws, templates, project, catalogue):
    """params/<env>.json deployed on an empty emulator: (params, result)."""
    params = params_file(project, catalogue, request.param)
    result = run_deploy(aws, templates, params, catalogue)
    assert result.outcome == "deployed"
    return params, result


def resources_of(aws, params, layer: str, templates) -> dict[str, str]:
    """Logical ID -> physical ID in the layer's nested stack."""
    logical_id = {name: lid for lid, name in layout.nested_names(templates["root"]).items()}[layer]
    stack = stack_reads.nested_stacks(aws.cloudformation, f"codemate-{params.path.stem}")[logical_id]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId")
            for r in aws.cloudformation.describe_stack_resources(StackName=stack)["StackResources"]}


def of_type(template: dict, rtype: str) -> dict[str, dict]:
    return {lid: r["Properties"] for lid, r in template["Resources"].items() if r["Type"] == rtype}


def test_buckets_are_read_back_with_their_template_settings(env, aws, templates):
    s3 = aws.s3
    physical = resources_of(aws, env[0], "storage", templates)
    buckets = of_type(templates["storage"], "AWS::S3::Bucket")
    assert buckets
    for logical_id, props in buckets.items():
        name = physical[logical_id]
        versioning = s3.get_bucket_versioning(Bucket=name).get("Status")
        assert versioning == props.get("VersioningConfiguration", {}).get("Status")
        algorithm = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        wanted = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert algorithm == wanted["SSEAlgorithm"]
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert block == props["PublicAccessBlockConfiguration"]
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert [r["ID"] for r in rules] == [r["Id"] for r in props["LifecycleConfiguration"]["Rules"]]
        if "CorsConfiguration" in props:
            cors = s3.get_bucket_cors(Bucket=name)["CORSRules"]
            assert [sorted(c["AllowedMethods"]) for c in cors] == [
                sorted(c["AllowedMethods"]) for c in props["CorsConfiguration"]["CorsRules"]]


def test_ecr_repositories_and_the_kms_key_are_read_back(env, aws, templates):
    physical = resources_of(aws, env[0], "storage", templates)
    ecr = aws.client("ecr")
    repositories = of_type(templates["storage"], "AWS::ECR::Repository")
    assert repositories
    for logical_id, props in repositories.items():
        found = ecr.describe_repositories(repositoryNames=[physical[logical_id]])["repositories"][0]
        assert found["imageTagMutability"] == props["ImageTagMutability"]
        assert found["imageScanningConfiguration"]["scanOnPush"] == props["ImageScanningConfiguration"]["ScanOnPush"]
        assert found["encryptionConfiguration"]["encryptionType"] == props["EncryptionConfiguration"]["EncryptionType"]
        policy = ecr.get_lifecycle_policy(repositoryName=physical[logical_id])["lifecyclePolicyText"]
        assert json.loads(policy) == json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])
    for logical_id, props in of_type(templates["storage"], "AWS::KMS::Key").items():
        rotation = aws.client("kms").get_key_rotation_status(KeyId=physical[logical_id])["KeyRotationEnabled"]
        assert rotation == props.get("EnableKeyRotation", False)


def test_the_database_is_read_back_with_the_parameter_file_settings(env, aws, templates):
    params, _ = env
    values = params.parameters
    physical = resources_of(aws, params, "data", templates)
    props = templates["data"]["Resources"]["Database"]["Properties"]
    db = aws.client("rds").describe_db_instances(DBInstanceIdentifier=physical["Database"])["DBInstances"][0]
    assert db["DBInstanceIdentifier"] == f"codemate-db-{values['EnvironmentName']}"
    assert db["DBInstanceClass"] == values["DbInstanceClass"]
    assert (db["Engine"], db["EngineVersion"]) == (props["Engine"], values["DbEngineVersion"])
    assert db["MultiAZ"] is (values["DbMultiAz"] == "true")
    assert db["DeletionProtection"] is (values["DbDeletionProtection"] == "true")
    assert db["AllocatedStorage"] == int(values["DbAllocatedStorage"])
    assert db["BackupRetentionPeriod"] == int(values["DbBackupRetentionDays"])
    assert (db["StorageEncrypted"], db["StorageType"], db["PubliclyAccessible"]) == (
        props["StorageEncrypted"], props["StorageType"], props["PubliclyAccessible"])
    security = resources_of(aws, params, "security", templates)
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [security["RdsSecurityGroup"]]
    data_outputs = {o["OutputKey"]: o["OutputValue"] for o in aws.cloudformation.describe_stacks(
        StackName=stack_reads.nested_stacks(aws.cloudformation, f"codemate-{values['EnvironmentName']}")["DataStack"])[
        "Stacks"][0]["Outputs"]}
    assert "MasterUserSecret" not in db  # the password is ours (codemate/<env>/database), not RDS-managed
    assert is_placeholder(data_outputs["DatabaseSecretArn"])  # Secrets Manager: not emulated, never created


def policy_denies(aws, stack: str) -> set[str]:
    body = aws.cloudformation.get_stack_policy(StackName=stack).get("StackPolicyBody")
    if not body:
        return set()
    return {resource.removeprefix("LogicalResourceId/")
            for statement in json.loads(body)["Statement"] if statement["Effect"] == "Deny"
            for resource in statement["Resource"]
            if {"Update:Replace", "Update:Delete"} <= set(statement["Action"])}


def test_protection_follows_the_parameter_file(env, aws, templates):
    params, _ = env
    name = f"codemate-{params.path.stem}"
    wanted = params.deployment["ProtectStatefulResources"]
    stack = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["EnableTerminationProtection"] is params.deployment["TerminationProtection"]
    layers = layout.nested_names(templates["root"])
    stacks = stack_reads.nested_stacks(aws.cloudformation, name)
    holders = set()
    for logical_id, layer in layers.items():
        stateful = {lid for lid, r in templates[layer]["Resources"].items() if is_stateful(r["Type"])}
        assert policy_denies(aws, stacks[logical_id]) == (stateful if wanted else set())
        if stateful:
            holders.add(logical_id)
    assert policy_denies(aws, name) == (holders if wanted else set())


def test_a_protected_stack_is_not_deleted_and_the_message_says_how_to_lift_it(env, aws):
    params, _ = env
    name = f"codemate-{params.path.stem}"
    if not params.deployment["TerminationProtection"]:
        assert delete.delete(aws, name, Recorder(), yes=True, poll_seconds=0.01) == "DELETE_COMPLETE"
        return
    with pytest.raises(CodemateError) as refused:
        delete.delete(aws, name, Recorder(), yes=True, poll_seconds=0.01)
    assert str(refused.value) == (
        f"stack {name} has termination protection on; to delete it, lift it first with: "
        f"aws cloudformation update-termination-protection --no-enable-termination-protection "
        f"--stack-name {name} --region ap-northeast-2")
    assert aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_an_allowed_replacement_lifts_the_stack_policy_for_that_deploy_only(fresh_emulator, aws, templates, project, catalogue):
    prod = params_file(project, catalogue, "prod")
    run_deploy(aws, templates, prod, catalogue)
    storage = stack_reads.nested_stacks(aws.cloudformation, "codemate-prod")["StorageStack"]
    mutated, bucket = renamed_bucket(templates)
    assert bucket in policy_denies(aws, storage)
    before = aws.calls["cloudformation:SetStackPolicy"]
    ui = Recorder()
    assert run_deploy(aws, mutated, prod, catalogue, ui, allow_replacement={bucket}).outcome == "deployed"
    assert f"stack policy of storage: allowing the replacement of {bucket} for this deploy" in ui.noted
    assert aws.calls["cloudformation:SetStackPolicy"] - before == 2  # lifted, then put back
    assert bucket in policy_denies(aws, storage)


def test_protection_left_half_done_is_completed_by_the_next_deploy(fresh_emulator, aws, templates, project, catalogue):
    prod = params_file(project, catalogue, "prod")
    run_deploy(aws, templates, prod, catalogue)
    cfn = aws.cloudformation
    storage = stack_reads.nested_stacks(cfn, "codemate-prod")["StorageStack"]
    allow_all = json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]})
    # as if a deploy stopped after protecting one nested stack: root and storage not yet protected
    for stack in ("codemate-prod", storage):
        cfn.set_stack_policy(StackName=stack, StackPolicyBody=allow_all)
    ui = Recorder()
    assert run_deploy(aws, templates, prod, catalogue, ui).outcome == "no changes"
    assert "stack policy set on storage" in ui.noted and "stack policy set on root" in ui.noted
    assert "FilesBucket" in policy_denies(aws, storage) and "StorageStack" in policy_denies(aws, "codemate-prod")


def test_a_protection_that_fails_after_the_deploy_is_one_line_and_the_next_deploy_applies_it(
        fresh_emulator, aws, templates, project, catalogue):
    from botocore.awsrequest import AWSResponse

    denied = (b'<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>'
              b'<Message>not allowed to set stack policies</Message></Error></ErrorResponse>')

    class Body:
        def __init__(self, data):
            self.data = data

        def stream(self, **_):
            yield self.data

    def refuse(request, **_):
        return AWSResponse(request.url, 403, {}, Body(denied))

    prod = params_file(project, catalogue, "prod")
    aws.cloudformation.meta.events.register("before-send.cloudformation.SetStackPolicy", refuse)
    with pytest.raises(CodemateError) as failed:
        run_deploy(aws, templates, prod, catalogue)
    assert str(failed.value) == (
        "stack codemate-prod is deployed, but protecting it failed (AccessDenied: not allowed to set stack policies); "
        "deploy again to apply the protection: python -m codemate_cfn deploy params/prod.json")
    assert policy_denies(aws, "codemate-prod") == set()

    aws.cloudformation.meta.events.unregister("before-send.cloudformation.SetStackPolicy", refuse)
    ui = Recorder()
    assert run_deploy(aws, templates, prod, catalogue, ui).outcome == "no changes"
    assert "StorageStack" in policy_denies(aws, "codemate-prod") and "stack policy set on root" in ui.noted
