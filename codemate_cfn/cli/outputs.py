"""`outputs`: print the root stack's outputs."""

from __future__ import annotations

import json

from codemate_cfn.cli.common import connected, outputs_table, stack_name, stack_options
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("outputs", help="print the root stack's outputs")
    stack_options(p)
    p.add_argument("--output", choices=("text", "json"), default="text")
    p.set_defaults(run=run)


def run(args) -> int:
    from codemate_cfn.deploy.stack import existing

    ui = Console()
    with connected(args, ui) as aws:
        stack = existing(aws.cloudformation, stack_name(args), aws.target.region)
    outputs = stack.get("Outputs") or []
    if args.output == "json":
        ui.say(json.dumps({o["OutputKey"]: o["OutputValue"] for o in outputs}, indent=2, sort_keys=True))
    else:
        ui.say(outputs_table(outputs))
    return EXIT_OK
