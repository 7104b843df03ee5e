"""The AWS commands of the command line: bootstrap, deploy, plan (diff),
outputs, status, delete, continue-rollback. `add_commands` registers them
on the main parser."""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from pathlib import Path

from codemate_cfn.deploy.aws import DEFAULT_REGION, RETRY_MODES, Aws, Target, translated_errors
from codemate_cfn.console import Console
from codemate_cfn.errors import BuildError

PLAN_EXIT_HELP = (
    "exit status: 0 no changes, 3 changes (nothing executed), 4 changes the stateful guard refuses "
    "(--allow-replacement LOGICAL_ID to allow one), 1 an error, 2 an invalid parameter file"
)


def _aws_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("AWS")
    g.add_argument("--region", default=DEFAULT_REGION, help=f"AWS region (default {DEFAULT_REGION})")
    g.add_argument("--profile", default=None, help="AWS profile from the AWS config files")
    g.add_argument("--endpoint-url", default=None,
                   help="send AWS calls here instead (default: $AWS_ENDPOINT_URL, else AWS itself)")
    g.add_argument("--retry-mode", choices=RETRY_MODES, default="adaptive",
                   help="botocore retry mode for throttling and transient errors (default adaptive)")
    g.add_argument("--poll-seconds", type=float, default=5.0, help=argparse.SUPPRESS)


def _stack_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("params_file", type=Path, metavar="PARAMS_FILE", help="e.g. params/dev.json")
    p.add_argument("--stack-name", default=None, help="root stack name (default codemate-<env>, env = the file name)")
    _aws_options(p)


def _local_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", action="store_true",
                   help="run against a local AWS emulator (moto) started for this command, with dummy credentials")


def stack_name(args) -> str:
    return args.stack_name or f"codemate-{args.params_file.stem}"


def target(args, endpoint: str | None = None) -> Target:
    from codemate_cfn.emulator import DUMMY_CREDENTIALS

    if endpoint:
        keys = (DUMMY_CREDENTIALS["aws_access_key_id"], DUMMY_CREDENTIALS["aws_secret_access_key"])
        return Target(region=args.region, endpoint_url=endpoint, retry_mode=args.retry_mode, credentials=keys)
    return Target(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url, retry_mode=args.retry_mode)


@contextmanager
def connected(args, ui: Console):
    """An Aws for the command: the emulator's with --local, else the target's."""
    if getattr(args, "local", False):
        from codemate_cfn import emulator

        with emulator.running() as local:
            ui.step(f"local AWS emulator (moto) at {local.url}: nothing reaches AWS, and what it does not "
                    f"model is listed as not emulated")
            aim = target(args, local.url)
            with translated_errors(aim):
                yield Aws(aim)
        return
    aim = target(args)
    with translated_errors(aim):
        yield Aws(aim)


def _project(args):
    from codemate_cfn.cli import find_project

    return find_project(args)


def built_templates(args, ui: Console) -> tuple[object, dict[str, dict]]:
    """Build (cached) and read the templates back as dicts."""
    from codemate_cfn.compile.build import build
    from codemate_cfn.compile.lint import failing

    project = _project(args)
    result = build(project, progress=ui.step)
    if failing(result.findings):
        raise BuildError(f"build: cfn-lint found {len(failing(result.findings))} problem(s); "
                         f"`python -m codemate_cfn build` lists them")
    ui.step(f"build: {'up to date (cached)' if result.cached else 'built'}, {len(result.templates)} templates")
    templates = {t.name: json.loads((project.build_dir / t.file).read_text()) for t in result.templates}
    return project, templates


def checked_params(project, path: Path, ui: Console):
    from codemate_cfn.params import paramfile
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions

    catalogue = load_catalogue(project.root)
    params = paramfile.load(path, catalogue, load_conventions(project.root))
    ui.step(f"parameter file {path}: ok")
    return params, catalogue


def options_for(args, project, **extra):
    from codemate_cfn.deploy.flow import Options, git_commit

    return Options(
        stack_name=stack_name(args),
        params_path=str(args.params_file),
        allow_replacement=set(getattr(args, "allow_replacement", None) or ()),
        commit=git_commit(project.root),
        poll_seconds=args.poll_seconds,
        **extra,
    )


# -- commands ---------------------------------------------------------------------

def cmd_bootstrap(args) -> int:
    from codemate_cfn.deploy import bootstrap

    ui = Console()
    with connected(args, ui) as aws:
        bucket = bootstrap.ensure(aws, ui, args.poll_seconds)
    ui.say(f"artifact bucket: {bucket} (stack {bootstrap.STACK_NAME}, {args.region})")
    return 0


def cmd_deploy(args) -> int:
    from codemate_cfn.deploy import flow as deploy
    from codemate_cfn.deploy import operations

    ui = Console()
    project, templates = built_templates(args, ui)
    params, catalogue = checked_params(project, args.params_file, ui)
    options = options_for(args, project, yes=args.yes, execute=not args.no_execute, recreate=args.recreate)
    with connected(args, ui) as aws:
        result = deploy.run(aws, templates, params, catalogue, options, ui)
    if result.outcome == "deployed":
        ui.say(f"\ndeployed stack {options.stack_name}")
    if result.outcome in ("deployed", "no changes") and result.outputs:
        ui.say("\n" + operations.outputs_table(result.outputs))
    if result.not_emulated:
        ui.say(f"\nnot emulated ({len(result.not_emulated)}; the emulator has no model for these types, nothing was created):")
        for line in result.not_emulated:
            ui.say(f"  {line}")
    return result.exit_code


