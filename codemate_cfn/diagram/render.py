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


def _command(how: str, source: Path, partials: list[Path]) -> list[str]:
    """One run that lays the graph out once and writes every format."""
    if how == "dot":
        return ["dot", *[arg for p in partials for arg in (f"-T{p.suffix[1:]}", "-o", str(p))], str(source)]
    return [sys.executable, "-m", "codemate_cfn.diagram.render", str(source), *map(str, partials)]


def draw(how: str, source: Path, outputs: list[Path]) -> None:
    """`outputs` (by suffix: .svg, .png) drawn from the DOT file `source` in
    one run; they replace the old ones only once every one is drawn whole."""
    partials = [out.with_name(f".{out.stem}.partial{out.suffix}") for out in outputs]
    try:
        done = subprocess.run(_command(how, source, partials), capture_output=True, text=True,
                              timeout=TIMEOUT_SECONDS)
        if done.returncode != 0 or not all(p.is_file() and p.stat().st_size > 0 for p in partials):
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DrawingError(f"{outputs[0]}: {how} could not draw {source} (exit {done.returncode}): {last}")
        for partial, out in zip(partials, outputs):
            os.replace(partial, out)
    except subprocess.TimeoutExpired:
        raise DrawingError(f"{outputs[0]}: {how} took longer than {TIMEOUT_SECONDS} s; nothing written") from None
    finally:  # failed, timed out or interrupted: no half-drawn file is left
        for partial in partials:
            partial.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    import pygraphviz

    source, *outputs = argv
    graph = pygraphviz.AGraph(filename=source)
    graph.layout(prog="dot")
    for out in outputs:
        graph.draw(out, format=Path(out).suffix[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
