"""`build`: render, check and lint every template into build/, skipping all
work when neither the sources, the parameter files, the compiler nor the
tool versions changed since the last good build, and linting only the
templates whose bytes cfn-lint has not seen (compile/lintcache.py). A build
becomes the current one only when it is good (compile/output.py)."""

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
from codemate_cfn.compile.buildcache import (
    cached_manifest,
    compiler_digest,
    hash_files,
    manifest_text,
    param_digests,
    tree_files,
    write_cache,
)
from codemate_cfn.compile.layout import TEMPLATES_DIR, template_file
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
    failed: bool = False  # cfn-lint or a policy failed it: the templates are in build/failed/
    manifest: dict = field(default_factory=dict, repr=False)

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

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise BuildError(f"{dist} is not installed for {sys.executable}: install the project first "
                         f"(python -m pip install -e .)") from None


def _tool_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "codemate-cfn": codemate_cfn.__version__}
    for tool in VERSIONED_TOOLS:
        versions[tool] = installed_version(tool)
    return versions


# The project's policies (compile/rules/), run by cfn-lint with its own rules.
RULES_DIRS: tuple[Path, ...] = (Path(codemate_cfn.__file__).parent / "compile" / "rules",)


# cfn-lint's informational rules run too (and fail the build, as every
# finding does: compile/lint.py).
INCLUDED_CHECKS = ("I",)


def lint_setup(project: Project, rules_dirs: tuple[Path, ...]):
    """How cfn-lint runs for the project: for the regions its templates are
    made for, with the informational rules on, the policies configured with
    its tags, and the rule that every ignore carries a reason beyond any
    ignore (MANDATORY_RULES)."""
    from codemate_cfn.compile.discovery import load_conventions
    from codemate_cfn.compile.lint import Setup
    from codemate_cfn.compile.rules import MANDATORY_RULES, rule_config

    conventions = load_conventions(project.root)
    return Setup(regions=conventions.regions, rules_dirs=tuple(map(str, rules_dirs)),
                 configure=rule_config(conventions) if rules_dirs else {}, include=INCLUDED_CHECKS,
                 mandatory=MANDATORY_RULES if rules_dirs else ())


def _keys(project: Project, rules_dirs=(), code: str | None = None) -> tuple[str, str]:
    """(build key, template-inputs key). The build key covers everything a
    build's output and verdict depend on but the parameter files (recorded
    one by one beside it: param_digests); the template-inputs key only what
    the rendered templates do (sources, compiler, tool versions: not the
    lint rules). `code`: compiler_digest(), when the caller has it."""
    sources = sorted(project.sources.rglob("*.py"))
    inputs = hashlib.sha256()
    hash_files(inputs, ((p, p.relative_to(project.root)) for p in sources))
    inputs.update((code or compiler_digest()).encode())
    inputs.update(json.dumps(_tool_versions(), sort_keys=True).encode())
    inputs_key = inputs.hexdigest()
    digest = hashlib.sha256(inputs_key.encode())
    if rules_dirs:
        for i, folder in enumerate(map(Path, rules_dirs)):
            hash_files(digest, ((p, Path(f"rules{i}", p.relative_to(folder))) for p in tree_files(folder)))
    return digest.hexdigest(), inputs_key


def fingerprint(project: Project, rules_dirs=()) -> str:
    """Hash of everything a build's output depends on, every parameter file included."""
    key = _keys(project, rules_dirs)[0]
    digests = param_digests(project, project.param_files())
    return hashlib.sha256(json.dumps([key, digests], sort_keys=True).encode()).hexdigest()


def _cached(project: Project, key: str, digests: dict[str, str] | None) -> BuildResult | None:
    """The last good build, when it answers for this one (compile/buildcache.py)."""
    manifest = cached_manifest(project, key, digests)
    if manifest is None:
        return None
    try:
        templates = [TemplateInfo(**t) for t in manifest["templates"]]
    except TypeError:
        return None  # entries not written by us: rebuild
    return BuildResult(templates, manifest["order"], cached=True, seconds=0.0)


def build(
    project: Project,
    force: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    rules_dirs: tuple[Path, ...] | None = None,
    param_files: list[Path] | None = None,
) -> BuildResult:
    """Build every template; raises InvalidInput or BuildError on problems,
    leaving build/ as it was.

    `param_files`: the parameter files to check (default: every file in
    params/); the cache records which were checked, so a build for one
    environment never answers for the others. Lint findings that fail the
    build are returned in `findings` with `failed` set: the templates are
    in build/failed/, and build/templates/ still holds the last good build.
    `rules_dirs`: custom cfn-lint rules directories (default RULES_DIRS).
    """
    started = time.perf_counter()
    rules_dirs = RULES_DIRS if rules_dirs is None else tuple(rules_dirs)
    paths = project.param_files() if param_files is None else [Path(p) for p in param_files]
    code = compiler_digest()
    key, inputs_key = _keys(project, rules_dirs, code)
    digests = param_digests(project, paths)
    if not force:
        hit = _cached(project, key, digests)
        if hit is not None:
            hit.seconds = time.perf_counter() - started
            return hit

    linting = _Linting(project, inputs_key, rules_dirs, code)
    try:
        result = _build(project, paths, param_files is None, linting, progress)
    finally:
        linting.close()
    if not result.failed:
        write_cache(project.build_dir, key, digests or {}, result.manifest)
    result.seconds = time.perf_counter() - started
    return result


