"""Runs cfn-lint over the built templates through its Python API.

cfn-lint's fixed cost is importing it (~0.3 s) and loading its rules
(~0.25 s per `Runner`); linting a template after that is cheap. So the build
forks a lint worker early (`start_worker`): it imports cfn-lint and loads
the rules, cfn-lint's own and the custom rules directories given, while the
parent renders. Small template sets are then linted in one batch; larger
ones in two batches of about equal cost side by side, the second in a fork
of the warmed-up worker, so the rules load only once. Each template is
linted and timed on its own, so the build can keep its findings and its
cost (compile/lintcache.py).

Each template's findings depend on that template alone: the only rules
that read another file (E3043 comparing a nested stack's parameters with
the child template's, and the nested-stack GetAtt Outputs check) follow a
TemplateURL only when it is a plain local path, and the root's TemplateURLs
are `Fn::Sub` https URLs (compile/wiring.py), which cfn-lint never opens.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

# Every finding fails a build, informational ones too: a finding that is
# right to keep is ignored next to its resource, with the reason
# (rules/IgnoreReasons.py), never by a level.
FAILING_LEVELS = ("error", "warning", "informational")
# Below this many bytes of templates, a second batch costs more (its own
# first-template warm-up) than it saves.
SPLIT_BYTES = 24_000
LINTED_SECTIONS = ("Resources", "Outputs", "Parameters", "Conditions", "Mappings")


@dataclass(frozen=True)
class Finding:
    template: str
    resource: str
    rule: str
    level: str
    message: str
    line: int

    def describe(self) -> str:
        return f"{self.template}: {self.resource}: {self.rule} ({self.level}): {self.message} (line {self.line})"


def _level(rule_id: str) -> str:
    return {"E": "error", "W": "warning", "I": "informational"}.get(rule_id[:1], "error")


def _finding(match) -> Finding:
    path = getattr(match, "path", None) or []
    resource = str(path[1]) if len(path) > 1 and path[0] in LINTED_SECTIONS else "-"
    return Finding(
        template=Path(match.filename or "").name,
        resource=resource,
        rule=match.rule.id,
        level=_level(match.rule.id),
        message=match.message,
        line=match.linenumber,
    )


@dataclass(frozen=True)
class Setup:
    """What cfn-lint runs with besides the templates: the regions they are
    made for (empty: cfn-lint's default), custom rules directories added to
    cfn-lint's own rules, settings per rule id (configure_rules), rule ids
    or prefixes turned on beyond errors and warnings (include_checks: "I"
    for the informational rules) and rules no template may turn off
    (mandatory_checks: not by an ignore in a resource's Metadata either)."""

    regions: tuple[str, ...] = ()
    rules_dirs: tuple[str, ...] = ()
    configure: dict = field(default_factory=dict, compare=False)
    include: tuple[str, ...] = ()
    mandatory: tuple[str, ...] = ()

    def config(self, paths: list[str]):
        from cfnlint.config import ConfigMixIn, ManualArgs

        args = ManualArgs(templates=paths)
        if self.regions:
            args["regions"] = list(self.regions)
        if self.rules_dirs:  # added to cfn-lint's own rules, not in place of them
            args["append_rules"] = [str(d) for d in self.rules_dirs]
        if self.configure:  # cfn-lint applies them on each run
            args["configure_rules"] = self.configure
        if self.include:
            args["include_checks"] = list(self.include)
        if self.mandatory:
            args["mandatory_checks"] = list(self.mandatory)
        return ConfigMixIn(**args)

    def describe(self) -> str:
        return ", ".join(self.regions) or "cfn-lint's default region"


@dataclass
class Linted:
    """What one lint run found, and what each template cost."""

    findings: list[Finding]  # sorted by template, line and rule
    seconds: dict[str, float]  # template file name -> seconds cfn-lint spent on it


def _config(paths: list[str], setup: Setup):
    return setup.config(paths)


def _failed(paths: list[str], why: str) -> str:
    return f"cfn-lint failed on {', '.join(Path(p).name for p in paths)}: {why}"


# One template's result: its file name, its findings (or what went wrong,
# as one line) and the seconds cfn-lint took on it.
Result = tuple[str, "list[Finding] | str", float]


def _lint_one(runner, path: str, setup: Setup) -> Result:
    started = time.perf_counter()
    try:
        runner.config = _config([path], setup)
        result: list[Finding] | str = [_finding(m) for m in runner.run()]
    except Exception as exc:
        result = _failed([path], f"{type(exc).__name__}: {exc}")
    return Path(path).name, result, time.perf_counter() - started


def _lint_batch(runner, paths: list[str], setup: Setup) -> list[Result]:
    return [_lint_one(runner, path, setup) for path in paths]


def _lint_batches(runner, batches: list[list[str]], setup: Setup) -> list:
    """Lint the first batch here and each other one in a fork of this
    (warmed-up) process; per batch, its results or why it has none."""
    forks = []
    for batch in batches[1:]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    out.write(pickle.dumps(_lint_batch(runner, batch, setup)))
            finally:
                os._exit(0)
        os.close(write)
        forks.append((pid, read, batch))
    results = [_lint_batch(runner, batches[0], setup)]
    for pid, read, batch in forks:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        results.append(pickle.loads(data) if data else _failed(batch, "its process died"))
    return results


def _serve(conn, setup: Setup) -> None:
    """The worker: import cfn-lint and load its rules, then lint the batches
    the parent sends (None: not needed) and send back one result per batch."""
    try:
        from cfnlint.runner import Runner

        runner = Runner(_config([], setup))
        batches = conn.recv()
        if batches:
            conn.send(_lint_batches(runner, batches, setup))
    except EOFError:
        pass  # the parent gave up (its build failed before linting)
    except Exception as exc:  # reported by the parent as a BuildError
        conn.send([f"cfn-lint failed to start: {type(exc).__name__}: {exc}"])
    finally:
        conn.close()


def _collect(results: list) -> Linted:
    """The findings and costs of per-batch results; any failure, a BuildError."""
    from codemate_cfn.errors import BuildError

    problems, findings, seconds = [], [], {}
    for batch in results:
        if isinstance(batch, str):
            problems.append(batch)
            continue
        for name, result, spent in batch:
            if isinstance(result, str):
                problems.append(result)
            else:
                findings += result
                seconds[name] = spent
    if problems:
        raise BuildError("\n".join(problems))
    return Linted(sorted(findings, key=lambda f: (f.template, f.line, f.rule)), seconds)


class LintWorker:
    """A forked cfn-lint process, warming up until `lint` hands it work."""

    def __init__(self, batches: int | None = None, setup: Setup = Setup()):
        self.batches = batches or min(2, os.cpu_count() or 1)
        context = multiprocessing.get_context("fork")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs, setup), daemon=True)
        self._process.start()
        theirs.close()  # so a dead worker reads as EOF here, not a hang
        self._linted = False

    def __enter__(self) -> "LintWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def lint(self, paths: list[Path], costs: dict[str, float] | None = None) -> Linted:
        """Lint `paths`, split by `costs` (template file name -> estimate;
        default: their sizes) when there is enough to split."""
        total = sum(p.stat().st_size for p in paths)
        batches = balanced_batches(paths, self.batches if total >= SPLIT_BYTES else 1, costs)
        self._conn.send(batches)
        try:
            results = self._conn.recv()
        except EOFError:
            results = ["cfn-lint failed: its process died"]
        self._linted = True
        return _collect(results)

    def close(self) -> None:
        """Reap the worker; one never given work is stopped at once (the
        build failed before linting, or had nothing to lint, and should not
        wait for its warm-up)."""
        if self._process is None:
            return
        self._conn.close()
        if not self._linted:
            self._process.terminate()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process = None


