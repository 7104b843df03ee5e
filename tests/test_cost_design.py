"""The estimate reproduces the design's cost tables (SPEC 12a) from today's
templates: the design's baseline configuration (tests/fixtures/cost/
design-*.json: NAT gateways, x86, no Spot, CloudFront on in prod, the
design's log retention) with the SPEC's usage assumptions (costs/usage/)
gives every line item, every category sum and both totals within $0.50."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from codemate_cfn.cost.estimate import estimate
from codemate_cfn.cost.inputs import PRICE_FILE, USAGE_DIR, load_prices, load_usage
from layer_values import ROOT, catalogue, templates

FIXTURES = Path(__file__).parent / "fixtures" / "cost"
CENT_TOLERANCE = 0.50


def given(path: Path) -> dict[str, str]:
    defaults = {n: p.default for n, p in catalogue().items() if p.default is not None}
    return {**defaults, **json.loads(path.read_text())["Parameters"]}


@lru_cache(maxsize=None)
def design(env: str):
    """The estimate of the design's baseline for `env`."""
    return estimate(templates(), given(FIXTURES / f"design-{env}.json"),
                    load_usage(ROOT / USAGE_DIR / f"{env}.json"), load_prices(ROOT / PRICE_FILE))


# (environment, line key, the design's item, the design's monthly figure)
LINE_ITEMS = [
    ("dev", "ecs_frontend", "ECS frontend, 0.5 vCPU 1 GB x 1 task", 25.11),
    ("dev", "ecs_backend", "ECS backend, 1 vCPU 2 GB x 1 task", 50.22),
    ("dev", "rds_instance", "RDS instance db.t4g.micro single-AZ", 14.60),
    ("dev", "rds_storage", "RDS storage 20 GB gp3", 2.76),
    ("dev", "elasticache", "ElastiCache cache.t4g.micro x 1", 11.68),
    ("dev", "s3_storage", "S3 storage 10 GB Standard", 0.25),
    ("dev", "s3_requests", "S3 requests 1,000 PUT/GET", 0.05),
    ("dev", "ecr", "ECR 5 GB of images", 0.50),
    ("dev", "alb", "ALB 1 load balancer", 18.40),
    ("dev", "alb_lcu", "ALB LCU minimal traffic", 1.84),
    ("dev", "nat_gateway", "NAT gateway, 1 gateway", 43.07),
    ("dev", "nat_data", "NAT data 10 GB outbound", 0.59),
    ("dev", "logs", "CloudWatch logs 5 GB ingested + 5 GB stored", 3.03),
    ("dev", "custom_metrics", "CloudWatch metrics basic (free)", 0.00),
    ("dev", "route53", "Route 53, 1 hosted zone + queries", 0.50),
    ("dev", "secrets", "Secrets Manager 5 secrets", 2.00),
    ("dev", "external:AI API (outside AWS)", "AI API minimal test use", 20.00),
    ("dev", "codepipeline", "CodePipeline 1 pipeline", 1.00),
    ("dev", "codebuild", "CodeBuild 50 build minutes", 2.50),
    ("prod", "ecs_frontend", "ECS frontend, 0.5 vCPU 1 GB x 2 tasks", 50.22),
    ("prod", "ecs_backend", "ECS backend, 1 vCPU 2 GB x 3 tasks", 150.67),
    ("prod", "rds_instance", "RDS instance db.t4g.small Multi-AZ", 58.40),
    ("prod", "rds_storage", "RDS storage 50 GB gp3", 6.90),
    ("prod", "rds_backup", "RDS backup 50 GB x 7 days", 3.50),
    # 12a: "cache.t4g.small x 2 (cluster) $0.068": its hourly is both nodes, 2 x $0.034
    ("prod", "elasticache", "ElastiCache cache.t4g.small x 2 (cluster)", 49.64),
    ("prod", "s3_storage", "S3 storage 50 GB (Standard + IA)", 1.15),
    ("prod", "s3_requests", "S3 requests 10,000 PUT/GET", 0.50),
    ("prod", "ecr", "ECR 10 GB of images", 1.00),
    ("prod", "alb", "ALB 1 load balancer", 18.40),
    # 12a: "3 LCU average" but $17.52 = 1 LCU x $0.024 x 730 h: the usage file says 1
    ("prod", "alb_lcu", "ALB LCU medium traffic", 17.52),
    ("prod", "nat_gateway", "NAT gateways, 2 (one per AZ)", 86.14),
    ("prod", "nat_data", "NAT data 50 GB outbound", 2.95),
    ("prod", "cloudfront_data", "CloudFront data 100 GB", 12.60),
    ("prod", "cloudfront_requests", "CloudFront requests 1 M", 0.75),
    ("prod", "logs", "CloudWatch logs 20 GB ingested + 20 GB stored", 12.12),
    # 12a: 50 metrics $7.50, i.e. $0.15 each (AWS's list is $0.30)
    ("prod", "custom_metrics", "CloudWatch custom metrics 50", 7.50),
    ("prod", "dashboards", "CloudWatch dashboards 1", 3.00),
    ("prod", "alarms", "CloudWatch alarms 10", 1.00),
    ("prod", "route53", "Route 53, 1 hosted zone + queries", 0.60),
    ("prod", "secrets", "Secrets Manager 10 secrets", 4.00),
    ("prod", "external:AI API: Anthropic (outside AWS)", "AI API: Anthropic medium use", 150.00),
    ("prod", "external:AI API: backup model (outside AWS)", "AI API: backup model minimal use", 30.00),
    ("prod", "codepipeline", "CodePipeline 1 pipeline", 1.00),
    ("prod", "codebuild", "CodeBuild 100 build minutes", 5.00),
]


