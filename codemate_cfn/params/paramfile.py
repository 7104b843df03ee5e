"""Checks parameter files against the catalogue before any AWS call (the
file itself is read by params/reading.py, its Tags checked by params/tags.py
and its StackPolicy by params/policy.py). Every problem is one line naming
the file and the key."""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from codemate_cfn.errors import BuildError, InvalidInput, quoted, shown
from codemate_cfn.layer import Conventions
from codemate_cfn.params.parameter import DEPLOYER_PARAMS, Param, with_defaults
from codemate_cfn.params.policy import check_policy
from codemate_cfn.params.reading import read_document
from codemate_cfn.params.tags import check_tags

VPC_CIDR = "VpcCidr"
# Block sizes AWS accepts for a VPC or a subnet (IPv4).
MIN_PREFIX, MAX_PREFIX = 16, 28
# What CloudFormation accepts for a Number parameter (no NaN, no infinity, no spaces).
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
WHOLE_NUMBER = re.compile(r"-?[0-9]+")
SCHEMA_KEY = "$schema"
# Keys of CloudFormation's template-configuration format, plus ours.
TOP_LEVEL_KEYS = {
    "Parameters": "the root stack's parameter values",
    "Tags": "tags for the root stack (propagated to every nested stack)",
    "StackPolicy": "CloudFormation stack policy document (optional)",
    "Deployment": "codemate-cfn deploy settings (optional)",
    SCHEMA_KEY: "where editors find the JSON Schema of this format (optional; a string, such as "
                "./parameters.schema.json; codemate-cfn ignores it)",
}
REQUIRED_TOP_LEVEL_KEYS = ("Parameters", "Tags")


@dataclass(frozen=True)
class Setting:
    """A key of a parameter file's `Deployment` section: a flag (true or
    false), or a whole number from `minimum` to `maximum`; `default` when
    the file leaves it out."""

    kind: type  # bool or int
    default: bool | int
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""  # what the number counts ("minutes"), for the message
    meaning: str = ""  # what it does, for docs/parameters.md and the JSON Schema

    def problem(self, value) -> str | None:
        """What is wrong with `value` for this key, or None."""
        got = shown(json.dumps(value))
        if self.kind is bool:
            return None if isinstance(value, bool) else f"wrong type: expected true or false, got {got}"
        if isinstance(value, bool) or not isinstance(value, int):  # true is an int to Python, 10.0 a float
            return (f"wrong type: expected a whole number of {self.unit} ({self.minimum} to {self.maximum}), "
                    f"got {got}")
        if value < self.minimum:
            return f"{value} is below the minimum {self.minimum}"
        if value > self.maximum:
            return f"{value} is above the maximum {self.maximum}"
        return None


DEPLOYMENT_KEYS = {
    "TerminationProtection": Setting(
        bool, False, meaning="Termination protection on the root stack: CloudFormation refuses to delete it "
                             "while it is on."),
    "ProtectStatefulResources": Setting(
        bool, False, meaning="Stack policies that forbid replacing or deleting the stateful resources (database, "
                             "cache, buckets, repositories, secrets, keys, log groups); updates in place stay "
                             "allowed."),
    # RollbackConfiguration.MonitoringTimeInMinutes: 0 to 180
    "RollbackMonitoringMinutes": Setting(
        int, 0, minimum=0, maximum=180, unit="minutes",
        meaning="How long CloudFormation keeps watching the application's alarms (the rollback triggers, the root "
                "stack's output RollbackAlarmArns) once a deploy's resources are deployed, rolling the deploy back "
                "if one goes into ALARM; with 0 it watches them only while the resources are deployed."),
}


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

    def setting(self, key: str):
        """The file's `Deployment.<key>`, else its default (DEPLOYMENT_KEYS)."""
        return self.deployment.get(key, DEPLOYMENT_KEYS[key].default)

    def cfn_parameters(self) -> list[dict]:
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(self.parameters.items())]


def _check_value(where: str, param: Param, value) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: wrong type: expected a string (CloudFormation parameter values are strings), "
                f"got {type(value).__name__} {shown(json.dumps(value))}"]
    if param.type == "Number":
        if not NUMBER.fullmatch(value):
            return [f"{where}: wrong type: expected a number in a string, got {quoted(value)}"]
        if param.integer and not WHOLE_NUMBER.fullmatch(value):
            return [f"{where}: wrong type: expected a whole number in a string, got {quoted(value)}"]
        number = float(value)
        if param.min_value is not None and number < param.min_value:
            return [f"{where}: {value} is below the minimum {param.min_value}"]
        if param.max_value is not None and number > param.max_value:
            return [f"{where}: {value} is above the maximum {param.max_value}"]
    if param.allowed_values and value not in param.allowed_values:
        return [f"{where}: {quoted(value)} is not one of the allowed values: {', '.join(param.allowed_values)}"]
    if param.pattern and not re.fullmatch(param.pattern, value):
        hint = f" ({param.constraint})" if param.constraint else ""
        return [f"{where}: {quoted(value)} does not match the pattern {param.pattern}{hint}"]
    if param.kind in ("cidr", "subnet"):
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            return [f"{where}: invalid CIDR {quoted(value)}: {shown(str(exc))}"]
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


