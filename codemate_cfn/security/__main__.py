"""`python -m codemate_cfn.security scan|docs`: the security gate.

scan [PARAMS_FILE...]  checkov on the built templates (build/templates, so
                       build first), once per parameter file (default: every
                       file in params/), on copies that default to its
                       values; prints passed / failed / skipped per
                       environment and template and each failed check; exit
                       status 1 on any failed check. Needs checkov: `tox -e
                       security` runs it with the build before it.
docs [--check]         writes docs/security.md (every skip, where it
                       applies, why) from the templates and the parameter
                       files; --check only says whether it is current
                       (exit status 1 when not).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from codemate_cfn.compile.layout import MANIFEST_FILE, ROOT, nested_names, template_file
from codemate_cfn.compile.project import Project
from codemate_cfn.errors import EXIT_ERROR, EXIT_OK, CodemateError
from codemate_cfn.files import write_whole
from codemate_cfn.security.environments import EnvironmentCopy, environment_copy
from codemate_cfn.security.page import COMMAND, PAGE, page
from codemate_cfn.security.scan import read_report, run_checkov, summary


def step(message: str) -> None:
    print(f"- {message}", file=sys.stderr, flush=True)


def built_templates(project: Project) -> dict[str, dict]:
    """The built templates by name, as `build` left them: the root, then
    the layers in deployment order (the manifest's)."""
    directory = project.templates_dir
    root_file = directory / template_file(ROOT)
    if not root_file.is_file():
        raise CodemateError(f"{project.shown(root_file)} is missing: build first (python -m codemate_cfn build)")
    templates = {ROOT: json.loads(root_file.read_text(encoding="utf-8"))}
    nested = list(nested_names(templates[ROOT]).values())
    manifest = project.build_dir / MANIFEST_FILE
    order = json.loads(manifest.read_text(encoding="utf-8")).get("order", []) if manifest.is_file() else []
    for name in sorted(nested, key=lambda n: order.index(n) if n in order else len(order)):
        templates[name] = json.loads((directory / template_file(name)).read_text(encoding="utf-8"))
    return templates


def parameters_of(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("Parameters", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise CodemateError(f"{path}: not a parameter file ({exc}); `python -m codemate_cfn validate` says more") \
            from None


def copies_for(templates: dict[str, dict], files: list[Path]) -> list[EnvironmentCopy]:
    """One copy of the templates per parameter file, named by its stem (dev, prod)."""
    return [environment_copy(path.stem, templates, parameters_of(path)) for path in files]


def write_copies(copies: list[EnvironmentCopy], directory: Path) -> None:
    for env in copies:
        (directory / env.env).mkdir(parents=True, exist_ok=True)
        for name, template in env.templates.items():
            (directory / env.env / template_file(name)).write_text(
                json.dumps(template, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def scan(project: Project, files: list[Path], keep: Path | None) -> int:
    started = time.monotonic()
    templates = built_templates(project)
    copies = copies_for(templates, files)
    step(f"scanning {len(templates)} templates for {len(copies)} parameter file(s) "
         f"({', '.join(env.env for env in copies)}) with checkov")
    for env in copies:
        for at in env.lifted:
            step(f"{env.env}: {at.template}.json {at.logical_id}: {at.skip.check_id} is checked here "
                 f"({at.skip.when} is false)")
    with tempfile.TemporaryDirectory(prefix="codemate-security-") as scratch:
        directory = keep or Path(scratch)
        write_copies(copies, directory)
        report = run_checkov(directory)
        results = read_report(report, directory, {env.env: list(env.templates) for env in copies})
    print(summary(results), flush=True)
    for path in results.unreadable:
        print(f"error: checkov could not read {path}", file=sys.stderr)
    for finding in results.failed:
        print(f"error: {finding.line()}", file=sys.stderr)
    seconds = time.monotonic() - started
    if results.failed or results.unreadable:
        print(f"\n{len(results.failed)} failed check(s) in {len(copies)} environment(s): fix each, or skip it next "
              f"to its resource with the reason (templates_src/kit/scanner.py) ({seconds:.1f} s)", flush=True)
        return EXIT_ERROR
    print(f"\nno failed check in {len(copies)} environment(s): {results.total('passed')} passed, "
          f"{results.total('skipped')} skipped ({PAGE} lists why) ({seconds:.1f} s)", flush=True)
    return EXIT_OK


def docs(project: Project, check: bool) -> int:
    from codemate_cfn.compile.render import render

    templates = render(project).templates
    text = page(templates, copies_for(templates, project.param_files()))
    target = project.root / PAGE
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if check:
        if current == text:
            print(f"{PAGE} is current")
            return EXIT_OK
        print(f"{PAGE} is out of date: run `{COMMAND}`", file=sys.stderr)
        return EXIT_ERROR
    if current != text:
        write_whole(target, text)
        print(f"wrote {PAGE}")
    else:
        print(f"{PAGE} is current")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m codemate_cfn.security",
                                description="The security gate: checkov per environment, and the page of its skips.")
    p.add_argument("--project-dir", type=Path, default=None, help="the project (default: found from here)")
    commands = p.add_subparsers(dest="command", required=True)
    s = commands.add_parser("scan", help="checkov on the built templates, once per parameter file")
    s.add_argument("params_files", nargs="*", type=Path, metavar="PARAMS_FILE",
                   help="parameter files (default: every file in params/)")
    s.add_argument("--build-dir", type=Path, default=None, help="where the build is (default build/)")
    s.add_argument("--copies", type=Path, default=None, metavar="DIR",
                   help="write the environments' copies here and keep them (default: a temporary directory)")
    d = commands.add_parser("docs", help=f"write {PAGE}")
    d.add_argument("--check", action="store_true", help="only say whether it is current (exit 1 when not)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        project = Project.find(args.project_dir)
        if args.command == "scan":
            if args.build_dir is not None:
                project = Project(project.root, args.build_dir.resolve())
            return scan(project, args.params_files or project.param_files(), args.copies)
        return docs(project, args.check)
    except CodemateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
