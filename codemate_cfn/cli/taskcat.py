"""`taskcat`: write `.taskcat.yml` (one taskcat test per parameter file in
params/); `--check` only says whether it is current; `--stage` copies the
last good build into build/taskcat/, where taskcat uploads it from."""

from __future__ import annotations

from codemate_cfn.cli.common import find_project, say
from codemate_cfn.errors import EXIT_ERROR, EXIT_OK, InvalidInput
from codemate_cfn.files import write_whole


def register(sub) -> None:
    p = sub.add_parser("taskcat", help="write .taskcat.yml from the parameter files (taskcat's tests)")
    p.add_argument("--check", action="store_true", help="exit 1 if .taskcat.yml is not what would be written")
    p.add_argument("--stage", action="store_true",
                   help="also copy the built templates into build/taskcat/ for taskcat to upload")
    p.set_defaults(run=run)


def wanted(project) -> str:
    from codemate_cfn import taskcat_config
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.params.paramfile import load

    catalogue, conventions = load_catalogue(project.root), load_conventions(project.root)
    paths = project.param_files()
    if not paths:
        raise InvalidInput(f"{project.params_dir}: no parameter files (*.json)")
    tests = {}
    for path in paths:
        params = load(path, catalogue, conventions)
        tests[params.environment] = (params.parameters, params.tags)
    return taskcat_config.render(taskcat_config.config(tests))


def run(args) -> int:
    from codemate_cfn import taskcat_config

    project = find_project(args)
    target = project.root / taskcat_config.CONFIG_FILE
    text = wanted(project)
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if args.check:
        if current != text:
            say(f"{taskcat_config.CONFIG_FILE} is out of date: run `python -m codemate_cfn taskcat`")
            return EXIT_ERROR
        say(f"{taskcat_config.CONFIG_FILE} is current")
    elif current != text:
        write_whole(target, text)
        say(f"wrote {taskcat_config.CONFIG_FILE}")
    else:
        say(f"{taskcat_config.CONFIG_FILE} is current")
    if args.stage:
        staged = taskcat_config.stage(project.templates_dir, project.root)
        say(f"staged the built templates in {project.shown(staged)}/")
    return EXIT_OK
