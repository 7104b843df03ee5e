"""`emulator`: serve the patched local AWS on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import time

from codemate_cfn.errors import EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("emulator", help="run the local AWS emulator (moto, patched) on 127.0.0.1 until Ctrl-C")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.set_defaults(run=run)


def run(args) -> int:
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
    return EXIT_OK
