"""Parameter files are checked against the catalogue before anything touches
AWS. tests/fixtures/params/ holds one bad file per class of mistake; each
problem is one line naming the file and the key."""

from __future__ import annotations

import json
import shutil

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


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT)


@pytest.fixture(scope="module")
def conventions():
    return load_conventions(ROOT)


def test_every_fixture_file_has_its_expected_problems_listed():
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


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
    assert len(expected) == sum(len(problems) for problems in EXPECTED.values())
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
