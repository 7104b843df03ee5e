"""The shape of the stack policy document a parameter file may add
(StackPolicy), checked before any AWS call: what CloudFormation's stack
policy syntax allows, each problem one line naming the key path."""

from __future__ import annotations

from pathlib import Path

from codemate_cfn.errors import quoted, shown

EFFECTS = ("Allow", "Deny")
ACTIONS = ("Update:Modify", "Update:Replace", "Update:Delete", "Update:*")
# Each statement takes exactly one key of each pair.
ONE_OF = (("Action", "NotAction"), ("Resource", "NotResource"))
STATEMENT_KEYS = ("Effect", "Action", "NotAction", "Principal", "Resource", "NotResource", "Condition")


def _strings(where: str, value, allowed: tuple[str, ...] = ()) -> list[str]:
    """A string or a non-empty list of strings, each one of `allowed` (when given)."""
    items = [(where, value)] if isinstance(value, str) else \
        [(f"{where}[{i}]", item) for i, item in enumerate(value)] if isinstance(value, list) and value else None
    if items is None:
        return [f"{where}: wrong type: expected a string or a non-empty list of strings"]
    problems = []
    for at, item in items:
        if not isinstance(item, str):
            problems.append(f"{at}: wrong type: expected a string, got {type(item).__name__}")
        elif allowed and item not in allowed:
            problems.append(f"{at}: {quoted(item)} is not one of {', '.join(allowed)}")
    return problems


def _statement(where: str, statement) -> list[str]:
    if not isinstance(statement, dict):
        return [f"{where}: wrong type: expected a statement object"]
    problems = [f"{where}.{shown(key)}: unknown key (a statement takes {', '.join(STATEMENT_KEYS)})"
                for key in statement if key not in STATEMENT_KEYS]
    effect = statement.get("Effect")
    if effect is None:
        problems.append(f"{where}.Effect: missing required key")
    elif effect not in EFFECTS:
        problems.append(f"{where}.Effect: {quoted(effect)} is not Allow or Deny")
    if "Principal" not in statement:
        problems.append(f"{where}.Principal: missing required key")
    elif statement["Principal"] != "*":
        problems.append(f"{where}.Principal: {quoted(statement['Principal'])} must be '*' "
                        "(a stack policy applies to every principal)")
    for key, other in ONE_OF:
        given = [k for k in (key, other) if k in statement]
        if not given:
            problems.append(f"{where}.{key}: missing required key (or {other})")
        elif len(given) == 2:
            problems.append(f"{where}.{other}: {key} and {other} together; a statement takes one of them")
        else:
            problems += _strings(f"{where}.{given[0]}", statement[given[0]], ACTIONS if key == "Action" else ())
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        problems.append(f"{where}.Condition: wrong type: expected an object")
    return problems


def check_policy(path: Path, policy) -> list[str]:
    """A stack policy document: {"Statement": [statement, ...]}, nothing else."""
    where = f"{path}: StackPolicy"
    if not isinstance(policy, dict):
        return [f"{where}: wrong type: expected a policy document object"]
    problems = [f"{where}.{shown(key)}: unknown key (a stack policy holds Statement only)"
                for key in policy if key != "Statement"]
    statements = policy.get("Statement")
    if not isinstance(statements, list) or not statements:
        return problems + [f"{where}.Statement: expected a non-empty list of statements"]
    for i, statement in enumerate(statements):
        problems += _statement(f"{where}.Statement[{i}]", statement)
    return problems
