"""`validate`: check parameter files against the catalogue."""

from __future__ import annotations

from pathlib import Path

from codemate_cfn.cli.common import find_project, say
from codemate_cfn.errors import EXIT_OK, InvalidInput


def register(sub) -> None:
    p = sub.add_parser("validate", help="check parameter files against the catalogue")
    p.add_argument("params_files", nargs="+", metavar="PARAMS_FILE")
    p.set_defaults(run=run)


def run(args) -> int:
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
    return EXIT_OK
