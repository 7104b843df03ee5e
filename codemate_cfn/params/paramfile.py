"""Reads parameter files and checks them against the catalogue before any
AWS call. Every problem is one line naming the file and the key."""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from codemate_cfn.errors import InvalidInput
from codemate_cfn.layer import Conventions
from codemate_cfn.params.parameter import DEPLOYER_PARAMS, Param

VPC_CIDR = "VpcCidr"
# Block sizes AWS accepts for a VPC or a subnet (IPv4).
MIN_PREFIX, MAX_PREFIX = 16, 28
# What CloudFormation accepts for a Number parameter (no NaN, no infinity, no spaces).
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Keys of CloudFormation's template-configuration format, plus ours.
TOP_LEVEL_KEYS = {
    "Parameters": "the root stack's parameter values",
    "Tags": "tags for the root stack (propagated to every nested stack)",
    "StackPolicy": "CloudFormation stack policy document (optional)",
    "Deployment": "codemate-cfn deploy settings (optional)",
}
DEPLOYMENT_KEYS = {"TerminationProtection": bool, "ProtectStatefulResources": bool}


@dataclass
class ParamFile:
    path: Path
    parameters: dict[str, str]
    tags: dict[str, str]
    deployment: dict
    stack_policy: dict | None
    environment_param: str  # the parameter naming the environment (Conventions)

    @property
    def environment(self) -> str:
        return self.parameters.get(self.environment_param, self.path.stem)

    def cfn_parameters(self) -> list[dict]:
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(self.parameters.items())]


