"""docs/security.md: every check the templates skip, on one page, with the
resource, the template, the condition under which the skip holds, the
environments it applies in (per parameter file) and the reason written next
to the resource. Made from the templates and the parameter files alone
(no scanner needed), so a test can tell when it is out of date."""

from __future__ import annotations

from codemate_cfn.security.environments import EnvironmentCopy, SkipAt, context, exists, holds, skips_in

PAGE = "docs/security.md"
COMMAND = "python -m codemate_cfn.security docs"

INTRO = f"""\
# Security scanner skips

Generated from the templates and the parameter files by

    {COMMAND}

Edit the skips where they are written, next to their resource in
`templates_src/` (the kit's `scanner_skip`), then run the command again. A
test fails while this page is out of date.

The security gate, `tox -e security`, builds the templates and runs checkov
on them once per parameter file in `params/`, on a copy of every template
whose parameters default to that environment's values and whose `Fn::If`
branches are chosen for them: checkov decides a resource's `Condition` with
the defaults alone, and reads an `Fn::If` in a property as it is written.
It fails on any failed check.

These are the checks it skips, each in its resource's `Metadata` in
checkov's own format (`checkov: {{skip: [{{id, comment}}]}}`), so the security
teams' scanners read them too. A skip that holds under a template condition
only names it (`Metadata.codemate.checkov-skip-when`); the gate drops it in
every environment where the condition is false, so checkov reports that
check there. "Applies in" says where each skip is in force with the
parameter files as they are.
"""


def _applies(at: SkipAt, copies: list[EnvironmentCopy]) -> str:
    here, made = [], []
    for env in copies:
        evaluated = context(at.template, env.templates[at.template])
        if exists(at, evaluated):
            made.append(env.env)
            if holds(at, evaluated):
                here.append(env.env)
    if here:
        return ", ".join(here)
    names = ", ".join(env.env for env in copies)
    if not made:
        condition = copies[0].templates[at.template]["Resources"][at.logical_id].get("Condition")
        return f"none: the resource exists only when {condition}, false in {names}"
    return f"none: {at.skip.when} is false in {names}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def page(templates: dict[str, dict], copies: list[EnvironmentCopy]) -> str:
    """The page's text for these templates (by name, the root first) and
    the environments' copies of them."""
    rows = ["| template | resource | check | holds when | applies in | reason |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, template in templates.items():
        for at in skips_in(name, template):
            rows.append("| " + " | ".join(_cell(c) for c in (
                f"{name}.json", f"{at.logical_id} ({at.resource_type})", at.skip.check_id,
                at.skip.when or "always", _applies(at, copies), at.skip.reason)) + " |")
    count = len(rows) - 2
    return f"{INTRO}\n{count} skip{'s' if count != 1 else ''}:\n\n" + "\n".join(rows) + "\n"
