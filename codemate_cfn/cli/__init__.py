"""The command line: `python -m codemate_cfn COMMAND`. One module per
command, each with `register(subparsers)` and `run(args) -> exit status`;
nothing else in the package imports this one."""

from __future__ import annotations

import argparse
import sys

import codemate_cfn
from codemate_cfn.cli import (
    bootstrap,
    build,
    cost,
    delete,
    deploy,
    diagram,
    docs,
    emulator,
    migrate,
    outputs,
    plan,
    rollback,
    status,
    taskcat,
    validate,
)
from codemate_cfn.cli.common import project_options
from codemate_cfn.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, CodemateError, InvalidInput

# In the order `--help` lists them.
COMMANDS = (build, validate, bootstrap, deploy, plan, cost, diagram, outputs, status, migrate, delete, emulator,
            rollback, taskcat, docs)


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors ending in their own exit status."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\n")


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="python -m codemate_cfn",
        description="Compile CodeMate's layers into nested CloudFormation templates and deploy them.",
    )
    top.add_argument("--version", action="version", version=f"codemate-cfn {codemate_cfn.__version__}")
    project_options(top, default=None)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    for command_parser in {id(p): p for p in sub.choices.values()}.values():  # aliases share a parser
        project_options(command_parser)  # also after the command name
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
