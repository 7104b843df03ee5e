"""Runs cfn-lint over the built templates through its Python API.

cfn-lint's fixed cost is importing it (~0.3 s) and loading its rules
(~0.25 s per `Runner`); linting a template after that is cheap. So the build
forks a lint worker first thing (`start_worker`): it imports cfn-lint and
loads the rules while the parent renders. Small template sets are then
linted in one batch; larger ones in two size-balanced batches side by side,
the second in a fork of the warmed-up worker, so the rules load only once.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

REGION = "ap-northeast-2"
FAILING_LEVELS = ("error", "warning")
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


def _config(paths: list[str]):
    from cfnlint.config import ConfigMixIn, ManualArgs

    return ConfigMixIn(**ManualArgs(templates=paths, regions=[REGION]))


def _failed(paths: list[str], why: str) -> str:
    return f"cfn-lint failed on {', '.join(Path(p).name for p in paths)}: {why}"


def _lint_batch(runner, paths: list[str]) -> list[Finding] | str:
    """The findings for one batch, or what went wrong, as one line."""
    try:
        runner.config = _config(paths)
        return [_finding(m) for m in runner.run()]
    except Exception as exc:
        return _failed(paths, f"{type(exc).__name__}: {exc}")


def _lint_batches(runner, batches: list[list[str]]) -> list:
    """Lint the first batch here and each other one in a fork of this
    (warmed-up) process; one result per batch."""
    forks = []
    for batch in batches[1:]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    out.write(pickle.dumps(_lint_batch(runner, batch)))
            finally:
                os._exit(0)
        os.close(write)
        forks.append((pid, read, batch))
    results = [_lint_batch(runner, batches[0])]
    for pid, read, batch in forks:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        results.append(pickle.loads(data) if data else _failed(batch, "its process died"))
    return results


def _serve(conn) -> None:
    """The worker: import cfn-lint and load its rules, then lint the batches
    the parent sends (None: not needed) and send back one result per batch."""
    try:
        from cfnlint.runner import Runner

        runner = Runner(_config([]))
        batches = conn.recv()
        if batches:
            conn.send(_lint_batches(runner, batches))
    except EOFError:
        pass  # the parent gave up (its build failed before linting)
    except Exception as exc:  # reported by the parent as a BuildError
        conn.send([f"cfn-lint failed to start: {type(exc).__name__}: {exc}"])
    finally:
        conn.close()


class LintWorker:
    """A forked cfn-lint process, warming up until `lint` hands it work."""

    def __init__(self, batches: int | None = None):
        self.batches = batches or min(2, os.cpu_count() or 1)
        context = multiprocessing.get_context("fork")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs,), daemon=True)
        self._process.start()
        theirs.close()  # so a dead worker reads as EOF here, not a hang
        self._linted = False

    def __enter__(self) -> "LintWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def lint(self, paths: list[Path]) -> list[Finding]:
        from codemate_cfn.errors import BuildError

        total = sum(p.stat().st_size for p in paths)
        batches = balanced_batches(paths, self.batches if total >= SPLIT_BYTES else 1)
        self._conn.send(batches)
        try:
            results = self._conn.recv()
        except EOFError:
            results = ["cfn-lint failed: its process died"]
        self._linted = True
        problems = [r for r in results if isinstance(r, str)]
        if problems:
            raise BuildError("\n".join(problems))
        return [finding for result in results for finding in result]

    def close(self) -> None:
        """Reap the worker; one never given work is stopped at once (the
        build failed before linting, and should not wait for its warm-up)."""
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


def start_worker() -> LintWorker | None:
    """Start the worker now, so it warms up while the caller renders; None
    where processes cannot be forked (lint_templates then lints in-process)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return LintWorker()


def balanced_batches(paths: list[Path], count: int) -> list[list[str]]:
    """Split paths into `count` batches of about equal total size (largest first)."""
    batches: list[list[str]] = [[] for _ in range(count)]
    sizes = [0] * count
    for path in sorted(paths, key=lambda p: p.stat().st_size, reverse=True):
        i = sizes.index(min(sizes))
        batches[i].append(str(path))
        sizes[i] += path.stat().st_size
    return [b for b in batches if b]


def lint_templates(paths: list[Path], worker: LintWorker | None = None) -> list[Finding]:
    """Every cfn-lint finding for `paths`, sorted by template and line.

    `worker` (from start_worker) is used and closed; without it, a worker
    is started here."""
    if not paths:
        if worker:
            worker.close()
        return []
    worker = worker or start_worker()
    if worker is None:
        from cfnlint.runner import Runner

        findings = [_finding(m) for m in Runner(_config([str(p) for p in paths])).run()]
    else:
        with worker:
            findings = worker.lint(paths)
    return sorted(findings, key=lambda f: (f.template, f.line, f.rule))


def failing(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level in FAILING_LEVELS]
