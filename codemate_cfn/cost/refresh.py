"""--refresh-prices: the unit prices the AWS Price List API gives for
Seoul written into the price file, each with its source and the date. Thin
on purpose: EC2 instance hours (the NAT instance); everything else stays as
the file has it. Fails in one line when the API cannot be reached."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from codemate_cfn.errors import CodemateError
from codemate_cfn.files import write_whole

LOCATION = "Asia Pacific (Seoul)"
PRICING_REGION = "us-east-1"  # the Price List API answers in us-east-1


def _ec2_hourly(client, instance_type: str) -> float | None:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in (
        ("location", LOCATION), ("instanceType", instance_type), ("operatingSystem", "Linux"),
        ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))]
    answer = client.get_products(ServiceCode="AmazonEC2", Filters=filters, MaxResults=1)
    for product in answer.get("PriceList", []):
        item = json.loads(product) if isinstance(product, str) else product
        for term in item.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                return float(dimension["pricePerUnit"]["USD"])
    return None


def refresh(path: Path, endpoint_url: str | None = None, client=None) -> str:
    """Update `path` in place; returns one line saying what changed."""
    import boto3
    import botocore.config
    import botocore.exceptions

    data = json.loads(path.read_text(encoding="utf-8"))
    if client is None:
        client = boto3.client("pricing", region_name=PRICING_REGION, endpoint_url=endpoint_url,
                              config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5,
                                                            read_timeout=10))
    entry = data["prices"]["nat_instance_hour"]
    changed = []
    try:
        for kind in sorted(entry["usd"]):
            price = _ec2_hourly(client, kind)
            if price is not None:
                entry["usd"][kind] = price
                changed.append(f"{kind} ${price}/h")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        where = endpoint_url or f"pricing.{PRICING_REGION}.amazonaws.com"
        raise CodemateError(f"refresh prices: the AWS Price List API ({where}) could not be used: {exc}") from None
    today = datetime.date.today().isoformat()
    if changed:
        entry["source"] = f"aws-price-list-api {today}"
        data["date"] = today
        write_whole(path, json.dumps(data, indent=2) + "\n")
    return f"refresh prices: {', '.join(changed) or 'nothing the API gave'} ({path})"
