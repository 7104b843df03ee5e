"""`migrate`: run the database migrations once, as an ECS Fargate task of
the deployed backend image, print its log lines as they arrive and exit
with the container's exit code."""

from __future__ import annotations

import math

from codemate_cfn.cli.common import checked_params, checked_stack, connected, find_project, stack_options, who_and_where
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK, InvalidInput

DEFAULT_TIMEOUT = 1800.0  # seconds; codemate_cfn.deploy.migrate is imported only when the command runs


def register(sub) -> None:
    p = sub.add_parser(
        "migrate", help="run the database migrations as a one-off ECS task and stream its logs",
        description="Run `npm run typeorm migration:run` once as the services layer's migration task (ECS Fargate, "
                    "private subnets, no public IP), print its status changes and log lines until it stops, and "
                    "exit with the container's exit code. Exit status: 0 the migrations ran; the container's exit "
                    "code (1-255) when they failed; 1 an error, a task stopped without an exit code, or --timeout "
                    "passed (the task keeps running); 2 an invalid parameter file or option value; 130 Ctrl-C "
                    "(the task keeps running).",
    )
    stack_options(p, poll_help="seconds between looks at the task and its logs (default 5)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"stop waiting after this long; the task keeps running (default {DEFAULT_TIMEOUT:g})")
    p.set_defaults(run=run)


def positive(value: float, option: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise InvalidInput(f"{option} {value:g}: not a positive number of seconds")
    return value


def run(args) -> int:
    from codemate_cfn.deploy.migrate import migrate

    ui = Console()
    stack = checked_stack(args)
    timeout = positive(args.timeout, "--timeout")
    poll_seconds = positive(args.poll_seconds, "--poll-seconds")
    checked_params(find_project(args), args.params_file, ui)
    with connected(args, ui) as aws:
        who_and_where(aws, stack, ui)
        done = migrate(aws, stack, str(args.params_file), ui, poll_seconds=poll_seconds, timeout=timeout)
    ui.say(done)
    return EXIT_OK
