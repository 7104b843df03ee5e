"""Run taskcat's tests (.taskcat.yml) against the local AWS emulator.

Runs in the taskcat environment (`tox -e taskcat`), which cannot install
the emulator's moto: the emulator is `python -m codemate_cfn emulator` run
by another Python (CODEMATE_EMULATOR_PYTHON, else a virtualenv made once
in --emulator-venv with the project's `emulator` extra), as its own
process. For each test, one command each (taskcat 0.9.58 gives every test
of one command every test's tags), on a fresh emulator:

- the emulator starts on a free port of 127.0.0.1 and makes the public
  hosted zone the parameter files name; its ID is passed as HostedZoneId;
- the emulator-only settings stay out of .taskcat.yml: `package_lambda:
  false` (TASKCAT_PROJECT_PACKAGE_LAMBDA, else taskcat wants Docker),
  sig v2 for taskcat's bucket (`--enable-sig-v2`, else the emulator denies
  its uploads under taskcat's bucket policy) and the parameter overrides
  (in a .taskcat_overrides.yml of a scratch working directory);
- the stylesheet taskcat's report downloads from GitHub is served from
  this process (tools/taskcat_report.css);
- taskcat must exit 0, the root stack must have reached CREATE_COMPLETE
  and been deleted, and the report is in taskcat_outputs/<test>/.

`--set TEST:KEY=VALUE` overrides one parameter of one test (to see a
failing run). Exit status: 0 when every test passed, 1 otherwise."""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
CSS = Path(__file__).resolve().parent / "taskcat_report.css"
SHIM = Path(__file__).resolve().parent / "taskcat_shim.py"
REGION = "ap-northeast-2"
DUMMY = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def say(message: str) -> None:
    print(f"taskcat-local: {message}", flush=True)


