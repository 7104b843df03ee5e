"""`build`: render, check and lint every template into build/, skipping all
work when neither the sources, the parameter files, the compiler nor the
tool versions changed since the last good build, and linting only the
templates whose bytes cfn-lint has not seen (compile/lintcache.py)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import codemate_cfn
from codemate_cfn.errors import BuildError, InvalidInput
from codemate_cfn.compile.layout import CACHE_FILE, MANIFEST_FILE, template_file
from codemate_cfn.compile.project import Project

VERSIONED_TOOLS = ("troposphere", "awacs", "cfn-lint")


@dataclass
class TemplateInfo:
    name: str
    file: str
    sha256: str
    bytes: int
    resources: int
    parameters: int
    outputs: int


@dataclass
class BuildResult:
    templates: list[TemplateInfo]
    order: list[str]
    cached: bool
    seconds: float
    findings: list = field(default_factory=list)

    def info(self, name: str) -> TemplateInfo:
        return next(t for t in self.templates if t.name == name)


def installed_version(dist: str) -> str:
    """The installed version of `dist`, read off its .dist-info directory
    name: importing importlib.metadata alone takes longer than a no-op build."""
    prefix = dist.replace("-", "_").lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and name.lower().startswith(prefix):
                return name[len(prefix):-len(".dist-info")]
    from importlib import metadata

    return metadata.version(dist)


def _tool_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "codemate-cfn": codemate_cfn.__version__}
    for tool in VERSIONED_TOOLS:
        versions[tool] = installed_version(tool)
    return versions


def compiler_files() -> list[Path]:
    """Every module of the codemate_cfn package. All of it, not only what a
    build imports: following imports misses relative and dynamic ones, and a
    stale build is worse than a rebuild after editing deploy code."""
    package = Path(codemate_cfn.__file__).parent
    return sorted(package.rglob("*.py"))


# The project's policies (compile/rules/), run by cfn-lint with its own rules.
RULES_DIRS: tuple[Path, ...] = (Path(codemate_cfn.__file__).parent / "compile" / "rules",)


def lint_setup(project: Project, rules_dirs: tuple[Path, ...]):
    """How cfn-lint runs for the project: for the regions its templates are
    made for, with the policies configured with its tags."""
    from codemate_cfn.compile.discovery import load_conventions
    from codemate_cfn.compile.lint import Setup
    from codemate_cfn.compile.rules import rule_config

    conventions = load_conventions(project.root)
    return Setup(regions=conventions.regions, rules_dirs=tuple(map(str, rules_dirs)),
                 configure=rule_config(conventions) if rules_dirs else {})


def _hash_files(digest, files: list[tuple[Path, Path]]) -> None:
    for path, name in files:
        digest.update(str(name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")


def _keys(project: Project, rules_dirs=()) -> tuple[str, str]:
    """(build key, template-inputs key). The build key covers everything a
    build's output and verdict depend on; the template-inputs key only what
    the rendered templates do (sources, compiler, tool versions: not the
    parameter files nor the lint rules)."""
    sources = sorted(project.sources.rglob("*.py"))
    compiler = Path(codemate_cfn.__file__).parent.parent
    # Named relative to their tree, so a copy of the project has the same key.
    inputs = hashlib.sha256()
    _hash_files(inputs, [
        *((p, p.relative_to(project.root)) for p in sources),
        *((p, p.relative_to(compiler)) for p in compiler_files()),
    ])
    inputs.update(json.dumps(_tool_versions(), sort_keys=True).encode())
    inputs_key = inputs.hexdigest()
    digest = hashlib.sha256(inputs_key.encode())
    _hash_files(digest, [(p, p.relative_to(project.root)) for p in project.param_files()])
    if rules_dirs:
        from codemate_cfn.compile.lintcache import tree_files

        for i, folder in enumerate(map(Path, rules_dirs)):
            _hash_files(digest, [(p, Path(f"rules{i}", p.relative_to(folder))) for p in tree_files(folder)])
    return digest.hexdigest(), inputs_key


def fingerprint(project: Project, rules_dirs=()) -> str:
    """Hash of everything a build's output depends on."""
    return _keys(project, rules_dirs)[0]


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _cached(project: Project, key: str) -> BuildResult | None:
    """The last build's result if it was built from `key` and its output is
    exactly as written then; None means build again."""
    try:
        data = json.loads((project.build_dir / CACHE_FILE).read_text())
        if data.get("key") != key:
            return None
        manifest = data["manifest"]
        if (project.build_dir / MANIFEST_FILE).read_text() != _manifest_text(manifest):
            return None
        templates = [TemplateInfo(**t) for t in manifest["templates"]]
        order = list(manifest["order"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a cache file not written by us: rebuild and overwrite it
    for t in templates:
        if _sha256(project.build_dir / t.file) != t.sha256:
            return None
    if {p.name for p in project.templates_dir.glob("*.json")} != {Path(t.file).name for t in templates}:
        return None  # a stray template would be uploaded with the others
    return BuildResult(templates, order, cached=True, seconds=0.0)


def _manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=2) + "\n"


def build(
    project: Project,
    force: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    rules_dirs: tuple[Path, ...] | None = None,
) -> BuildResult:
    """Build every template; raises InvalidInput or BuildError on problems.

    Lint findings that fail the build are returned in `findings` with the
    templates written, so they can be read; the cache is only written for a
    build with none. `rules_dirs`: custom cfn-lint rules directories
    (default RULES_DIRS).
    """
    started = time.perf_counter()
    rules_dirs = RULES_DIRS if rules_dirs is None else tuple(rules_dirs)
    key, inputs_key = _keys(project, rules_dirs)
    if not force:
        hit = _cached(project, key)
        if hit is not None:
            hit.seconds = time.perf_counter() - started
            return hit

    linting = _Linting(project, inputs_key, rules_dirs)
    try:
        result = _build(project, key, linting, progress)
    finally:
        linting.close()
    result.seconds = time.perf_counter() - started
    return result


def _build(project: Project, key: str, linting: "_Linting", progress: Callable[[str], None]) -> BuildResult:
    from codemate_cfn.compile import limits
    from codemate_cfn.compile import lint
    from codemate_cfn.params import paramfile
    from codemate_cfn.compile import render
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions

    catalogue = load_catalogue(project.root)
    param_files = project.param_files()
    progress(f"checking {len(param_files)} parameter file(s) in {project.params_dir.name}/")
    problems = paramfile.check_all(param_files, catalogue, load_conventions(project.root))
    if problems:
        raise InvalidInput(problems)

    rendered = render.render(project)
    progress(f"rendered {len(rendered.templates)} templates: {', '.join(rendered.templates)}")

    out_dir = project.templates_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        if stale.stem not in rendered.templates:
            stale.unlink()
    infos, paths, problems = [], [], []
    for name, template in rendered.templates.items():
        text = render.to_json(template).encode()
        path = out_dir / template_file(name)
        if path.exists() and path.read_bytes() == text:
            pass  # unchanged: keep the file's mtime
        else:
            path.write_bytes(text)
        paths.append(path)
        problems += limits.check_limits(path.name, len(text), template)
        infos.append(
            TemplateInfo(
                name=name,
                file=str(path.relative_to(project.build_dir)),
                sha256=hashlib.sha256(text).hexdigest(),
                bytes=len(text),
                resources=len(template.get("Resources", {})),
                parameters=len(template.get("Parameters", {})),
                outputs=len(template.get("Outputs", {})),
            )
        )
    if problems:
        raise BuildError("\n".join(problems))

    findings = linting.findings(list(zip(paths, infos)), progress)
    manifest = {"order": rendered.order, "templates": [asdict(i) for i in infos]}
    (project.build_dir / MANIFEST_FILE).write_text(_manifest_text(manifest))
    build_cache = project.build_dir / CACHE_FILE
    if lint.failing(findings):
        build_cache.unlink(missing_ok=True)
    else:
        build_cache.write_text(json.dumps({"key": key, "manifest": manifest}, indent=2) + "\n")
    return BuildResult(infos, rendered.order, cached=False, seconds=0.0, findings=findings)


class _Linting:
    """cfn-lint for one build: the lint cache of its build directory, and
    the worker, started at once (to warm up while the build renders) unless
    the templates are bound to come out as last time (only parameter files
    changed, or --force); then it starts only if something needs linting."""

    def __init__(self, project: Project, inputs_key: str, rules_dirs: tuple[Path, ...]):
        from codemate_cfn.compile import lint
        from codemate_cfn.compile.lintcache import LintCache, linter_key

        self.project, self.inputs_key = project, inputs_key
        self.setup = lint_setup(project, rules_dirs)
        self.cache = LintCache.read(project.build_dir, linter_key(_tool_versions()["cfn-lint"], self.setup))
        self.worker = lint.start_worker(self.setup) if self.cache.rendered_from != inputs_key else None

    def findings(self, written: list[tuple[Path, TemplateInfo]], progress: Callable[[str], None]) -> list:
        """Every template's findings: cfn-lint runs only on those whose
        bytes it has not linted (per the cache), the others' are the cache's."""
        from codemate_cfn.compile import lint

        cache = self.cache
        todo = [(p, t) for p, t in written if cache.findings(p.name, t.sha256) is None]
        version = f"cfn-lint {installed_version('cfn-lint')} ({self.setup.describe()})"
        if todo:
            which = f"{len(todo)} templates" if len(todo) == len(written) else \
                f"{len(todo)} of {len(written)} templates ({', '.join(t.name for _, t in todo)})"
            progress(f"linting {which} with {version}")
            costs = cache.costs({p.name: t.bytes for p, t in todo})
            linted = lint.lint_templates([p for p, _ in todo], self.worker, self.setup, costs)
            for p, t in todo:
                cache.record(p.name, t.sha256, t.bytes, linted.seconds.get(p.name, 0.0),
                             [f for f in linted.findings if f.template == p.name])
        else:
            progress(f"{version}: no template changed since it was last linted")
        cache.write(self.project.build_dir, [p.name for p, _ in written], self.inputs_key)
        found = [f for p, t in written for f in cache.findings(p.name, t.sha256)]
        return sorted(found, key=lambda f: (f.template, f.line, f.rule))

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()

