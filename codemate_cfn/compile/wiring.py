"""Wires layer inputs to their sources by name and writes the root template.

An input is satisfied by exactly one source: a root parameter of the same
name (from the catalogue) or an output of another layer. The layers are
ordered so every producer comes before its consumers.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere.cloudformation import Stack

from codemate_cfn.compile.layout import template_url
from codemate_cfn.errors import BuildError
from codemate_cfn.layer import Layer, LayerTemplate
from codemate_cfn.params.parameter import DEPLOYER_PARAMS, Param

# What CloudFormation does with a nested stack the root deletes or replaces:
# the same as without these attributes, written out so cfn-lint (I3011) and a
# reader need not assume it. Delete, not Retain: deleting a nested stack
# deletes the resources it holds each by its own DeletionPolicy, and every
# stateful one keeps its data (Retain or Snapshot, required by rule E9001),
# so nothing of value is lost. Retain would orphan the whole child stack,
# stateless resources and their costs included (NAT gateways, the load
# balancer), outside the root's control, and a later deploy of the same
# environment would collide with its names. A nested stack is never replaced
# (its TemplateURL and Parameters update it in place); Delete there too.
NESTED_STACK_POLICIES = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}


@dataclass(frozen=True)
class Source:
    """Where one layer input comes from: a root parameter or a layer output."""

    layer: str | None  # None: a root parameter
    name: str

    def describe(self) -> str:
        return f"root parameter {self.name}" if self.layer is None else f"output {self.name} of layer {self.layer}"


def resolve_sources(
    built: dict[str, LayerTemplate], catalogue: dict[str, Param]
) -> dict[str, dict[str, Source]]:
    """For every layer, the one source of each of its inputs."""
    producers: dict[str, list[str]] = {}
    for name, t in built.items():
        for output in t.outputs:
            producers.setdefault(output, []).append(name)
    for output, layers in producers.items():
        if len(layers) > 1:
            raise BuildError(f"output {output} is declared by more than one layer: {', '.join(sorted(layers))}")

    wiring: dict[str, dict[str, Source]] = {}
    for name, t in built.items():
        wiring[name] = {}
        for input_name in t.inputs:
            candidates = []
            if input_name in catalogue:
                candidates.append(Source(None, input_name))
            candidates += [Source(p, input_name) for p in producers.get(input_name, []) if p != name]
            if not candidates:
                raise BuildError(
                    f"layer {name}: input {input_name} has no source "
                    f"(no root parameter and no layer output of that name)"
                )
            if len(candidates) > 1:
                raise BuildError(
                    f"layer {name}: input {input_name} has two sources: "
                    + " and ".join(c.describe() for c in candidates)
                )
            wiring[name][input_name] = candidates[0]
    return wiring


def order_layers(names: list[str], wiring: dict[str, dict[str, Source]]) -> list[str]:
    """Dependency order (producers first), ties broken by name; a cycle is an error."""
    needs = {n: {s.layer for s in wiring[n].values() if s.layer} for n in names}
    ordered: list[str] = []
    remaining = set(names)
    while remaining:
        ready = sorted(n for n in remaining if needs[n] <= set(ordered))
        if not ready:
            cycle = " -> ".join(_cycle(remaining, needs))
            raise BuildError(f"layers depend on each other in a cycle: {cycle} (each needs an output of the next)")
        ordered.append(ready[0])
        remaining.discard(ready[0])
    return ordered


def _cycle(stuck: set[str], needs: dict[str, set[str]]) -> list[str]:
    """One cycle among layers that cannot be ordered, e.g. [a, b, a]: each
    needs an output of the next. Every stuck layer needs another stuck one,
    so walking from any of them must come back round."""
    path = [min(stuck)]
    while True:
        step = min(needs[path[-1]] & stuck)
        if step in path:
            return path[path.index(step):] + [step]
        path.append(step)


def root_template(
    layers: dict[str, Layer],
    built: dict[str, LayerTemplate],
    catalogue: dict[str, Param],
    description: str,
) -> tuple[Template, list[str]]:
    """The root template nesting every layer, and the layer order."""
    for param in DEPLOYER_PARAMS:
        if param.name in catalogue:
            raise BuildError(
                f"templates_src/catalogue.py: {param.name} is the deployer's own parameter (it places the "
                "nested templates); remove it from the catalogue"
            )
    wiring = resolve_sources(built, catalogue)
    order = order_layers(list(built), wiring)

    used = {s.name for w in wiring.values() for s in w.values() if s.layer is None}
    unused = sorted(set(catalogue) - used)
    if unused:
        raise BuildError(
            "templates_src/catalogue.py: parameter(s) used by no layer: " + ", ".join(unused)
        )

    root = Template(Description=description)
    for param in [*(catalogue[n] for n in catalogue if n in used), *DEPLOYER_PARAMS]:
        root.add_parameter(Parameter(param.name, **param.cfn()))

    for name in order:
        layer = layers[name]
        parameters = {}
        for input_name, source in sorted(wiring[name].items()):
            if source.layer is None:
                parameters[input_name] = Ref(input_name)
            else:
                parameters[input_name] = GetAtt(layers[source.layer].logical_id, f"Outputs.{input_name}")
        root.add_resource(
            Stack(
                layer.logical_id,
                TemplateURL=Sub(template_url(layer.name)),
                Parameters=parameters,
                **NESTED_STACK_POLICIES,
            )
        )
        for out_name, root_out in built[name].root_outputs.items():
            root.add_output(
                Output(
                    out_name,
                    Description=root_out.description,
                    Value=GetAtt(layer.logical_id, f"Outputs.{out_name}"),
                )
            )
    return root, order