def emulator_python(venv_dir: Path | None) -> str:
    chosen = os.environ.get("CODEMATE_EMULATOR_PYTHON")
    if chosen:
        return chosen
    if venv_dir is None:
        raise SystemExit("taskcat-local: set CODEMATE_EMULATOR_PYTHON or pass --emulator-venv")
    python = venv_dir / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import moto, codemate_cfn"],
                                             capture_output=True).returncode:
        say(f"making the emulator's environment in {venv_dir} (the project with moto)")
        venv.create(venv_dir, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[emulator]"], check=True)
    return str(python)


class Css(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = CSS.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def css_server() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Css)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/taskcat_reporting.css"


class Emulator:
    def __init__(self, python: str):
        self.process = subprocess.Popen([python, "-m", "codemate_cfn", "emulator"], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = None
        deadline = time.monotonic() + 120
        for line in self.process.stdout:
            if "listening at " in line:
                self.url = line.split("listening at ", 1)[1].strip()
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise SystemExit("taskcat-local: the emulator did not start")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def zone_id(self, name: str) -> str:
        zones = self.client("route53").list_hosted_zones_by_name(DNSName=name + ".")["HostedZones"]
        public = [z["Id"].split("/")[-1] for z in zones
                  if z["Name"] == name + "." and not z.get("Config", {}).get("PrivateZone")]
        if len(public) != 1:
            raise SystemExit(f"taskcat-local: the emulator holds {len(public)} public zones named {name}")
        return public[0]

    def root_stacks(self) -> list[dict]:
        stacks = []
        for page in self.client("cloudformation").get_paginator("list_stacks").paginate():
            stacks += [s for s in page["StackSummaries"] if not s.get("ParentId")]
        return stacks

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def failure_report(out: Path) -> list[str]:
    """Problems with taskcat's report of a run that must fail (empty: it
    says CREATE_FAILED and why)."""
    report = out / "index.html"
    if not report.is_file():
        return [f"no report in {out}"]
    problems = [] if "CREATE_FAILED" in report.read_text(encoding="utf-8") else ["the report shows no CREATE_FAILED"]
    logs = "".join(p.read_text(encoding="utf-8") for p in out.glob("*-cfnlogs.txt"))
    if "ValidationError" not in logs and "FAILED" not in logs:
        problems.append("the stack logs give no reason")
    return problems


def run_test(name: str, test: dict, config: Path, python: str, css_url: str, overrides: dict[str, str],
             outputs: Path, expect_failure: bool = False) -> list[str]:
    """Problems of one test's run (empty: it passed, or with
    `expect_failure`, it failed with taskcat's failure report)."""
    emulator = Emulator(python)
    try:
        params = {}
        zone_name = test.get("parameters", {}).get("HostedZoneName")
        if zone_name and not test["parameters"].get("HostedZoneId"):
            params["HostedZoneId"] = emulator.zone_id(zone_name)
        params.update(overrides)
        say(f"{name}: emulator at {emulator.url}; overrides {params}")
        out = outputs / name
        shutil.rmtree(out, ignore_errors=True)  # this run's report only
        out.mkdir(parents=True)
        with tempfile.TemporaryDirectory(prefix="taskcat-local-") as scratch:
            (Path(scratch) / ".taskcat_overrides.yml").write_text(yaml.safe_dump(params), encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TASKCAT_"))}
            env.update(DUMMY, AWS_ENDPOINT_URL=emulator.url, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
                       TASKCAT_PROJECT_PACKAGE_LAMBDA="false", TASKCAT_CSS_URL=css_url)
            command = [sys.executable, str(SHIM), "test", "run", "--test-names", name, "--enable-sig-v2",
                       "--input-file", str(config), "--project-root", str(ROOT), "--output-directory", str(out)]
            status = subprocess.run(command, cwd=scratch, env=env).returncode
        if expect_failure:
            problems = [] if status else ["taskcat passed a run that had to fail"]
            return problems + failure_report(out)
        problems = []
        if status:
            problems.append(f"taskcat exited with status {status}")
        stacks = emulator.root_stacks()
        created = [s for s in stacks if s["StackStatus"] == "DELETE_COMPLETE"]
        left = [f"{s['StackName']} ({s['StackStatus']})" for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
        if not created:
            problems.append("no root stack was created and deleted")
        if left:
            problems.append(f"stacks left behind: {', '.join(left)}")
        if not (out / "index.html").is_file():
            problems.append(f"no report in {out.relative_to(ROOT)}/")
        return problems
    finally:
        emulator.stop()


def on_aws(names: list[str], config: Path, outputs: Path) -> int:
    """taskcat as it is, one test per command, against the account the
    usual AWS variables or profile name."""
    failed = 0
    for name in names:
        out = outputs / name
        out.mkdir(parents=True, exist_ok=True)
        say(f"{name}: taskcat test run on AWS ({REGION}): a full stack, about 20-40 minutes")
        command = ["taskcat", "test", "run", "--test-names", name, "--input-file", str(config),
                   "--project-root", str(ROOT), "--output-directory", str(out)]
        if subprocess.run(command, cwd=ROOT).returncode:
            failed += 1
            say(f"{name}: FAILED (taskcat's report in {out.relative_to(ROOT)}/)")
        else:
            say(f"{name}: passed; report in {out.relative_to(ROOT)}/")
    say(f"{len(names) - failed} of {len(names)} test(s) passed on AWS")
    return 1 if failed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="tools/taskcat_local.py", description=__doc__.splitlines()[0])
    p.add_argument("--tests", help="comma-separated test names (default: every test in .taskcat.yml)")
    p.add_argument("--emulator-venv", type=Path, help="virtualenv for the emulator, made when needed")
    p.add_argument("--set", action="append", default=[], metavar="TEST:KEY=VALUE",
                   help="override one parameter of one test")
    p.add_argument("--output-directory", type=Path, default=ROOT / "taskcat_outputs")
    p.add_argument("--aws", action="store_true",
                   help="run on real AWS instead (credentials from the usual AWS variables or profile; "
                        "parameter overrides from ./.taskcat_overrides.yml, e.g. HostedZoneId)")
    p.add_argument("--expect-failure", action="store_true",
                   help="pass only when each test fails, with taskcat's report saying CREATE_FAILED "
                        "(to check a broken --set value is caught)")
    args = p.parse_args(argv)
    config = ROOT / ".taskcat.yml"
    tests = yaml.safe_load(config.read_text(encoding="utf-8"))["tests"]
    names = args.tests.split(",") if args.tests else list(tests)
    if args.aws:
        return on_aws(names, config, args.output_directory.resolve())
    sets: dict[str, dict[str, str]] = {}
    for item in args.set:
        test, _, pair = item.partition(":")
        key, eq, value = pair.partition("=")
        if test not in tests or not key or not eq:
            p.error(f"--set {item}: expected TEST:KEY=VALUE with TEST one of {', '.join(tests)}")
        sets.setdefault(test, {})[key] = value
    python = emulator_python(args.emulator_venv)
    css_url = css_server()
    failed = 0
    for name in names:
        if name not in tests:
            p.error(f"no test {name} in .taskcat.yml")
        started = time.monotonic()
        problems = run_test(name, tests[name], config, python, css_url, sets.get(name, {}),
                            args.output_directory.resolve(), args.expect_failure)
        took = time.monotonic() - started
        if problems:
            failed += 1
            for problem in problems:
                say(f"{name}: FAILED: {problem}")
        elif args.expect_failure:
            say(f"{name}: failed as it had to, CREATE_FAILED in taskcat's report in "
                f"{(args.output_directory / name).resolve().relative_to(ROOT)}/ ({took:.1f} s)")
        else:
            say(f"{name}: passed: CREATE_COMPLETE, then deleted; report in "
                f"{(args.output_directory / name).resolve().relative_to(ROOT)}/ ({took:.1f} s)")
    say(f"{len(names) - failed} of {len(names)} test(s) "
        f"{'failed as expected' if args.expect_failure else 'passed'} on the emulator")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
