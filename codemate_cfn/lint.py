"""Runs cfn-lint over the built templates through its Python API.

cfn-lint's fixed cost is importing it (~0.3 s) and loading its rules
(~0.25 s per `Runner`); linting a template after that is cheap. So the build
forks its lint workers first thing (`start_workers`): they import cfn-lint
and load the rules once while the parent renders, then each lints a batch.
Small template sets go to one worker in one batch; larger ones are split
into two size-balanced batches linted side by side on two cores.
"""

from __future__ import annotations

import multiprocessing
import os
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


def _worker(conn) -> None:
    """Import cfn-lint and load its rules, then lint the batch the parent
    sends (None: not needed) and send back the findings."""
    try:
        from cfnlint.runner import Runner

        runner = Runner(_config([]))
        paths = conn.recv()
        if paths:
            runner.config = _config(paths)
            conn.send([_finding(m) for m in runner.run()])
    except EOFError:
        pass  # the parent gave up (its build failed before linting)
    except Exception as exc:  # reported by the parent as a BuildError
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


class LintWorkers:
    """Forked cfn-lint workers, warming up until `lint` hands them work."""

    def __init__(self, count: int | None = None):
        count = count or min(2, os.cpu_count() or 1)
        context = multiprocessing.get_context("fork")
        self._workers = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker, args=(theirs,), daemon=True)
            process.start()
            theirs.close()  # so a dead worker reads as EOF here, not a hang
            self._workers.append((process, ours))
        self._linted = False

    def __enter__(self) -> "LintWorkers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def lint(self, paths: list[Path]) -> list[Finding]:
        from codemate_cfn.errors import BuildError

        total = sum(p.stat().st_size for p in paths)
        count = len(self._workers) if total >= SPLIT_BYTES else 1
        batches = balanced_batches(paths, count)
        batches += [None] * (len(self._workers) - len(batches))
        for (_, conn), batch in zip(self._workers, batches):
            conn.send(batch)
        findings = []
        for (_, conn), batch in zip(self._workers, batches):
            if not batch:
                continue
            try:
                answer = conn.recv()
            except EOFError:
                answer = "the worker process died"
            if isinstance(answer, str):
                raise BuildError(f"cfn-lint failed on {', '.join(Path(p).name for p in batch)}: {answer}")
            findings += answer
        self._linted = True
        return findings

    def close(self) -> None:
        """Reap the workers; ones never given work are stopped at once (the
        build failed before linting, and should not wait for their warm-up)."""
        for process, conn in self._workers:
            conn.close()
            if not self._linted:
                process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        self._workers = []


def start_workers() -> LintWorkers | None:
    """Start the workers now, so they warm up while the caller renders;
    None where processes cannot be forked (lint_templates then forks later)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return LintWorkers()


def balanced_batches(paths: list[Path], count: int) -> list[list[str]]:
    """Split paths into `count` batches of about equal total size (largest first)."""
    batches: list[list[str]] = [[] for _ in range(count)]
    sizes = [0] * count
    for path in sorted(paths, key=lambda p: p.stat().st_size, reverse=True):
        i = sizes.index(min(sizes))
        batches[i].append(str(path))
        sizes[i] += path.stat().st_size
    return [b for b in batches if b]


def _lint_here(paths: list[str]) -> list[Finding]:
    from cfnlint.runner import Runner

    return [_finding(m) for m in Runner(_config(paths)).run()]


def lint_templates(paths: list[Path], workers: LintWorkers | None = None) -> list[Finding]:
    """Every cfn-lint finding for `paths`, sorted by template and line.

    `workers` (from start_workers) are used and closed; without them,
    workers are started here."""
    if not paths:
        if workers:
            workers.close()
        return []
    workers = workers or start_workers()
    if workers is None:
        findings = _lint_here([str(p) for p in paths])
    else:
        with workers:
            findings = workers.lint(paths)
    return sorted(findings, key=lambda f: (f.template, f.line, f.rule))


def failing(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level in FAILING_LEVELS]
