"""What the commands share: printing, finding the project, the AWS and
stack options, connecting to AWS (or to the local emulator with --local),
building and reading the parameter file before a deploy."""

from __future__ import annotations

import argparse
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from codemate_cfn.compile.project import Project
from codemate_cfn.console import Console
from codemate_cfn.errors import BuildError, InvalidInput, quoted

# What botocore's retry modes are called (codemate_cfn.deploy.aws checks the
# choice again); the AWS modules are imported only by commands that call AWS,
# so a no-op build starts fast.
RETRY_MODES = ("adaptive", "standard")
ENDPOINT_ENV = "AWS_ENDPOINT_URL"


def say(message: str = "") -> None:
    print(message, flush=True)


def progress(message: str) -> None:
    print(f"- {message}", file=sys.stderr, flush=True)


def find_project(args) -> Project:
    project = Project.find(args.project_dir)
    if args.build_dir is not None:
        project = Project(project.root, args.build_dir.resolve())
    return project


def aws_options(p: argparse.ArgumentParser, poll_help: str = argparse.SUPPRESS) -> None:
    """The AWS options; --poll-seconds is shown in --help only with `poll_help`."""
    g = p.add_argument_group("AWS")
    g.add_argument("--region", default=None,
                   help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's, else the project's)")
    g.add_argument("--profile", default=None, help="AWS profile from the AWS config files")
    g.add_argument("--endpoint-url", default=None,
                   help="send AWS calls here instead (default: $AWS_ENDPOINT_URL, else AWS itself)")
    g.add_argument("--retry-mode", choices=RETRY_MODES, default="adaptive",
                   help="botocore retry mode for throttling and transient errors (default adaptive)")
    g.add_argument("--poll-seconds", type=float, default=5.0, help=poll_help)


def stack_options(p: argparse.ArgumentParser, poll_help: str = argparse.SUPPRESS) -> None:
    p.add_argument("params_file", type=Path, metavar="PARAMS_FILE", help="e.g. params/dev.json")
    p.add_argument("--stack-name", default=None, help="root stack name (default codemate-<env>, env = the file name)")
    aws_options(p, poll_help)


def allow_replacement_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-replacement", action="append", metavar="LOGICAL_ID", default=[],
                   help="let the guard allow deleting or replacing this stateful resource (logical ID, or "
                        "layer/logical ID); repeat the option for more")


def project_options(p: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    """--project-dir and --build-dir, before the command or after it."""
    p.add_argument("--project-dir", type=Path, default=default,
                   help="project root (default: found from the working directory)")
    p.add_argument("--build-dir", type=Path, default=default, help="where build output goes (default: <project>/build)")


def local_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", action="store_true",
                   help="run against a local AWS emulator (moto) started for this command, with dummy credentials")


# CloudFormation's rule for stack names.
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
STACK_NAME_RULE = "a letter, then letters, digits and hyphens, at most 128 characters"


def stack_name(args) -> str:
    """The root stack's name: --stack-name, else codemate-<the parameter
    file's name>; refused in one line unless CloudFormation takes it."""
    if args.stack_name is not None:
        if not STACK_NAME.fullmatch(args.stack_name):
            raise InvalidInput(f"--stack-name {quoted(args.stack_name)}: not a valid CloudFormation stack name "
                               f"({STACK_NAME_RULE})")
        return args.stack_name
    name = f"codemate-{args.params_file.stem}"
    if not STACK_NAME.fullmatch(name):
        from codemate_cfn.params.reading import file_label

        raise InvalidInput(f"{file_label(args.params_file)}: the stack name {quoted(name)} made from the file "
                           f"name is not a valid CloudFormation stack name ({STACK_NAME_RULE}); rename the file or "
                           "pass --stack-name")
    return name


def checked_stack(args) -> str:
    """What every stack command does first, before it builds or calls AWS:
    its parameter file exists as a readable regular file, and the stack
    name is valid. Returns the stack name."""
    from codemate_cfn.params.reading import file_problem

    problem = file_problem(args.params_file)
    if problem:
        raise InvalidInput(problem)
    return stack_name(args)


def checked_endpoint(url: str | None, source: str) -> str | None:
    """An endpoint URL that botocore can use (http or https, a host, an
    optional port), else one InvalidInput line naming where it came from."""
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise InvalidInput(f"{source} {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{source} {url!r}: not an http:// or https:// URL with a host")
    return url


def chosen_region(args) -> str:
    """The region to work in, refused unless the templates are made for it."""
    from codemate_cfn.compile.discovery import load_conventions

    allowed = load_conventions(find_project(args).root).regions
    from codemate_cfn.deploy.aws import resolve_region

    region, source = resolve_region(args.region, getattr(args, "profile", None), allowed[0])
    if region not in allowed:
        raise InvalidInput(f"region {region} (from {source}): the templates are made for "
                           f"{', '.join(allowed)} only")
    return region


