"""The package's dependencies point one way: the command line on top, the
deployer below it, the compiler and the parameter checks below that, small
leaf modules at the bottom; the local emulator is used only by the command
line and the tests."""

from __future__ import annotations

import ast

import pytest
from pathlib import Path

import codemate_cfn

PACKAGE = Path(codemate_cfn.__file__).parent
LEAVES = {"errors", "table", "console", "schemas", "stateful", "tagging", "wildcard_actions", "scanner_skips",
          "readme_sections", "files"}


def imports_of(path: Path) -> set[str]:
    """Every codemate_cfn module a file imports, as dotted names below the package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {n.removeprefix("codemate_cfn.") for n in names if n.startswith("codemate_cfn.")}
    return found


def modules() -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE).with_suffix("")).replace("/", "."): imports_of(p)
            for p in PACKAGE.rglob("*.py")}


def importers_of(prefix: str) -> set[str]:
    return {name for name, imported in modules().items()
            if any(i == prefix or i.startswith(prefix + ".") for i in imported)}


def test_nothing_imports_the_command_line():
    assert importers_of("cli") <= {n for n in modules() if n.startswith("cli") or n == "__main__"}


def test_only_the_command_line_imports_the_emulator():
    assert importers_of("emulator") <= {n for n in modules() if n.startswith(("cli", "emulator"))}


def test_the_compiler_and_the_parameter_checks_never_import_the_deployer():
    below = {n for n in modules() if n.startswith(("compile", "params")) or n == "layer"}
    assert not below & importers_of("deploy")


def test_only_the_security_gate_imports_itself():
    """The security gate (codemate_cfn/security/) sits beside the command
    line: it may read the compiler's layout and the deployer's condition
    evaluator, and nothing of the package depends on it."""
    assert importers_of("security") <= {n for n in modules() if n.startswith("security.")}


def test_only_the_command_line_imports_the_cost_estimate():
    """The cost estimate (codemate_cfn/cost/) sits beside the deployer: it
    reads built templates with the deployer's condition evaluator and
    nothing but the command line depends on it."""
    assert importers_of("cost") <= {n for n in modules() if n.startswith(("cli", "cost."))}


def test_the_cost_estimate_imports_only_the_condition_evaluator_the_environment_view_the_build_layout_and_leaves():
    for name, imported in modules().items():
        if name.startswith("cost."):
            outside = {i for i in imported if not i.startswith("cost")}
            assert outside <= {"compile.layout", "compile.layout.ROOT", "compile.layout.nested_names",
                               "deploy.conditions", "deploy.conditions.Context",
                               "deploy.conditions.parameter_values", "environments", "errors", "errors.InvalidInput",
                               "errors.CodemateError", "table", "table.format_table", "readme_sections",
                               "files", "files.write_whole"}, f"{name} imports {outside}"


def test_the_diagram_reads_the_templates_without_the_deployer_the_gate_or_the_estimate():
    """The diagram (codemate_cfn/diagram/) reads built templates offline: an
    environment's view of them and the condition evaluator, nothing that
    calls AWS or belongs to another command."""
    for name, imported in modules().items():
        if name.startswith("diagram."):
            outside = {i.split(".")[0] for i in imported if not i.startswith("diagram")}
            assert outside <= {"compile", "deploy", "environments", "errors"}, f"{name} imports {outside}"
            assert not {i for i in imported if i.startswith("deploy.") and not i.startswith("deploy.conditions")}


def test_the_security_gate_never_imports_checkov():
    """checkov lives in the security environment alone; the gate runs it as a
    process, so the main suite can test the gate without it."""
    for path in (PACKAGE / "security").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "checkov" for n in names), f"{path.name} imports checkov"


def test_leaf_modules_import_nothing_of_the_package():
    for name, imported in modules().items():
        if name in LEAVES:
            assert not imported, f"{name} imports {imported}"


@pytest.mark.subprocess
def test_the_command_line_keeps_aws_out_of_its_start():
    """A no-op build must start fast: importing the command line loads
    neither the AWS modules nor boto3 (the commands that call AWS import them)."""
    import subprocess
    import sys

    code = ("import sys, codemate_cfn.cli; print(sorted(m for m in sys.modules "
            "if m.startswith(('boto3', 'botocore', 'codemate_cfn.deploy.aws', 'cfnlint'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_layers_import_the_kit_and_the_project_never_another_layer():
    """DESIGN: templates_src/ imports only codemate_cfn.layer and its own
    kit; a layer shares with another through outputs (wiring by name) or
    the kit, never by importing it."""
    from codemate_cfn.compile.discovery import load_layers

    sources = PACKAGE.parent / "templates_src"
    layers = {layer.name for layer in load_layers(PACKAGE.parent)}
    for path in sources.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                first = (node.module or "").split(".")[0]
                assert first not in layers, f"{path.name} imports the {first} layer"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if module.startswith("codemate_cfn"):
                    assert module == "codemate_cfn.layer", f"{path.name} imports {module}"