def start_worker(setup: Setup = Setup()) -> LintWorker | None:
    """Start the worker now, so it warms up while the caller renders; None
    where processes cannot be forked (lint_templates then lints in-process)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return LintWorker(setup=setup)


def balanced_batches(paths: list[Path], count: int, costs: dict[str, float] | None = None) -> list[list[str]]:
    """Split paths into `count` batches of about equal total cost, costliest
    first, each to the batch with the least so far. `costs` maps a file name
    to its estimated cost; without it (or for a name it lacks) a file's size
    stands in, so give a cost for every path or for none."""
    def cost(path: Path) -> float:
        return costs[path.name] if costs and path.name in costs else path.stat().st_size

    batches: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for path in sorted(paths, key=cost, reverse=True):
        i = loads.index(min(loads))
        batches[i].append(str(path))
        loads[i] += cost(path)
    return [b for b in batches if b]


def lint_templates(
    paths: list[Path],
    worker: LintWorker | None = None,
    setup: Setup = Setup(),
    costs: dict[str, float] | None = None,
) -> Linted:
    """Every cfn-lint finding for `paths`, and each template's lint time.

    `worker` (from start_worker, with its own setup) is used and closed;
    without it, a worker is started here with `setup`. `costs` balances the
    batches (see balanced_batches)."""
    if not paths:
        if worker:
            worker.close()
        return Linted([], {})
    worker = worker or start_worker(setup)
    if worker is None:
        from cfnlint.runner import Runner

        runner = Runner(_config([], setup))
        return _collect([_lint_batch(runner, [str(p) for p in paths], setup)])
    with worker:
        return worker.lint(paths, costs)


def failing(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level in FAILING_LEVELS]
