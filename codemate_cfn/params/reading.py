"""Reads a parameter file before anything else looks at it, and only when it
is safe to: a regular file (stat first, so a FIFO or a device never blocks
the read) of at most 1 MiB, under a name that is valid UTF-8, holding JSON
nested at most 20 levels deep (checked on the raw text, before json.loads
recurses), without NaN or Infinity, keys set twice or lone surrogates.
Every problem is one line naming the file, and the key where there is one."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from codemate_cfn.errors import quoted, shown

MAX_BYTES = 1 << 20  # 1 MiB: a parameter file is a few KB
MAX_DEPTH = 20  # nesting of objects and lists; a parameter file needs 2, a stack policy 6
# A JSON string (skipped whole), or a bracket that opens or closes a level.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_KINDS = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device",
          stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}


def file_label(path: Path) -> str:
    """`path` as printable text: bytes of its name that are not UTF-8
    (surrogateescape'd by Python) as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _kind(mode: int) -> str:
    return next((kind for test, kind in _KINDS.items() if test(mode)), "not a file")


def file_problem(path: Path) -> str | None:
    """What keeps `path` from being read as a parameter file (its name, its
    existence, its kind, its size), or None. Reads nothing of the file."""
    label = file_label(path)
    if label != str(path):
        return f"{label}: file name is not valid UTF-8 (rename the file)"
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return f"{path}: file not found"
    except OSError as exc:
        return f"{path}: cannot read file: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file ({_kind(info.st_mode)})"
    if info.st_size > MAX_BYTES:
        return f"{path}: {info.st_size:,} bytes; a parameter file is at most {MAX_BYTES:,} bytes (1 MiB)"
    return None


def read_bytes(path: Path) -> tuple[bytes | None, list[str]]:
    """The file's bytes, or None and the one problem that keeps them unread."""
    problem = file_problem(path)
    if problem:
        return None, [problem]
    try:
        # Non-blocking: a file swapped for a FIFO since the stat opens at once, and fstat refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read(MAX_BYTES + 1) if stat.S_ISREG(mode) else None
    except OSError as exc:
        return None, [f"{path}: cannot read file: {exc.strerror}"]
    if data is None:
        return None, [f"{path}: not a regular file ({_kind(mode)})"]
    if len(data) > MAX_BYTES:
        return None, [f"{path}: more than {MAX_BYTES:,} bytes; a parameter file is at most 1 MiB"]
    return data, []


def _too_deep(text: str) -> int | None:
    """Where the text's JSON opens its level MAX_DEPTH + 1, or None."""
    depth = 0
    for token in _TOKEN.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return token.start()
        elif bracket in ("]", "}"):
            depth -= 1
    return None


def _line_column(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return f"line {line} column {column}"


class _Constant:
    """NaN, Infinity or -Infinity where the file wrote it (not JSON)."""

    def __init__(self, name: str):
        self.name = name


def _is_text(value: str) -> bool:
    """True unless `value` holds a lone surrogate (from a \\ud800 escape)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strange(node, where: str, paths: dict[int, str]) -> list[tuple[str, str]]:
    """(key path, what is wrong) for NaN/Infinity and lone surrogates
    anywhere under `node`; records each object's key path in `paths` (for
    naming keys set twice)."""
    if isinstance(node, _Constant):
        return [(where, f"{node.name} is not a JSON value (CloudFormation parameter values are strings)")]
    if isinstance(node, str):
        return [] if _is_text(node) else [(where, f"not valid Unicode (a lone surrogate in {quoted(node)})")]
    problems = []
    if isinstance(node, dict):
        paths[id(node)] = where
        for key, value in node.items():
            child = f"{where}.{shown(key)}" if where else shown(key)
            if not _is_text(key):
                problems.append((child, "key is not valid Unicode (a lone surrogate)"))
            problems += _strange(value, child, paths)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems += _strange(value, f"{where}[{i}]", paths)
    return problems


def _at(path: Path, where: str, what: str) -> str:
    return f"{path}: {where}: {what}" if where else f"{path}: {what}"


def read_document(path: Path) -> tuple[object, list[str]]:
    """(the file's JSON, problems). None for the JSON when it cannot be
    used at all; a key set twice is a problem but the JSON is returned."""
    raw, problems = read_bytes(path)
    if raw is None:
        return None, problems
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{path}: cannot read file: {exc}"]
    deep = _too_deep(text)
    if deep is not None:
        return None, [f"{path}: {_line_column(text, deep)}: nested deeper than {MAX_DEPTH} levels"]
    duplicates: list[tuple[dict, str]] = []

    def note_duplicates(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append((obj, key))
            obj[key] = value
        return obj

    try:
        data = json.loads(text, object_pairs_hook=note_duplicates, parse_constant=_Constant)
    except json.JSONDecodeError as exc:
        return None, [f"{path}: line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}"]
    paths: dict[int, str] = {}
    strange = [_at(path, where, what) for where, what in _strange(data, "", paths)]
    if strange:
        return None, strange
    # json keeps the last of two equal keys silently; which one was meant is anyone's guess
    # (an object that was itself overwritten is not in the data: its key's duplicate is named)
    named = [(paths[id(obj)], shown(key)) for obj, key in duplicates if id(obj) in paths]
    return data, [_at(path, f"{where}.{key}" if where else key, "key appears more than once (set it once)")
                  for where, key in named]
