"""params/parameters.schema.json: the JSON Schema (draft-07, what editors
such as VS Code read best) of a parameter file, made from the catalogue and
the parameter-file checks, for editors to complete and check as people type.

`validate` stays the authority: the schema says a part of what it checks
(CIDR arithmetic, numbers' ranges, values against each other are left to
it) and never refuses a file `validate` accepts."""

from __future__ import annotations

import json

from codemate_cfn.params import policy, tags
from codemate_cfn.params.paramfile import (
    DEPLOYMENT_KEYS,
    NUMBER,
    REQUIRED_TOP_LEVEL_KEYS,
    SCHEMA_KEY,
    TOP_LEVEL_KEYS,
    WHOLE_NUMBER,
    Setting,
)
from codemate_cfn.params.parameter import Param
from codemate_cfn.reference import facts
from codemate_cfn.reference.sources import COMMAND, Sources

FILE = "params/parameters.schema.json"
DRAFT = "http://json-schema.org/draft-07/schema#"


def full(pattern: str) -> str:
    """A Python pattern `validate` matches whole (re.fullmatch) as a JSON
    Schema pattern, which is searched for anywhere in the value."""
    return f"^(?:{pattern})$"


def any_case(prefix: str) -> str:
    """A pattern for text starting with `prefix` in any case (JSON Schema's
    patterns take no flags)."""
    return "^" + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in prefix)


def sentence(text: str) -> str:
    text = facts.plain(text)
    return f"{text[:1].upper()}{text[1:]}" + ("" if text.endswith(".") else ".")


def description(param: Param) -> str:
    parts = [param.description]
    if param.constraint:
        parts.append(sentence(f"allowed: {param.constraint}"))
    parts += [sentence(text) for text in facts.checks(param)]
    if param.required:
        parts.append("Required.")
    return " ".join(parts)


def parameter(param: Param) -> dict:
    out = {"description": description(param), "type": "string"}
    if param.default is not None and not param.no_echo:
        out["default"] = param.default
    if param.allowed_values:
        out["enum"] = list(param.allowed_values)
    patterns = [full(p) for p in (
        (WHOLE_NUMBER if param.integer else NUMBER).pattern if param.type == "Number" else None,
        param.pattern) if p]
    if len(patterns) == 1:
        out["pattern"] = patterns[0]
    elif patterns:
        out["allOf"] = [{"pattern": p} for p in patterns]
    return out


def parameters(sources: Sources) -> dict:
    catalogue = sources.catalogue
    return {
        "type": "object",
        "properties": {name: parameter(p) for name, p in catalogue.items()},
        "required": [name for name, p in catalogue.items() if p.required],
        "additionalProperties": False,
    }


def tag_values(sources: Sources) -> dict:
    """The standard tags' values: fixed ones as they are, the environment's
    one of the environment parameter's allowed values (it must equal the
    parameter's value)."""
    conventions = sources.conventions
    environment = sources.catalogue.get(conventions.environment_param)
    found = {key: {"const": value, "description": f"Every resource is tagged {key}={value}."}
             for key, value in conventions.fixed_tags.items()}
    for key in conventions.environment_tags:
        found[key] = {"type": "string",
                      "description": f"The environment's name: equal to Parameters.{conventions.environment_param}."}
        if environment is not None and environment.allowed_values:
            found[key]["enum"] = list(environment.allowed_values)
    return {key: found[key] for key in conventions.tags}


def tags_schema(sources: Sources) -> dict:
    no_control = {"not": {"pattern": tags.CONTROL.pattern}}
    return {
        "type": "object",
        "properties": tag_values(sources),
        "required": list(sources.conventions.tags),
        "additionalProperties": {"type": "string", "maxLength": tags.MAX_VALUE, **no_control},
        "propertyNames": {
            "minLength": 1, "maxLength": tags.MAX_KEY,
            "allOf": [{"not": {"pattern": any_case(tags.RESERVED_PREFIX)}},
                      {"not": {"pattern": any_case(tags.DEPLOYER_TAG_PREFIX)}}, no_control],
        },
        "maxProperties": tags.MAX_TAGS - tags.DEPLOYER_TAG_COUNT,
    }


def setting(s: Setting) -> dict:
    if s.kind is bool:
        return {"description": s.meaning, "type": "boolean", "default": s.default}
    return {"description": f"{s.meaning} In {s.unit}.", "type": "integer", "minimum": s.minimum,
            "maximum": s.maximum, "default": s.default}


def deployment(sources: Sources) -> dict:
    return {"type": "object", "properties": {key: setting(s) for key, s in DEPLOYMENT_KEYS.items()},
            "additionalProperties": False}


def stack_policy(sources: Sources) -> dict:
    def strings(allowed: tuple[str, ...] = ()) -> dict:
        item = {"type": "string", **({"enum": list(allowed)} if allowed else {})}
        return {"anyOf": [item, {"type": "array", "minItems": 1, "items": item}]}

    one_of = [{"oneOf": [{"required": [key]}, {"required": [other]}]} for key, other in policy.ONE_OF]
    statement = {
        "type": "object",
        "properties": {"Effect": {"enum": list(policy.EFFECTS)}, "Principal": {"const": "*"},
                       "Action": strings(policy.ACTIONS), "NotAction": strings(policy.ACTIONS),
                       "Resource": strings(), "NotResource": strings(), "Condition": {"type": "object"}},
        "required": ["Effect", "Principal"],
        "additionalProperties": False,
        "allOf": one_of,
    }
    return {"type": "object", "properties": {"Statement": {"type": "array", "minItems": 1, "items": statement}},
            "required": ["Statement"], "additionalProperties": False}


def schema_key(sources: Sources) -> dict:
    return {"type": "string"}


# The schema of each top-level key; a key without one takes anything.
SECTIONS = {"Parameters": parameters, "Tags": tags_schema, "Deployment": deployment, "StackPolicy": stack_policy,
            SCHEMA_KEY: schema_key}


def schema(sources: Sources) -> dict:
    return {
        "$schema": DRAFT,
        "title": "codemate-cfn parameter file",
        "description": (f"Generated from templates_src/catalogue.py and codemate_cfn/params/ by `{COMMAND}`; do not "
                        "edit. `python -m codemate_cfn validate` is the authority: it also checks CIDR arithmetic, "
                        "numbers' ranges, values against each other and tags. docs/parameters.md describes it all."),
        "type": "object",
        "properties": {key: {"description": what, **SECTIONS.get(key, lambda _: {})(sources)}
                       for key, what in TOP_LEVEL_KEYS.items()},
        "required": list(REQUIRED_TOP_LEVEL_KEYS),
        "additionalProperties": False,
    }


def text(sources: Sources) -> str:
    return json.dumps(schema(sources), indent=2, ensure_ascii=False) + "\n"
