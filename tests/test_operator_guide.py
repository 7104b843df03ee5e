"""The operator's guide runs as written: docs/first-deployment.md,
docs/day-two.md, docs/recovery.md and docs/decisions.md.

The pages' convention:

- Every ```sh block holds commands; ```text blocks show output and are never
  run.
- A ```sh block whose fence comes right after the line `<!-- needs: aws -->`
  needs an AWS account (and for some lines Docker, or a checkout of the
  application). It cannot run here, so every command in it is checked
  instead: `python -m codemate_cfn ...` parses with the command line's own
  parser, `aws SERVICE OPERATION --option ...` names a service, an
  operation (or `wait` and a waiter) and options of botocore's models,
  anything else starts with a tool of KNOWN_TOOLS.
- A ```sh block after `<!-- needs: install -->` installs into the Python
  environment: not run either; it may only make a virtualenv, activate it
  and pip-install this project with extras pyproject.toml declares.
- Every other ```sh block runs: a page's blocks in order in one bash
  (`set -e -o pipefail`, as pasted into one terminal) in a copy of the
  project, with this virtualenv's python first on PATH and no AWS
  credentials. A ```text block right after a block that runs is what that
  block prints: each of its lines but `...` must be among the lines the
  block printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from run_cli import ROOT, copy_project

PAGES = ("first-deployment.md", "day-two.md", "recovery.md", "decisions.md")
AWS, INSTALL = "<!-- needs: aws -->", "<!-- needs: install -->"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.M | re.S)

# Commands in AWS blocks other than `python -m codemate_cfn` and `aws`.
KNOWN_TOOLS = {"curl", "dig", "docker", "git", "cut", "printf", "cat", "rm", "echo", "sleep"}
SHELL_BUILTINS = {"export", "unset"}
# Words that open or close a shell loop or test; the command after one is checked.
SHELL_KEYWORDS = {"until", "while", "if", "then", "else", "do", "done", "fi"}
# The AWS CLI's own options, valid with any operation.
AWS_GLOBAL_OPTIONS = {"--region", "--profile", "--output", "--query", "--no-cli-pager", "--endpoint-url",
                      "--debug", "--no-paginate", "--max-items", "--starting-token", "--page-size", "--cli-input-json"}
# CLI command names that differ from botocore's service names.
AWS_SERVICE_NAMES = {"s3api": "s3", "configservice": "config"}
# Commands the AWS CLI adds itself (customizations, not in botocore's
# models), each with the options it takes.
AWS_CLI_COMMANDS = {
    ("ecr", "get-login-password"): set(),
    ("logs", "tail"): {"--follow", "--since", "--format", "--log-stream-name-prefix"},
}


@dataclass
class Block:
    page: str
    number: int  # 1-based among the page's ```sh blocks
    needs: str | None  # "aws", "install" or None (runs here)
    text: str
    output: str | None  # the ```text block right after it, if any

    def __str__(self) -> str:
        return f"{self.page}, sh block {self.number}"


def page_text(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def blocks(name: str, text: str | None = None) -> list[Block]:
    """The page's ```sh blocks, each with its marker and the output shown after it."""
    text = page_text(name) if text is None else text
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "sh":
            continue
        before = text[:fence.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        needs = {AWS: "aws", INSTALL: "install"}.get(before)
        following = fences[index + 1] if index + 1 < len(fences) else None
        output = (following.group(2) if following and following.group(1) == "text"
                  and not text[fence.end():following.start()].strip() else None)
        found.append(Block(name, len(found) + 1, needs, fence.group(2), output))
    return found


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]


# -- the lines of a block, as the shell reads them ------------------------------------

HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and here-document bodies left out."""
    lines, pending, until = [], "", None
    for raw in text.splitlines():
        if until is not None:
            if raw.strip() == until:
                until = None
            continue
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line, pending = pending + raw, ""
        heredoc = HEREDOC.search(line)
        if heredoc:
            until = heredoc.group(2)
        if line.strip():
            lines.append(line)
    assert not pending and until is None, "a block ends inside a continued line or a here-document"
    return lines


def substitutions(line: str) -> tuple[str, list[str]]:
    """The line with each $(...) replaced by a placeholder, and the commands inside them."""
    out, inner, i = [], [], 0
    while i < len(line):
        if line.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(line) and depth:
                depth += {"(": 1, ")": -1}.get(line[j], 0)
                j += 1
            assert depth == 0, f"unbalanced $( in {line!r}"
            inner.append(line[i + 2:j - 1])
            out.append("SUBSTITUTED")
            i = j
        else:
            out.append(line[i])
            i += 1
    return "".join(out), inner


SEPARATORS = {"|", "||", "&&", ";", "&"}


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line (pipes, lists, $(...) inside it),
    as word lists, without redirections and comments."""
    flat, inner = substitutions(line)
    lexer = shlex.shlex(flat, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found, current, skip = [], [], False
    for token in lexer:
        if skip:
            skip = False
        elif token in SEPARATORS:
            found.append(current)
            current = []
        elif re.fullmatch(r"[<>&]+", token):
            if current and current[-1].isdigit():  # 2> file
                current.pop()
            skip = True
        else:
            current.append(token)
    found.append(current)
    for text in inner:
        found.extend(commands(text))
    return [c for c in found if c]


ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


# -- checking a command that cannot run here ---------------------------------------------

def codemate_problem(args: list[str]) -> str | None:
    """None when `python -m codemate_cfn ARGS` parses, else argparse's words."""
    from codemate_cfn.cli import parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser().parse_args(args)
    except SystemExit as exc:
        return f"the command line refuses it (exit {exc.code}): {err.getvalue().strip()}"
    return None


def _session():
    import botocore.session

    return botocore.session.get_session()


def aws_problem(args: list[str]) -> str | None:
    """None when `aws ARGS` names a service, an operation or waiter and
    options that botocore's models (or the CLI's own commands) have."""
    from botocore import xform_name
    from botocore.exceptions import UnknownServiceError

    if len(args) < 2:
        return "no service and operation"
    command, operation = args[0], args[1]
    options = {a.split("=", 1)[0] for a in args[2:] if a.startswith("--")}
    if (command, operation) in AWS_CLI_COMMANDS:
        unknown = options - AWS_CLI_COMMANDS[(command, operation)] - AWS_GLOBAL_OPTIONS
        return f"unknown option(s) {sorted(unknown)} of aws {command} {operation}" if unknown else None
    service = AWS_SERVICE_NAMES.get(command, command)
    try:
        model = _session().get_service_model(service)
    except UnknownServiceError:
        return f"no AWS service {service!r}"
    if operation == "wait":
        if len(args) < 3:
            return "aws ... wait without a waiter"
        waiters = {xform_name(name, "-"): name for name in _session().get_waiter_model(service).waiter_names}
        if args[2] not in waiters:
            return f"{service} has no waiter {args[2]!r}"
        operation_name = _session().get_waiter_model(service).get_waiter(waiters[args[2]]).operation
        options = {a.split("=", 1)[0] for a in args[3:] if a.startswith("--")}
    else:
        names = {xform_name(name, "-"): name for name in model.operation_names}
        if operation not in names:
            return f"{service} has no operation {operation!r}"
        operation_name = names[operation]
    shape = model.operation_model(operation_name).input_shape
    members = shape.members if shape is not None else {}
    accepted = set()
    for name, member in members.items():
        accepted.add(f"--{xform_name(name, '-')}")
        if member.type_name == "boolean":
            accepted.add(f"--no-{xform_name(name, '-')}")
    unknown = options - accepted - AWS_GLOBAL_OPTIONS
    return f"{service} {operation_name} has no option(s) {sorted(unknown)}" if unknown else None


def command_problem(words: list[str]) -> str | None:
    """What is wrong with one simple command of an AWS block, or None."""
    while words and (ASSIGNMENT.match(words[0]) or words[0] in SHELL_KEYWORDS):
        words = words[1:]
    if not words:
        return None
    tool = words[0]
    if tool in ("python", "python3"):
        if words[1:3] != ["-m", "codemate_cfn"]:
            return "python is only run here as python -m codemate_cfn"
        return codemate_problem(words[3:])
    if tool == "aws":
        return aws_problem(words[1:])
    if tool in SHELL_BUILTINS or tool in KNOWN_TOOLS:
        return None
    return f"{tool!r} is not a known tool (KNOWN_TOOLS)"


def extras() -> set[str]:
    """The extras pyproject.toml declares (read as text: tomllib is Python 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([A-Za-z][\w-]*) *=", section, re.M))


def install_problem(words: list[str]) -> str | None:
    """An install block only makes a virtualenv, activates it and installs this project."""
    if words[:3] in (["python3", "-m", "venv"], ["python", "-m", "venv"]):
        return None
    if words[0] in (".", "source") and len(words) == 2 and words[1].endswith("/bin/activate"):
        return None
    if words[:4] == ["python", "-m", "pip", "install"]:
        for target in [w for w in words[4:] if not w.startswith("-")]:
            found = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
            if not found:
                return f"installs {target!r}, not this project"
            wanted = set((found.group(1) or "").split(",")) - {""}
            if wanted - extras():
                return f"extras {sorted(wanted - extras())} are not in pyproject.toml ({sorted(extras())})"
        return None
    return f"{' '.join(words)!r} is not a virtualenv, activate or pip install of this project"


PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>")


def block_problems(block: Block) -> list[str]:
    check = install_problem if block.needs == "install" else command_problem
    problems = []
    for line in logical_lines(block.text):
        if PLACEHOLDER.search(line):  # the shell reads <name> as a redirection: use "$NAME"
            problems.append(f"{block}: {line.strip()}\n    a <placeholder> does not paste; use a shell variable")
        for words in commands(line):
            problem = check(words)
            if problem:
                problems.append(f"{block}: {line.strip()}\n    {problem}")
    return problems


# -- the pages and their links -------------------------------------------------------

def test_every_page_has_blocks_of_each_kind_it_promises():
    found = {page: {b.needs for b in blocks(page)} for page in PAGES}
    assert {"aws", None} <= found["first-deployment.md"]
    assert "install" in found["first-deployment.md"]
    assert {"aws", None} <= found["day-two.md"]
    assert "aws" in found["recovery.md"]
    for page in PAGES:
        fences = [m.group(1) for m in FENCE.finditer(page_text(page))]
        assert set(fences) <= {"sh", "text", "json"}, f"{page}: fences other than sh, text, json: {fences}"
        if blocks(page):
            assert "needs: aws" in page_text(page).split("\n## ", 1)[0], f"{page}: its intro says nothing of the marker"


@pytest.mark.parametrize("block", [b for b in all_blocks() if b.needs], ids=str)
def test_every_command_that_needs_aws_exists_as_written(block):
    assert not block_problems(block), "\n".join(block_problems(block))


def test_the_checks_catch_a_made_up_command():
    """What a wrong page would say fails: an option, an operation, a service,
    a tool or a command of our own that does not exist."""
    wrong = [
        "python -m codemate_cfn deploy params/dev.json --force-replace",
        "python -m codemate_cfn rollback params/dev.json",
        "python -m codemate_cfn migrate",
        "aws secretsmanager put-secret-value --secret-id x --value y",
        "aws ecs restart-service --cluster c",
        "aws rds wait db-instance-ready --db-instance-identifier x",
        "aws nosuchservice list-things",
        "X=\"$(aws cloudformation describe-stacks --stack codemate-dev)\"",
        "curl -s https://example.com | jq .status",
        "aws ecr get-login-password --password x",
        "aws kms schedule-key-deletion --key-id <key-id>",
        "until aws rds describe-db-instances --db-instance-id x; do sleep 15; done",
    ]
    for line in wrong:
        block = Block("made-up.md", 1, "aws", line + "\n", None)
        assert block_problems(block), f"not caught: {line}"
    right = Block("made-up.md", 1, "aws", "\n".join([
        "export AWS_PROFILE=codemate",
        "aws ecs update-service --cluster c --service s --force-new-deployment --no-cli-pager",
        "aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier a \\",
        "    --target-db-instance-identifier b --no-multi-az --use-latest-restorable-time",
        "ARN=\"$(aws cloudformation describe-stacks --stack-name codemate-dev --query 'Stacks[0].StackId' --output text)\"",
        "aws acm wait certificate-validated --region us-east-1 --certificate-arn \"$ARN\"",
        "python -m codemate_cfn continue-rollback params/dev.json --skip NetworkStack.NatGateway2a",
        "aws ecr get-login-password | docker login --username AWS --password-stdin \"$REGISTRY\"  # a comment",
        "until aws rds describe-db-instances --db-instance-identifier x > /dev/null 2>&1; do sleep 15; done",
    ]) + "\n", None)
    assert block_problems(right) == []
    assert install_problem(["python", "-m", "pip", "install", "-e", ".[emulator]"]) is None
    assert install_problem(["python", "-m", "pip", "install", "-e", ".[nosuchextra]"])
    assert install_problem(["python", "-m", "pip", "install", "requests"])


def test_the_backup_table_of_recovery_md_holds_the_parameter_files_values():
    """Each row of docs/recovery.md that names a parameter gives its dev and
    prod values as params/dev.json and params/prod.json set them."""
    values = {env: json.loads((ROOT / "params" / f"{env}.json").read_text())["Parameters"] for env in ("dev", "prod")}
    rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \| ([^|]*) \|", page_text("recovery.md"), re.M)
    shown = {name: (dev.strip(), prod.strip()) for name, dev, prod in rows if name in values["dev"]}
    assert {"DbBackupRetentionDays", "RedisSnapshotRetentionDays", "DbMultiAz"} <= set(shown)
    for name, (dev, prod) in shown.items():
        assert (dev, prod) == (values["dev"][name], values["prod"][name]), f"{name}: the page says {dev}, {prod}"


def test_each_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        assert f"](docs/{page})" in readme, f"README does not link docs/{page}"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page):
    path = ROOT / "docs" / page
    broken = []
    for target in LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, "\n".join(broken)


# -- running the blocks that need no AWS account ---------------------------------------

def local_blocks(page: str) -> list[Block]:
    return [b for b in blocks(page) if b.needs is None]


def uses_emulator(page: str) -> bool:
    return any(re.search(r"--local\b|codemate_cfn emulator", b.text) for b in local_blocks(page))


def page_params() -> list:
    """A test per page with blocks to run, marked as what it starts."""
    return [pytest.param(page, id=page, marks=[pytest.mark.subprocess]
                         + ([pytest.mark.emulator] if uses_emulator(page) else []))
            for page in PAGES if local_blocks(page)]


MARK = "@@ codemate operator guide: block {}"


def script(runs: list[Block]) -> str:
    parts = ["set -e -o pipefail"]
    for block in runs:
        mark = MARK.format(block.number)
        parts.append(f"echo '{mark}'; echo '{mark}' >&2\n{block.text}")
    return "\n".join(parts) + "\n"


def printed(stream: str, number: int) -> list[str]:
    """The lines a block printed on one stream, between its mark and the next."""
    part = stream.split(MARK.format(number) + "\n", 1)[1] if MARK.format(number) in stream else ""
    return re.split(r"^@@ codemate operator guide: block \d+$", part, maxsplit=1, flags=re.M)[0].splitlines()


def sandbox_env(tmp_path: Path) -> dict[str, str]:
    """This virtualenv's python first, this tree's codemate_cfn, no AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
               AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
               AWS_EC2_METADATA_DISABLED="true")
    return env