def _check_params(project: Project, paths: list[Path], everything: bool, progress: Callable[[str], None]) -> None:
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.params import paramfile

    catalogue = load_catalogue(project.root)
    if everything:
        progress(f"checking {len(paths)} parameter file(s) in {project.params_dir.name}/")
    else:
        progress(f"checking parameter file(s) {', '.join(map(str, paths))}")
    problems = paramfile.check_all(paths, catalogue, load_conventions(project.root))
    if problems:
        raise InvalidInput(problems)


def _rendered(project: Project, progress: Callable[[str], None]) -> tuple[object, dict[str, bytes], list[TemplateInfo]]:
    """The rendered templates, their bytes by file name and what they hold,
    checked against CloudFormation's limits before anything is written."""
    from codemate_cfn.compile import limits, render

    rendered = render.render(project)
    progress(f"rendered {len(rendered.templates)} templates: {', '.join(rendered.templates)}")
    texts, infos, problems = {}, [], []
    for name, template in rendered.templates.items():
        file, text = template_file(name), render.to_json(template).encode()
        problems += limits.check_limits(file, len(text), template)
        texts[file] = text
        infos.append(TemplateInfo(
            name=name,
            file=f"{TEMPLATES_DIR}/{file}",
            sha256=hashlib.sha256(text).hexdigest(),
            bytes=len(text),
            resources=len(template.get("Resources", {})),
            parameters=len(template.get("Parameters", {})),
            outputs=len(template.get("Outputs", {})),
        ))
    if problems:
        raise BuildError("\n".join(problems))
    return rendered, texts, infos


def _build(project: Project, paths: list[Path], everything: bool, linting: "_Linting",
           progress: Callable[[str], None]) -> BuildResult:
    from codemate_cfn.compile import lint, output

    _check_params(project, paths, everything, progress)
    rendered, texts, infos = _rendered(project, progress)
    manifest = {"order": rendered.order, "templates": [asdict(i) for i in infos]}
    result = BuildResult(infos, rendered.order, cached=False, seconds=0.0, manifest=manifest)
    staging = output.start(project.build_dir)
    try:
        written = output.write(project.build_dir, staging, texts, manifest_text(manifest))
        result.findings = linting.findings(list(zip(written, infos)), progress)
        if lint.failing(result.findings):
            output.keep_failed(project.build_dir, staging)
            result.failed = True
        else:
            output.switch(project.build_dir, staging)
    finally:
        output.discard(project.build_dir, staging)
    return result


class _Linting:
    """cfn-lint for one build: the lint cache of its build directory, and
    the worker, started at once (to warm up while the build renders) unless
    the templates are bound to come out as last time (only parameter files
    changed, or --force); then it starts only if something needs linting."""

    def __init__(self, project: Project, inputs_key: str, rules_dirs: tuple[Path, ...], code: str):
        from codemate_cfn.compile import lint
        from codemate_cfn.compile.lintcache import LintCache, linter_key

        self.project, self.inputs_key = project, inputs_key
        self.setup = lint_setup(project, rules_dirs)
        key = linter_key(_tool_versions()["cfn-lint"], self.setup, code)
        self.cache = LintCache.read(project.build_dir, key)
        self.kept = _kept_linter(key)  # a cfn-lint process kept between builds (compile/lintd.py)
        likely = self.cache.rendered_from != inputs_key
        self.kept_alive = likely and self.kept is not None and _answers(self.kept)
        self.worker = lint.start_worker(self.setup) if likely and not self.kept_alive else None

    def findings(self, written: list[tuple[Path, TemplateInfo]], progress: Callable[[str], None]) -> list:
        """Every template's findings: cfn-lint runs only on those whose
        bytes it has not linted (per the cache), the others' are the cache's."""
        cache = self.cache
        todo = [(p, t) for p, t in written if cache.findings(p.name, t.sha256) is None]
        version = f"cfn-lint {installed_version('cfn-lint')} ({self.setup.describe()})"
        if todo:
            which = f"{len(todo)} templates" if len(todo) == len(written) else \
                f"{len(todo)} of {len(written)} templates ({', '.join(t.name for _, t in todo)})"
            kept = ", kept process" if self.kept_alive else ""
            progress(f"linting {which} with {version}{kept}")
            costs = cache.costs({p.name: t.bytes for p, t in todo})
            linted = self._lint([p for p, _ in todo], costs)
            for p, t in todo:
                cache.record(p.name, t.sha256, t.bytes, linted.seconds.get(p.name, 0.0),
                             [f for f in linted.findings if f.template == p.name])
        else:
            progress(f"{version}: no template changed since it was last linted")
        cache.write(self.project.build_dir, [p.name for p, _ in written], self.inputs_key)
        found = [f for p, t in written for f in cache.findings(p.name, t.sha256)]
        return sorted(found, key=lambda f: (f.template, f.line, f.rule))

    def _lint(self, paths: list[Path], costs: dict[str, float]):
        """Lint in the kept process when one answers, else here (and start
        one for the next build)."""
        from codemate_cfn.compile import lint, lintd

        if self.kept is not None:
            count = 2 if sum(p.stat().st_size for p in paths) >= lint.SPLIT_BYTES else 1
            results = lintd.ask(self.kept, lint.balanced_batches(paths, count, costs))
            if results is not None:
                self.close()
                return lint._collect(results)
        linted = lint.lint_templates(paths, self.worker, self.setup, costs)
        if self.kept is not None:
            lintd.start(self.kept, self.setup)
        return linted

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _kept_linter(key: str) -> Path | None:
    """Where the kept cfn-lint process for this linter listens, or None when
    it is turned off or cannot be had here."""
    from codemate_cfn.compile import lintd

    if not lintd.enabled():
        return None
    try:
        return lintd.address(key)
    except OSError:
        return None


def _answers(path: Path) -> bool:
    from codemate_cfn.compile import lintd

    return lintd.ask(path, []) is not None

