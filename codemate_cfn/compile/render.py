"""Turns the layer builders into template dicts: every layer, then the root."""

from __future__ import annotations

import json
from dataclasses import dataclass

from codemate_cfn.compile.layout import ROOT
from codemate_cfn.compile.discovery import load_catalogue, load_conventions, load_layers, message_of, source_location
from codemate_cfn.errors import BuildError, CodemateError
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.wiring import root_template
from codemate_cfn.layer import Conventions

ROOT_DESCRIPTION = "CodeMate on AWS: root stack nesting one stack per layer (codemate-cfn)."


@dataclass
class Rendered:
    """Templates by name ("root", "network", ...), in deployment order."""

    templates: dict[str, dict]
    order: list[str]


def to_json(template: dict) -> str:
    return json.dumps(template, indent=2, sort_keys=True) + "\n"


def render(project: Project) -> Rendered:
    layers = load_layers(project.root)
    if not layers:
        raise BuildError(f"{project.sources}: no layer modules (a module defining LAYER)")
    return render_layers(layers, load_catalogue(project.root), load_conventions(project.root))


def render_layers(layer_list: list, catalogue: dict, conventions: Conventions) -> Rendered:
    """Render the given layers, applying the project's conventions, and the
    root that nests them."""
    layers = {layer.name: layer for layer in layer_list}
    built = {}
    for name, layer in layers.items():
        try:
            built[name] = layer.render(catalogue, conventions)
        except (CodemateError, KeyboardInterrupt):
            raise
        except BaseException as exc:  # a bug in the layer's builder, or sys.exit(): one line saying where
            where = source_location(exc)
            raise BuildError(f"layer {name}: {message_of(exc)}"
                             + (f" ({where}, {type(exc).__name__})" if where else "")) from exc
    root, order = root_template(layers, built, catalogue, ROOT_DESCRIPTION)
    templates = {ROOT: root.to_dict()}
    for name in order:
        try:
            # troposphere checks required properties only here, on to_dict()
            templates[name] = built[name].to_dict()
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise BuildError(f"layer {name}: {exc}") from exc
    return Rendered(templates, order)
