"""Times `python -m codemate_cfn build` against the cfn-lint command line.

Run from anywhere: `python benchmarks/build.py [--repeat N]`.

In one run it measures, each as the median of N runs of a fresh process:
- the cold build (an empty build directory every time),
- the no-op rebuild (same build directory, nothing changed), and the part
  of it spent in build() itself,
- the cfn-lint command line on the templates the build wrote,
and compares them with the goals: a cold build no slower than the cfn-lint
run alone, and a no-op rebuild under 5% of the cold build. Cold builds and
cfn-lint runs alternate so that drift in machine load hits both alike.
Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "ap-northeast-2"
NOOP_GOAL = 0.05


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return seconds


def build_command(build_dir: Path) -> list[str]:
    return [sys.executable, "-m", "codemate_cfn", "--build-dir", str(build_dir), "build"]


def cfn_lint_command(templates: list[Path]) -> list[str]:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    executable = str(cfn_lint) if cfn_lint.exists() else shutil.which("cfn-lint")
    if executable is None:
        sys.exit("benchmark: cfn-lint not found next to this python or on PATH")
    return [executable, "--regions", REGION, "--", *map(str, templates)]


def noop_in_process(build_dir: Path, repeat: int) -> float:
    """Median time of the build() call itself on an up-to-date build."""
    sys.path.insert(0, str(ROOT))
    from codemate_cfn.compile.build import build
    from codemate_cfn.compile.project import Project

    project = Project(ROOT, output=build_dir)
    results = [build(project) for _ in range(repeat)]
    if not all(r.cached for r in results):
        sys.exit("benchmark: the no-op build was not a cache hit")
    return statistics.median(r.seconds for r in results)


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default 5)")
    repeat = args.parse_args().repeat

    cold, lint, noop = [], [], []
    with tempfile.TemporaryDirectory(prefix="codemate-bench-") as tmp:
        build_dir = Path(tmp) / "warmup"
        timed(build_command(build_dir))  # fills the OS file cache and __pycache__
        templates = sorted((build_dir / "templates").glob("*.json"))
        size = sum(p.stat().st_size for p in templates)
        for i in range(repeat):
            build_dir = Path(tmp) / f"cold-{i}"
            cold.append(timed(build_command(build_dir)))
            lint.append(timed(cfn_lint_command(templates)))
        timed(build_command(build_dir))  # catches up with any source edited meanwhile
        for _ in range(repeat):
            noop.append(timed(build_command(build_dir)))
        in_process = noop_in_process(build_dir, repeat)

    cold_s, lint_s, noop_s = (statistics.median(x) for x in (cold, lint, noop))
    print(f"{len(templates)} templates, {size:,} bytes; median of {repeat} runs, each a fresh process")
    print(f"  cold build            {cold_s:6.3f} s   (min {min(cold):.3f}, max {max(cold):.3f})")
    print(f"  cfn-lint CLI alone    {lint_s:6.3f} s   (min {min(lint):.3f}, max {max(lint):.3f})")
    print(f"  no-op rebuild         {noop_s:6.3f} s   (min {min(noop):.3f}, max {max(noop):.3f})")
    print(f"    of which build()    {in_process:6.3f} s   (the rest is starting Python and the CLI)")
    cold_ok = cold_s <= lint_s
    noop_ok = noop_s < NOOP_GOAL * cold_s
    print(f"cold build / cfn-lint CLI = {cold_s / lint_s:.2f}  (goal <= 1.00: {'met' if cold_ok else 'MISSED'})")
    print(f"no-op / cold build        = {noop_s / cold_s:.1%}  (goal < {NOOP_GOAL:.0%}: {'met' if noop_ok else 'MISSED'})")
    return 0 if cold_ok and noop_ok else 1


if __name__ == "__main__":
    sys.exit(main())
