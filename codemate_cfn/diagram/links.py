"""Which resources a template value points at, across the nested stacks:
a Ref to a layer's parameter is followed to what the root passes it, and a
`GetAtt <Layer>Stack.Outputs.X` into that layer's output X, until it lands
on resources (the wiring is by name, so this is how one layer's resource
reaches another's)."""

from __future__ import annotations

from dataclasses import dataclass

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.deploy.conditions import named

Key = tuple[str, str]  # (template name, logical ID)


@dataclass
class Wiring:
    """The templates of one build (by name), and how the root nests them."""

    templates: dict[str, dict]

    def __post_init__(self):
        root = self.templates.get(ROOT, {})
        self.stack_of = {name: logical_id for logical_id, name in nested_names(root).items()}
        self.layer_of = {logical_id: name for name, logical_id in self.stack_of.items()}

    def resources(self, name: str) -> dict:
        return self.templates.get(name, {}).get("Resources", {})

    def targets(self, name: str, value, seen: frozenset = frozenset()) -> set[Key]:
        """The resources `value` (raw, in template `name`) points at;
        `seen`: the (template, name, attribute) already followed."""
        found: set[Key] = set()
        for target, attribute in named(value):
            found |= self._target(name, target, attribute, seen)
        return found

    def _target(self, name: str, target: str, attribute: str | None, seen: frozenset) -> set[Key]:
        if (name, target, attribute) in seen:
            return set()
        seen = seen | {(name, target, attribute)}
        if name == ROOT and target in self.layer_of:
            layer = self.layer_of[target]
            if attribute and attribute.startswith("Outputs."):
                output = self.templates.get(layer, {}).get("Outputs", {}).get(attribute[len("Outputs."):], {})
                return self.targets(layer, output.get("Value"), seen)
            return set()
        if target in self.resources(name):
            return {(name, target)}
        if name != ROOT and target in self.templates.get(name, {}).get("Parameters", {}):
            stack = self.resources(ROOT).get(self.stack_of.get(name, ""), {})
            passed = stack.get("Properties", {}).get("Parameters", {}).get(target)
            return self.targets(ROOT, passed, seen)
        return set()  # a pseudo parameter or the root's own parameter
