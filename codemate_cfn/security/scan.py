"""Runs checkov once over every environment's copy of the templates
(<dir>/<env>/<template>.json) and reads its JSON report: passed, failed and
skipped checks per environment and template, and each failed check.

checkov runs in a process of its own, from the Python running this (the
security tox environment has it), with --skip-download so it asks nothing
of the network."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from codemate_cfn.errors import CodemateError
from codemate_cfn.table import format_table

CHECKOV = [sys.executable, "-m", "checkov.main"]
CHECKOV_OPTIONS = ["--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
RESULTS = {"passed": "passed_checks", "failed": "failed_checks", "skipped": "skipped_checks"}


@dataclass(frozen=True)
class Finding:
    """One failed check."""

    env: str
    template: str
    resource: str  # logical ID
    check_id: str
    name: str

    def line(self) -> str:
        return f"{self.env} {self.template}.json {self.resource} {self.check_id} {self.name}"


@dataclass
class Results:
    """What checkov found: counts per (environment, template), the failed
    checks, the files it could not read."""

    counts: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    failed: list[Finding] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())


def run_checkov(directory: Path, timeout: float = 600) -> object:
    """checkov's JSON report on every template under `directory`."""
    try:
        done = subprocess.run([*CHECKOV, "--directory", str(directory), *CHECKOV_OPTIONS],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CodemateError(f"checkov did not finish within {timeout:.0f} s") from None
    try:
        return json.loads(done.stdout)
    except ValueError:
        if "No module named checkov" in done.stderr:
            raise CodemateError(f"checkov is not installed for {sys.executable}: run the scan with "
                                "`tox -e security`") from None
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise CodemateError(f"checkov (exit status {done.returncode}) wrote no JSON report:\n{tail}") from None


def _place(record: dict, directory: Path) -> tuple[str, str]:
    """(environment, template name) of a record's file, <env>/<template>.json under `directory`."""
    path = Path(record.get("file_abs_path") or str(directory) + record["file_path"])
    relative = path.resolve().relative_to(directory.resolve())
    return relative.parts[0], relative.stem


def read_report(report, directory: Path, templates: dict[str, list[str]]) -> Results:
    """The results of checkov's report on the copies under `directory`;
    `templates` (env -> template names) gives every template a row, checked
    or not."""
    results = Results()
    for env, names in templates.items():
        for name in names:
            results.counts[(env, name)] = dict.fromkeys(RESULTS, 0)
    reports = report if isinstance(report, list) else [report]
    for part in reports:
        if not isinstance(part, dict) or "results" not in part:
            continue  # a report with nothing checked is a summary alone
        for outcome, key in RESULTS.items():
            for record in part["results"].get(key, []):
                env, name = _place(record, directory)
                results.counts.setdefault((env, name), dict.fromkeys(RESULTS, 0))[outcome] += 1
                if outcome == "failed":
                    results.failed.append(Finding(env, name, record["resource"].rsplit(".", 1)[-1],
                                                  record["check_id"], record["check_name"]))
        results.unreadable += [str(Path(p)) for p in part["results"].get("parsing_errors", [])]
    results.failed.sort(key=lambda f: (f.env, f.template, f.resource, f.check_id))
    return results


def summary(results: Results) -> str:
    """The table of passed / failed / skipped per environment and template."""
    rows = [[env, name, c["passed"], c["failed"], c["skipped"]] for (env, name), c in results.counts.items()]
    rows.append(["all", "", results.total("passed"), results.total("failed"), results.total("skipped")])
    return format_table(["environment", "template", "passed", "failed", "skipped"], rows, right={2, 3, 4})