@pytest.mark.parametrize("env, key, figure, monthly", LINE_ITEMS,
                         ids=[f"{e}: 12a {f} ${m:.2f}" for e, _, f, m in LINE_ITEMS])
def test_each_line_item_of_the_design(env, key, figure, monthly):
    assert design(env).monthly(key) == pytest.approx(monthly, abs=CENT_TOLERANCE)


def test_no_line_the_design_lacks():
    """Every line of the estimate is one of 12a's (ACM, $0.00, is left out)."""
    for env in ("dev", "prod"):
        expected = {key for e, key, _, _ in LINE_ITEMS if e == env}
        assert {line.key for line in design(env).lines} == expected


@pytest.mark.parametrize("env, total", [("dev", 198.10), ("prod", 674.56)],
                         ids=["dev: SPEC 12 design estimate $198.10", "prod: SPEC 12 design estimate $674.56"])
def test_the_design_totals(env, total):
    assert design(env).total == pytest.approx(total, abs=CENT_TOLERANCE)


# The design's categories as sums of line keys. Its own arithmetic, kept:
# dev networking $63.50 and other $6.73 put $0.40 of the listed networking
# items (which sum to $63.90) under other; prod networking $137.61 is the
# listed NAT, ALB and CloudFront items less CloudFront requests ($0.75),
# which prod's other ($37.62, with CI/CD) counts.
NETWORK = ("alb", "alb_lcu", "nat_gateway", "nat_data")
DATA = ("rds_instance", "rds_storage", "rds_backup", "elasticache")
COMPUTE = ("ecs_frontend", "ecs_backend")
CATEGORIES = [
    ("dev", "compute", COMPUTE, 75.33),
    ("dev", "networking (NAT, ALB)", NETWORK, 63.50),
    ("dev", "data (RDS, Redis)", DATA, 29.04),
    ("dev", "AI", ("external:AI API (outside AWS)",), 20.00),
    ("dev", "CI/CD", ("codepipeline", "codebuild"), 3.50),
    ("dev", "other", ("s3_storage", "s3_requests", "ecr", "logs", "custom_metrics", "route53", "secrets"), 6.73),
    ("prod", "AI", ("external:AI API: Anthropic (outside AWS)", "external:AI API: backup model (outside AWS)"), 180.00),
    ("prod", "compute", COMPUTE, 200.89),
    ("prod", "networking (NAT, ALB, CloudFront)", NETWORK + ("cloudfront_data",), 137.61),
    ("prod", "data", DATA, 118.44),
    ("prod", "other", ("s3_storage", "s3_requests", "ecr", "logs", "custom_metrics", "dashboards", "alarms",
                       "route53", "secrets", "codepipeline", "codebuild", "cloudfront_requests"), 37.62),
]


@pytest.mark.parametrize("env, category, keys, monthly", CATEGORIES,
                         ids=[f"{e}: 12 category {c} ${m:.2f}" for e, c, _, m in CATEGORIES])
def test_each_category_sum_of_the_design(env, category, keys, monthly):
    assert sum(design(env).monthly(k) for k in keys) == pytest.approx(monthly, abs=CENT_TOLERANCE)


def test_the_service_groups_add_up_to_the_total_and_external_is_the_ai_api():
    for env, ai in (("dev", 20.00), ("prod", 180.00)):
        result = design(env)
        groups = {line.group for line in result.lines}
        assert sum(result.group(g) for g in groups) == pytest.approx(result.total)
        assert result.group("external") == pytest.approx(ai)
        assert result.aws_total == pytest.approx(result.total - ai)


def test_prod_backend_is_priced_at_the_usage_files_average_not_its_desired_count():
    """12a prices prod's backend at 3 tasks while the parameter file desires 2."""
    line = design("prod").line("ecs_backend")
    assert "3 tasks" in line.sizing and "desired 2" in line.sizing
    assert line.hourly == pytest.approx(0.2064, abs=0.0001)


def test_reserved_purchases_are_an_option_apart_from_the_total():
    result = design("prod")
    assert {line.key for line in result.reserved} == {"reserved_rds_instance", "reserved_elasticache"}
    assert all(line.monthly < 0 for line in result.reserved)
    assert not any(line.key.startswith("reserved") for line in result.lines)
