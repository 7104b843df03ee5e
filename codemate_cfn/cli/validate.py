"""`validate`: check parameter files against the catalogue (every file in
params/ when none is named), and that no two name the same environment."""

from __future__ import annotations

from pathlib import Path

from codemate_cfn.cli.common import find_project, say
from codemate_cfn.errors import EXIT_OK, InvalidInput


def register(sub) -> None:
    p = sub.add_parser("validate", help="check parameter files against the catalogue (default: every file in params/)")
    p.add_argument("params_files", nargs="*", metavar="PARAMS_FILE")
    p.set_defaults(run=run)


def run(args) -> int:
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.params.paramfile import check_all

    project = find_project(args)
    catalogue = load_catalogue(project.root)
    paths = [Path(p) for p in args.params_files] or project.param_files()
    if not paths:
        raise InvalidInput(f"{project.params_dir}: no parameter files (*.json) to check")
    problems = check_all(paths, catalogue, load_conventions(project.root))
    if problems:
        raise InvalidInput(problems)
    for path in paths:
        say(f"{path}: ok")
    return EXIT_OK
