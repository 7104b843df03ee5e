"""The estimate's inputs: the committed price file and the usage files,
each checked with one line per problem naming the file and the key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codemate_cfn.errors import InvalidInput

PRICE_FILE = Path("costs") / "prices-ap-northeast-2.json"
USAGE_DIR = Path("costs") / "usage"

NUMBER = (int, float)
# Every key a usage file may have, with its type; numbers must not be negative.
USAGE_KEYS: dict[str, type | tuple] = {
    "notes": dict,
    "goal_aws_monthly_usd": NUMBER,
    "goal_source": str,
    "average_tasks": dict,  # service name ("frontend", "backend") -> average running tasks
    "nat_data_gb": NUMBER,
    "nat_data_share_to_endpoint_services": NUMBER,  # of the NAT data, the share bound for ECR, Logs, Secrets Manager
    "alb_lcu_average": NUMBER,
    "logs_ingested_gb": NUMBER,
    "logs_stored_gb": NUMBER,  # else ingested x retention days / 30
    "s3_standard_gb": NUMBER,
    "s3_standard_ia_gb": NUMBER,
    "s3_objects_thousands": NUMBER,
    "s3_requests_thousands": NUMBER,
    "ecr_gb": NUMBER,
    "codebuild_minutes": NUMBER,
    "cloudfront_data_gb": NUMBER,
    "cloudfront_requests_millions": NUMBER,
    "custom_metrics": NUMBER,
    "alarms": NUMBER,  # else the templates' alarms
    "dashboards": NUMBER,  # else the templates' dashboards
    "hosted_zones": NUMBER,
    "route53_queries_millions": NUMBER,
    "secrets_outside_templates": NUMBER,
    "rds_backup_billed": bool,
    "external": dict,  # line item -> USD a month, outside AWS
}


@dataclass(frozen=True)
class Prices:
    path: Path
    date: str
    source: str
    hours: float
    table: dict

    def __call__(self, key: str, kind: str | None = None) -> float:
        """The unit price `key` (for one instance class `kind` where it has several)."""
        try:
            value = self.table[key]["usd"]
        except KeyError:
            raise InvalidInput(f"{self.path}: prices.{key}: missing") from None
        if isinstance(value, dict):
            if kind not in value:
                raise InvalidInput(f"{self.path}: prices.{key}: no price for {kind}")
            return float(value[kind])
        return float(value)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: not a JSON object")
    return data


def load_prices(path: Path) -> Prices:
    data = _read_json(path)
    problems = [f"{path}: {key}: missing" for key in ("region", "date", "source", "hours_per_month", "prices")
                if key not in data]
    if problems:
        raise InvalidInput(problems)
    for key, entry in data["prices"].items():
        if not isinstance(entry, dict) or "usd" not in entry or "source" not in entry:
            problems.append(f"{path}: prices.{key}: needs \"usd\" and \"source\"")
    if problems:
        raise InvalidInput(problems)
    return Prices(path, data["date"], data["source"], float(data["hours_per_month"]), data["prices"])


def _is(value, kind) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, NUMBER) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_usage(data: dict, label: str) -> list[str]:
    problems = []
    for key, value in data.items():
        if key not in USAGE_KEYS:
            problems.append(f"{label}: {key}: unknown key")
            continue
        kind = USAGE_KEYS[key]
        if not _is(value, kind):
            wanted = "a number" if kind == NUMBER else {bool: "true or false", dict: "an object", str: "a string"}[kind]
            problems.append(f"{label}: {key}: must be {wanted}, not {json.dumps(value)}")
        elif kind == NUMBER and value < 0:
            problems.append(f"{label}: {key}: must not be negative ({value})")
        elif key in ("average_tasks", "external"):
            for name, number in value.items():
                if not _is(number, NUMBER):
                    problems.append(f"{label}: {key}.{name}: must be a number, not {json.dumps(number)}")
                elif number < 0:
                    problems.append(f"{label}: {key}.{name}: must not be negative ({number})")
    share = data.get("nat_data_share_to_endpoint_services")
    if _is(share, NUMBER) and share > 1:
        problems.append(f"{label}: nat_data_share_to_endpoint_services: a share from 0 to 1, not {share}")
    return problems


def load_usage(path: Path) -> dict:
    data = _read_json(path)
    problems = check_usage(data, str(path))
    if problems:
        raise InvalidInput(problems)
    return data
