"""Drawing the DOT file as SVG and PNG with Graphviz: its `dot` program
where it is on PATH (apt-get install graphviz), else pygraphviz, whose
wheels carry Graphviz's libraries (pip install -e ".[diagram]"). pygraphviz
draws in a process of its own so the libraries' warnings on stderr stay
out of the command's output unless the drawing fails.

`python -m codemate_cfn.diagram.render IN.dot OUT.svg [OUT.png ...]` is
that process."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from codemate_cfn.errors import CodemateError

TIMEOUT_SECONDS = 120
NOT_INSTALLED = ("Graphviz is not installed, so no SVG or PNG: install it (apt-get install graphviz) or pygraphviz "
                 "(python -m pip install -e \".[diagram]\") and run diagram again")


class DrawingError(CodemateError):
    pass


def renderer() -> str | None:
    """"dot", "pygraphviz", or None when neither is at hand."""
    if shutil.which("dot"):
        return "dot"
    if importlib.util.find_spec("pygraphviz") is not None:
        return "pygraphviz"
    return None


def _command(how: str, source: Path, out: Path, partial: Path) -> list[str]:
    if how == "dot":
        return ["dot", f"-T{out.suffix[1:]}", "-o", str(partial), str(source)]
    return [sys.executable, "-m", "codemate_cfn.diagram.render", str(source), str(partial)]


def draw(how: str, source: Path, outputs: list[Path]) -> None:
    """Each of `outputs` (by suffix: .svg, .png) drawn from the DOT file
    `source`; a file is replaced only once drawn whole."""
    for out in outputs:
        partial = out.with_name(f".{out.stem}.partial{out.suffix}")
        try:
            done = subprocess.run(_command(how, source, out, partial), capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS)
            if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise DrawingError(f"{out}: {how} could not draw {source} (exit {done.returncode}): {last}")
            os.replace(partial, out)
        except subprocess.TimeoutExpired:
            raise DrawingError(f"{out}: {how} took longer than {TIMEOUT_SECONDS} s; nothing written") from None
        finally:  # failed, timed out or interrupted: no half-drawn file is left
            partial.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    import pygraphviz

    source, *outputs = argv
    graph = pygraphviz.AGraph(filename=source)
    for out in outputs:
        graph.draw(out, prog="dot", format=Path(out).suffix[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
