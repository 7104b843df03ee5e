"""CloudFormation's per-template quotas, checked before anything is uploaded."""

from __future__ import annotations

MAX_TEMPLATE_BYTES = 1_000_000  # from S3; inline bodies are limited to 51,200
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200


def check_limits(name: str, size: int, template: dict) -> list[str]:
    problems = []
    if size > MAX_TEMPLATE_BYTES:
        problems.append(f"{name}: {size:,} bytes exceeds CloudFormation's {MAX_TEMPLATE_BYTES:,}-byte template limit")
    for section, limit in (("Resources", MAX_RESOURCES), ("Parameters", MAX_PARAMETERS), ("Outputs", MAX_OUTPUTS)):
        count = len(template.get(section, {}))
        if count > limit:
            problems.append(f"{name}: {count} {section.lower()} exceeds CloudFormation's limit of {limit}")
    return problems
