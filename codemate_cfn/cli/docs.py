"""`docs`: writes the reference generated from the code (every file of
codemate_cfn.reference.GENERATED: docs/parameters.md, docs/infrastructure.md,
params/parameters.schema.json) from the catalogue, the layers, the parameter
files and the built templates (it builds first, cached, checking every file
in params/). `--check` writes nothing and exits 1 naming each file that is
stale or missing."""

from __future__ import annotations

import inspect
from pathlib import Path

from codemate_cfn.cli.common import build_and_read, find_project
from codemate_cfn.compile.project import Project
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_ERROR, EXIT_OK, BuildError, InvalidInput
from codemate_cfn.files import write_whole


def register(sub) -> None:
    p = sub.add_parser(
        "docs", help="write the reference generated from the code (parameters, infrastructure, JSON Schema)",
        description="Builds (cached), then writes docs/parameters.md (every root parameter and the other keys of a "
                    "parameter file, with each file's values), docs/infrastructure.md (each layer, its resources "
                    "per environment, its parameters and outputs) and params/parameters.schema.json (the JSON "
                    "Schema editors check parameter files with). No AWS call.",
    )
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 naming each generated file that is stale or missing")
    p.set_defaults(run=run)


def environment(project: Project, path: Path, templates: dict[str, dict], catalogue, conventions):
    """One parameter file, checked, and what its environment creates (image
    tags left empty taken as set), by the cost estimate's evaluator."""
    from codemate_cfn.compile.layout import ROOT
    from codemate_cfn.cost.estimate import resources, stack_contexts
    from codemate_cfn.deploy.conditions import Context, parameter_values
    from codemate_cfn.environments import steady_state
    from codemate_cfn.params.paramfile import load
    from codemate_cfn.params.parameter import with_defaults
    from codemate_cfn.reference import Environment

    params = load(path, catalogue, conventions)
    values = with_defaults(catalogue, params.parameters)
    steady, taken_as_set = steady_state(values)
    created = {(found.stack, found.logical_id) for found in resources(stack_contexts(templates, steady))}
    root = Context(ROOT, templates[ROOT], parameter_values(templates[ROOT], steady))
    created |= {(ROOT, logical_id) for logical_id in templates[ROOT].get("Resources", {}) if root.present(logical_id)}
    return Environment(
        name=params.environment, path=project.shown(path).as_posix(), given=dict(params.parameters),
        values=values, tags=dict(params.tags), deployment=dict(params.deployment), stack_policy=params.stack_policy,
        created=frozenset(created), taken_as_set=tuple(taken_as_set),
    )


def sources(project: Project, templates: dict[str, dict]):
    """What the reference is made from: the project's sources and parameter
    files, and its templates (built, or rendered in the tests)."""
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions, load_layer_modules
    from codemate_cfn.compile.layout import ROOT, nested_names
    from codemate_cfn.reference import LayerDoc, Sources

    catalogue, conventions = load_catalogue(project.root), load_conventions(project.root)
    declared = {layer.name: (layer, module) for layer, module in load_layer_modules(project.root)}
    nested = set(nested_names(templates[ROOT]).values())
    layers = []
    for name in [name for name in templates if name in nested]:  # the build's order: producers first
        if name not in declared:
            raise BuildError(f"{name}: nested in the built root template but declared by no module of "
                             "templates_src/; build again")
        layer, module = declared[name]
        layers.append(LayerDoc(name, layer.description, inspect.cleandoc(module.__doc__ or "")))
    paths = project.param_files()
    if not paths:
        raise InvalidInput(f"{project.params_dir}: no parameter files (*.json)")
    return Sources(catalogue, conventions, tuple(layers), templates,
                   tuple(environment(project, path, templates, catalogue, conventions) for path in paths))


def generated(project: Project, templates: dict[str, dict]) -> dict[str, str]:
    """Each generated file's path (relative to the project) and its text."""
    from codemate_cfn.reference import GENERATED

    made = sources(project, templates)
    return {path: make(made) for path, make in GENERATED}


def run(args) -> int:
    from codemate_cfn.reference import COMMAND

    ui = Console()
    project = find_project(args)
    stale = []
    for path, text in generated(project, build_and_read(project, ui)).items():
        target = project.root / path
        if target.is_file() and target.read_bytes() == text.encode():
            ui.step(f"{path}: current")
        elif args.check:
            stale.append(f"{path} is {'out of date' if target.is_file() else 'missing'}: run `{COMMAND}`")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_whole(target, text)
            ui.step(f"{path}: written")
    for line in stale:
        ui.say(line)
    if stale:
        return EXIT_ERROR
    ui.say("the generated reference is current" if args.check else "the generated reference is written")
    return EXIT_OK
