"""`plan` (`diff`): everything deploy does up to the plan; the change set
is deleted afterwards."""

from __future__ import annotations

import json

from codemate_cfn.cli.common import (
    allow_replacement_option,
    built_templates,
    checked_params,
    connected,
    deploy_options,
    local_option,
    stack_options,
    warn,
    who_and_where,
)
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_BLOCKED, EXIT_CHANGES, EXIT_OK

EXIT_HELP = (
    "exit status: 0 no changes, 3 changes (nothing executed), 4 changes the stateful guard refuses "
    "(--allow-replacement LOGICAL_ID to allow one), 1 an error, 2 an invalid parameter file"
)


def register(sub) -> None:
    p = sub.add_parser(
        "plan", aliases=["diff"], help="show what a deploy would change, then delete the change set (alias: diff)",
        description="Everything deploy does up to the plan; the change set is deleted afterwards. " + EXIT_HELP,
    )
    stack_options(p)
    allow_replacement_option(p)
    p.add_argument("--output", choices=("text", "json"), default="text", help="text table (default) or JSON for CI")
    local_option(p)
    p.set_defaults(run=run)


def exit_code(proposal) -> int:
    if proposal.refused:
        return EXIT_BLOCKED
    return EXIT_OK if proposal.no_changes or not proposal.changes else EXIT_CHANGES


def plan(aws, templates, params, catalogue, options, ui):
    """Propose, then delete the change set: the proposal, for showing."""
    from codemate_cfn.deploy import flow

    proposal = flow.propose(aws, templates, params, catalogue, options, ui)
    flow.discard(aws, proposal)
    return proposal


def run(args) -> int:
    from codemate_cfn.deploy import lookups, plan_view

    ui = Console()
    project, templates = built_templates(args, ui)
    params, catalogue = checked_params(project, args.params_file, ui)
    options = deploy_options(args, project)
    with connected(args, ui) as aws:
        who_and_where(aws, options.stack_name, ui)
        if args.local:
            lookups.stand_in_for_the_account(aws, params, catalogue, ui)
        proposal = plan(aws, templates, params, catalogue, options, ui)
    if args.output == "json":
        rollback = None if proposal.no_changes else proposal.rollback  # nothing runs: no triggers apply
        ui.say(json.dumps({"stack": options.stack_name,
                           **plan_view.plan_json(proposal.changes, proposal.refused, rollback),
                           "warnings": proposal.warnings}, indent=2))
    elif proposal.no_changes:
        ui.say(f"no changes: stack {options.stack_name} already runs these templates and parameters")
    else:
        ui.say(plan_view.format_plan(proposal.changes, proposal.refused, proposal.rollback))
        warn(proposal, ui)
    return exit_code(proposal)
