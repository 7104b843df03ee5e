"""Writing Markdown that GitHub shows as it was meant: values as code
spans, prose with its stray markup escaped, tables whose cells may hold
a pipe."""

from __future__ import annotations

import re

EMPTY = "(empty)"
# A code span the text itself wrote: `deploy`.
_CODE_SPAN = re.compile(r"(`[^`]*`)")
# What Markdown would take for markup in prose: emphasis (an underscore
# inside a word is none), links, and tags (<env>).
_MARKUP = re.compile(r"([\\*<\[\]]|(?<!\w)_|_(?!\w))")


def code(value: str) -> str:
    """A value as a code span; the empty string said in words."""
    if value == "":
        return EMPTY
    fence = "``" if "`" in value else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def prose(text: str) -> str:
    """Text written for people (a docstring, a description) as Markdown:
    what it puts in backticks stays code, the rest has its markup escaped."""
    parts = _CODE_SPAN.split(text)
    return "".join(part if i % 2 else _MARKUP.sub(r"\\\1", part) for i, part in enumerate(parts))


def cell(text: str) -> str:
    """Text for a table cell: one line, its pipes escaped (inside code spans too)."""
    return text.replace("\n", " ").replace("|", "\\|")


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cell(c) for c in line) + " |" for line in lines)