def _relation(param: Param, values: dict[str, str]) -> str | None:
    """What the parameter's relation check says; a check that raises is a
    mistake in the catalogue, one BuildError line saying where."""
    try:
        return param.relation(values)
    except Exception as exc:
        from codemate_cfn.compile.discovery import readable, source_location

        where = source_location(exc) or "templates_src/catalogue.py"
        raise BuildError(f"{where}: parameter {param.name}: its relation check raised "
                         f"{type(exc).__name__}: {shown(readable(str(exc)))}") from exc


def _check_relations(path: Path, values: dict[str, str], catalogue: dict[str, Param]) -> list[str]:
    """Each parameter's relation to the others (every value valid on its own)."""
    problems = []
    for name, param in catalogue.items():
        problem = _relation(param, values) if param.relation else None
        if problem:
            problems.append(f"{path}: Parameters.{name}: {problem}")
    return problems


def _check_deployment(path: Path, deployment) -> list[str]:
    if not isinstance(deployment, dict):
        return [f"{path}: Deployment: wrong type: expected an object"]
    problems = []
    for key, value in deployment.items():
        if key not in DEPLOYMENT_KEYS:
            problems.append(f"{path}: Deployment.{shown(key)}: unknown key (known: {', '.join(DEPLOYMENT_KEYS)})")
        elif (problem := DEPLOYMENT_KEYS[key].problem(value)) is not None:
            problems.append(f"{path}: Deployment.{key}: {problem}")
    return problems


def check(path: Path, catalogue: dict[str, Param], conventions: Conventions) -> tuple[ParamFile | None, list[str]]:
    """Parse and check one parameter file against the catalogue and the
    project's conventions: (the file, problems)."""
    data, problems = read_document(path)
    if problems and data is None:
        return None, problems
    if not isinstance(data, dict):
        return None, [f"{path}: wrong type: expected a JSON object with Parameters and Tags"]
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"{path}: {shown(key)}: unknown top-level key (known: {', '.join(TOP_LEVEL_KEYS)})")
    if not isinstance(data.get(SCHEMA_KEY, ""), str):
        problems.append(f"{path}: {SCHEMA_KEY}: wrong type: expected a string (the path or URL of a JSON Schema), "
                        f"got {shown(json.dumps(data[SCHEMA_KEY]))}")
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
        where = f"{path}: Parameters.{shown(key)}"
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
    missing = [name for name, param in catalogue.items() if param.required and name not in values]
    problems += [f"{path}: Parameters.{name}: missing required key" for name in missing]

    full = with_defaults(catalogue, {k: v for k, v in values.items() if k in valid})
    valid |= {n for n in full if n not in values}
    problems += _check_subnets(path, full, catalogue, valid)
    if not missing and all(key in valid for key in values if key in catalogue):
        problems += _check_relations(path, full, catalogue)

    environment_param = conventions.environment_param
    environment = values.get(environment_param) if environment_param in valid else None
    tags = data.get("Tags")
    if tags is None:
        problems.append(f"{path}: Tags: missing required key")
        tags = {}
    else:
        problems += check_tags(path, tags, environment, conventions)
    deployment = data.get("Deployment", {})
    problems += _check_deployment(path, deployment)
    policy = data.get("StackPolicy")
    if policy is not None:
        problems += check_policy(path, policy)

    if problems:
        return None, problems
    return ParamFile(path, dict(values), dict(tags), dict(deployment), policy, environment_param), []


def load(path: Path, catalogue: dict[str, Param], conventions: Conventions) -> ParamFile:
    """One checked parameter file, or InvalidInput listing every problem."""
    result, problems = check(path, catalogue, conventions)
    if problems:
        raise InvalidInput(problems)
    return result


def _collisions(checked: list[ParamFile]) -> list[str]:
    """Two files naming the same environment: their stacks would create
    resources with the same names."""
    problems, first = [], {}
    for params in checked:
        other = first.setdefault(params.environment, params)
        if other is not params and other.path.resolve() != params.path.resolve():
            problems.append(f"{other.path} and {params.path}: Parameters.{params.environment_param}: both are "
                            f"{params.environment!r}; their stacks' resources would have the same names")
    return problems


def check_all(paths: list[Path], catalogue: dict[str, Param], conventions: Conventions) -> list[str]:
    """Every problem of every file, and of files that name the same environment."""
    problems: list[str] = []
    checked: list[ParamFile] = []
    for path in paths:
        params, found = check(path, catalogue, conventions)
        problems += found
        checked += [params] if params else []
    return problems + _collisions(checked)
