"""Evaluates a template's conditions and intrinsic functions for given
parameter values, offline.

What only AWS knows (resource IDs, attributes, pseudo parameters, outputs
of other stacks) stays symbolic: `{"Ref": X}`, `{"Fn::GetAtt": [X, A]}`.
A symbol whose value will differ after the update (its resource is
replaced, or the output behind it changed) carries a RENEWED key saying how
sure that is ("true" or "conditional"), so comparing the resolved old and
new forms of a property tells whether its value changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codemate_cfn.errors import CodemateError

RENEWED = "@renewed"
NO_VALUE = object()  # Ref AWS::NoValue: the property is left out
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
LIST_TYPES = ("CommaDelimitedList", "List<")


def is_concrete(value) -> bool:
    if isinstance(value, list):
        return all(is_concrete(v) for v in value)
    return not isinstance(value, dict)


def parameter_values(template: dict, given: dict, unknown: set[str] = frozenset()) -> dict:
    """Each parameter of `template`: the given value, else its Default, else
    a symbol. Names in `unknown` stay symbolic whatever is given. List-typed
    parameters given as "a,b" become lists."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in unknown:
            values[name] = {"Ref": name}
            continue
        value = given.get(name, spec.get("Default"))
        if value is None:
            value = {"Ref": name}
        elif isinstance(value, str) and spec.get("Type", "").startswith(LIST_TYPES):
            value = value.split(",")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        values[name] = value
    return values


@dataclass
class Context:
    """One template evaluated for one set of parameter values."""

    where: str  # the stack's name, for error messages
    template: dict
    params: dict
    renewed: dict[str, str] = field(default_factory=dict)  # "Id" or "Id.Attr" -> "true" | "conditional"
    _conditions: dict = field(default_factory=dict)

    @property
    def resources(self) -> dict:
        return self.template.get("Resources", {})

    # -- conditions -----------------------------------------------------

    def condition(self, name: str):
        """True, False, or a symbol when it hangs on values only AWS knows."""
        if name not in self._conditions:
            expressions = self.template.get("Conditions", {})
            if name not in expressions:
                raise CodemateError(f"{self.where}: condition {name} is used but not defined in Conditions")
            self._conditions[name] = self._truth(expressions[name])
        return self._conditions[name]

    def _truth(self, expression):
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise CodemateError(f"{self.where}: not a condition expression: {expression!r}")
        (function, args), = expression.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            if is_concrete(left) and is_concrete(right):
                return _text(left) == _text(right)
            return True if left == right else {"Fn::Equals": [left, right]}
        if function == "Fn::Not":
            value = self._truth(args[0])
            return (not value) if isinstance(value, bool) else {"Fn::Not": [value]}
        if function in ("Fn::And", "Fn::Or"):
            values = [self._truth(a) for a in args]
            decisive = function == "Fn::Or"  # Or: one True decides; And: one False decides
            if decisive in values:
                return decisive
            if all(isinstance(v, bool) for v in values):
                return not decisive
            return {function: values}
        raise CodemateError(f"{self.where}: {function} is not a condition function")

    def present(self, logical_id: str, section: str = "Resources") -> bool:
        """Whether a resource (or output) exists for these values; one whose
        condition AWS alone can decide counts as present."""
        entry = self.template.get(section, {}).get(logical_id)
        if entry is None:
            return False
        name = entry.get("Condition")
        return name is None or self.condition(name) is not False

    # -- intrinsic functions --------------------------------------------

    def resolve(self, value):
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, args), = value.items()
            if key == "Ref":
                return self._ref(args)
            if key == "Fn::GetAtt":
                return self._get_att(args)
            if key == "Fn::Sub":
                return self._sub(args)
            if key == "Fn::If":
                return self._if(args)
            if key.startswith("Fn::"):
                return self._function(key, self.resolve(args))
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _symbol(self, symbol: dict, *keys: str) -> dict:
        level = next((self.renewed[k] for k in keys if k in self.renewed), None)
        return {**symbol, RENEWED: level} if level else symbol

    def _ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        return self._symbol({"Ref": name}, name)

    def _get_att(self, args):
        if isinstance(args, str):
            args = args.split(".", 1)
        target, attribute = args[0], self.resolve(args[1])
        return self._symbol({"Fn::GetAtt": [target, attribute]}, f"{target}.{attribute}", target)

    def _sub(self, args):
        text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
        variables = {k: self.resolve(v) for k, v in variables.items()}
        parts: list = []
        position = 0
        for match in SUB_VARIABLE.finditer(text):
            parts.append(text[position:match.start()])
            position = match.end()
            name = match.group(1)
            if name.startswith("!"):
                parts.append("${" + name[1:] + "}")
            elif name in variables:
                parts.append(variables[name])
            elif "." in name and name not in self.params:
                parts.append(self._get_att(name))
            else:
                parts.append(self._ref(name))
        parts.append(text[position:])
        joined: list = []
        for part in parts:
            if isinstance(part, str) and joined and isinstance(joined[-1], str):
                joined[-1] += part
            elif part != "":
                joined.append(part)
        if all(isinstance(p, str) for p in joined):
            return "".join(joined)
        return {"Fn::Sub": joined}

    def _if(self, args):
        name, when_true, when_false = args
        truth = self.condition(name)
        if truth is True:
            return self.resolve(when_true)
        if truth is False:
            return self.resolve(when_false)
        return {"Fn::If": [truth, self.resolve(when_true), self.resolve(when_false)]}

    def _function(self, key: str, args):
        """Functions worked out when their arguments are known; otherwise kept."""
        if not (isinstance(args, list) and len(args) >= 2 and is_concrete(args)):
            return {key: args}
        if key == "Fn::Join" and isinstance(args[1], list) and all(isinstance(v, str) for v in args[1]):
            return args[0].join(args[1])
        if key == "Fn::Select" and isinstance(args[1], list) and str(args[0]).isdigit() and int(args[0]) < len(args[1]):
            return args[1][int(args[0])]
        if key == "Fn::Split" and isinstance(args[1], str):
            return args[1].split(args[0])
        if key == "Fn::FindInMap":
            try:
                return self.template["Mappings"][args[0]][args[1]][args[2]]
            except (KeyError, IndexError, TypeError):
                raise CodemateError(f"{self.where}: Fn::FindInMap {args[:3]} is not in Mappings") from None
        return {key: args}


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def without_uncertain(value):
    """The value with "conditional" RENEWED marks dropped: what it would be
    if nothing that only may be replaced were replaced."""
    if isinstance(value, list):
        return [without_uncertain(v) for v in value]
    if isinstance(value, dict):
        return {k: without_uncertain(v) for k, v in value.items()
                if not (k == RENEWED and v == "conditional")}
    return value