def cmd_plan(args) -> int:
    from codemate_cfn.deploy import flow as deploy
    from codemate_cfn.deploy import plan

    ui = Console()
    project, templates = built_templates(args, ui)
    params, catalogue = checked_params(project, args.params_file, ui)
    options = options_for(args, project, plan_only=True, show_plan=args.output == "text")
    with connected(args, ui) as aws:
        result = deploy.run(aws, templates, params, catalogue, options, ui)
    if args.output == "json":
        ui.say(json.dumps({"stack": options.stack_name, **plan.plan_json(result.changes, result.refused)}, indent=2))
    return result.exit_code


def cmd_outputs(args) -> int:
    from codemate_cfn.deploy import operations

    ui = Console()
    with connected(args, ui) as aws:
        stack = operations.existing(aws.cloudformation, stack_name(args), args.region)
    outputs = stack.get("Outputs") or []
    if args.output == "json":
        ui.say(json.dumps({o["OutputKey"]: o["OutputValue"] for o in outputs}, indent=2, sort_keys=True))
    else:
        ui.say(operations.outputs_table(outputs))
    return 0


def cmd_status(args) -> int:
    from codemate_cfn.deploy import events
    from codemate_cfn.deploy import operations

    ui = Console()
    _, templates = built_templates(args, ui)
    with connected(args, ui) as aws:
        final = operations.status(aws, stack_name(args), templates, ui, follow=args.follow,
                                  poll_seconds=args.poll_seconds,
                                  resume_hint=f"python -m codemate_cfn status {args.params_file} --follow")
    return 0 if not args.follow or final in events.SUCCEEDED | events.STABLE else 1


def cmd_delete(args) -> int:
    from codemate_cfn.deploy import operations

    ui = Console()
    with connected(args, ui) as aws:
        operations.delete(aws, stack_name(args), ui, yes=args.yes, poll_seconds=args.poll_seconds)
    return 0


def cmd_continue_rollback(args) -> int:
    from codemate_cfn.deploy import operations

    ui = Console()
    with connected(args, ui) as aws:
        operations.continue_rollback(aws, stack_name(args), args.skip or [], ui, poll_seconds=args.poll_seconds)
    return 0


def cmd_emulator(args) -> int:
    """Serve the patched local AWS until Ctrl-C (or SIGTERM)."""
    import time

    from codemate_cfn import emulator

    with emulator.running(args.port) as local:
        print(f"local AWS emulator (moto, patched) listening at {local.url}", flush=True)
        print(f"use it with --endpoint-url {local.url} (or AWS_ENDPOINT_URL) and any credentials; Ctrl-C stops it",
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("emulator stopped", flush=True)
    return 0


def add_commands(sub) -> None:
    """Register the AWS commands on the main parser's subparsers."""
    p = sub.add_parser("bootstrap", help="create or update the artifact bucket stack (codemate-cfn-bootstrap)")
    _aws_options(p)
    _local_option(p)
    p.set_defaults(run=cmd_bootstrap)

    p = sub.add_parser(
        "deploy", help="build, upload, plan, guard, confirm, execute and watch a change set",
        description="Deploy the built templates with a parameter file as a reviewed change set. "
                    "Steps: build (cached), check the parameter file, upload under a content-hash prefix, "
                    "change set on the root (nested change sets included), plan, stateful guard, confirm, "
                    "execute, watch, outputs. " + PLAN_EXIT_HELP.replace("nothing executed", "not executed: "
                    "a run without a terminal stops after the plan unless --yes"),
    )
    _stack_options(p)
    p.add_argument("--yes", action="store_true", help="execute without asking (for CI)")
    p.add_argument("--no-execute", action="store_true", help="stop after the plan and leave the change set for review")
    p.add_argument("--allow-replacement", nargs="+", metavar="LOGICAL_ID", default=[],
                   help="allow replacing or deleting these stateful resources (logical ID, or layer/logical ID)")
    p.add_argument("--recreate", action="store_true",
                   help="delete a stack left in ROLLBACK_COMPLETE by a failed first create, then create it")
    _local_option(p)
    p.set_defaults(run=cmd_deploy)

    p = sub.add_parser(
        "plan", aliases=["diff"], help="show what a deploy would change, then delete the change set (alias: diff)",
        description="Everything deploy does up to the plan; the change set is deleted afterwards. " + PLAN_EXIT_HELP,
    )
    _stack_options(p)
    p.add_argument("--allow-replacement", nargs="+", metavar="LOGICAL_ID", default=[],
                   help="stateful resources the guard may let be replaced or deleted")
    p.add_argument("--output", choices=("text", "json"), default="text", help="text table (default) or JSON for CI")
    _local_option(p)
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser("outputs", help="print the root stack's outputs")
    _stack_options(p)
    p.add_argument("--output", choices=("text", "json"), default="text")
    p.set_defaults(run=cmd_outputs)

    p = sub.add_parser("status", help="stack state, last events, and whether it runs the local build")
    _stack_options(p)
    p.add_argument("--follow", action="store_true", help="stream events until the stack reaches a final state")
    p.set_defaults(run=cmd_status)

    p = sub.add_parser("delete", help="delete the root stack and its nested stacks (asks first)")
    _stack_options(p)
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.set_defaults(run=cmd_delete)

    p = sub.add_parser("emulator", help="run the local AWS emulator (moto, patched) on 127.0.0.1 until Ctrl-C")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.set_defaults(run=cmd_emulator)

    p = sub.add_parser("continue-rollback", help="continue the rollback of a stack in UPDATE_ROLLBACK_FAILED")
    _stack_options(p)
    p.add_argument("--skip", nargs="+", metavar="RESOURCE", default=[],
                   help="resources that cannot roll back: LogicalId, or NestedStackLogicalId.LogicalId")
    p.set_defaults(run=cmd_continue_rollback)

