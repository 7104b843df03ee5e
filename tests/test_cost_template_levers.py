"""The levers on today's templates: each root parameter changed alone on the
design's baseline moves the estimate by what its resources are worth."""

from __future__ import annotations

import pytest

from codemate_cfn.cost.estimate import estimate
from codemate_cfn.cost.inputs import PRICE_FILE, USAGE_DIR, load_prices, load_usage
from layer_values import ROOT, catalogue, templates
from test_cost_design import FIXTURES, design, given

HOURS = 730


def with_lever(env: str, **values: str):
    assert set(values) <= set(catalogue()), "every lever is a root parameter of the catalogue"
    return estimate(templates(), {**given(FIXTURES / f"design-{env}.json"), **values},
                    load_usage(ROOT / USAGE_DIR / f"{env}.json"), load_prices(ROOT / PRICE_FILE))


def compute(result) -> float:
    return result.group("compute")


def test_log_retention_of_7_days_in_prod_stores_a_quarter_of_the_month():
    """Stored GB = 20 GB ingested x 7 / 30 instead of x 30 / 30."""
    assert design("prod").monthly("logs") - with_lever("prod", LogRetentionDays="7").monthly("logs") == \
        pytest.approx(20 * (1 - 7 / 30) * 0.303, abs=0.01)


def test_a_nat_instance_in_dev_saves_about_40_dollars():
    """SPEC 12: "NAT instance instead of NAT gateway in dev (saves ~$40/month)"."""
    result = with_lever("dev", NatType="instance")
    nat = sum(l.monthly for l in result.lines if l.key.startswith("nat"))
    assert nat == pytest.approx(0.0052 * HOURS)  # one t4g.nano, no per-GB charge
    assert design("dev").total - result.total == pytest.approx(43.07 + 0.59 - 3.80, abs=0.01)


def test_arm64_takes_20_percent_off_fargate():
    assert compute(with_lever("dev", FargateArchitecture="ARM64")) == pytest.approx(75.33 * 0.8, abs=0.02)


def test_all_on_spot_takes_70_percent_off_fargate():
    result = with_lever("dev", FrontendSpotPercent="100", BackendSpotPercent="100")
    assert compute(result) == pytest.approx(75.33 * 0.3, abs=0.02)


def test_off_hours_scaling_runs_dev_50_of_168_hours():
    """Working hours 09:00-19:00 KST, Monday to Friday; none otherwise."""
    result = with_lever("dev", OffHoursScaling="true", OffHoursTaskCount="0")
    assert compute(result) == pytest.approx(75.33 * 50 / 168, abs=0.05)


def test_interface_endpoints_cost_per_az_and_say_whether_they_pay_for_themselves():
    line = with_lever("prod", InterfaceEndpoints="true").line("interface_endpoints")
    assert line.hourly == pytest.approx(4 * 2 * 0.013)  # ecr.api, ecr.dkr, logs, secretsmanager x 2 AZs
    assert line.note.startswith("costs ") and "more than the NAT data it saves" in line.note


def test_intelligent_tiering_shows_its_monitoring():
    result = with_lever("prod", FilesIntelligentTiering="true")
    assert result.monthly("s3_intelligent_tiering") == pytest.approx(50 * 0.0025)
