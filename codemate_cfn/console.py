"""What commands show people and ask them: results on stdout, steps and
events on stderr (so `--output json` stays clean), yes/no questions."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Console:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    interactive: bool | None = None  # None: whether stdin is a terminal

    def say(self, message: str = "") -> None:
        print(message, file=self.out, flush=True)

    def step(self, message: str) -> None:
        print(f"- {message}", file=self.err, flush=True)

    def note(self, message: str) -> None:
        print(message, file=self.err, flush=True)

    def event(self, line: str) -> None:
        """A line of progress; at a terminal, cut to its width so the
        stream stays one line per event."""
        width = self.width()
        if width and len(line) > width:
            line = line[: width - 1] + "…"
        self.note(line)

    def width(self) -> int | None:
        """The terminal's width when progress goes to one, else None."""
        isatty = getattr(self.err, "isatty", None)
        if not (isatty and isatty()):
            return None
        return shutil.get_terminal_size(fallback=(100, 24)).columns

    def can_ask(self) -> bool:
        if self.interactive is not None:
            return self.interactive
        return sys.stdin.isatty()

    def confirm(self, question: str) -> bool:
        """Ask on the terminal; False when nobody can answer. Ctrl-C ends
        the line it asked on and goes up to the caller (KeyboardInterrupt)."""
        if not self.can_ask():
            return False
        print(f"{question} [y/N] ", end="", file=self.err, flush=True)
        try:
            answer = input()
        except EOFError:
            return False
        except KeyboardInterrupt:
            print(file=self.err, flush=True)
            raise
        return answer.strip().lower() in ("y", "yes")
