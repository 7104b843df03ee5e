"""Reads the rendered layer templates the way one environment sees them: the
parameter file's values (or the catalogue defaults) put in for Ref, the
conditions evaluated, Fn::If branches chosen. Whatever only AWS knows
(GetAtt, resource Refs, pseudo parameters, other layers' outputs) stays as
written."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from codemate_cfn.discovery import load_catalogue
from codemate_cfn.project import Project
from codemate_cfn.render import render

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "prod")
NO_VALUE = object()
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@lru_cache(maxsize=None)
def templates() -> dict[str, dict]:
    """Every rendered template by name (rendered once per test session)."""
    return render(Project(ROOT)).templates


@lru_cache(maxsize=None)
def catalogue() -> dict:
    return load_catalogue(ROOT)


def param_file(env: str) -> dict[str, str]:
    return json.loads((ROOT / "params" / f"{env}.json").read_text())["Parameters"]


class Environment:
    """One layer template seen with one parameter file (plus `overrides`)."""

    def __init__(self, layer: str, env: str, **overrides: str):
        self.template = templates()[layer]
        given = {**{n: p.default for n, p in catalogue().items() if p.default is not None},
                 **param_file(env), **overrides}
        self.values = {name: given[name] for name in self.template.get("Parameters", {}) if name in given}
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self.truth(self.template["Conditions"][name])
        return self._conditions[name]

    def truth(self, expression) -> bool:
        (function, args), = expression.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            a, b = (self.resolve(x) for x in args)
            return str(a) == str(b)
        if function == "Fn::Not":
            return not self.truth(args[0])
        if function == "Fn::And":
            return all(self.truth(x) for x in args)
        if function == "Fn::Or":
            return any(self.truth(x) for x in args)
        raise ValueError(f"not a condition: {expression}")

    def resolve(self, value):
        if isinstance(value, list):
            return [v for v in (self.resolve(x) for x in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, args), = value.items()
            if key == "Ref":
                if args == "AWS::NoValue":
                    return NO_VALUE
                return self.values.get(args, value)
            if key == "Fn::If":
                name, when_true, when_false = args
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Sub":
                return self._sub(args)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _sub(self, args):
        text, variables = (args, {}) if isinstance(args, str) else args
        variables = {k: self.resolve(v) for k, v in variables.items()}
        known = {**self.values, **{k: v for k, v in variables.items() if isinstance(v, str)}}
        text = SUB_VARIABLE.sub(lambda m: known.get(m.group(1), m.group(0)), text)
        left = {k: v for k, v in variables.items() if k not in known}
        if not SUB_VARIABLE.search(text):
            return text
        return {"Fn::Sub": [text, left] if left else text}

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
