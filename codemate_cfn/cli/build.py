"""`build`: render, check and lint every template into build/templates/."""

from __future__ import annotations

from codemate_cfn.cli.common import find_project, progress, say
from codemate_cfn.compile.layout import TEMPLATES_DIR
from codemate_cfn.errors import EXIT_ERROR, EXIT_OK
from codemate_cfn.table import format_table


def register(sub) -> None:
    p = sub.add_parser("build", help="render, check and lint every template into build/templates/")
    p.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    p.set_defaults(run=run)


def template_table(result) -> str:
    rows = [
        [t.name, t.resources, t.parameters, t.outputs, f"{t.bytes:,}", t.sha256[:12]]
        for t in result.templates
    ]
    return format_table(
        ["template", "resources", "parameters", "outputs", "bytes", "sha256"], rows, right={1, 2, 3, 4}
    )


def run(args) -> int:
    from codemate_cfn.compile.build import build
    from codemate_cfn.compile.output import FAILED_DIR

    project = find_project(args)
    result = build(project, force=args.force, progress=progress)
    say(template_table(result))
    where = project.shown(project.templates_dir)
    if result.cached:
        say(f"\nup to date: nothing changed since the last build ({where}/, {result.seconds:.2f} s)")
        return EXIT_OK
    from codemate_cfn.compile.lint import failing  # not imported for a no-op build

    bad = failing(result.findings)  # every finding, informational ones too
    if bad:
        say(f"\ncfn-lint found {len(bad)} problem(s):")
        for finding in bad:
            say(f"  {finding.describe()}")
        failed = project.shown(project.build_dir / FAILED_DIR / TEMPLATES_DIR)
        kept = f"{where}/ keeps the last good build" if project.templates_dir.is_dir() else "no good build yet"
        informational = sum(f.level == "informational" for f in bad)
        say(f"build failed: {sum(f.level == 'error' for f in bad)} error(s), "
            f"{sum(f.level == 'warning' for f in bad)} warning(s)"
            f"{f', {informational} informational' if informational else ''}; "
            f"the failing templates are in {failed}/, {kept}")
        return EXIT_ERROR
    total = sum(t.resources for t in result.templates)
    say(f"\nbuilt {len(result.templates)} templates ({total} resources) into {where}/: "
        f"cfn-lint clean, within CloudFormation limits ({result.seconds:.2f} s)")
    return EXIT_OK
