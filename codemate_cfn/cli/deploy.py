"""`deploy`: build, upload, plan, guard, confirm, execute and watch a
change set, then print the outputs; or, with --execute, execute a change
set left for review (checked and judged by the guard again)."""

from __future__ import annotations

from dataclasses import dataclass, field

from codemate_cfn.cli.common import (
    allow_replacement_option,
    built_templates,
    checked_params,
    connected,
    deploy_options,
    find_project,
    local_option,
    not_emulated,
    outputs_table,
    stack_options,
    warn,
    who_and_where,
)
from codemate_cfn.cli.plan import EXIT_HELP
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_BLOCKED, EXIT_CHANGES, EXIT_INTERRUPTED, EXIT_OK, UsageError


def register(sub) -> None:
    p = sub.add_parser(
        "deploy", help="build, upload, plan, guard, confirm, execute and watch a change set",
        description="Deploy the built templates with a parameter file as a reviewed change set. "
                    "Steps: build (cached), check the parameter file, upload under a content-hash prefix, "
                    "change set on the root (nested change sets included), plan, stateful guard, confirm, "
                    "execute, watch, outputs. " + EXIT_HELP.replace("nothing executed", "not executed: "
                    "a run without a terminal stops after the plan unless --yes") + ", 64 a usage error, 130 Ctrl-C "
                    "(at the question: the change set is deleted; while watching: the stack carries on)",
    )
    stack_options(p)
    p.add_argument("-y", "--yes", action="store_true", help="execute without asking (for CI)")
    review = p.add_mutually_exclusive_group()
    review.add_argument("--no-execute", action="store_true",
                        help="stop after the plan and leave the change set for review (prints how to execute it)")
    review.add_argument("--execute", metavar="CHANGE_SET",
                        help="execute this change set left for review (name or ARN) on the stack: checked, its plan "
                             "worked out again and judged by the stateful guard, then watched and protected; "
                             "nothing is built or uploaded, and nothing is asked")
    allow_replacement_option(p)
    p.add_argument("--recreate", action="store_true",
                   help="delete a stack left in ROLLBACK_COMPLETE by a failed first create, then create it")
    local_option(p)
    p.set_defaults(run=run)


EXITS = {"blocked": EXIT_BLOCKED, "not confirmed": EXIT_CHANGES, "interrupted": EXIT_INTERRUPTED}


@dataclass
class Outcome:
    """How a deploy ended: "no changes", "blocked", "left for review",
    "not confirmed", "interrupted" (Ctrl-C at the question) or "deployed"."""

    outcome: str
    proposal: object
    outputs: list[dict] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXITS.get(self.outcome, EXIT_OK)

    @property
    def changes(self) -> list:
        return self.proposal.changes

    @property
    def refused(self) -> list[str]:
        return self.proposal.refused

    @property
    def uploaded(self) -> list[str]:
        return self.proposal.uploaded

    @property
    def change_set(self):
        return self.proposal.change_set


def deploy(aws, templates, params, catalogue, options, ui, yes: bool = False, execute: bool = True,
           account: str | None = None) -> Outcome:
    """Propose, show the plan, and execute what the guard and the user allow."""
    from codemate_cfn.deploy import flow, plan_view

    proposal = flow.propose(aws, templates, params, catalogue, options, ui)
    if proposal.no_changes:
        flow.discard(aws, proposal)
        ui.say(f"no changes: stack {options.stack_name} already runs these templates and parameters")
        flow.keep_protected(aws, proposal, templates, params, ui)
        return Outcome("no changes", proposal, (proposal.stack or {}).get("Outputs") or [])
    ui.say(plan_view.format_plan(proposal.changes, proposal.refused, proposal.rollback))
    warn(proposal, ui)
    if proposal.refused:
        flow.discard(aws, proposal)
        ui.note(f"stopped: the stateful guard refused {len(proposal.refused)} change(s); the change set was deleted")
        return Outcome("blocked", proposal)
    guard_passed(proposal, ui)
    change_set = proposal.change_set
    if not execute:
        ui.note(f"change set {change_set.name} left for review on stack {options.stack_name}; execute it with: "
                f"{options.command('deploy', '--execute', change_set.name)}")
        return Outcome("left for review", proposal)
    where = f" in account {account} ({aws.target.region})" if account else ""
    try:
        confirmed = yes or ui.confirm(f"Execute this change set on stack {options.stack_name}{where}?")
    except KeyboardInterrupt:
        flow.discard(aws, proposal)
        ui.note("stopped after the plan (interrupted at the question); the change set was deleted")
        return Outcome("interrupted", proposal)
    if not confirmed:
        flow.discard(aws, proposal)
        why = "not confirmed" if ui.can_ask() else "no terminal to confirm on; pass --yes to deploy without asking"
        ui.note(f"stopped after the plan ({why}); the change set was deleted")
        return Outcome("not confirmed", proposal)
    deployed = flow.execute(aws, proposal, templates, params, options, ui)
    return Outcome("deployed", proposal, deployed.get("Outputs") or [])


def guard_passed(proposal, ui) -> None:
    ui.step(f"stateful guard: {len(proposal.allowed)} replacement(s) or deletion(s) allowed by --allow-replacement"
            if proposal.allowed else "stateful guard: no stateful resource is replaced or deleted")


def execute_reviewed(aws, ref: str, params, options, ui) -> Outcome:
    """Execute the change set `ref` left for review, once it is checked and
    its plan, worked out again, passes the stateful guard."""
    from codemate_cfn.deploy import flow, plan_view, reviewed

    proposal, templates = reviewed.propose(aws, ref, options, ui, params)
    ui.say(plan_view.format_plan(proposal.changes, proposal.refused, proposal.rollback))
    warn(proposal, ui)
    if proposal.refused:
        ui.note(f"stopped: the stateful guard refused {len(proposal.refused)} change(s); change set "
                f"{proposal.change_set.name} is left as it is")
        return Outcome("blocked", proposal)
    guard_passed(proposal, ui)
    deployed = flow.execute(aws, proposal, templates, params, options, ui)
    return Outcome("deployed", proposal, deployed.get("Outputs") or [])


def run(args) -> int:
    from codemate_cfn.deploy import lookups

    ui = Console()
    if args.execute and args.recreate:
        raise UsageError("--recreate cannot go with --execute: a change set left for review is executed as it is")
    # A change set left for review names its own templates: nothing to build.
    project, templates = (find_project(args), None) if args.execute else built_templates(args, ui)
    params, catalogue = checked_params(project, args.params_file, ui)
    options = deploy_options(args, project, recreate=args.recreate, stack_option=args.stack_name)
    with connected(args, ui) as aws:
        account = who_and_where(aws, options.stack_name, ui)
        if args.local:
            lookups.stand_in_for_the_account(aws, params, catalogue, ui)
        if args.execute:
            result = execute_reviewed(aws, args.execute, params, options, ui)
        else:
            result = deploy(aws, templates, params, catalogue, options, ui, yes=args.yes,
                            execute=not args.no_execute, account=account)
        placeholders = (not_emulated(aws, result.change_set.stack_id, result.proposal.labels)
                        if result.outcome == "deployed" else [])
    if result.outcome == "deployed":
        ui.say(f"\ndeployed stack {options.stack_name}")
    if result.outcome in ("deployed", "no changes") and result.outputs:
        ui.say("\n" + outputs_table(result.outputs))
    if placeholders:
        ui.say(f"\nnot emulated ({len(placeholders)}; the emulator has no model for these types, nothing was created):")
        for line in placeholders:
            ui.say(f"  {line}")
    return result.exit_code