def _read_json(path: Path) -> tuple[object, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [f"{path}: file not found"]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: cannot read file: {exc}"]
    duplicates: list[tuple[dict, str]] = []

    def note_duplicates(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append((obj, key))
            obj[key] = value
        return obj

    try:
        data = json.loads(text, object_pairs_hook=note_duplicates)
    except json.JSONDecodeError as exc:
        return None, [f"{path}: line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}"]
    # json keeps the last of two equal keys silently; which one was meant is anyone's guess
    return data, [
        f"{path}: {_key_path(data, obj, key)}: key appears more than once (set it once)" for obj, key in duplicates
    ]


def _key_path(node, target: dict, key: str, prefix: str = "") -> str | None:
    """The dotted path of `key` in the object `target` inside `node`."""
    if node is target:
        return prefix + key
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for name, child in children:
        found = _key_path(child, target, key, f"{prefix}{name}.")
        if found:
            return found
    return None


def _check_value(where: str, param: Param, value) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: wrong type: expected a string (CloudFormation parameter values are strings), got {type(value).__name__} {json.dumps(value)}"]
    if param.type == "Number":
        if not NUMBER.fullmatch(value):
            return [f"{where}: wrong type: expected a number in a string, got {value!r}"]
        number = float(value)
        if param.min_value is not None and number < param.min_value:
            return [f"{where}: {value} is below the minimum {param.min_value}"]
        if param.max_value is not None and number > param.max_value:
            return [f"{where}: {value} is above the maximum {param.max_value}"]
    if param.allowed_values and value not in param.allowed_values:
        return [f"{where}: {value!r} is not one of the allowed values: {', '.join(param.allowed_values)}"]
    if param.pattern and not re.fullmatch(param.pattern, value):
        hint = f" ({param.constraint})" if param.constraint else ""
        return [f"{where}: {value!r} does not match the pattern {param.pattern}{hint}"]
    if param.kind in ("cidr", "subnet"):
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            return [f"{where}: invalid CIDR {value!r}: {exc}"]
        if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
            return [f"{where}: {value} is a /{network.prefixlen} block; AWS takes /{MIN_PREFIX} to /{MAX_PREFIX} for VPCs and subnets"]
    return []


def _check_subnets(path: Path, values: dict[str, str], catalogue: dict[str, Param], valid: set[str]) -> list[str]:
    problems = []
    subnets = [(n, ipaddress.IPv4Network(values[n])) for n, p in catalogue.items() if p.kind == "subnet" and n in valid]
    if VPC_CIDR in valid:
        vpc = ipaddress.IPv4Network(values[VPC_CIDR])
        for name, net in subnets:
            if not net.subnet_of(vpc):
                problems.append(f"{path}: Parameters.{name}: subnet {net} is outside the VPC CIDR {vpc} ({VPC_CIDR})")
    for i, (a_name, a) in enumerate(subnets):
        for b_name, b in subnets[i + 1:]:
            if a.overlaps(b):
                problems.append(f"{path}: Parameters.{b_name}: subnet {b} overlaps Parameters.{a_name} ({a})")
    return problems


def _check_relations(path: Path, values: dict[str, str], catalogue: dict[str, Param]) -> list[str]:
    """Each parameter's relation to the others (every value valid on its own)."""
    problems = []
    for name, param in catalogue.items():
        problem = param.relation(values) if param.relation else None
        if problem:
            problems.append(f"{path}: Parameters.{name}: {problem}")
    return problems


def _check_tags(path: Path, tags, environment: str | None, conventions: Conventions) -> list[str]:
    """The root stack's tags: every standard tag of the conventions, with the
    value every resource is tagged with (the environment's name for the
    environment tag)."""
    if not isinstance(tags, dict):
        return [f"{path}: Tags: wrong type: expected an object of tag names to strings"]
    problems = []
    for key, value in tags.items():
        if not isinstance(value, str):
            problems.append(f"{path}: Tags.{key}: wrong type: expected a string, got {type(value).__name__}")
    for key in conventions.tags:
        if key not in tags:
            problems.append(f"{path}: Tags.{key}: missing required tag")
    for key, expected in conventions.fixed_tags.items():
        if isinstance(tags.get(key), str) and tags[key] != expected:
            problems.append(f"{path}: Tags.{key}: {tags[key]!r} must be {expected!r} (every resource is tagged so)")
    for key in conventions.environment_tags:
        if environment and isinstance(tags.get(key), str) and tags[key] != environment:
            problems.append(f"{path}: Tags.{key}: {tags[key]!r} differs from "
                            f"Parameters.{conventions.environment_param} {environment!r}")
    return problems


def _check_deployment(path: Path, deployment) -> list[str]:
    if not isinstance(deployment, dict):
        return [f"{path}: Deployment: wrong type: expected an object"]
    problems = []
    for key, value in deployment.items():
        if key not in DEPLOYMENT_KEYS:
            problems.append(f"{path}: Deployment.{key}: unknown key (known: {', '.join(DEPLOYMENT_KEYS)})")
        elif not isinstance(value, DEPLOYMENT_KEYS[key]):
            problems.append(f"{path}: Deployment.{key}: wrong type: expected true or false")
    return problems


def check(path: Path, catalogue: dict[str, Param], conventions: Conventions) -> tuple[ParamFile | None, list[str]]:
    """Parse and check one parameter file against the catalogue and the
    project's conventions: (the file, problems)."""
    data, problems = _read_json(path)
    if problems and data is None:
        return None, problems
    if not isinstance(data, dict):
        return None, [f"{path}: wrong type: expected a JSON object with Parameters and Tags"]
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"{path}: {key}: unknown top-level key (known: {', '.join(TOP_LEVEL_KEYS)})")
    values = data.get("Parameters")
    if values is None:
        problems.append(f"{path}: Parameters: missing required key")
        values = {}
    elif not isinstance(values, dict):
        problems.append(f"{path}: Parameters: wrong type: expected an object of parameter names to values")
        values = {}

    deployer = {p.name for p in DEPLOYER_PARAMS}
    valid: set[str] = set()
    for key, value in values.items():
        where = f"{path}: Parameters.{key}"
        if key in deployer:
            problems.append(f"{where}: set by codemate-cfn deploy (or taskcat), not by a parameter file")
        elif key not in catalogue:
            near = difflib.get_close_matches(key, list(catalogue), n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            problems.append(f"{where}: unknown key (not in templates_src/catalogue.py{hint})")
        else:
            found = _check_value(where, catalogue[key], value)
            problems += found
            if not found:
                valid.add(key)
    for name, param in catalogue.items():
        if param.required and name not in values:
            problems.append(f"{path}: Parameters.{name}: missing required key")

    full = {n: p.default for n, p in catalogue.items() if p.default is not None}
    full.update({k: v for k, v in values.items() if k in valid})
    valid |= {n for n in full if n not in values}
    problems += _check_subnets(path, full, catalogue, valid)
    if all(key in valid for key in values if key in catalogue):
        problems += _check_relations(path, full, catalogue)

    environment_param = conventions.environment_param
    environment = values.get(environment_param) if environment_param in valid else None
    tags = data.get("Tags")
    if tags is None:
        problems.append(f"{path}: Tags: missing required key")
        tags = {}
    else:
        problems += _check_tags(path, tags, environment, conventions)
    deployment = data.get("Deployment", {})
    problems += _check_deployment(path, deployment)
    policy = data.get("StackPolicy")
    if policy is not None and not isinstance(policy, dict):
        problems.append(f"{path}: StackPolicy: wrong type: expected a policy document object")

    if problems:
        return None, problems
    return ParamFile(path, dict(values), dict(tags), dict(deployment), policy, environment_param), []


def load(path: Path, catalogue: dict[str, Param], conventions: Conventions) -> ParamFile:
    """One checked parameter file, or InvalidInput listing every problem."""
    result, problems = check(path, catalogue, conventions)
    if problems:
        raise InvalidInput(problems)
    return result


def check_all(paths: list[Path], catalogue: dict[str, Param], conventions: Conventions) -> list[str]:
    problems: list[str] = []
    for path in paths:
        problems += check(path, catalogue, conventions)[1]
    return problems
