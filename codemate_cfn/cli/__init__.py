"""The command line: `python -m codemate_cfn COMMAND`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codemate_cfn.errors import CodemateError, InvalidInput
from codemate_cfn.compile.project import Project
from codemate_cfn.table import format_table


def say(message: str = "") -> None:
    print(message, flush=True)


def progress(message: str) -> None:
    print(f"- {message}", file=sys.stderr, flush=True)


def find_project(args) -> Project:
    project = Project.find(args.project_dir)
    if args.build_dir is not None:
        project = Project(project.root, args.build_dir.resolve())
    return project


def template_table(result) -> str:
    rows = [
        [t.name, t.resources, t.parameters, t.outputs, f"{t.bytes:,}", t.sha256[:12]]
        for t in result.templates
    ]
    return format_table(
        ["template", "resources", "parameters", "outputs", "bytes", "sha256"], rows, right={1, 2, 3, 4}
    )


def cmd_build(args) -> int:
    from codemate_cfn.compile.build import build

    project = find_project(args)
    result = build(project, force=args.force, progress=progress)
    say(template_table(result))
    where = project.templates_dir.relative_to(project.root) if project.templates_dir.is_relative_to(project.root) else project.templates_dir
    if result.cached:
        say(f"\nup to date: nothing changed since the last build ({where}/, {result.seconds:.2f} s)")
        return 0
    from codemate_cfn.compile.lint import failing  # not imported for a no-op build

    bad = failing(result.findings)
    for finding in result.findings:
        if finding not in bad:
            say(f"note: {finding.describe()}")
    if bad:
        say(f"\ncfn-lint found {len(bad)} problem(s):")
        for finding in bad:
            say(f"  {finding.describe()}")
        say(f"build failed: {sum(f.level == 'error' for f in bad)} error(s), "
            f"{sum(f.level == 'warning' for f in bad)} warning(s)")
        return 1
    total = sum(t.resources for t in result.templates)
    say(f"\nbuilt {len(result.templates)} templates ({total} resources) into {where}/: "
        f"cfn-lint clean, within CloudFormation limits ({result.seconds:.2f} s)")
    return 0


def cmd_validate(args) -> int:
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.params.paramfile import check_all

    project = find_project(args)
    catalogue = load_catalogue(project.root)
    paths = [Path(p) for p in args.params_files]
    problems = check_all(paths, catalogue, load_conventions(project.root))
    if problems:
        raise InvalidInput(problems)
    for path in paths:
        say(f"{path}: ok")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m codemate_cfn",
        description="Compile CodeMate's layers into nested CloudFormation templates and deploy them.",
    )
    top.add_argument("--project-dir", type=Path, default=None, help="project root (default: found from the working directory)")
    top.add_argument("--build-dir", type=Path, default=None, help="where build output goes (default: <project>/build)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="render, check and lint every template into build/templates/")
    p.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    p.set_defaults(run=cmd_build)

    p = sub.add_parser("validate", help="check parameter files against the catalogue")
    p.add_argument("params_files", nargs="+", metavar="PARAMS_FILE")
    p.set_defaults(run=cmd_validate)

    from codemate_cfn.cli.aws_commands import add_commands  # bootstrap, deploy, plan, outputs, status, delete, ...
    add_commands(sub)

    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except InvalidInput as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return exc.exit_code
    except CodemateError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file or directory that cannot be read or written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
