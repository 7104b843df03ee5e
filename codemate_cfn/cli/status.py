"""`status`: stack state, provenance, the change sets waiting on it, last
events, and whether it runs the last local build (read from build/, never
built); --follow streams events until the stack settles; --output json
for scripts."""

from __future__ import annotations

import json

from codemate_cfn.cli.common import connected, find_project, stack_name, stack_options
from codemate_cfn.compile.layout import MANIFEST_FILE
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_ERROR, EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("status", help="stack state, pending change sets, last events, and whether it runs the "
                                      "local build",
                       description="The stack's state, git commit, termination protection, the pending change sets "
                                   "on it (with the commands to execute or discard them), its last events, and "
                                   "whether it runs the local build in build/ (read, never built). Exit status: 0, "
                                   "or with --follow 1 when the stack ends in a failed state; 1 an error.")
    stack_options(p)
    p.add_argument("--follow", action="store_true", help="stream events until the stack reaches a final state "
                                                         "(at once for a stack waiting for review)")
    p.add_argument("--output", choices=("text", "json"), default="text",
                   help="text (default) or one JSON document on stdout")
    p.set_defaults(run=run)


def last_build(project) -> tuple[dict[str, dict] | None, str]:
    """The templates of the last local build, read from build/ (never
    built): those build/manifest.json lists, each with the sha256 the
    manifest gives it. Else None, and why there is nothing to compare with."""
    from codemate_cfn.compile.output import Changed, read_template

    manifest_path = project.build_dir / MANIFEST_FILE
    shown = project.shown(manifest_path)
    try:
        entries = json.loads(manifest_path.read_text())["templates"]
        files = {entry["name"]: (project.build_dir / entry["file"], entry["sha256"]) for entry in entries}
    except FileNotFoundError:
        return None, f"{shown} not found; `python -m codemate_cfn build` makes one"
    except (ValueError, KeyError, TypeError):
        return None, f"{shown} is not a manifest written by build"
    templates = {}
    for name, (path, sha256) in files.items():
        try:
            templates[name] = read_template(path, sha256)
        except FileNotFoundError:
            return None, f"{project.shown(path)}, listed in {shown}, is missing"
        except Changed:
            return None, f"{project.shown(path)} changed since the build that wrote {shown}"
    return templates, ""


def run(args) -> int:
    from codemate_cfn.deploy import events, status
    from codemate_cfn.deploy.flow import Options

    ui = Console()
    templates, why = last_build(find_project(args))
    options = Options(stack_name=stack_name(args), params_path=str(args.params_file), stack_option=args.stack_name)
    with connected(args, ui) as aws:
        final = status.status(aws, options.stack_name, templates, ui, follow=args.follow,
                              poll_seconds=args.poll_seconds, options=options, output=args.output,
                              no_local=f"no local build to compare with ({why})")
    settled = final in events.SUCCEEDED | events.STABLE | {status.REVIEW}
    return EXIT_OK if not args.follow or settled else EXIT_ERROR
