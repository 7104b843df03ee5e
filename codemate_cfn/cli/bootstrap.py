"""`bootstrap`: create or update the artifact bucket stack."""

from __future__ import annotations

from codemate_cfn.cli.common import aws_options, connected, local_option
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("bootstrap", help="create or update the artifact bucket stack (codemate-cfn-bootstrap)")
    aws_options(p)
    local_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from codemate_cfn.deploy import bootstrap

    ui = Console()
    with connected(args, ui) as aws:
        bucket = bootstrap.ensure(aws, ui, args.poll_seconds)
    ui.say(f"artifact bucket: {bucket} (stack {bootstrap.STACK_NAME}, {aws.target.region})")
    return EXIT_OK
