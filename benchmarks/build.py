"""Times `python -m codemate_cfn build`: cold, no-op and after editing one
layer, and against the cfn-lint command line.

Run from anywhere: `python benchmarks/build.py [--pairs N] [--layer NAME]`.

Every figure is a ratio measured pair by pair: the two commands compared
run one right after the other (A B A B ...), each in a fresh process, the
ratio A/B is taken per pair and the median of those ratios is reported, so
drift in the load of a shared machine hits both sides of a pair alike.
Everything runs on copies of the project in a temporary directory, with
this tree's codemate_cfn. It prints; it does not judge beyond saying
whether each goal was met.

- cold build / cfn-lint CLI on the same templates    goal <= 75%
- no-op rebuild (nothing changed) / cold build       goal <  5%
- rebuild after editing one layer / cold build       goal <= 40%
- forced rebuild, nothing changed / cold build       (for information)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
       "CODEMATE_CFN_LINT_DAEMON": "0"}  # builds as on a machine where nothing is warm
KEPT = {**ENV, "CODEMATE_CFN_LINT_DAEMON": "1"}  # builds that may use the kept cfn-lint process


def timed(command: list[str], cwd: Path, env: dict = ENV) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return seconds


def copy_project(where: Path) -> Path:
    where.mkdir(parents=True)
    for part in ("templates_src", "params"):
        shutil.copytree(ROOT / part, where / part, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def build_command(project: Path, build_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codemate_cfn", "--project-dir", str(project), "--build-dir", str(build_dir),
            "build", *extra]


def cfn_lint_command(templates: list[Path]) -> list[str]:
    """The cfn-lint command line doing the lint work a build does: the
    same regions, the project's policies, configured the same way."""
    sys.path.insert(0, str(ROOT))
    from codemate_cfn.compile.build import RULES_DIRS, lint_setup
    from codemate_cfn.compile.project import Project

    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    executable = str(cfn_lint) if cfn_lint.exists() else shutil.which("cfn-lint")
    if executable is None:
        sys.exit("benchmark: cfn-lint not found next to this python or on PATH")
    setup = lint_setup(Project(ROOT), RULES_DIRS)
    rules = [f"--append-rules={folder}" for folder in setup.rules_dirs]
    # The command line takes one plain value per setting ("Key=Value" pairs
    # cannot pass): the tag rule checks the environment tag alone here, the
    # same walk over every resource.
    settings = ["--configure-rule=E9002:environment_tags=" + ",".join(setup.configure["E9002"]["environment_tags"])]
    return [executable, "--regions", *setup.regions, *rules, *settings, "--", *map(str, templates)]


def layer_file(project: Path, layer: str) -> Path:
    module = project / "templates_src" / f"{layer}.py"
    return module if module.is_file() else project / "templates_src" / layer / "__init__.py"


def edit_layer(path: Path, n: int) -> None:
    """A harmless edit that changes the layer's template: its description."""
    path.write_text(path.read_text() + f"\nLAYER = Layer(LAYER.name, LAYER.description + ' (edit {n})', LAYER.build)\n")


def kept_linter() -> Path:
    """Where this machine's kept cfn-lint process for the project listens."""
    sys.path.insert(0, str(ROOT))
    from codemate_cfn.compile import lintd
    from codemate_cfn.compile.build import RULES_DIRS, _tool_versions, lint_setup
    from codemate_cfn.compile.lintcache import linter_key
    from codemate_cfn.compile.project import Project

    return lintd.address(linter_key(_tool_versions()["cfn-lint"], lint_setup(Project(ROOT), RULES_DIRS)))


def pairs(count: int, first, second) -> list[tuple[float, float]]:
    """`count` pairs (first(i), second(i)), each run right after the other."""
    return [(first(i), second(i)) for i in range(count)]


def report(label: str, measured: list[tuple[float, float]], goal: str | None, met=None) -> None:
    """One line: the median of the per-pair ratios, their range, and (for
    scale only) the median time of each side."""
    ratios = [a / b for a, b in measured]
    ratio = statistics.median(ratios)
    a = statistics.median(x for x, _ in measured)
    b = statistics.median(y for _, y in measured)
    verdict = f"  goal {goal}: {'met' if met(ratio) else 'MISSED'}" if goal else ""
    print(f"{label:46} {ratio:6.1%}  (pairs {min(ratios):.1%}-{max(ratios):.1%}; "
          f"{a:.2f} s vs {b:.2f} s){verdict}")


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--pairs", type=int, default=5, help="pairs per comparison (default 5)")
    args.add_argument("--layer", default="network", help="the layer edited between rebuilds (default network)")
    options = args.parse_args()
    n = options.pairs

    with tempfile.TemporaryDirectory(prefix="codemate-bench-") as tmp:
        tmp = Path(tmp)
        project = copy_project(tmp / "project")
        edited = copy_project(tmp / "edited")
        warm = tmp / "warm"
        timed(build_command(project, warm), tmp)  # fills the OS file cache and codemate_cfn's __pycache__
        templates = sorted((warm / "templates").glob("*.json"))
        size = sum(p.stat().st_size for p in templates)
        timed(build_command(edited, tmp / "edited-build"), tmp)
        cold_dirs = iter(tmp / f"cold-{i}" for i in range(4 * n))

        def cold(_):
            return timed(build_command(project, next(cold_dirs)), tmp)

        def edit_then_build(i, env=ENV):
            edit_layer(layer_file(edited, options.layer), i)
            return timed(build_command(edited, tmp / "edited-build"), tmp, env)

        print(f"{len(templates)} templates, {size:,} bytes; {n} pairs per line, each command a fresh process; "
              "median of the per-pair ratios")
        report("cold build / cfn-lint CLI", pairs(n, cold, lambda _: timed(cfn_lint_command(templates), tmp)),
               "<= 75%", lambda r: r <= 0.75)
        report("no-op rebuild / cold build", pairs(n, lambda _: timed(build_command(project, warm), tmp), cold),
               "< 5%", lambda r: r < 0.05)
        report(f"edit the {options.layer} layer, nothing kept / cold", pairs(n, edit_then_build, cold), None)
        from codemate_cfn.compile import lintd

        kept = kept_linter()
        edit_then_build(100, KEPT)  # starts the kept process; wait until it answers
        deadline = time.monotonic() + 60
        while lintd.ask(kept, []) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            report(f"edit the {options.layer} layer, cfn-lint kept / cold",
                   pairs(n, lambda i: edit_then_build(200 + i, KEPT), cold), "<= 40%", lambda r: r <= 0.40)
        finally:
            lintd.stop(kept)
        report("forced rebuild, nothing changed / cold",
               pairs(n, lambda _: timed(build_command(project, warm, "--force"), tmp),
                     lambda _: timed(build_command(project, tmp / f"cold-f{_}"), tmp)), None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
