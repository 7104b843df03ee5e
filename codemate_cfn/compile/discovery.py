"""Finds the layer modules and the parameter catalogue in a project's
templates_src/.

A layer is any module there, or any package (`<name>/__init__.py`), that
defines `LAYER` (a codemate_cfn.layer.Layer); adding a layer is adding one
file. Other modules (the catalogue, shared helpers) are imported and skipped.

Each project's templates_src/ is imported as a package of its own, named
after its resolved path (`_codemate_src_<hash>`), never through sys.path: one
process can build any number of projects, and relative imports inside
templates_src/ (`from .kit.bucket import ...`) resolve within that project.
Its modules are compiled from their source text (no __pycache__ is read or
written), so an edit is never hidden behind a stale bytecode file.

Reload policy: a project's modules are reused while its sources are
byte-for-byte what they were when loaded (a digest of every .py file under
templates_src/, ~0.2 ms to compute); after any edit, every module of that
project is dropped from sys.modules and loaded again (~10 ms), so a build
never sees stale code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pkgutil
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType

from codemate_cfn.errors import BuildError, quoted
from codemate_cfn.layer import Conventions, Layer
from codemate_cfn.params.parameter import Param

SOURCE_PACKAGE = "templates_src"
NAME_PREFIX = "_codemate_src_"


@dataclass
class _Loaded:
    sources: Path  # the resolved templates_src/ directory
    digest: str  # of its .py files when loaded
    package: ModuleType | None = None  # None while its __init__ runs


_LOADED: dict[str, _Loaded] = {}  # by package name
_CODE: dict[tuple[str, bytes], CodeType] = {}  # compiled modules by (path, sha256 of the source)


def package_name(project_dir: Path) -> str:
    """The module name a project's templates_src/ is imported under."""
    sources = (Path(project_dir) / SOURCE_PACKAGE).resolve()
    return NAME_PREFIX + hashlib.sha256(str(sources).encode()).hexdigest()[:16]


