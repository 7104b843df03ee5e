"""Each project's templates_src/ is imported as a package of its own, so one
process builds any number of projects, each from its own files as they are
now; a layer may be a module or a package, and an error in either is one
line naming the file and line relative to the project."""

from __future__ import annotations

import json
import re
import sys

import pytest

from codemate_cfn.compile import lint
from codemate_cfn.compile.build import build
from codemate_cfn.compile.discovery import load_layers, load_module, package_name
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.render import render
from codemate_cfn.errors import BuildError
from run_cli import copy_project

NETWORK_DESCRIPTION = "VPC, subnets"

PACKAGE_LAYER = {
    "__init__.py": '''"""A layer written as a package: its builder lives in a helper module."""

from codemate_cfn.layer import Layer

from .handles import add_handles

LAYER = Layer("extra", "a layer in a folder", add_handles)
''',
    "handles.py": '''from troposphere.cloudformation import WaitConditionHandle

from .names import NAMES


def add_handles(t):
    for name in NAMES:
        t.add(WaitConditionHandle(name))
''',
    "names.py": 'NAMES = ["FirstHandle", "SecondHandle"]\n',
}


def write_package(project_dir, files: dict[str, str]) -> None:
    folder = project_dir / "templates_src" / "extra"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def build_error(project_dir) -> str:
    with pytest.raises(BuildError) as raised:
        render(Project(project_dir))
    (line,) = str(raised.value).splitlines()
    return line


def test_two_copies_build_in_one_process_each_from_its_own_files(built, tmp_path, monkeypatch):
    source, _ = built
    plain = Project(copy_project(tmp_path / "plain"), output=tmp_path / "plain-out")
    edited = Project(copy_project(tmp_path / "edited"), output=tmp_path / "edited-out")
    for project in (plain, edited):  # start from the session's lint cache: lint only what differs
        (project.build_dir).mkdir()
        (project.build_dir / "lint-cache.json").write_bytes((source.build_dir / "lint-cache.json").read_bytes())
    edit(edited.sources / "network.py", NETWORK_DESCRIPTION, "VPC (edited), subnets")
    linted = []

    def lint_templates(paths, *args):  # what cfn-lint says is not the point here
        linted.append(sorted(p.name for p in paths))
        return lint.Linted([], {p.name: 0.1 for p in paths})

    monkeypatch.setattr(lint, "lint_templates", lint_templates)

    first, second = build(plain), build(edited)

    assert linted == [["network.json"]]
    assert first.info("network").sha256 != second.info("network").sha256
    assert first.info("storage").sha256 == second.info("storage").sha256
    network = [json.loads((p.templates_dir / "network.json").read_text())["Description"] for p in (plain, edited)]
    assert "(edited)" not in network[0] and "(edited)" in network[1]
    assert package_name(plain.root) != package_name(edited.root)


def test_no_project_is_imported_through_sys_path(project_copy):
    before, imported = list(sys.path), set(sys.modules)
    render(Project(project_copy))
    assert sys.path == before
    assert not {name for name in set(sys.modules) - imported if name.split(".")[0] == "templates_src"}
    assert package_name(project_copy) in sys.modules


def test_an_edited_layer_is_picked_up_by_the_next_build_in_the_same_process(project_copy):
    network = project_copy / "templates_src" / "network.py"
    first = render(Project(project_copy)).templates["network"]["Description"]
    edit(network, NETWORK_DESCRIPTION, "VPC, SUBNETS")  # same size, same second: no stale bytecode either
    second = render(Project(project_copy)).templates["network"]["Description"]

    assert NETWORK_DESCRIPTION in first and "VPC, SUBNETS" in second


def test_an_unchanged_project_is_not_imported_again(project_copy):
    first = load_module(project_copy, "network")
    render(Project(project_copy))
    assert load_module(project_copy, "network") is first


def test_a_layer_may_be_a_package_with_helper_modules_imported_relatively(project_copy):
    write_package(project_copy, PACKAGE_LAYER)

    rendered = render(Project(project_copy))

    assert set(rendered.templates["extra"]["Resources"]) == {"FirstHandle", "SecondHandle"}
    assert "extra" in [layer.name for layer in load_layers(project_copy)]


def test_modules_without_a_layer_are_skipped(project_copy):
    helpers = project_copy / "templates_src" / "helpers"
    helpers.mkdir()
    (helpers / "__init__.py").write_text("")
    (helpers / "names.py").write_text("def name(x):\n    return x\n")
    (project_copy / "templates_src" / "notes.py").write_text("REGION = 'ap-northeast-2'\n")
    # the project's own modules without LAYER: project.py, catalogue.py, kit/
    assert (project_copy / "templates_src" / "kit" / "__init__.py").is_file()

    assert [layer.name for layer in load_layers(project_copy)] == [
        "data", "edge", "network", "observability", "pipeline", "security", "services", "storage"]


BROKEN_PACKAGES = {
    "a bug in a helper": (
        {"names.py": 'NAMES = ["FirstHandle", "Second Handle"]\n'},
        r"layer extra: .*\(templates_src/extra/handles\.py line 8, ValueError\)",
    ),
    "a syntax error in a helper": (
        {"names.py": '\nNAMES = ["FirstHandle", "SecondHandle"\n'},
        r"templates_src/extra/names\.py line 2: SyntaxError: '\[' was never closed",
    ),
    "a helper importing a missing module": (
        {"handles.py": "from .absent import NAMES\n"},
        r"templates_src/extra/handles\.py line 1: ModuleNotFoundError: No module named 'templates_src\.extra\.absent'",
    ),
}


@pytest.mark.parametrize("mistake", sorted(BROKEN_PACKAGES))
def test_a_mistake_in_a_layer_package_is_one_line_naming_its_file_and_line(project_copy, mistake):
    changed, expected = BROKEN_PACKAGES[mistake]
    write_package(project_copy, {**PACKAGE_LAYER, **changed})
    line = build_error(project_copy)
    assert re.fullmatch(expected, line), line


def test_a_project_without_templates_src_init_is_one_line(project_copy):
    (project_copy / "templates_src" / "__init__.py").unlink()
    line = build_error(project_copy)
    assert line.startswith("templates_src/__init__.py: not found; templates_src/ must be a package")
