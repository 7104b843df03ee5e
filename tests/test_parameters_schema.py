"""params/parameters.schema.json, the JSON Schema editors check parameter
files with: the committed files pass it; what it refuses, `validate`
refuses too (the schema is never stricter than validate), and each hostile
file below is refused by both. A parameter file may name the schema in
`$schema`, a string; and the schema beside the files is not read as one."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from codemate_cfn.compile.project import Project
from codemate_cfn.errors import InvalidInput
from codemate_cfn.params import paramfile, policy
from codemate_cfn.reference.schema import FILE
from layer_values import ENVIRONMENTS, ROOT, catalogue, conventions
from run_cli import assert_one_line_errors

SCHEMA = json.loads((ROOT / FILE).read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def committed(env: str = "dev") -> dict:
    return json.loads((ROOT / "params" / f"{env}.json").read_text())


def validate_accepts(data: dict, tmp_path) -> bool:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data))
    try:
        paramfile.load(path, catalogue(), conventions())
    except InvalidInput:
        return False
    return True


def changed(edit) -> dict:
    data = copy.deepcopy(committed())
    edit(data)
    return data


def setter(*keys, value):
    def edit(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


def deleter(*keys):
    def edit(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return edit


POLICY = {"Statement": [{"Effect": "Deny", "Action": "Update:Replace", "Principal": "*", "Resource": "*"}]}


def with_policy(edit):
    """`edit` on a file that has a stack policy (POLICY) first."""
    def edited(data):
        data["StackPolicy"] = copy.deepcopy(POLICY)
        edit(data)
    return edited


# What each hostile edit breaks: every one refused by validate and by the schema.
HOSTILE = {
    "unknown parameter": setter("Parameters", "NatGatewayCnt", value="1"),
    "deployer's parameter": setter("Parameters", "TemplatesBucketName", value="bucket"),
    "value outside the allowed values": setter("Parameters", "NatGatewayCount", value="3"),
    "pattern violation": setter("Parameters", "DomainName", value="CodeMate_dev.code1398.io"),
    "number that is not one": setter("Parameters", "DbAllocatedStorage", value="twenty"),
    "count not a whole number": setter("Parameters", "DbBackupRetentionDays", value="2.5"),
    "JSON number as a value": setter("Parameters", "NatGatewayCount", value=1),
    "JSON boolean as a value": setter("Parameters", "DbMultiAz", value=False),
    "missing required parameter": deleter("Parameters", "EnvironmentName"),
    "Parameters not an object": setter("Parameters", value=["EnvironmentName"]),
    "missing Parameters": deleter("Parameters"),
    "unknown top-level key": setter("Outputs", value={}),
    "missing Tags": deleter("Tags"),
    "Tags not an object": setter("Tags", value=[{"Key": "Project", "Value": "codemate"}]),
    "missing standard tag": deleter("Tags", "ManagedBy"),
    "standard tag with another value": setter("Tags", "Project", value="CodeMate"),
    "environment tag of no environment": setter("Tags", "Environment", value="staging"),
    "tag value not a string": setter("Tags", "Owner", value=7),
    "tag key with AWS's prefix": setter("Tags", "AWS:CreatedBy", value="me"),
    "tag key with the deployer's prefix": setter("Tags", "Codemate:commit", value="abc"),
    "tag key too long": setter("Tags", "K" * 129, value="v"),
    "empty tag key": setter("Tags", "", value="v"),
    "tag value too long": setter("Tags", "Owner", value="v" * 257),
    "tag value with a control character": setter("Tags", "Team", value="ops\x07team"),
    "too many tags": lambda data: data["Tags"].update({f"Extra{i}": "x" for i in range(45)}),
    "Deployment not an object": setter("Deployment", value=True),
    "unknown Deployment key": setter("Deployment", "Protect", value=True),
    "flag as a string": setter("Deployment", "TerminationProtection", value="true"),
    "flag as a number": setter("Deployment", "ProtectStatefulResources", value=1),
    "minutes as a string": setter("Deployment", "RollbackMonitoringMinutes", value="10"),
    "minutes as a flag": setter("Deployment", "RollbackMonitoringMinutes", value=True),
    "minutes not whole": setter("Deployment", "RollbackMonitoringMinutes", value=10.5),
    "minutes below 0": setter("Deployment", "RollbackMonitoringMinutes", value=-1),
    "minutes above 180": setter("Deployment", "RollbackMonitoringMinutes", value=181),
    "stack policy not an object": setter("StackPolicy", value="deny all"),
    "stack policy without statements": setter("StackPolicy", value={"Statement": []}),
    "stack policy with another key": setter("StackPolicy", value={**POLICY, "Version": "2012-10-17"}),
    "statement with an unknown key": with_policy(setter("StackPolicy", "Statement", 0, "Sid", value="x")),
    "statement without Resource": with_policy(deleter("StackPolicy", "Statement", 0, "Resource")),
    "statement with Action and NotAction": with_policy(
        setter("StackPolicy", "Statement", 0, "NotAction", value="Update:*")),
    "statement with another action": with_policy(
        setter("StackPolicy", "Statement", 0, "Action", value=["Update:Modify", "Update:Remove"])),
    "statement for one principal": with_policy(
        setter("StackPolicy", "Statement", 0, "Principal", value={"AWS": "*"})),
    "statement with a lower-case effect": with_policy(setter("StackPolicy", "Statement", 0, "Effect", value="deny")),
    "statement with an empty action list": with_policy(setter("StackPolicy", "Statement", 0, "Action", value=[])),
    "$schema not a string": setter("$schema", value={"$ref": "x"}),
}

# Files validate accepts, which the schema must accept too.
ACCEPTED = {
    "as committed": lambda data: None,
    "a parameter left to its default": deleter("Parameters", "NatInstanceType"),
    "every defaulted parameter left out": lambda data: data.update(Parameters={
        name: value for name, value in data["Parameters"].items() if catalogue()[name].required}),
    "a tag of one's own": setter("Tags", "Owner", value="platform-team"),
    "a tag key that only starts like AWS's": setter("Tags", "aws-team", value="x"),
    "47 tags": lambda data: data["Tags"].update({f"Extra{i}": "x" for i in range(44)}),
    "no Deployment": deleter("Deployment"),
    "part of Deployment": deleter("Deployment", "RollbackMonitoringMinutes"),
    "the longest rollback monitoring": setter("Deployment", "RollbackMonitoringMinutes", value=180),
    "a stack policy": setter("StackPolicy", value=POLICY),
    "a stack policy of lists and Not keys": setter("StackPolicy", value={"Statement": [
        {"Effect": "Allow", "NotAction": ["Update:Delete", "Update:Replace"], "Principal": "*",
         "NotResource": ["LogicalResourceId/Database"], "Condition": {"StringEquals": {"ResourceType": ["x"]}}}]}),
    "no $schema": deleter("$schema"),
    "$schema as a URL": setter("$schema", value="https://example.com/parameters.schema.json"),
    "a hosted zone ID": setter("Parameters", "HostedZoneId", value="Z0123456789ABC"),
    "an alarm e-mail": setter("Parameters", "AlarmEmail", value="ops@example.com"),
    "the largest storage": setter("Parameters", "DbAllocatedStorage", value="1000"),
    "a branch with a slash": setter("Parameters", "GitHubBranch", value="release/1.2"),
    "CloudFront with a us-east-1 certificate": lambda data: data["Parameters"].update(
        EnableCloudFront="true",
        CloudFrontCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"),
}


def test_the_schema_is_a_valid_draft_07_schema():
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_committed_parameter_files_name_the_schema_and_pass_it(env):
    data = committed(env)
    assert data["$schema"] == "./parameters.schema.json"
    assert (ROOT / "params" / data["$schema"]).resolve() == (ROOT / FILE).resolve()
    VALIDATOR.validate(data)
    paramfile.load(ROOT / "params" / f"{env}.json", catalogue(), conventions())  # and validate takes them


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_by_the_schema_and_by_validate(name, tmp_path):
    data = changed(HOSTILE[name])
    assert not VALIDATOR.is_valid(data), f"the schema takes: {name}"
    assert not validate_accepts(data, tmp_path), f"validate takes: {name}"


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_what_validate_accepts_the_schema_accepts(name, tmp_path):
    data = changed(ACCEPTED[name])
    assert validate_accepts(data, tmp_path), f"validate refuses: {name}"
    errors = [e.message for e in VALIDATOR.iter_errors(data)]
    assert not errors, f"the schema refuses {name}: {errors}"


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_every_value_validate_takes_for_a_parameter_the_schema_takes(name, tmp_path):
    """Each allowed value, and the default, of every parameter: wherever
    validate accepts the file with it, so does the schema."""
    param = catalogue()[name]
    values = {*param.allowed_values, *([param.default] if param.default is not None else [])}
    taken = 0
    for value in sorted(values):
        data = changed(setter("Parameters", name, value=value))
        if validate_accepts(data, tmp_path):
            taken += 1
            assert VALIDATOR.is_valid(data), (name, value)
    assert taken or not values


def test_each_parameter_is_described_with_its_allowed_values_pattern_and_default():
    properties = SCHEMA["properties"]["Parameters"]["properties"]
    assert list(properties) == list(catalogue())
    assert properties["NatGatewayCount"]["enum"] == ["1", "2"]
    assert properties["NatGatewayCount"]["default"] == "1"
    assert properties["DbAllocatedStorage"]["pattern"] == "^(?:-?[0-9]+)$"
    assert "A whole number from 20 to 1000." in properties["DbAllocatedStorage"]["description"]
    assert properties["HostedZoneId"]["pattern"] == "^(?:^$|^Z[A-Z0-9]{1,31}$)$"
    assert SCHEMA["properties"]["Parameters"]["required"] == [n for n, p in catalogue().items() if p.required]
    assert SCHEMA["properties"]["Parameters"]["additionalProperties"] is False
    assert SCHEMA["additionalProperties"] is False
    assert set(SCHEMA["properties"]) == set(paramfile.TOP_LEVEL_KEYS)


def test_a_statements_keys_in_the_schema_are_the_checks_own():
    statement = SCHEMA["properties"]["StackPolicy"]["properties"]["Statement"]["items"]
    assert sorted(statement["properties"]) == sorted(policy.STATEMENT_KEYS)


def test_deployment_keys_carry_their_type_default_and_meaning():
    deployment = SCHEMA["properties"]["Deployment"]["properties"]
    assert list(deployment) == list(paramfile.DEPLOYMENT_KEYS)
    assert deployment["RollbackMonitoringMinutes"]["type"] == "integer"
    assert (deployment["RollbackMonitoringMinutes"]["minimum"], deployment["RollbackMonitoringMinutes"]["maximum"]) \
        == (0, 180)
    assert all(setting.meaning for setting in paramfile.DEPLOYMENT_KEYS.values())


# --- $schema in a parameter file --------------------------------------------------------------------------


def test_a_file_naming_its_schema_loads(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(committed()))
    params = paramfile.load(path, catalogue(), conventions())
    assert params.parameters == committed()["Parameters"]


@pytest.mark.parametrize("value, shown", [(5, "5"), (None, "null"), (["./a.json"], '["./a.json"]')])
def test_a_schema_key_that_is_not_a_string_is_one_line_naming_the_file_and_key(value, shown, tmp_path, run_main):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(changed(setter("$schema", value=value))))

    done = run_main("validate", path)

    assert done.returncode == 2
    assert assert_one_line_errors(done) == [
        f"{path}: $schema: wrong type: expected a string (the path or URL of a JSON Schema), got {shown}"]


def test_the_schema_beside_the_parameter_files_is_not_one_of_them(run_main):
    assert [p.name for p in Project(ROOT).param_files()] == ["dev.json", "prod.json"]
    assert (ROOT / FILE).is_file()
    done = run_main("validate", "--project-dir", ROOT)
    assert done.returncode == 0, done.stderr
