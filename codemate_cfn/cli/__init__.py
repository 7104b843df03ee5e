"""The command line: `python -m codemate_cfn COMMAND`. One module per
command, each with `register(subparsers)` and `run(args) -> exit status`;
nothing else in the package imports this one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codemate_cfn.cli import bootstrap, build, delete, deploy, emulator, outputs, plan, rollback, status, validate
from codemate_cfn.errors import EXIT_ERROR, EXIT_INTERRUPTED, CodemateError, InvalidInput

# In the order `--help` lists them.
COMMANDS = (build, validate, bootstrap, deploy, plan, outputs, status, delete, emulator, rollback)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m codemate_cfn",
        description="Compile CodeMate's layers into nested CloudFormation templates and deploy them.",
    )
    top.add_argument("--project-dir", type=Path, default=None, help="project root (default: found from the working directory)")
    top.add_argument("--build-dir", type=Path, default=None, help="where build output goes (default: <project>/build)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except InvalidInput as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_code
    except CodemateError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file or directory that cannot be read or written
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
