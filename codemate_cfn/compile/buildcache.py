"""What the last good build was made from (build/cache.json): its key, the
sha256 of each parameter file it checked, and its manifest; and whether it
answers for the build asked for now."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import codemate_cfn
from codemate_cfn.compile.layout import CACHE_FILE, MANIFEST_FILE
from codemate_cfn.compile.project import Project
from codemate_cfn.files import write_whole


def tree_files(folder: Path) -> list[Path]:
    """Every file under `folder` but compiled bytecode, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def hash_files(digest, files) -> None:
    """Each (path, name) pair's name and bytes into `digest`: the name
    relative to its tree, so a copy of the tree hashes the same."""
    for path, name in files:
        digest.update(str(name).encode() + b"\0" + path.read_bytes() + b"\0")


def compiler_files() -> list[Path]:
    """Every module of the codemate_cfn package. All of it, not only what a
    build imports: following imports misses relative and dynamic ones, and a
    stale build is worse than a rebuild after editing deploy code."""
    package = Path(codemate_cfn.__file__).parent
    return sorted(package.rglob("*.py"))


def compiler_digest() -> str:
    """sha256 of the whole compiler package: what both the build key and the
    linter key depend on (a build computes it once and hands it to both)."""
    package = Path(codemate_cfn.__file__).parent
    digest = hashlib.sha256()
    hash_files(digest, ((p, p.relative_to(package).as_posix()) for p in compiler_files()))
    return digest.hexdigest()


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=2) + "\n"


def _param_name(project: Project, path: Path) -> str:
    """How the cache names a parameter file: relative to the project when inside it."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def param_digests(project: Project, paths: list[Path]) -> dict[str, str] | None:
    """The sha256 of each parameter file's bytes, by name; None when one
    cannot be read (the check will say why). Read as the check reads them:
    never a FIFO, a device or a huge file."""
    from codemate_cfn.params.reading import read_bytes

    digests = {}
    for path in paths:
        data, _ = read_bytes(path)
        if data is None:
            return None
        digests[_param_name(project, path)] = hashlib.sha256(data).hexdigest()
    return digests


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def cached_manifest(project: Project, key: str, digests: dict[str, str] | None) -> dict | None:
    """The last good build's manifest if it was built from `key` after
    checking each of these parameter files as they are now, and its output
    is exactly as written then; None means build again."""
    if digests is None:
        return None
    try:
        data = json.loads((project.build_dir / CACHE_FILE).read_text())
        if data.get("key") != key:
            return None
        checked = data["params"]
        if any(checked.get(name) != digest for name, digest in digests.items()):
            return None  # a file that build did not check (or changed since)
        manifest = data["manifest"]
        if (project.build_dir / MANIFEST_FILE).read_text() != manifest_text(manifest):
            return None
        files = {t["file"]: t["sha256"] for t in manifest["templates"]}
        if not isinstance(manifest["order"], list):
            return None
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a cache file not written by us: rebuild and overwrite it
    if any(_sha256(project.build_dir / file) != sha for file, sha in files.items()):
        return None
    if {p.name for p in project.templates_dir.glob("*.json")} != {Path(file).name for file in files}:
        return None  # a stray template would be uploaded with the others
    return manifest


def write_cache(build_dir: Path, key: str, digests: dict[str, str], manifest: dict) -> None:
    """cache.json for a good build, written aside and renamed: never half a file."""
    write_whole(build_dir / CACHE_FILE, json.dumps({"key": key, "params": digests, "manifest": manifest}, indent=2)
                + "\n")
