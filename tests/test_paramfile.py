"""Parameter files are checked against the catalogue before anything touches
AWS. tests/fixtures/params/ holds one bad file per class of mistake; each
problem is one line naming the file and the key."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from troposphere import Ref

from codemate_cfn.params import paramfile
from codemate_cfn.compile.discovery import load_catalogue, load_conventions
from codemate_cfn.errors import InvalidInput
from codemate_cfn.layer import Conventions, Param
from run_cli import ROOT, assert_one_line_errors, cli

FIXTURES = ROOT / "tests" / "fixtures" / "params"

# fixture file -> the problems it must produce: (key named, words of the message)
EXPECTED = {
    "unreadable.json": [("", "cannot read file")],
    "malformed_json.json": [("line 4 column 5", "malformed JSON: Expecting ',' delimiter")],
    "duplicate_key.json": [("Parameters.NatGatewayCount", "appears more than once")],
    "unknown_key.json": [("Parameters.NatGatewayCnt", "unknown key (not in templates_src/catalogue.py; did you mean NatGatewayCount?)")],
    "unknown_top_level_key.json": [("Outputs", "unknown top-level key")],
    "missing_required_key.json": [("Parameters.EnvironmentName", "missing required key")],
    "wrong_type_json_number.json": [("Parameters.NatGatewayCount", "wrong type: expected a string")],
    "wrong_type_not_a_number.json": [("Parameters.DbAllocatedStorage", "wrong type: expected a number in a string, got 'twenty'")],
    "value_not_allowed.json": [("Parameters.NatGatewayCount", "'3' is not one of the allowed values: 1, 2")],
    "value_not_matching_pattern.json": [("Parameters.DomainName", "'CodeMate_dev.code1398.io' does not match the pattern")],
    "below_minimum.json": [("Parameters.DbAllocatedStorage", "10 is below the minimum 20")],
    "above_maximum.json": [("Parameters.DbAllocatedStorage", "5000 is above the maximum 1000")],
    "subnet_outside_vpc.json": [("Parameters.AppSubnet2aCidr", "subnet 10.1.11.0/24 is outside the VPC CIDR 10.0.0.0/16")],
    "subnets_overlap.json": [("Parameters.DbSubnet2cCidr", "subnet 10.0.21.128/25 overlaps Parameters.DbSubnet2aCidr (10.0.21.0/24)")],
    "invalid_cidr.json": [("Parameters.PublicSubnet2aCidr", "invalid CIDR '10.0.300.0/24'")],
    "cidr_block_too_small.json": [("Parameters.AppSubnet2aCidr", "10.0.11.0/29 is a /29 block; AWS takes /16 to /28")],
    "related_values_conflict.json": [("Parameters.DbMaxAllocatedStorage", "52 GB must be 0 (no storage autoscaling) or at least 10% above DbAllocatedStorage (50 GB)")],
    "deployer_only_key.json": [("Parameters.TemplatesBucketName", "set by codemate-cfn deploy (or taskcat), not by a parameter file")],
    "missing_tags.json": [("Tags", "missing required key")],
    "missing_tag.json": [("Tags.ManagedBy", "missing required tag")],
    "mismatched_tags.json": [
        ("Tags.Project", "'CodeMate' must be 'codemate'"),
        ("Tags.Environment", "'prod' differs from Parameters.EnvironmentName 'dev'"),
    ],
}


# Bad values as AWS would refuse them (or worse, take them): fixture file ->
# every line validate prints for it, after "error: <file>: ".
EXACT = {
    "tag_key_too_long.json": ["Tags." + "K" * 59 + "…: key of 129 characters; AWS takes 1 to 128"],
    "tag_value_too_long.json": ["Tags.Owner: value of 257 characters; AWS takes at most 256"],
    "tag_key_reserved_prefix.json": ["Tags.AWS:CreatedBy: keys starting with aws: are reserved for AWS"],
    "tag_control_character.json": ["Tags.Team: value 'ops\\x07team' holds a control character"],
    "tag_lone_surrogate.json": ["Tags.Team: not valid Unicode (a lone surrogate in '\\ud800')"],
    "too_many_tags.json": ["Tags: 48 tags and the 3 codemate-cfn deploy adds are more than the 50 AWS takes on a "
                           "stack (at most 47 in a parameter file)"],
    "stack_policy_empty.json": ["StackPolicy.Statement: expected a non-empty list of statements"],
    "stack_policy_bad_statement.json": [
        "StackPolicy.Statement[0].Sid: unknown key (a statement takes Effect, Action, NotAction, Principal, "
        "Resource, NotResource, Condition)",
        "StackPolicy.Statement[0].Effect: 'allow' is not Allow or Deny",
        "StackPolicy.Statement[0].Principal: {'AWS': '*'} must be '*' (a stack policy applies to every principal)",
        "StackPolicy.Statement[0].Action[1]: 'Update:Remove' is not one of Update:Modify, Update:Replace, "
        "Update:Delete, Update:*",
        "StackPolicy.Statement[0].Resource: missing required key (or NotResource)",
    ],
    "count_not_whole.json": [
        "Parameters.DbBackupRetentionDays: wrong type: expected a whole number in a string, got '2.5'",
        "Parameters.NatGatewayCount: '1e1' is not one of the allowed values: 1, 2",
    ],
    "nan_value.json": ["Parameters.DbAllocatedStorage: NaN is not a JSON value (CloudFormation parameter values "
                       "are strings)"],
    "nested_too_deep.json": ["line 12 column 36: nested deeper than 20 levels"],
}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT)


@pytest.fixture(scope="module")
def conventions():
    return load_conventions(ROOT)


def test_every_fixture_file_has_its_expected_problems_listed():
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted([*EXPECTED, *EXACT])


@pytest.mark.parametrize("name", sorted(EXACT))
def test_bad_values_are_refused_as_aws_would_each_in_one_exact_line(name, run_main):
    path = FIXTURES / name

    done = run_main("validate", path)

    assert (done.returncode, done.stdout) == (2, "")
    assert assert_one_line_errors(done) == [f"{path}: {line}" for line in EXACT[name]]


def special_file(tmp_path, kind: str):
    """A path that must not be read as a parameter file, and what is said about it."""
    if kind == "FIFO":
        path = tmp_path / "dev.json"
        os.mkfifo(path)  # opened for reading, it would wait for a writer forever
        return path, f"{path}: not a regular file (a FIFO)"
    if kind == "directory":
        path = tmp_path / "dev.json"
        path.mkdir()
        return path, f"{path}: not a regular file (a directory)"
    if kind == "device":
        return Path(os.devnull), f"{os.devnull}: not a regular file (a character device)"
    if kind == "over 1 MiB":
        path = tmp_path / "dev.json"
        path.write_text(" " * (1 << 20) + "{}")
        return path, f"{path}: 1,048,578 bytes; a parameter file is at most 1,048,576 bytes (1 MiB)"
    path = tmp_path / os.fsdecode(b"d\xe9v.json")  # Latin-1, not UTF-8
    path.write_text((ROOT / "params" / "dev.json").read_text())
    return path, f"{tmp_path}/d\\xe9v.json: file name is not valid UTF-8 (rename the file)"


@pytest.mark.parametrize("kind", ["FIFO", "directory", "device", "over 1 MiB", "name not UTF-8"])
def test_only_a_regular_file_of_sane_size_and_name_is_read(kind, tmp_path, run_main):
    path, message = special_file(tmp_path, kind)

    done = run_main("validate", path)

    assert (done.returncode, done.stdout) == (2, "")
    assert assert_one_line_errors(done) == [message]


def test_the_tags_the_deployer_adds_are_counted_where_the_checks_see_them():
    from codemate_cfn.deploy import provenance
    from codemate_cfn.params import tags

    assert len(provenance.TAGS) == tags.DEPLOYER_TAG_COUNT
    assert all(key.startswith(tags.DEPLOYER_TAG_PREFIX) for key in provenance.TAGS.values())


def test_a_file_at_the_tag_limit_passes(catalogue, conventions, tmp_path):
    data = json.loads((ROOT / "params" / "dev.json").read_text())
    data["Tags"].update({f"Extra{i:02d}": "v" * 256 for i in range(43)})
    data["Tags"]["K" * 128] = ""  # 3 required + 44 = 47, and the deployer's 3 make 50
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data))

    assert paramfile.check(path, catalogue, conventions)[1] == []


@pytest.mark.parametrize("value", ["2.5", "1e1", "20.0"])
def test_every_number_in_the_catalogue_is_a_whole_number(value, catalogue, conventions, tmp_path):
    numbers = [p for p in catalogue.values() if p.type == "Number"]
    assert numbers and all(p.integer for p in numbers)  # counts, sizes and days: none is fractional
    data = json.loads((ROOT / "params" / "dev.json").read_text())
    data["Parameters"].update({p.name: value for p in numbers})
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data))

    problems = paramfile.check(path, catalogue, conventions)[1]

    assert len(problems) == len(numbers)
    assert all(f"got {value!r}" in problem and "wrong type: expected a" in problem for problem in problems)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_mistake_is_one_line_naming_the_file_and_the_key(name, catalogue, conventions):
    path = FIXTURES / name
    result, problems = paramfile.check(path, catalogue, conventions)

    assert result is None
    assert len(problems) == len(EXPECTED[name]), problems
    for problem, (key, words) in zip(problems, EXPECTED[name]):
        assert "\n" not in problem
        assert problem.startswith(f"{path}: {key}: " if key else f"{path}: "), problem
        assert words in problem


@pytest.mark.parametrize("value", ["twenty", "NaN", "inf", " 20", "2O", "20 GB"])
def test_a_number_parameter_takes_only_digits(value, catalogue, conventions, tmp_path):
    path = tmp_path / "dev.json"
    data = json.loads((ROOT / "params" / "dev.json").read_text())
    data["Parameters"]["DbAllocatedStorage"] = value
    path.write_text(json.dumps(data))

    _, problems = paramfile.check(path, catalogue, conventions)

    assert problems == [f"{path}: Parameters.DbAllocatedStorage: wrong type: expected a number in a string, got {value!r}"]


@pytest.mark.parametrize("allocated, ceiling, accepted", [
    ("50", "0", True), ("50", "55", True), ("50", "100", True), ("50", "54", False), ("50", "50", False), ("20", "10", False),
])
def test_the_storage_ceiling_is_off_or_at_least_10_percent_above_the_storage(allocated, ceiling, accepted,
                                                                             catalogue, conventions, tmp_path):
    data = json.loads((ROOT / "params" / "prod.json").read_text())
    data["Parameters"].update(DbAllocatedStorage=allocated, DbMaxAllocatedStorage=ceiling)
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(data))
    problems = paramfile.check(path, catalogue, conventions)[1]
    assert (problems == []) is accepted, problems


def test_a_relation_is_not_checked_against_a_value_that_is_itself_wrong(catalogue, conventions, tmp_path):
    data = json.loads((ROOT / "params" / "prod.json").read_text())
    data["Parameters"].update(DbAllocatedStorage="fifty", DbMaxAllocatedStorage="52")
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(data))
    problems = paramfile.check(path, catalogue, conventions)[1]
    assert problems == [f"{path}: Parameters.DbAllocatedStorage: wrong type: expected a number in a string, got 'fifty'"]


def test_a_missing_file_is_named(catalogue, conventions, tmp_path):
    path = tmp_path / "staging.json"
    assert paramfile.check(path, catalogue, conventions) == (None, [f"{path}: file not found"])


def test_load_raises_invalid_input_with_every_problem(catalogue, conventions):
    with pytest.raises(InvalidInput) as raised:
        paramfile.load(FIXTURES / "mismatched_tags.json", catalogue, conventions)
    assert len(raised.value.problems) == 2
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("env, nat_gateways", [("dev", "1"), ("prod", "2")])
def test_the_environment_files_pass_and_carry_the_spec_values(env, nat_gateways, catalogue, conventions):
    params = paramfile.load(ROOT / "params" / f"{env}.json", catalogue, conventions)

    assert params.environment == env
    assert params.parameters["NatGatewayCount"] == nat_gateways
    assert params.parameters["VpcCidr"] == "10.0.0.0/16"
    assert params.tags == {"Environment": env, "Project": "codemate", "ManagedBy": "cloudformation"}
    assert {"ParameterKey": "EnvironmentName", "ParameterValue": env} in params.cfn_parameters()


def test_the_tags_are_checked_against_the_conventions_given(tmp_path):
    acme = Conventions(name_prefix="acme", environment_param="Stage",
                       tags={"Stage": Ref("Stage"), "Owner": "platform"}, regions=("eu-west-1",))
    path = tmp_path / "qa.json"
    path.write_text(json.dumps({"Parameters": {"Stage": "qa"},
                                "Tags": {"Stage": "dev", "Owner": "web", "Project": "codemate"}}))

    params, problems = paramfile.check(path, {"Stage": Param("Stage", "the stage")}, acme)

    assert params is None
    assert problems == [
        f"{path}: Tags.Owner: 'web' must be 'platform' (every resource is tagged so)",
        f"{path}: Tags.Stage: 'dev' differs from Parameters.Stage 'qa'",
    ]


@pytest.mark.subprocess
def test_validate_prints_one_error_line_per_problem_and_exits_2(catalogue, conventions):
    paths = sorted(FIXTURES.glob("*.json"))
    expected = [problem for path in paths for problem in paramfile.check(path, catalogue, conventions)[1]]

    done = cli("validate", *paths)

    assert done.returncode == 2
    assert assert_one_line_errors(done) == expected
    assert len(expected) == sum(len(problems) for problems in [*EXPECTED.values(), *EXACT.values()])
    assert done.stdout == ""


@pytest.mark.subprocess
def test_validate_accepts_the_environment_files():
    done = cli("validate", "params/dev.json", "params/prod.json")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["params/dev.json: ok", "params/prod.json: ok"]


def test_build_refuses_a_project_with_a_bad_parameter_file(project_copy, tmp_path, run_main):
    bad = project_copy / "params" / "staging.json"
    shutil.copy(FIXTURES / "subnets_overlap.json", bad)

    done = run_main("--project-dir", project_copy, "--build-dir", tmp_path / "out", "build")

    assert done.returncode == 2
    errors = assert_one_line_errors(done)
    assert errors == [f"{bad}: Parameters.DbSubnet2cCidr: subnet 10.0.21.128/25 overlaps Parameters.DbSubnet2aCidr (10.0.21.0/24)"]
    assert not (tmp_path / "out" / "templates").exists()
