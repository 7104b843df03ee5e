"""The price file records its date and source for every unit price; the
usage files are checked with one line per problem naming the file and key."""

from __future__ import annotations

import json

import pytest

from codemate_cfn.cost.inputs import PRICE_FILE, USAGE_DIR, check_usage, load_prices, load_usage
from codemate_cfn.errors import InvalidInput
from layer_values import ROOT


def test_the_price_file_records_its_region_date_and_each_prices_source():
    prices = load_prices(ROOT / PRICE_FILE)
    assert prices.date and prices.hours == 730
    data = json.loads((ROOT / PRICE_FILE).read_text())
    assert data["region"] == "ap-northeast-2"
    assert all(entry["source"] for entry in data["prices"].values())


def test_the_fargate_rates_reproduce_the_designs_two_task_sizes():
    prices = load_prices(ROOT / PRICE_FILE)
    assert 0.5 * prices("fargate_vcpu_hour") + 1 * prices("fargate_gb_hour") == pytest.approx(0.0344, abs=1e-6)
    assert 1 * prices("fargate_vcpu_hour") + 2 * prices("fargate_gb_hour") == pytest.approx(0.0688, abs=1e-6)


def test_what_the_spec_lacks_is_marked_as_aws_list_or_assumption():
    data = json.loads((ROOT / PRICE_FILE).read_text())["prices"]
    assert data["fargate_arm64_factor"]["source"].startswith("aws-list")
    assert data["fargate_spot_factor"]["source"].startswith("assumption")
    assert data["nat_instance_hour"]["source"].startswith("aws-list")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_committed_usage_files_pass_and_state_their_goal(env):
    usage = load_usage(ROOT / USAGE_DIR / f"{env}.json")
    assert usage["goal_aws_monthly_usd"] == {"dev": 80, "prod": 400}[env]
    assert "issue 12" in usage["goal_source"]


@pytest.mark.parametrize("data, problem", [
    ({"nat_gb": 3}, "u.json: nat_gb: unknown key"),
    ({"nat_data_gb": "ten"}, 'u.json: nat_data_gb: must be a number, not "ten"'),
    ({"nat_data_gb": -1}, "u.json: nat_data_gb: must not be negative (-1)"),
    ({"rds_backup_billed": 1}, "u.json: rds_backup_billed: must be true or false, not 1"),
    ({"average_tasks": {"backend": -2}}, "u.json: average_tasks.backend: must not be negative (-2)"),
    ({"external": {"AI": "lots"}}, 'u.json: external.AI: must be a number, not "lots"'),
    ({"nat_data_share_to_endpoint_services": 1.5}, "u.json: nat_data_share_to_endpoint_services: a share from 0 to 1, not 1.5"),
])
def test_a_bad_usage_file_gets_one_line_naming_file_and_key(data, problem):
    assert check_usage(data, "u.json") == [problem]


def test_loading_a_bad_usage_file_raises_its_problems(tmp_path):
    path = tmp_path / "usage.json"
    path.write_text('{"ecr_gb": true}')
    with pytest.raises(InvalidInput) as caught:
        load_usage(path)
    assert caught.value.problems == [f"{path}: ecr_gb: must be a number, not true"]
