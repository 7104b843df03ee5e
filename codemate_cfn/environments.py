"""One environment's view of the built templates, offline: each template
(root and layers, by name) as one parameter file deploys it. The root's
parameters default to the file's values (else the catalogue's, the root's
own Defaults); a layer's parameter defaults to the root's value of the same
name when the root passes it that root parameter (the wiring is by name); a
parameter fed by another layer's output keeps no Default; and each Fn::If
whose condition those values decide is replaced by its branch (a branch of
AWS::NoValue leaves the property out).

The security gate scans such copies and the diagram draws them; they, and
the cost estimate, take an empty image tag as once its image is deployed
(`steady_state`): the steady state is what they judge."""

from __future__ import annotations

import copy

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy.conditions import Context, parameter_values

# Image tags left empty in a parameter file leave the services out until
# the first images exist; the steady state has them.
STEADY_STATE_IMAGE_TAG = "steady-state"


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


def evaluated(name: str, template: dict) -> Context:
    """The template evaluated with its parameters' Defaults."""
    return Context(f"{name}.json", template, parameter_values(template, {}))


_NO_VALUE = {"Ref": "AWS::NoValue"}
_LEFT_OUT = object()


def _branches(value, decided: Context):
    """`value` with each Fn::If whose condition is decided replaced by its
    branch; _LEFT_OUT where that branch is AWS::NoValue."""
    if isinstance(value, list):
        return [r for r in (_branches(v, decided) for v in value) if r is not _LEFT_OUT]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::If"] and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
        name, when_true, when_false = value["Fn::If"]
        truth = decided.condition(name)
        if isinstance(truth, bool):
            chosen = when_true if truth else when_false
            return _LEFT_OUT if chosen == _NO_VALUE else _branches(chosen, decided)
    resolved = {k: _branches(v, decided) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not _LEFT_OUT}


def with_branches(name: str, template: dict) -> dict:
    """A copy of `template` (its Defaults set) whose resources' properties
    hold the branch of each Fn::If its Defaults decide."""
    decided = evaluated(name, template)
    made = copy.deepcopy(template)
    for resource in made.get("Resources", {}).values():
        if "Properties" in resource:
            resource["Properties"] = _branches(resource["Properties"], decided)
    return made


def environment_templates(templates: dict[str, dict], given: dict[str, str]) -> dict[str, dict]:
    """Every template (root and layers, by name) as the parameter file whose
    Parameters (over the catalogue's defaults) are `given` deploys it."""
    values = root_values(templates[ROOT], given)
    per_template = {ROOT: values, **passed_values(templates[ROOT], values)}
    return {name: with_branches(name, with_defaults(template, per_template.get(name, {})))
            for name, template in templates.items()}


def steady_state(given: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """`given` with each empty image tag set as once its image is deployed,
    and the names of the tags so set."""
    values, empty = dict(given), []
    for name, value in given.items():
        if name.endswith("ImageTag") and value == "":
            values[name] = STEADY_STATE_IMAGE_TAG
            empty.append(name)
    return values, empty