@contextmanager
def connected(args, ui: Console):
    """An Aws for the command: the emulator's with --local, else the target's.
    Every value is checked before anything starts, the parameter file of
    a stack command first."""
    from codemate_cfn.deploy.aws import Aws, Target, translated_errors

    if hasattr(args, "params_file"):
        checked_stack(args)
    region = chosen_region(args)
    if getattr(args, "local", False):
        from codemate_cfn import emulator

        with emulator.running() as local:
            ui.step(f"local AWS emulator (moto) at {local.url}: nothing reaches AWS, and what it does not "
                    f"model is listed as not emulated")
            aim = Target(region=region, endpoint_url=local.url, retry_mode=args.retry_mode,
                         credentials=emulator.DUMMY_KEYS)
            with translated_errors(aim):
                yield Aws(aim)
        return
    endpoint = checked_endpoint(args.endpoint_url, "--endpoint-url") or checked_endpoint(
        os.environ.get(ENDPOINT_ENV), ENDPOINT_ENV)
    aim = Target(region=region, profile=args.profile, endpoint_url=endpoint, retry_mode=args.retry_mode)
    with translated_errors(aim):
        yield Aws(aim)


def who_and_where(aws, stack: str, ui: Console) -> str:
    """Say which account, region, stack and endpoint a command is about to
    work on; returns the account."""
    from codemate_cfn.deploy.aws import caller_identity

    identity = caller_identity(aws)
    ui.step(f"account {identity['Account']} ({identity['Arn']}), region {aws.target.region}, stack {stack}, "
            f"endpoint {aws.target.endpoint or 'AWS'}")
    return identity["Account"]


def not_emulated(aws, stack_id: str, labels: dict[str, str]) -> list[str]:
    """Against an endpoint other than AWS (the emulator, with --local or
    --endpoint-url): the deployed resources it only stands in for."""
    if aws.target.endpoint is None:
        return []
    from codemate_cfn import emulator
    from codemate_cfn.deploy.stack import all_resources

    return emulator.not_emulated(all_resources(aws.cloudformation, stack_id, labels))


def built_templates(args, ui: Console) -> tuple[Project, dict[str, dict]]:
    """Build (cached), checking the command's parameter file only, and read
    the templates back as dicts: from a complete good build, each template
    exactly as its manifest says."""
    checked_stack(args)
    project = find_project(args)
    return project, build_and_read(project, ui, [args.params_file])


def built_for_file(args, ui: Console, params_file: Path) -> tuple[Project, dict[str, dict]]:
    """As built_templates, for a command that reads a parameter file but
    touches no stack (cost, diagram): the file must be there, and its name
    need not make a stack name."""
    from codemate_cfn.params.reading import file_problem

    problem = file_problem(params_file)
    if problem:
        raise InvalidInput(problem)
    project = find_project(args)
    return project, build_and_read(project, ui, [params_file])


def build_and_read(project: Project, ui: Console, param_files: list[Path] | None = None) -> dict[str, dict]:
    """Build (cached), checking `param_files` (default: every file in
    params/), and read the templates back as dicts, each exactly as the
    good build's manifest says."""
    from codemate_cfn.compile.build import build
    from codemate_cfn.compile.lint import failing

    result = build(project, progress=ui.step, param_files=param_files)
    if failing(result.findings):
        raise BuildError(f"build: cfn-lint found {len(failing(result.findings))} problem(s); "
                         f"`python -m codemate_cfn build` lists them")
    ui.step(f"build: {'up to date (cached)' if result.cached else 'built'}, {len(result.templates)} templates")
    from codemate_cfn.compile.output import Changed, read_template

    templates = {}
    for t in result.templates:
        try:
            templates[t.name] = read_template(project.build_dir / t.file, t.sha256)
        except Changed:
            raise BuildError(f"{project.build_dir / t.file}: changed since it was built; build again") from None
    return templates


def checked_params(project: Project, path: Path, ui: Console):
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.params import paramfile

    catalogue = load_catalogue(project.root)
    params = paramfile.load(path, catalogue, load_conventions(project.root))
    ui.step(f"parameter file {path}: ok")
    return params, catalogue


def deploy_options(args, project: Project, **extra):
    from codemate_cfn.deploy.flow import Options
    from codemate_cfn.deploy.provenance import git_commit

    return Options(
        stack_name=stack_name(args),
        params_path=str(args.params_file),
        allow_replacement=set(getattr(args, "allow_replacement", None) or ()),
        commit=git_commit(project.root),
        poll_seconds=args.poll_seconds,
        **extra,
    )


def outputs_table(outputs: list[dict]) -> str:
    if not outputs:
        return "no outputs"
    rows = [[o["OutputKey"], o["OutputValue"], o.get("Description") or ""]
            for o in sorted(outputs, key=lambda o: o["OutputKey"])]
    from codemate_cfn.table import format_table

    return format_table(["output", "value", "description"], rows)


def warn(proposal, ui: Console) -> None:
    """A proposal's warnings (deploy/unfilled.py), after its plan."""
    for line in proposal.warnings:
        ui.note(f"warning: {line}")
