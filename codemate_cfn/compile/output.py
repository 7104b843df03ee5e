"""The build directory on disk, which always holds one complete good build.

A build is written into a fresh directory of its own beside the last good
one (build/.build-<id>/, with templates/ and manifest.json). Only when it is
good does the `current` pointer, a symlink replaced in one os.replace, move
to it; build/templates/ and build/manifest.json are links through `current`,
so they show the old build or the new one, never a mix. A build that fails
its checks (cfn-lint, the project's policies) is moved to build/failed/ to
be read, never deployed; one that is interrupted or cannot be written is
removed.

    build/
      current -> .build-<id>                 the last good build
      templates -> current/templates
      manifest.json -> current/manifest.json
      .build-<id>/templates/<name>.json, .build-<id>/manifest.json
      failed/templates/<name>.json, failed/manifest.json
      cache.json, lint-cache.json
"""

from __future__ import annotations

import os
import shutil
import secrets
from pathlib import Path

from codemate_cfn.compile.layout import MANIFEST_FILE, TEMPLATES_DIR
from codemate_cfn.errors import BuildError

CURRENT = "current"
FAILED_DIR = "failed"
STAGING_PREFIX = ".build-"


class Changed(ValueError):
    """A built template whose bytes are not what its manifest says."""


def read_template(path: Path, sha256: str) -> dict:
    """A built template read back exactly as its manifest lists it (its
    sha256): FileNotFoundError when it is gone, Changed when it differs."""
    import hashlib
    import json

    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Changed(str(path))
    return json.loads(data)


def write_file(path: Path, data: bytes) -> None:
    """Every file of a build is written here (tests make it fail)."""
    path.write_bytes(data)


def current(build_dir: Path) -> Path | None:
    """The directory of the last good build, when `current` points at one."""
    link = build_dir / CURRENT
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    return build_dir / target if target.startswith(STAGING_PREFIX) and "/" not in target else None


def _fresh(build_dir: Path, prefix: str) -> Path:
    """A new empty directory in `build_dir` (made as the umask says, unlike
    tempfile.mkdtemp's private one)."""
    while True:
        folder = build_dir / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def start(build_dir: Path) -> Path:
    """A fresh, empty directory for a new build."""
    build_dir.mkdir(parents=True, exist_ok=True)
    return _fresh(build_dir, STAGING_PREFIX)


def write(build_dir: Path, staging: Path, texts: dict[str, bytes], manifest: str) -> list[Path]:
    """Write the templates (file name -> bytes) and the manifest into
    `staging`; a template the last good build has byte for byte keeps its
    mtime. Returns the templates' paths."""
    folder = staging / TEMPLATES_DIR
    written = []
    try:
        folder.mkdir()
        for name, data in texts.items():
            path, old = folder / name, build_dir / TEMPLATES_DIR / name
            write_file(path, data)
            if old.is_file() and old.read_bytes() == data:
                kept = old.stat()
                os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))
            written.append(path)
        write_file(staging / MANIFEST_FILE, manifest.encode())
    except OSError as exc:
        raise BuildError(f"{exc.filename or staging}: cannot write the build: {exc.strerror or exc}; "
                         f"{build_dir / TEMPLATES_DIR} keeps the last good build") from exc
    return written


def _link(build_dir: Path, name: str, target: str) -> None:
    """Make build_dir/name a symlink to `target`, replacing what is there
    in one step (a directory of an older layout is moved aside first)."""
    link = build_dir / name
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_dir() and not link.is_symlink():
        aside = _fresh(build_dir, f".old-{name}-")
        os.replace(link, aside / name)
        shutil.rmtree(aside, ignore_errors=True)
    fresh = build_dir / f".{name}.{os.getpid()}.link"
    fresh.unlink(missing_ok=True)
    os.symlink(target, fresh)
    os.replace(fresh, link)


def switch(build_dir: Path, staging: Path) -> None:
    """Make the build in `staging` the current one, then remove the build
    it replaces, any failed one, and what builds that were killed left."""
    _link(build_dir, CURRENT, staging.name)
    _link(build_dir, TEMPLATES_DIR, f"{CURRENT}/{TEMPLATES_DIR}")
    _link(build_dir, MANIFEST_FILE, f"{CURRENT}/{MANIFEST_FILE}")
    for left in [*build_dir.glob(f"{STAGING_PREFIX}*"), *build_dir.glob(".old-*"), build_dir / FAILED_DIR]:
        if left != staging and left.is_dir() and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)


def keep_failed(build_dir: Path, staging: Path) -> Path:
    """Move a build that failed its checks to build/failed/ (replacing the
    last failed one), where it can be read but is never deployed."""
    failed = build_dir / FAILED_DIR
    shutil.rmtree(failed, ignore_errors=True)
    os.replace(staging, failed)
    return failed


def discard(build_dir: Path, staging: Path) -> None:
    """Remove a build that was interrupted or could not be written, unless
    it became the current one."""
    if staging.exists() and current(build_dir) != staging:
        shutil.rmtree(staging, ignore_errors=True)
