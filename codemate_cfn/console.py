"""What commands show people and ask them: results on stdout, steps and
events on stderr (so `--output json` stays clean), yes/no questions."""

from __future__ import annotations

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

    def can_ask(self) -> bool:
        if self.interactive is not None:
            return self.interactive
        return sys.stdin.isatty()

    def confirm(self, question: str) -> bool:
        """Ask on the terminal; False when nobody can answer."""
        if not self.can_ask():
            return False
        print(f"{question} [y/N] ", end="", file=self.err, flush=True)
        try:
            answer = input()
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")
