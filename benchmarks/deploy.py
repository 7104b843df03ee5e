"""Times a first deploy and a no-op deploy of a parameter file against the
local AWS emulator, and counts the AWS API calls each makes (botocore's
before-call event, one per operation however many retries it took).

Run from anywhere: `python benchmarks/deploy.py [--params params/dev.json] [--repeat N]`.

Each round starts from an empty emulator: a first deploy (bootstrap,
upload, change set, execute, watch, protect), then the same deploy again,
which must find nothing to do. Times are medians over the rounds; call
counts must be the same in every round. Exit status 1 when the second
deploy is not a no-op or uploads something.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.05  # the emulator finishes before the first poll


def deploy_once(url: str, templates: dict, params, catalogue, stack: str) -> tuple[float, object, object]:
    from codemate_cfn.cli import deploy as deploy_command
    from codemate_cfn.deploy import flow as deploy
    from codemate_cfn.deploy.provenance import git_commit
    from codemate_cfn.deploy.aws import Aws, Target
    from codemate_cfn.console import Console
    from codemate_cfn.emulator import DUMMY_KEYS

    aws = Aws(Target("ap-northeast-2", endpoint_url=url, credentials=DUMMY_KEYS))
    ui = Console(out=io.StringIO(), err=io.StringIO(), interactive=False)
    options = deploy.Options(stack, params_path=str(params.path), poll_seconds=POLL_SECONDS,
                             commit=git_commit(ROOT))
    started = time.perf_counter()
    result = deploy_command.deploy(aws, templates, params, catalogue, options, ui, yes=True)
    return time.perf_counter() - started, result, aws


def calls_line(aws) -> str:
    return ", ".join(f"{name.split(':')[1]} {count}" for name, count in sorted(aws.calls.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params" / "dev.json")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from codemate_cfn import emulator
    from codemate_cfn.params import paramfile
    from codemate_cfn.compile.build import build
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.compile.project import Project

    with tempfile.TemporaryDirectory() as build_dir:
        project = Project(ROOT, output=Path(build_dir))
        built = build(project)
        templates = {t.name: json.loads((project.build_dir / t.file).read_text()) for t in built.templates}
    catalogue = load_catalogue(ROOT)
    params = paramfile.load(args.params.resolve(), catalogue, load_conventions(ROOT))
    stack = f"codemate-{args.params.stem}"

    first_times, noop_times, first_calls, noop_calls = [], [], set(), set()
    problems = []
    with emulator.running() as local:
        for _ in range(args.repeat):
            local.reset()
            seconds, result, aws = deploy_once(local.url, templates, params, catalogue, stack)
            if result.outcome != "deployed":
                problems.append(f"first deploy ended {result.outcome!r}")
            first_times.append(seconds)
            first_calls.add((aws.total_calls, calls_line(aws)))
            seconds, result, aws = deploy_once(local.url, templates, params, catalogue, stack)
            if result.outcome != "no changes" or result.uploaded:
                problems.append(f"second deploy was not a no-op: {result.outcome}, uploaded {result.uploaded}")
            noop_times.append(seconds)
            noop_calls.add((aws.total_calls, calls_line(aws)))

    resources = sum(len(t.get("Resources", {})) for t in templates.values())
    print(f"{args.params.name} on the local emulator: {len(templates)} templates, {resources} resources, "
          f"median of {args.repeat} rounds")
    for label, times, calls in (("first deploy", first_times, first_calls), ("no-op deploy", noop_times, noop_calls)):
        for total, detail in sorted(calls):
            print(f"{label:<13} {statistics.median(times):6.2f} s  {total:3d} AWS API calls ({detail})")
    for problem in dict.fromkeys(problems):
        print(f"problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
