"""checkov in this process, for the security environment's tests: a case
writes one or two small templates and asks which checks fail on which
resource. Loading checkov's checks takes a second or two once; each run
after that a fraction of one. (The gate itself runs checkov as a process:
codemate_cfn/security/scan.py, which one test here runs too.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def checkov_findings(directory: Path) -> dict[str, dict[str, set[tuple[str, str]]]]:
    """checkov (CloudFormation checks) on every template under `directory`:
    per file stem, per outcome (failed, skipped, passed), the (logical ID,
    check ID) pairs."""
    from checkov.cloudformation.runner import Runner
    from checkov.runner_filter import RunnerFilter

    report = Runner().run(root_folder=str(directory), runner_filter=RunnerFilter(framework=["cloudformation"]))
    found: dict[str, dict[str, set]] = {}
    for outcome, records in (("failed", report.failed_checks), ("skipped", report.skipped_checks),
                             ("passed", report.passed_checks)):
        for record in records:
            stem = Path(record.file_path).stem
            found.setdefault(stem, {"failed": set(), "skipped": set(), "passed": set()})
            found[stem][outcome].add((record.resource.rsplit(".", 1)[-1], record.check_id))
    return found


@pytest.fixture
def checkov(tmp_path):
    """checkov({"fixed": template, "unfixed": template}) -> checkov_findings
    of those templates, written as <name>.json."""
    def run(templates: dict[str, dict]):
        for name, template in templates.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(template, indent=2, sort_keys=True))
        return checkov_findings(tmp_path)

    return run
