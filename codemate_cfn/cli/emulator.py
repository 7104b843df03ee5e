"""`emulator`: serve the patched local AWS on 127.0.0.1 until Ctrl-C,
holding what the project's parameter files expect an account to hold
before a first deploy (the site's public hosted zone)."""

from __future__ import annotations

import time

from codemate_cfn.cli.common import find_project
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK, CodemateError


def register(sub) -> None:
    p = sub.add_parser("emulator", help="run the local AWS emulator (moto, patched) on 127.0.0.1 until Ctrl-C")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.set_defaults(run=run)


def stand_in_for_the_account(args, url: str, ui: Console) -> None:
    """What each parameter file in params/ looks up in the account, made in
    the emulator; a file that cannot be read is said and skipped."""
    from codemate_cfn import emulator
    from codemate_cfn.compile.discovery import load_catalogue, load_conventions
    from codemate_cfn.deploy import lookups
    from codemate_cfn.deploy.aws import Aws, Target
    from codemate_cfn.params.paramfile import load

    try:
        project = find_project(args)
        catalogue, conventions = load_catalogue(project.root), load_conventions(project.root)
    except CodemateError as exc:
        ui.step(f"no project read, the emulator starts empty: {exc}")
        return
    aws = Aws(Target(region=conventions.regions[0], endpoint_url=url, credentials=emulator.DUMMY_KEYS))
    for path in project.param_files():
        try:
            params = load(path, catalogue, conventions)
        except CodemateError as exc:
            ui.step(f"{project.shown(path)} not read: {str(exc).splitlines()[0]}")
            continue
        lookups.stand_in_for_the_account(aws, params, catalogue, ui)


def run(args) -> int:
    from codemate_cfn import emulator

    ui = Console()
    with emulator.running(args.port) as local:
        stand_in_for_the_account(args, local.url, ui)  # before it says it is ready
        print(f"local AWS emulator (moto, patched) listening at {local.url}", flush=True)
        print(f"use it with --endpoint-url {local.url} (or AWS_ENDPOINT_URL) and any credentials; Ctrl-C stops it",
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("emulator stopped", flush=True)
    return EXIT_OK
