"""`status`: stack state, provenance, last events, whether it runs the
local build; --follow streams events until the stack settles."""

from __future__ import annotations

from codemate_cfn.cli.common import built_templates, connected, stack_name, stack_options
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_ERROR, EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("status", help="stack state, last events, and whether it runs the local build")
    stack_options(p)
    p.add_argument("--follow", action="store_true", help="stream events until the stack reaches a final state")
    p.set_defaults(run=run)


def run(args) -> int:
    from codemate_cfn.deploy import events, status

    ui = Console()
    _, templates = built_templates(args, ui)
    with connected(args, ui) as aws:
        final = status.status(aws, stack_name(args), templates, ui, follow=args.follow,
                              poll_seconds=args.poll_seconds,
                              resume_hint=f"python -m codemate_cfn status {args.params_file} --follow")
    settled = final in events.SUCCEEDED | events.STABLE
    return EXIT_OK if not args.follow or settled else EXIT_ERROR