def _digest(sources: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(sources.rglob("*.py")):
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the source text every time it is read (from memory when
    that exact text was compiled before), never from __pycache__: a bytecode
    file is trusted on mtime and size, which an edit within the same second
    can keep."""

    def get_code(self, fullname: str) -> CodeType:
        source = self.get_data(self.path)
        key = (self.path, hashlib.sha256(source).digest())
        code = _CODE.get(key)
        if code is None:
            code = _CODE[key] = self.source_to_code(source, self.path)
        return code


def _spec(fullname: str, base: Path) -> importlib.machinery.ModuleSpec | None:
    """The spec of `fullname` found at `base` (a package directory, or a
    module when `base`.py exists), or None."""
    init = base / "__init__.py"
    if init.is_file():
        return importlib.util.spec_from_file_location(
            fullname, init, loader=_SourceLoader(fullname, str(init)), submodule_search_locations=[str(base)]
        )
    module = base.with_name(base.name + ".py")
    if module.is_file():
        return importlib.util.spec_from_file_location(fullname, module, loader=_SourceLoader(fullname, str(module)))
    return None


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Finds the submodules of the loaded projects' packages, and only those."""

    def find_spec(self, fullname, path=None, target=None):
        top, _, rest = fullname.partition(".")
        loaded = _LOADED.get(top)
        if loaded is None or not rest:
            return None
        return _spec(fullname, loaded.sources.joinpath(*rest.split(".")))


_FINDER = _ProjectFinder()


def _forget(name: str) -> None:
    _LOADED.pop(name, None)
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def _load_package(project_dir: Path) -> ModuleType:
    """The project's templates_src/ package, imported (again) unless it is
    loaded already from exactly the sources on disk now."""
    sources = (Path(project_dir) / SOURCE_PACKAGE).resolve()
    if not (sources / "__init__.py").is_file():
        raise BuildError(f"{SOURCE_PACKAGE}/__init__.py: not found; {SOURCE_PACKAGE}/ must be a package "
                         "(an empty __init__.py will do)")
    name = package_name(project_dir)
    digest = _digest(sources)
    loaded = _LOADED.get(name)
    if loaded is not None and loaded.digest == digest and loaded.package is not None:
        return loaded.package
    _forget(name)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    _LOADED[name] = loaded = _Loaded(sources, digest)
    spec = _spec(name, sources)
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
    except KeyboardInterrupt:
        _forget(name)
        raise
    except BaseException as exc:  # sys.exit() too: one line, never the end of the process
        error = _one_line(exc, f"{SOURCE_PACKAGE}/__init__.py")
        _forget(name)
        raise error from exc
    loaded.package = package
    return package


def _relative(filename: str) -> str | None:
    """"templates_src/..." for a file of a loaded project, else None."""
    path = Path(filename)
    for loaded in _LOADED.values():
        if path.is_relative_to(loaded.sources):
            return f"{SOURCE_PACKAGE}/{path.relative_to(loaded.sources).as_posix()}"
    return None


def source_location(exc: BaseException) -> str:
    """Where in templates_src/ `exc` was raised: "templates_src/x.py line N"
    or "templates_src/x/part.py line N" (the innermost such frame), or ""
    when it was not raised there."""
    if isinstance(exc, SyntaxError) and exc.filename:
        frames = [(exc.filename, exc.lineno)]
    else:
        frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    for filename, line in reversed(frames):
        where = _relative(filename)
        if where:
            return f"{where} line {line}"
    return ""


def readable(message: str) -> str:
    """`message` with the loaded projects' module names said as people
    write them: "_codemate_src_<hash>.kit" -> "templates_src.kit"."""
    for name in _LOADED:
        message = message.replace(name, SOURCE_PACKAGE)
    return message


def message_of(exc: BaseException) -> str:
    """What `exc` says, module names as people write them; for sys.exit,
    that it was called."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({'' if exc.code is None else repr(exc.code)})"
    return readable(exc.msg if isinstance(exc, SyntaxError) else str(exc))


def _one_line(exc: BaseException, fallback: str) -> BuildError:
    where = source_location(exc) or fallback
    return BuildError(f"{where}: {type(exc).__name__}: {message_of(exc)}")


def load_module(project_dir: Path, name: str) -> ModuleType:
    """Module `name` of the project's templates_src/ ("catalogue", a layer,
    ...); its errors become one BuildError line naming the file and line."""
    package = _load_package(project_dir)
    try:
        return importlib.import_module(f"{package.__name__}.{name}")
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # sys.exit() too
        folder = Path(package.__path__[0]) / name
        fallback = f"{SOURCE_PACKAGE}/{name}/__init__.py" if folder.is_dir() else f"{SOURCE_PACKAGE}/{name}.py"
        raise _one_line(exc, fallback) from exc


CATALOGUE = f"{SOURCE_PACKAGE}/catalogue.py"


def _checked_param(where: str, param) -> Param:
    """A catalogue entry that is a Param whose pattern compiles."""
    if not isinstance(param, Param):
        raise BuildError(f"{CATALOGUE}: {where}: {quoted(param)} is not a codemate_cfn.layer.Param")
    if param.pattern is not None:
        try:
            re.compile(param.pattern)
        except (re.error, TypeError) as exc:
            raise BuildError(f"{CATALOGUE}: parameter {param.name}: invalid pattern "
                             f"{quoted(param.pattern)}: {exc}") from None
    return param


def load_catalogue(project_dir: Path) -> dict[str, Param]:
    """The root parameters of templates_src/catalogue.py's PARAMETERS (a
    list of Param), by name; a mistake in it is one BuildError line."""
    parameters = getattr(load_module(project_dir, "catalogue"), "PARAMETERS", None)
    if parameters is None:
        raise BuildError(f"{CATALOGUE}: no PARAMETERS (a list of codemate_cfn.layer.Param)")
    if not isinstance(parameters, (list, tuple)):
        raise BuildError(f"{CATALOGUE}: PARAMETERS is a {type(parameters).__name__}, "
                         "not a list of codemate_cfn.layer.Param")
    catalogue: dict[str, Param] = {}
    for i, entry in enumerate(parameters):
        param = _checked_param(f"PARAMETERS[{i}]", entry)
        if param.name in catalogue:
            raise BuildError(f"{CATALOGUE}: parameter {param.name} is declared twice")
        catalogue[param.name] = param
    return catalogue


def load_conventions(project_dir: Path) -> Conventions:
    """The project's CONVENTIONS, from templates_src/project.py."""
    conventions = getattr(load_module(project_dir, "project"), "CONVENTIONS", None)
    if not isinstance(conventions, Conventions):
        raise BuildError(f"{SOURCE_PACKAGE}/project.py: no CONVENTIONS (a codemate_cfn.layer.Conventions)")
    return conventions


def load_layer_modules(project_dir: Path) -> list[tuple[Layer, ModuleType]]:
    """Each layer with the module (or package) that declares it, whose
    docstring says what the layer builds and why."""
    package = _load_package(project_dir)
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = load_module(project_dir, info.name)
        layer = getattr(module, "LAYER", None)
        if isinstance(layer, Layer):
            found.append((layer, module))
    names = [layer.name for layer, _ in found]
    for name in names:
        if names.count(name) > 1:
            raise BuildError(f"two modules in {SOURCE_PACKAGE}/ declare the layer {name!r}")
    return found


def load_layers(project_dir: Path) -> list[Layer]:
    return [layer for layer, _ in load_layer_modules(project_dir)]
