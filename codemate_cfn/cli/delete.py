"""`delete`: delete the root stack and its nested stacks (asks first)."""

from __future__ import annotations

from codemate_cfn.cli.common import connected, stack_name, stack_options
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("delete", help="delete the root stack and its nested stacks (asks first)")
    stack_options(p)
    p.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    p.set_defaults(run=run)


def run(args) -> int:
    from codemate_cfn.deploy.delete import delete

    ui = Console()
    with connected(args, ui) as aws:
        delete(aws, stack_name(args), ui, yes=args.yes, poll_seconds=args.poll_seconds)
    return EXIT_OK