@pytest.mark.parametrize("page", page_params())
def test_the_blocks_that_need_no_aws_account_run_and_print_what_the_page_shows(page, tmp_path):
    copy = copy_project(tmp_path / "project")
    shutil.copytree(ROOT / "costs", copy / "costs")
    runs = local_blocks(page)
    process = subprocess.Popen(["bash", "-c", script(runs)], cwd=copy, env=sandbox_env(tmp_path), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever the blocks left running in the background
            os.killpg(process.pid, signal.SIGTERM)
    if process.returncode != 0:
        failed = [b for b in runs if MARK.format(b.number) in out][-1]
        pytest.fail(f"{failed} exited {process.returncode}:\n{failed.text}\n--- stdout\n{out[-3000:]}\n"
                    f"--- stderr\n{err[-3000:]}")
    for block in runs:
        if block.output is None:
            continue
        said = {line.rstrip() for line in printed(out, block.number) + printed(err, block.number)}
        missing = [line for line in block.output.splitlines() if line.strip() != "..." and line.rstrip() not in said]
        assert not missing, (f"{block} does not print these lines the page shows:\n" + "\n".join(missing)
                             + "\n--- it printed\n" + "\n".join(printed(out, block.number)))


# -- the commands of the README and the other pages -------------------------------------

# Pages outside the guide whose ```sh blocks are checked line by line (the
# README's blocks install, test or need an account; adding-a-layer.md has
# a test of its own that runs its blocks).
OTHER_PAGES = ("README.md", "docs/deploy.md", "docs/stateful-resources.md")


def tox_environments() -> set[str]:
    return set(re.findall(r"^\[testenv:([\w-]+)\]", (ROOT / "tox.ini").read_text(encoding="utf-8"), re.M))


def other_page_problem(words: list[str]) -> str | None:
    """A command of the README or another page: an install of this project,
    pytest, a tox environment tox.ini has, or what command_problem takes."""
    if words[:4] == ["python", "-m", "pip", "install"]:
        return install_problem([w for w in words if w != "tox"])
    if words[:3] == ["python", "-m", "pytest"]:
        return None
    if words[0] == "tox":
        named = set(words[words.index("-e") + 1].split(",")) if "-e" in words else set()
        return f"no tox environment {sorted(named - tox_environments())}" if named - tox_environments() else None
    return command_problem(words)


def other_page_problems(page: str, text: str) -> list[str]:
    problems = []
    for block in blocks(page, text):
        for line in logical_lines(block.text):
            if PLACEHOLDER.search(line):
                problems.append(f"{block}: {line.strip()}\n    a <placeholder> does not paste; use a shell variable")
            problems += [f"{block}: {line.strip()}\n    {problem}" for words in commands(line)
                         if (problem := other_page_problem(words))]
    return problems


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_every_command_of_the_readme_and_the_other_pages_is_one_the_tools_take(page):
    assert other_page_problems(page, (ROOT / page).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("line, says", [
    ("python -m codemate_cfn diagram --params params/prod.json --png", "the command line refuses it"),
    ("tox -e scurity", "no tox environment ['scurity']"),
    ('python -m pip install -e ".[docs]" tox', "extras ['docs'] are not in pyproject.toml"),
    ("aws acm wait certificate-validated --certificate-arn <ARN>", "a <placeholder> does not paste"),
])
def test_a_wrong_command_on_another_page_is_caught(line, says):
    (problem,) = other_page_problems("README.md", f"```sh\n{line}\n```\n")
    assert says in problem
