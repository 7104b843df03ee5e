"""Each environment's copy of the built templates, as a scanner must read
them: checkov resolves a Ref to a parameter's Default and decides a
resource's Condition with the Defaults alone, so a copy whose Defaults are
one parameter file's values is scanned as that environment deploys: its
conditional resources, and no others. checkov 3.3.30 decides an Fn::If in
a property in its graph but its resource checks still read the Fn::If
(MultiAZ: {"Fn::If": [...]} fails CKV_AWS_157 whatever the condition), so
the copy also puts in each Fn::If's branch where the parameter file decides
the condition (a branch of AWS::NoValue leaves the property out).

The root's parameters get the file's values, else the catalogue's defaults
(the root's own Defaults). A layer's parameter gets the root's value of the
same name when the root passes it that root parameter (the wiring is by
name); a parameter fed by another layer's output keeps no Default.

Skips whose condition (codemate_cfn/scanner_skips.py) is false for the
environment are taken out of the copy's checkov skip list, so checkov
reports that check as it finds it there."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy.conditions import Context, parameter_values
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


def root_values(root: dict, given: dict[str, str]) -> dict[str, str]:
    """The root parameters' values for one parameter file: the file's, else
    the root's Default (the catalogue's); a parameter with neither (the
    deployer's own) has none."""
    values = {}
    for name, spec in root.get("Parameters", {}).items():
        if name in given:
            values[name] = str(given[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
    return values


def passed_values(root: dict, values: dict[str, str]) -> dict[str, dict[str, str]]:
    """Per nested template: the values the root passes its parameters, where
    it passes a root parameter (Ref); another layer's output stays unknown."""
    found = {}
    for logical_id, name in nested_names(root).items():
        given = root["Resources"][logical_id].get("Properties", {}).get("Parameters", {})
        found[name] = {key: values[value["Ref"]] for key, value in given.items()
                       if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in values}
    return found


def with_defaults(template: dict, values: dict[str, str]) -> dict:
    """A copy of `template` whose parameters named in `values` default to them."""
    made = copy.deepcopy(template)
    for name, spec in made.get("Parameters", {}).items():
        if name in values:
            spec["Default"] = values[name]
    return made


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
    return Context(f"{name}.json", template, parameter_values(template, {}))


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


_NO_VALUE = {"Ref": "AWS::NoValue"}
_LEFT_OUT = object()


def _branches(value, evaluated: Context):
    """`value` with each Fn::If whose condition is decided replaced by its
    branch; _LEFT_OUT where that branch is AWS::NoValue."""
    if isinstance(value, list):
        return [r for r in (_branches(v, evaluated) for v in value) if r is not _LEFT_OUT]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::If"] and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
        name, when_true, when_false = value["Fn::If"]
        truth = evaluated.condition(name)
        if isinstance(truth, bool):
            chosen = when_true if truth else when_false
            return _LEFT_OUT if chosen == _NO_VALUE else _branches(chosen, evaluated)
    resolved = {k: _branches(v, evaluated) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not _LEFT_OUT}


def with_branches(name: str, template: dict) -> dict:
    """A copy of `template` (its Defaults set) whose resources' properties
    hold the branch of each Fn::If its Defaults decide."""
    evaluated = context(name, template)
    made = copy.deepcopy(template)
    for resource in made.get("Resources", {}).values():
        if "Properties" in resource:
            resource["Properties"] = _branches(resource["Properties"], evaluated)
    return made


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
    values = root_values(templates[ROOT], given)
    per_template = {ROOT: values, **passed_values(templates[ROOT], values)}
    made = EnvironmentCopy(env, {})
    for name, template in templates.items():
        defaults = with_defaults(template, per_template.get(name, {}))
        made.templates[name], lifted = lift_skips(name, with_branches(name, defaults))
        made.lifted += lifted
    return made
