"""What the reference pages are made from, as plain data: the catalogue,
the conventions, the layers (name, one-line description, module docstring)
in the root's order, the built templates, and each parameter file as it
was checked, with what its environment creates.

The command line gathers them (`codemate_cfn/cli/docs.py`); the pages only
read them, so a test can make a page from the same data."""

from __future__ import annotations

from dataclasses import dataclass

from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.compile.wiring import Source
from codemate_cfn.layer import Conventions
from codemate_cfn.params.parameter import Param

COMMAND = "python -m codemate_cfn docs"  # writes every generated file


@dataclass(frozen=True)
class LayerDoc:
    """A layer as its module tells it: `Layer(name, description, build)`
    and the module's docstring (what it builds and why)."""

    name: str
    description: str
    docstring: str


@dataclass(frozen=True)
class Environment:
    """One parameter file as `validate` accepted it."""

    name: str  # the environment it deploys (EnvironmentName)
    path: str  # as people write it: "params/dev.json"
    given: dict[str, str]  # the root parameters the file sets
    values: dict[str, str]  # every root parameter's value: the file's over the catalogue's defaults
    tags: dict[str, str]
    deployment: dict  # the Deployment keys the file sets
    stack_policy: dict | None
    # (template, logical ID) of every resource the environment creates, with
    # the parameters in `taken_as_set` (image tags left empty) taken as set
    created: frozenset[tuple[str, str]]
    taken_as_set: tuple[str, ...]

    def value(self, name: str) -> str | None:
        return self.values.get(name)

    def relies_on_default(self, name: str) -> bool:
        return name not in self.given and name in self.values


@dataclass(frozen=True)
class Sources:
    catalogue: dict[str, Param]
    conventions: Conventions
    layers: tuple[LayerDoc, ...]  # in the root's order
    templates: dict[str, dict]  # the built templates by name: the root, then the layers in the build's order
    environments: tuple[Environment, ...]

    @property
    def root(self) -> dict:
        return self.templates[ROOT]

    def stacks(self) -> dict[str, str]:
        """Nested stack logical ID -> template name, in the root's order."""
        return nested_names(self.root)

    def stack_of(self, layer: str) -> str:
        """The root's logical ID of a layer's nested stack."""
        return next(logical_id for logical_id, name in self.stacks().items() if name == layer)

    def source(self, value) -> Source:
        """Where a value the root passes on (or outputs) comes from: another
        layer's output (GetAtt <Stack>.Outputs.<name>) or a root parameter (Ref)."""
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            stack, attribute = value["Fn::GetAtt"]
            return Source(self.stacks().get(stack, stack), attribute.removeprefix("Outputs."))
        return Source(None, value.get("Ref", "") if isinstance(value, dict) else str(value))

    def inputs(self, layer: str) -> dict[str, Source]:
        """Each parameter of a layer's template and where the root takes it from."""
        passed = self.root["Resources"][self.stack_of(layer)].get("Properties", {}).get("Parameters", {})
        return {name: self.source(value) for name, value in sorted(passed.items())}

    def root_outputs(self) -> dict[str, Source]:
        """Each output of the root stack and the layer output it passes on."""
        outputs = self.root.get("Outputs", {})
        return {name: self.source(output.get("Value")) for name, output in sorted(outputs.items())}

    def consumers(self, parameter: str) -> list[str]:
        """The layers the root passes a root parameter to, in the root's order."""
        return [layer.name for layer in self.layers
                if any(s.layer is None and s.name == parameter for s in self.inputs(layer.name).values())]
