"""Writing a file whole or not at all (the README, the generated docs, the
price file, the diagram, the build's caches): the text goes to a hidden file
beside it, which then replaces it in one step, so an interrupted or failed
write, or a reader meanwhile, finds the old file as it was and nothing
half-written."""

from __future__ import annotations

import os
from pathlib import Path


def write_whole(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:  # failed or interrupted before the replace: take the partial file away
        partial.unlink(missing_ok=True)
