"""What the catalogue says about a root parameter beyond its type and
allowed values, in words, for both the Markdown page and the JSON Schema's
descriptions: a number's range, the checks its `kind` adds and its relation
to other parameters. Names of keys are in backticks; the schema takes them
off."""

from __future__ import annotations

import inspect

from codemate_cfn.params.paramfile import MAX_PREFIX, MIN_PREFIX, VPC_CIDR
from codemate_cfn.params.parameter import Param

RELATION = "checked against the other parameters' values"


def number_range(param: Param) -> str | None:
    """A Number's range ("from 0 to 20", "at least 1"); None when it has none."""
    low, high = param.min_value, param.max_value
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None or high is not None:
        return f"at least {low}" if low is not None else f"at most {high}"
    return None


def number(param: Param) -> str | None:
    """A Number's kind and range ("a whole number from 0 to 20"); None for a String."""
    if param.type != "Number":
        return None
    kind = "a whole number" if param.integer else "a number"
    return " ".join(part for part in (kind, number_range(param)) if part)


def kind(param: Param) -> str | None:
    """What the parameter's kind adds to its checks, or does with its value."""
    network = f"an IPv4 network in CIDR notation, a /{MIN_PREFIX} to /{MAX_PREFIX} block"
    if param.kind == "cidr":
        return network
    if param.kind == "subnet":
        return f"{network} inside `{VPC_CIDR}`, overlapping no other subnet"
    if param.kind == "hosted-zone":
        return (f"empty: `deploy` and `plan` look up the ID of the one public hosted zone named "
                f"`{param.extra['name']}` in the account")
    return None


def _doc(function) -> str:
    return " ".join((inspect.getdoc(function) or "").split())


def relation(param: Param) -> str | None:
    """That a relation check exists, and what it checks: its docstring, or,
    for a lambda, that of the function it calls."""
    if param.relation is None:
        return None
    check = param.relation
    names = getattr(getattr(check, "__code__", None), "co_names", ())
    called = [getattr(check, "__globals__", {}).get(name) for name in names]
    doc = _doc(check) or next((_doc(f) for f in called if callable(f) and _doc(f)), "")
    return f"{RELATION}: {doc}" if doc else RELATION


def checks(param: Param) -> list[str]:
    """Every check in words beyond the allowed values and the pattern."""
    return [text for text in (number(param), kind(param), relation(param)) if text]


def plain(text: str) -> str:
    """Text without its backticks, for the JSON Schema."""
    return text.replace("`", "")
