"""Each environment's copy of the built templates, as a scanner must read
them: checkov resolves a Ref to a parameter's Default and decides a
resource's Condition with the Defaults alone, so a copy whose Defaults are
one parameter file's values is scanned as that environment deploys: its
conditional resources, and no others. checkov 3.3.30 decides an Fn::If in
a property in its graph but its resource checks still read the Fn::If
(MultiAZ: {"Fn::If": [...]} fails CKV_AWS_157 whatever the condition), so
the copy also puts in each Fn::If's branch where the parameter file decides
the condition (a branch of AWS::NoValue leaves the property out).

The copies' Defaults and branches are codemate_cfn/environments.py's.

Skips whose condition (codemate_cfn/scanner_skips.py) is false for the
environment are taken out of the copy's checkov skip list, so checkov
reports that check as it finds it there."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from codemate_cfn.compile.layout import ROOT
from codemate_cfn.deploy.conditions import Context
from codemate_cfn.environments import environment_templates, evaluated
from codemate_cfn.errors import CodemateError
from codemate_cfn.scanner_skips import Skip, skips_of, without_skips


@dataclass(frozen=True)
class SkipAt:
    """One skip of one resource of one template."""

    template: str
    logical_id: str
    resource_type: str
    skip: Skip


@dataclass
class EnvironmentCopy:
    """The templates of one environment (by template name), and the skips
    its copy leaves out because their condition is false here."""

    env: str
    templates: dict[str, dict]
    lifted: list[SkipAt] = field(default_factory=list)


def skips_in(name: str, template: dict) -> list[SkipAt]:
    """Every skip written in `template`, resource by resource."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        try:
            skips = skips_of(resource)
        except ValueError as exc:
            raise CodemateError(f"{name}.json: {logical_id}: {exc}") from None
        found += [SkipAt(name, logical_id, resource.get("Type", ""), skip) for skip in skips]
    return found


def context(name: str, template: dict) -> Context:
    """The template evaluated with its parameters' Defaults."""
    return evaluated(name, template)


def holds(at: SkipAt, evaluated: Context) -> bool:
    """Whether the skip's condition is true for the values `evaluated` was
    made with (a skip without one always holds). CodemateError when the
    condition hangs on what only AWS knows: a skip must be decided by the
    parameter file."""
    if at.skip.when is None:
        return True
    truth = evaluated.condition(at.skip.when)
    if not isinstance(truth, bool):
        raise CodemateError(f"{at.template}.json: {at.logical_id}: the skip of {at.skip.check_id} holds when "
                            f"{at.skip.when}, which the parameter file alone does not decide")
    return truth


def exists(at: SkipAt, evaluated: Context) -> bool:
    """Whether the skip's resource is made for these values."""
    return evaluated.present(at.logical_id)


def lift_skips(name: str, template: dict) -> tuple[dict, list[SkipAt]]:
    """`template` (with its Defaults set) without the skips whose condition
    is false for those Defaults, and the skips taken out."""
    evaluated = context(name, template)
    lifted = [at for at in skips_in(name, template) if not holds(at, evaluated)]
    if not lifted:
        return template, []
    made = copy.deepcopy(template)
    for logical_id in {at.logical_id for at in lifted}:
        made["Resources"][logical_id] = without_skips(
            made["Resources"][logical_id], {at.skip.check_id for at in lifted if at.logical_id == logical_id})
    return made, lifted


def environment_copy(env: str, templates: dict[str, dict], given: dict[str, str]) -> EnvironmentCopy:
    """The copy of every template (root and layers, by name) for the
    parameter file of `env`, whose Parameters are `given`."""
    if ROOT not in templates:
        raise CodemateError(f"no {ROOT}.json among the templates: build them first (python -m codemate_cfn build)")
    made = EnvironmentCopy(env, {})
    for name, template in environment_templates(templates, given).items():
        made.templates[name], lifted = lift_skips(name, template)
        made.lifted += lifted
    return made