def named(value) -> list[tuple[str, str | None]]:
    """(name, attribute) for each Ref, Fn::GetAtt and ${...} in a raw
    template value: logical IDs or parameter names, with the attribute a
    GetAtt or ${X.Attr} reads (None for a Ref)."""
    found: list[tuple[str, str | None]] = []
    if isinstance(value, list):
        for v in value:
            found += named(v)
    elif isinstance(value, dict):
        for key, args in value.items():
            if key == "Ref" and isinstance(args, str):
                found.append((args, None))
            elif key == "Fn::GetAtt":
                parts = args.split(".", 1) if isinstance(args, str) else args
                attribute = parts[1] if len(parts) > 1 and isinstance(parts[1], str) else None
                found.append((parts[0], attribute))
                if not isinstance(args, str):
                    found += named(args[1:])
            elif key == "Fn::Sub":
                text = args if isinstance(args, str) else args[0]
                local = set() if isinstance(args, str) else set(args[1])
                for name in SUB_VARIABLE.findall(text):
                    if not name.startswith("!") and name not in local:
                        target, _, attribute = name.partition(".")
                        found.append((target, attribute or None))
                if not isinstance(args, str):
                    found += named(args[1])
            else:
                found += named(args)
    return found


def references(value) -> set[str]:
    """Logical IDs (or parameter names) a raw template value points at
    through Ref, Fn::GetAtt or Fn::Sub."""
    return {name for name, _ in named(value)}


def show(value) -> str:
    """A resolved value as a person reads it: ${Vpc}, ${Bucket.Arn}, lists
    joined by commas."""
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    if not isinstance(value, dict):
        return _text(value)
    if "Ref" in value:
        return "${%s}" % value["Ref"]
    if "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return "${%s.%s}" % (target, show(attribute))
    if "Fn::Sub" in value:
        return "".join(p if isinstance(p, str) else show(p) for p in value["Fn::Sub"])
    return ", ".join(f"{k}: {show(v)}" for k, v in value.items() if k != RENEWED)
