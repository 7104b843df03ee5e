"""A cfn-lint process kept between builds, so a rebuild after editing one
layer does not pay cfn-lint's start (importing it and loading its rules,
most of a build's time) again.

The first build that lints starts it in the background (a process of its
own session) and lints in its own worker as before; later builds hand it
their templates over a Unix socket. It serves one linter only: the socket's
name carries a key of cfn-lint's version, the rules, their settings and
this code, so a changed linter gets a new process. It exits after ten idle
minutes. Requests and answers are JSON, and the socket lives in a directory
only this user can enter. Any trouble reaching it means "lint here", never
a failed build. CODEMATE_CFN_LINT_DAEMON=0 turns it off.

Run as `python -m codemate_cfn.compile.lintd SOCKET SETUP_JSON`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from codemate_cfn.compile import lint

ENV = "CODEMATE_CFN_LINT_DAEMON"
IDLE_SECONDS = 600.0
CONNECT_SECONDS = 0.5
ANSWER_SECONDS = 300.0
HEADER = struct.Struct(">Q")


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0" and hasattr(socket, "AF_UNIX") and hasattr(os, "getuid")


def address(linter_key: str, folder: Path | None = None) -> Path:
    """The socket of the process serving this linter, for this Python."""
    key = hashlib.sha256((linter_key + "\0" + sys.executable + "\0").encode()
                         + Path(__file__).read_bytes()).hexdigest()[:16]
    return _private_folder(folder) / f"lint-{key}.sock"


def _private_folder(folder: Path | None) -> Path:
    """A directory only this user may enter (so nobody else can talk to the
    process); refused, by OSError, when someone else owns it or it is open."""
    folder = folder or Path(tempfile.gettempdir()) / f"codemate-cfn-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = folder.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise OSError(f"{folder} is not a private directory of this user")
    return folder


def _send(conn: socket.socket, value) -> None:
    data = json.dumps(value).encode()
    conn.sendall(HEADER.pack(len(data)) + data)


def _receive(conn: socket.socket):
    def exactly(size: int) -> bytes:
        chunks = []
        while size:
            chunk = conn.recv(min(size, 1 << 20))
            if not chunk:
                raise EOFError("the other side closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    (size,) = HEADER.unpack(exactly(HEADER.size))
    return json.loads(exactly(size))


def _as_json(results: list) -> list:
    return [batch if isinstance(batch, str) else
            [[name, result if isinstance(result, str) else [asdict(f) for f in result], spent]
             for name, result, spent in batch]
            for batch in results]


def _from_json(results: list) -> list:
    return [batch if isinstance(batch, str) else
            [(name, result if isinstance(result, str) else [lint.Finding(**f) for f in result], spent)
             for name, result, spent in batch]
            for batch in results]


def ask(path: Path, batches: list[list[str]]) -> list | None:
    """The per-batch results of the process at `path`, or None when no
    process answers there (the caller lints itself)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(CONNECT_SECONDS)
            conn.connect(str(path))
            conn.settimeout(ANSWER_SECONDS)
            _send(conn, {"lint": batches})
            return _from_json(_receive(conn))
    except (OSError, EOFError, ValueError, TypeError, KeyError, struct.error):
        return None


def start(path: Path, setup: lint.Setup) -> None:
    """Start the process for `path` in the background (it outlives the build)."""
    arguments = json.dumps({"regions": list(setup.regions), "rules_dirs": list(setup.rules_dirs),
                            "configure": setup.configure, "include": list(setup.include),
                            "mandatory": list(setup.mandatory)})
    subprocess.Popen([sys.executable, "-m", "codemate_cfn.compile.lintd", str(path), arguments],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)


def stop(path: Path) -> bool:
    """Ask the process at `path` to exit; whether one was there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(CONNECT_SECONDS)
            conn.connect(str(path))
            _send(conn, {"stop": True})
            return _receive(conn) == "stopping"
    except (OSError, EOFError, ValueError):
        return False


def _bind(path: Path) -> socket.socket | None:
    """The listening socket, or None when a live process already serves `path`."""
    if ask(path, []) is not None:
        return None
    path.unlink(missing_ok=True)  # left by a process that died
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    return server


def serve(path: Path, setup: lint.Setup, idle_seconds: float = IDLE_SECONDS) -> None:
    from cfnlint.runner import Runner

    runner = Runner(lint._config([], setup))  # the rules load once, here
    server = _bind(path)
    if server is None:
        return
    server.settimeout(idle_seconds)
    try:
        while True:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                return
            with conn:
                conn.settimeout(ANSWER_SECONDS)
                try:
                    request = _receive(conn)
                    if request.get("stop"):
                        _send(conn, "stopping")
                        return
                    _send(conn, _as_json(lint._lint_batches(runner, request["lint"], setup)) if request["lint"] else [])
                except (OSError, EOFError, ValueError, KeyError, TypeError):
                    continue  # a client that went away or spoke nonsense: serve the next
    finally:
        server.close()
        path.unlink(missing_ok=True)


def main(argv: list[str]) -> None:
    path, arguments = Path(argv[0]), json.loads(argv[1])
    serve(path, lint.Setup(regions=tuple(arguments["regions"]), rules_dirs=tuple(arguments["rules_dirs"]),
                           configure=arguments["configure"], include=tuple(arguments["include"]),
                           mandatory=tuple(arguments["mandatory"])))


if __name__ == "__main__":
    main(sys.argv[1:])
