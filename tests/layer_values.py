"""Reads the rendered layer templates the way one environment sees them: the
parameter file's values (or the catalogue defaults) put in for Ref, the
conditions evaluated, Fn::If branches chosen. Whatever only AWS knows
(GetAtt, resource Refs, pseudo parameters, other layers' outputs) stays as
written."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from codemate_cfn.deploy.conditions import Context, parameter_values, show
from codemate_cfn.compile.discovery import load_catalogue, load_conventions
from codemate_cfn.compile.project import Project
from codemate_cfn.params.parameter import with_defaults
from codemate_cfn.compile.render import render

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "prod")


@lru_cache(maxsize=None)
def templates() -> dict[str, dict]:
    """Every rendered template by name (rendered once per test session)."""
    return render(Project(ROOT)).templates


@lru_cache(maxsize=None)
def catalogue() -> dict:
    return load_catalogue(ROOT)


@lru_cache(maxsize=None)
def conventions():
    return load_conventions(ROOT)


def param_file(env: str) -> dict[str, str]:
    return json.loads((ROOT / "params" / f"{env}.json").read_text())["Parameters"]


def as_written(value):
    """A resolved value with what stays unknown put back in the template's
    own notation: Fn::Sub parts joined into one "${...}" string again."""
    if isinstance(value, list):
        return [as_written(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], list):
        return {"Fn::Sub": "".join(p if isinstance(p, str) else show(p) for p in value["Fn::Sub"])}
    return {k: as_written(v) for k, v in value.items()}


class Environment:
    """One layer template seen with one parameter file (plus `overrides`),
    evaluated by the deploy plan's own evaluator (codemate_cfn.deploy.conditions)."""

    def __init__(self, layer: str, env: str, **overrides: str):
        self.env = env  # "dev" or "prod": the parameter file this view reads
        self.template = templates()[layer]
        given = with_defaults(catalogue(), {**param_file(env), **overrides})
        self.values = {name: given[name] for name in self.template.get("Parameters", {}) if name in given}
        self.context = Context(layer, self.template, parameter_values(self.template, self.values))

    def condition(self, name: str) -> bool:
        return self.context.condition(name)

    def resolve(self, value):
        return as_written(self.context.resolve(value))

    def exists(self, logical_id: str) -> bool:
        resource = self.template["Resources"].get(logical_id)
        return resource is not None and ("Condition" not in resource or self.condition(resource["Condition"]))

    def resource(self, logical_id: str) -> dict:
        """The resource with its properties resolved; KeyError when this
        environment does not create it."""
        if not self.exists(logical_id):
            raise KeyError(f"{logical_id} is not created with these parameters")
        return self.resolve(self.template["Resources"][logical_id])

    def props(self, logical_id: str) -> dict:
        return self.resource(logical_id).get("Properties", {})

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {lid: self.resource(lid) for lid, r in self.template["Resources"].items()
                if r["Type"] == resource_type and self.exists(lid)}

    def output(self, name: str):
        return self.resolve(self.template["Outputs"][name]["Value"])
