"""Finds the layer modules and the parameter catalogue in templates_src/.

A layer is any module there that defines `LAYER` (a codemate_cfn.layer.Layer);
adding a layer is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

from codemate_cfn.errors import BuildError
from codemate_cfn.layer import Conventions, Layer
from codemate_cfn.params.parameter import Param

SOURCE_PACKAGE = "templates_src"


def _import_package(project_dir: Path):
    root = str(project_dir.resolve())
    if sys.path[:1] != [root]:
        sys.path.insert(0, root)
    package = importlib.import_module(SOURCE_PACKAGE)
    expected = (project_dir / SOURCE_PACKAGE).resolve()
    if Path(package.__file__).resolve().parent != expected:
        raise BuildError(
            f"{SOURCE_PACKAGE} was imported from {Path(package.__file__).parent}, "
            f"not from {expected}; run from the project directory"
        )
    return package


def source_location(exc: BaseException) -> str:
    """Where in templates_src/ `exc` was raised: "templates_src/x.py line N"
    (the innermost such frame), or "" when it was not raised there."""
    if isinstance(exc, SyntaxError) and exc.filename:
        frames = [(exc.filename, exc.lineno)]
    else:
        frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    for filename, line in reversed(frames):
        path = Path(filename)
        if path.parent.name == SOURCE_PACKAGE:
            return f"{SOURCE_PACKAGE}/{path.name} line {line}"
    return ""


def _import(module_name: str):
    """Import one module of templates_src/; its errors become one BuildError line."""
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        where = source_location(exc) or module_name.replace(".", "/") + ".py"
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise BuildError(f"{where}: {type(exc).__name__}: {message}") from exc


def load_catalogue(project_dir: Path) -> dict[str, Param]:
    _import_package(project_dir)
    module = _import(f"{SOURCE_PACKAGE}.catalogue")
    catalogue: dict[str, Param] = {}
    for param in module.PARAMETERS:
        if param.name in catalogue:
            raise BuildError(f"templates_src/catalogue.py: parameter {param.name} is declared twice")
        catalogue[param.name] = param
    return catalogue


def load_conventions(project_dir: Path) -> Conventions:
    """The project's CONVENTIONS, from templates_src/project.py."""
    _import_package(project_dir)
    conventions = getattr(_import(f"{SOURCE_PACKAGE}.project"), "CONVENTIONS", None)
    if not isinstance(conventions, Conventions):
        raise BuildError(f"{SOURCE_PACKAGE}/project.py: no CONVENTIONS (a codemate_cfn.layer.Conventions)")
    return conventions


def load_layers(project_dir: Path) -> list[Layer]:
    package = _import_package(project_dir)
    layers = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = _import(f"{SOURCE_PACKAGE}.{info.name}")
        layer = getattr(module, "LAYER", None)
        if isinstance(layer, Layer):
            layers.append(layer)
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise BuildError(f"two modules in {SOURCE_PACKAGE}/ declare the layer {name!r}")
    return layers
