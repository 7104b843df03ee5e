"""cfn-lint's findings per template, kept between builds in
build/lint-cache.json, so a build lints only the templates whose bytes
changed, and splits those by what each cost to lint last time.

The file:

    {
      "format": 1,
      "linter": "<sha256: cfn-lint's version, the region, the custom rules'
                 files, and this module and lint.py>",
      "rendered_from": "<the build's template-inputs key (build.py)>",
      "templates": {
        "network.json": {"sha256": "<of the template's bytes>", "bytes": 19834,
                         "seconds": 0.19, "findings": [{Finding's fields}, ...]}
      }
    }

A template's findings are reused when its name, its bytes (sha256) and the
linter key all match; they depend on nothing else (see lint.py). Under
another linter key only the costs are kept (to balance the batches). A file
that is missing, unreadable or of another format is an empty cache:
everything is linted again, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from codemate_cfn.compile import lint
from codemate_cfn.compile.buildcache import compiler_digest, hash_files, tree_files
from codemate_cfn.compile.lint import Finding
from codemate_cfn.files import write_whole

CACHE_FILE = "lint-cache.json"
FORMAT = 1


def linter_key(cfn_lint_version: str, setup: lint.Setup = lint.Setup(), code: str | None = None) -> str:
    """What a template's findings depend on besides its own bytes: cfn-lint,
    the settings (regions, rule settings, the rules included beyond errors
    and warnings, the mandatory ones), the rules directories, and the whole
    compiler package (the project's rules import its modules; following
    imports would miss some, and a stale finding is worse than linting
    again). `code`: compiler_digest(), when the caller has it."""
    digest = hashlib.sha256(json.dumps([FORMAT, cfn_lint_version, list(setup.regions), setup.configure,
                                        list(setup.include), list(setup.mandatory)], sort_keys=True).encode())
    digest.update((code or compiler_digest()).encode())
    for folder in map(Path, setup.rules_dirs):
        digest.update(b"\0rules\0")
        hash_files(digest, ((p, p.relative_to(folder).as_posix()) for p in tree_files(folder)))
    return digest.hexdigest()


@dataclass
class Entry:
    sha256: str
    bytes: int
    seconds: float
    findings: list[Finding]


def _entry(name: str, data: dict) -> Entry:
    findings = [Finding(**f) for f in data["findings"]]
    entry = Entry(str(data["sha256"]), int(data["bytes"]), float(data["seconds"]), findings)
    if entry.bytes <= 0 or entry.seconds < 0 or any(f.template != name for f in findings):
        raise ValueError("not an entry of this template")
    return entry


class LintCache:
    def __init__(self, linter: str, rendered_from: str | None = None, entries: dict[str, Entry] | None = None):
        self.linter = linter
        self.rendered_from = rendered_from
        self.entries = entries or {}

    @classmethod
    def read(cls, build_dir: Path, linter: str) -> "LintCache":
        """The cache in `build_dir` if it was written for `linter`; else an
        empty one."""
        try:
            data = json.loads((build_dir / CACHE_FILE).read_text())
            if data["format"] != FORMAT:
                return cls(linter)
            rendered_from = data["rendered_from"]
            entries = {str(name): _entry(str(name), entry) for name, entry in data["templates"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(linter)  # missing, garbled or foreign: lint everything again
        if data["linter"] != linter:
            # Another cfn-lint or other rules: every finding is void, but
            # what each template cost still balances the batches.
            for entry in entries.values():
                entry.sha256, entry.findings = "", []
        return cls(linter, rendered_from if isinstance(rendered_from, str) else None, entries)

    def findings(self, name: str, sha256: str) -> list[Finding] | None:
        """The findings of template `name` with these bytes, if linted before."""
        entry = self.entries.get(name)
        return entry.findings if entry is not None and entry.sha256 == sha256 else None

    def costs(self, sizes: dict[str, int]) -> dict[str, float]:
        """An estimate of each template's lint time: its last time scaled by
        its size now; for a template never linted, its size at the mean rate
        of the others (or just its size when none was linted)."""
        known = {name: self.entries[name] for name in sizes if name in self.entries}
        total_bytes = sum(e.bytes for e in known.values())
        rate = sum(e.seconds for e in known.values()) / total_bytes if total_bytes else 0.0
        if not rate:
            return {name: float(size) for name, size in sizes.items()}
        return {
            name: (known[name].seconds / known[name].bytes if name in known else rate) * size
            for name, size in sizes.items()
        }

    def record(self, name: str, sha256: str, size: int, seconds: float, findings: list[Finding]) -> None:
        self.entries[name] = Entry(sha256, size, seconds, findings)

    def write(self, build_dir: Path, names: list[str], rendered_from: str) -> None:
        """Save the entries of `names` (the templates of this build) only."""
        data = {
            "format": FORMAT,
            "linter": self.linter,
            "rendered_from": rendered_from,
            "templates": {name: asdict(self.entries[name]) for name in names if name in self.entries},
        }
        # Written whole: a build reading it meanwhile sees the old file or
        # the new one, never half of one.
        write_whole(build_dir / CACHE_FILE, json.dumps(data, indent=1) + "\n")
