"""Runs cfn-lint over the built templates through its Python API.

cfn-lint's per-call setup is the expensive part, so all templates go in one
`lint_by_config` call, or, with several templates and two cores, in two
size-balanced batches linted side by side in forked workers.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

REGION = "ap-northeast-2"
FAILING_LEVELS = ("error", "warning")


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


def _lint_batch(paths: list[str]) -> list[Finding]:
    from cfnlint.api import ManualArgs, lint_by_config

    matches = lint_by_config(ManualArgs(templates=paths, regions=[REGION]))
    findings = []
    for m in matches:
        path = getattr(m, "path", None) or []
        resource = str(path[1]) if len(path) > 1 and path[0] in ("Resources", "Outputs", "Parameters", "Conditions") else "-"
        findings.append(
            Finding(
                template=Path(m.filename or "").name,
                resource=resource,
                rule=m.rule.id,
                level=_level(m.rule.id),
                message=m.message,
                line=m.linenumber,
            )
        )
    return findings


def balanced_batches(paths: list[Path], count: int) -> list[list[str]]:
    """Split paths into `count` batches of about equal total size (largest first)."""
    batches: list[list[str]] = [[] for _ in range(count)]
    sizes = [0] * count
    for path in sorted(paths, key=lambda p: p.stat().st_size, reverse=True):
        i = sizes.index(min(sizes))
        batches[i].append(str(path))
        sizes[i] += path.stat().st_size
    return [b for b in batches if b]


def lint_templates(paths: list[Path], workers: int | None = None) -> list[Finding]:
    """Every cfn-lint finding for `paths`, sorted by template and line."""
    if not paths:
        return []
    workers = workers or min(2, os.cpu_count() or 1, len(paths))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        findings = _lint_batch([str(p) for p in paths])
    else:
        import cfnlint.api  # noqa: F401  imported once, shared by the forked workers

        batches = balanced_batches(paths, workers)
        with multiprocessing.get_context("fork").Pool(len(batches)) as pool:
            findings = [f for part in pool.map(_lint_batch, batches) for f in part]
    return sorted(findings, key=lambda f: (f.template, f.line, f.rule))


def failing(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level in FAILING_LEVELS]
