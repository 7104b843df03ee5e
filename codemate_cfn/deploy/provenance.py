"""Where a deployment came from, recorded as stack tags: the git commit,
the hash of the templates and the hash of what the parameter file puts in."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from codemate_cfn.deploy.stack import as_dict

TAGS = {
    "commit": "codemate:git-commit",
    "templates": "codemate:template-sha256",
    "params": "codemate:params-sha256",
}


def git_commit(root: Path) -> str:
    """HEAD's commit, "-dirty" when the sources or parameter files have
    uncommitted changes; "unknown" outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", "templates_src", "params", "codemate_cfn")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def params_hash(values: dict[str, str], tags: dict[str, str]) -> str:
    """Hash of what the parameter file puts into the stack."""
    text = json.dumps({"Parameters": values, "Tags": tags}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(stack: dict | None, template_sha: str, param_sha: str, commit: str) -> dict[str, str]:
    """The provenance tags. When neither templates nor parameters changed
    the deployed commit stays: a new tag value alone would touch every
    taggable resource."""
    deployed = as_dict(stack.get("Tags"), "Key", "Value") if stack else {}
    same = deployed.get(TAGS["templates"]) == template_sha and deployed.get(TAGS["params"]) == param_sha
    return {
        TAGS["commit"]: deployed.get(TAGS["commit"], commit) if same else commit,
        TAGS["templates"]: template_sha,
        TAGS["params"]: param_sha,
    }
