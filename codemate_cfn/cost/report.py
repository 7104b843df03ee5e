"""The estimate shown: a text table, Markdown (the README's tables) or JSON;
two estimates side by side with the difference per line."""

from __future__ import annotations

import json

from codemate_cfn import readme_sections
from codemate_cfn.cost.estimate import GROUPS, Estimate, money
from codemate_cfn.table import format_table


def heading(params_path, usage_path, prices) -> str:
    return (f"cost estimate of {params_path} with usage {usage_path} and prices {prices.path} "
            f"(dated {prices.date}): USD a month of {prices.hours:g} hours")


def _hourly(value: float | None) -> str:
    return "–" if value is None else f"${value:.4f}"


def _summary(estimate: Estimate) -> list[str]:
    groups = ", ".join(f"{g} {money(estimate.group(g))}" for g in GROUPS if any(l.group == g for l in estimate.lines))
    lines = [f"by group: {groups}",
             f"total: {money(estimate.total)} a month",
             f"AWS only (external apart), steady state (no free tier, no reserved purchases): "
             f"{money(estimate.aws_total)} a month"]
    if estimate.goal is not None:
        gap = estimate.aws_total - estimate.goal
        verdict = f"over by {money(gap)}" if gap > 0.005 else f"met, {money(-gap)} under"
        lines.append(f"goal: AWS only at most {money(estimate.goal)} a month ({estimate.goal_source}): {verdict}")
    if estimate.reserved:
        saved = -sum(l.monthly for l in estimate.reserved)
        lines.append(f"option, not in the figures above: 1-year reserved "
                     f"{' and '.join(l.item.split(':')[0] for l in estimate.reserved)} save {money(saved)} a month "
                     f"(AWS only {money(estimate.aws_total - saved)})")
    for line in estimate.lines:
        if line.note:
            lines.append(f"{line.item}: {line.note}")
    lines += [f"note: {n}" for n in estimate.notes]
    return lines


def text(estimate: Estimate, heading: str) -> str:
    rows = [[l.group, l.item, l.sizing, _hourly(l.hourly), money(l.monthly)] for l in estimate.lines]
    table = format_table(["group", "item", "sizing / usage", "hourly", "monthly"], rows, right={3, 4})
    return "\n".join([heading, "", table, "", *_summary(estimate)])


def markdown(estimate: Estimate, heading: str) -> str:
    out = [f"*{heading}*", "", "| group | item | sizing / usage | hourly | monthly |", "| --- | --- | --- | ---: | ---: |"]
    out += [f"| {l.group} | {l.item} | {l.sizing} | {_hourly(l.hourly)} | {money(l.monthly)} |" for l in estimate.lines]
    out += [f"| | **total** | | | **{money(estimate.total)}** |",
            f"| | **AWS only** | | | **{money(estimate.aws_total)}** |", ""]
    out += [f"- {line}" for line in _summary(estimate)[:1] + _summary(estimate)[3:]]
    return "\n".join(out)


def as_json(estimate: Estimate, heading: str) -> str:
    return json.dumps({
        "heading": heading,
        "lines": [{"key": l.key, "group": l.group, "item": l.item, "sizing": l.sizing, "hourly": l.hourly,
                   "monthly": round(l.monthly, 2), **({"note": l.note} if l.note else {})} for l in estimate.lines],
        "groups": {g: round(estimate.group(g), 2) for g in GROUPS},
        "total": round(estimate.total, 2),
        "aws_total": round(estimate.aws_total, 2),
        "goal": None if estimate.goal is None else {"aws_at_most": estimate.goal, "source": estimate.goal_source,
                                                    "gap": round(estimate.aws_total - estimate.goal, 2)},
        "reserved_options": [{"item": l.item, "monthly": round(l.monthly, 2)} for l in estimate.reserved],
        "notes": estimate.notes,
    }, indent=2)


FORMATS = {"table": text, "markdown": markdown, "json": as_json}


def compare_rows(a: Estimate, b: Estimate) -> list[tuple[str, float, float]]:
    """(item, A monthly, B monthly) per line key of either, A's order first."""
    keys, items = [], {}
    for line in a.lines + b.lines:
        if line.key not in items:
            keys.append(line.key)
            items[line.key] = line.item
    return [(items[k], a.monthly(k), b.monthly(k)) for k in keys]


def compare(a: Estimate, b: Estimate, label_a: str, label_b: str, savings: list[tuple[str, float]],
            fmt: str = "table") -> str:
    rows = compare_rows(a, b)
    totals = [("total", a.total, b.total), ("AWS only", a.aws_total, b.aws_total)]
    if fmt == "json":
        return json.dumps({"a": label_a, "b": label_b,
                           "lines": [{"item": i, "a": round(x, 2), "b": round(y, 2), "difference": round(y - x, 2)}
                                     for i, x, y in rows + totals],
                           "savings_by_lever": [{"lever": n, "saves": round(s, 2)} for n, s in savings]}, indent=2)
    shown = [[i, money(x), money(y), f"{y - x:+,.2f}"] for i, x, y in rows + totals]
    if fmt == "markdown":
        out = [f"| item | {label_a} | {label_b} | difference |", "| --- | ---: | ---: | ---: |"]
        out += [f"| {' | '.join(r)} |" for r in shown]
    else:
        out = [f"A: {label_a}", f"B: {label_b}", "",
               format_table(["item", "A", "B", "B - A"], shown, right={1, 2, 3})]
    if savings:
        out += ["", "savings by lever (each changed alone on A):"]
        out += [f"- {name}: saves {money(s)} a month" if s >= 0 else f"- {name}: costs {money(-s)} more a month"
                for name, s in savings]
    for line in b.lines:
        if line.note and line.key == "interface_endpoints":
            out.append(f"B's {line.item}: {line.note}")
    return "\n".join(out)


# -- the README's generated tables ----------------------------------------------

README_ENVIRONMENTS = ("dev", "prod")


README_COMMAND = "python -m codemate_cfn cost --write-readme"


def readme_markers(env: str) -> tuple[str, str]:
    return readme_sections.markers(f"cost {env}", README_COMMAND)


def readme_block(env: str, text: str) -> str:
    return readme_sections.block(f"cost {env}", README_COMMAND, text)


def readme_section(readme: str, env: str) -> str | None:
    """What the README has between `env`'s markers (None without them)."""
    return readme_sections.read(readme, f"cost {env}", README_COMMAND)


def with_readme_section(readme: str, env: str, text: str) -> str:
    return readme_sections.written(readme, f"cost {env}", README_COMMAND, text)
