"""`continue-rollback`: continue the rollback of a stack in UPDATE_ROLLBACK_FAILED."""

from __future__ import annotations

from codemate_cfn.cli.common import connected, stack_name, stack_options
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("continue-rollback", help="continue the rollback of a stack in UPDATE_ROLLBACK_FAILED")
    stack_options(p)
    p.add_argument("--skip", action="append", metavar="RESOURCE", default=[],
                   help="a resource that cannot roll back: LogicalId, or NestedStackLogicalId.LogicalId "
                        "(repeat the option for more)")
    p.set_defaults(run=run)


def run(args) -> int:
    from codemate_cfn.deploy.rollback import continue_rollback

    ui = Console()
    with connected(args, ui) as aws:
        continue_rollback(aws, stack_name(args), args.skip or [], ui, poll_seconds=args.poll_seconds)
    return EXIT_OK
