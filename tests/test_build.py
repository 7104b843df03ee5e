"""`build` writes the root and one template per layer with a manifest, lints
them with cfn-lint, and does nothing at all when nothing it depends on has
changed since the last good build; when something did, cfn-lint runs only on
the templates whose bytes it has not linted before."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codemate_cfn.compile import build as build_module
import codemate_cfn
from codemate_cfn import cli
from codemate_cfn.compile import lint
from codemate_cfn.compile import render
from codemate_cfn.compile.build import build, fingerprint
from codemate_cfn.compile.buildcache import compiler_files
from codemate_cfn.errors import BuildError
from codemate_cfn.compile.lint import Finding, Linted
from codemate_cfn.compile.lintcache import CACHE_FILE as LINT_CACHE
from codemate_cfn.compile.project import Project


class LintSpy:
    """Stands in for lint_templates: records what it was asked to lint, and
    finds `findings` (those of the templates asked)."""

    def __init__(self, findings=()):
        self.calls: list[list[str]] = []
        self.findings = list(findings)

    def __call__(self, paths, worker=None, setup=None, costs=None):
        names = sorted(p.name for p in paths)
        self.calls.append(names)
        return Linted([f for f in self.findings if f.template in names], {name: 0.1 for name in names})


def must_not_run(*args, **kwargs):
    raise AssertionError("a build with nothing changed must not render, start cfn-lint or lint")


def mtimes(project: Project) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in project.build_dir.rglob("*") if p.is_file()}


def test_build_writes_the_root_one_template_per_layer_and_a_manifest(built, rendered):
    project, result = built
    manifest = json.loads((project.build_dir / "manifest.json").read_text())

    assert not result.cached
    assert rendered.order[0] == "storage" and "network" in rendered.order  # real layers, producers first
    assert sorted(p.name for p in project.templates_dir.glob("*.json")) == sorted(
        f"{name}.json" for name in ["root", *rendered.order]
    )
    assert manifest["order"] == rendered.order == result.order
    assert [t["name"] for t in manifest["templates"]] == ["root", *rendered.order]
    for entry in manifest["templates"]:
        data = (project.build_dir / entry["file"]).read_bytes()
        template = json.loads(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        assert entry["resources"] == len(template["Resources"])
        assert entry["parameters"] == len(template.get("Parameters", {}))
        assert entry["outputs"] == len(template.get("Outputs", {}))
        assert data.decode() == render.to_json(rendered.templates[entry["name"]])


def test_the_real_templates_lint_clean(built):
    _, result = built
    assert result.findings == []


@pytest.mark.subprocess
def test_the_cfn_lint_command_line_finds_nothing_in_the_build(built):
    project, _ = built
    templates = sorted(project.templates_dir.glob("*.json"))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # the entry point installed beside this Python
    cfn_lint = cfn_lint if cfn_lint.exists() else shutil.which("cfn-lint")

    done = subprocess.run([str(cfn_lint), "--regions", "ap-northeast-2", "--", *map(str, templates)],
                          capture_output=True, text=True, timeout=120)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert len(templates) >= 4


def test_a_second_build_with_nothing_changed_does_no_work(build_copy, built, monkeypatch):
    before = mtimes(build_copy)
    monkeypatch.setattr(render, "render", must_not_run)
    monkeypatch.setattr(lint, "start_worker", must_not_run)
    monkeypatch.setattr(lint, "lint_templates", must_not_run)

    result = build(build_copy)

    assert result.cached is True
    assert result.templates == built[1].templates
    assert mtimes(build_copy) == before


def test_a_new_tool_version_invalidates_the_cache(build_copy, monkeypatch):
    versions = build_module._tool_versions()
    monkeypatch.setattr(build_module, "_tool_versions", lambda: {**versions, "cfn-lint": "1.99.0"})
    spy = LintSpy()
    monkeypatch.setattr(lint, "lint_templates", spy)

    first = build(build_copy)
    second = build(build_copy)

    assert (first.cached, second.cached) == (False, True)
    assert len(spy.calls) == 1


def test_the_cache_key_covers_sources_parameter_files_and_tools(project_copy, monkeypatch):
    copy = Project(project_copy)
    key = fingerprint(copy)
    assert key == fingerprint(Project(Project.find().root))  # same content, same key

    prod = project_copy / "params" / "prod.json"
    prod.write_text(prod.read_text().replace('"NatGatewayCount": "2"', '"NatGatewayCount": "1"'))
    after_params = fingerprint(copy)
    (project_copy / "templates_src" / "network.py").write_text("# edited\n", encoding="utf-8")
    after_sources = fingerprint(copy)
    kit = project_copy / "templates_src" / "kit" / "parts"
    kit.mkdir(parents=True)
    (kit / "__init__.py").write_text("")
    after_sub_package = fingerprint(copy)
    (kit / "bucket.py").write_text("X = 1\n")
    after_sub_module = fingerprint(copy)
    monkeypatch.setattr(build_module, "_tool_versions", lambda: {"troposphere": "0"})

    assert len({key, after_params, after_sources, after_sub_package, after_sub_module, fingerprint(copy)}) == 6


def test_the_cache_key_covers_custom_rules(project, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tags.py").write_text("# a rule\n")
    with_rules = fingerprint(project, [rules])
    (rules / "tags.py").write_text("# a changed rule\n")

    assert len({fingerprint(project), with_rules, fingerprint(project, [rules])}) == 3


def test_the_cache_key_covers_every_module_of_the_compiler_package(project, tmp_path, monkeypatch):
    names = {str(p.relative_to(Path(codemate_cfn.__file__).parent)) for p in compiler_files()}
    assert {"layer.py", "compile/build.py", "compile/lint.py", "params/paramfile.py", "deploy/flow.py",
            "cli/__init__.py"} <= names

    # A module added anywhere in the package (imported relatively, or not at
    # all) changes the key.
    before = fingerprint(project)
    extra = Path(codemate_cfn.__file__).parent / "compile" / "zz_cache_key_probe.py"
    extra.write_text("VALUE = 1\n")
    try:
        assert fingerprint(project) != before
    finally:
        extra.unlink()
    assert fingerprint(project) == before


def test_editing_a_parameter_file_makes_the_next_build_work_again(copy_build, run_main, monkeypatch):
    command = ["--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "build"]
    assert "up to date" in run_main(*command).stdout  # built from the same content

    prod = copy_build.params_dir / "prod.json"
    prod.write_text(prod.read_text().replace('"NatGatewayCount": "2"', '"NatGatewayCount": "1"'))
    monkeypatch.setattr(lint, "start_worker", must_not_run)  # the templates are the same: nothing to lint
    done = run_main(*command)

    assert done.returncode == 0, done.stderr
    assert "up to date" not in done.stdout
    assert "cfn-lint clean" in done.stdout
    assert "no template changed since it was last linted" in done.stderr


def test_a_forced_build_with_nothing_changed_lints_nothing(build_copy, monkeypatch):
    monkeypatch.setattr(lint, "start_worker", must_not_run)
    monkeypatch.setattr(lint, "lint_templates", must_not_run)

    result = build(build_copy, force=True)

    assert result.cached is False and result.findings == []
    assert (build_copy.build_dir / "cache.json").is_file()


LAYER_DESCRIPTION = 'LAYER = Layer("security", "security groups'


def test_editing_one_layer_lints_that_template_and_the_root_only_if_it_changed(copy_build, monkeypatch):
    security = copy_build.sources / "security.py"
    assert LAYER_DESCRIPTION in security.read_text()
    spy = LintSpy()
    monkeypatch.setattr(lint, "lint_templates", spy)

    security.write_text(security.read_text().replace(LAYER_DESCRIPTION, LAYER_DESCRIPTION + " (edited)"))
    build(copy_build)
    security.write_text(security.read_text() + (
        "\n\n_build = LAYER.build\n\n\ndef _with_output(t):\n    _build(t)\n"
        "    t.output('SecurityEdited', 'yes', 'a new output', root='security_edited')\n\n\n"
        "LAYER = Layer(LAYER.name, LAYER.description, _with_output)\n"))
    build(copy_build)
    build(copy_build, force=True)

    assert spy.calls == [["security.json"], ["root.json", "security.json"]]


def test_a_new_cfn_lint_version_or_changed_rules_lint_everything_again(build_copy, monkeypatch, tmp_path):
    spy = LintSpy()
    monkeypatch.setattr(lint, "lint_templates", spy)
    everything = sorted(p.name for p in build_copy.templates_dir.glob("*.json"))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tags.py").write_text("# a rule\n")

    build(build_copy, force=True)
    build(build_copy, force=True, rules_dirs=(rules,))
    build(build_copy, force=True, rules_dirs=(rules,))
    (rules / "tags.py").write_text("# a changed rule\n")
    build(build_copy, force=True, rules_dirs=(rules,))
    version = build_module.installed_version
    monkeypatch.setattr(build_module, "installed_version",
                        lambda dist: "1.99.0" if dist == "cfn-lint" else version(dist))
    build(build_copy, force=True, rules_dirs=(rules,))

    assert spy.calls == [everything] * 3


@pytest.mark.parametrize("garbage", ["{not json", '["a", "list"]', '{"format": 1}',
                                     "same linter, broken entries"])
def test_a_garbled_lint_cache_means_lint_again(build_copy, monkeypatch, garbage):
    cache = build_copy.build_dir / LINT_CACHE
    if garbage == "same linter, broken entries":
        data = json.loads(cache.read_text())
        data["templates"]["network.json"]["findings"] = [{"template": "network.json", "rule": 3}]
        data["templates"]["root.json"] = "nonsense"
        garbage = json.dumps(data)
    cache.write_text(garbage)
    spy = LintSpy()
    monkeypatch.setattr(lint, "lint_templates", spy)

    build(build_copy, force=True)
    build(build_copy, force=True)

    assert spy.calls == [sorted(p.name for p in build_copy.templates_dir.glob("*.json"))]


@pytest.mark.parametrize("tamper", ["edit a template", "remove the manifest", "add a stray template", "garble the cache"])
def test_touched_build_output_is_rebuilt(build_copy, monkeypatch, tamper):
    network = build_copy.templates_dir / "network.json"
    good = network.read_bytes()
    if tamper == "edit a template":
        network.write_bytes(good + b"\n")
    elif tamper == "remove the manifest":
        (build_copy.build_dir / "manifest.json").unlink()
    elif tamper == "garble the cache":
        (build_copy.build_dir / "cache.json").write_text('["not", "a", "cache"]')
    else:
        (build_copy.templates_dir / "old.json").write_text("{}")
    spy = LintSpy()
    monkeypatch.setattr(lint, "lint_templates", spy)

    result = build(build_copy)

    assert result.cached is False
    assert spy.calls == []  # rewritten as they were linted before
    assert network.read_bytes() == good
    assert (build_copy.build_dir / "manifest.json").is_file()
    assert not (build_copy.templates_dir / "old.json").exists()
    assert build(build_copy).cached is True


def test_a_lint_failure_is_reported_per_finding_and_exits_non_zero(tmp_path, monkeypatch, capsys, project):
    findings = [
        Finding("network.json", "Vpc", "E3012", "error", "Expected type boolean", 40),
        Finding("security.json", "Unused", "W2001", "warning", "Parameter Unused not used.", 3),
        Finding("root.json", "-", "I3011", "informational", "Just so you know", 1),
    ]
    spy = LintSpy(findings)
    monkeypatch.setattr(lint, "lint_templates", spy)
    args = ["--project-dir", str(project.root), "--build-dir", str(tmp_path / "out"), "build"]

    status = cli.main(args)

    out = capsys.readouterr().out
    assert status == 1
    assert "  network.json: Vpc: E3012 (error): Expected type boolean (line 40)" in out.splitlines()
    assert "  security.json: Unused: W2001 (warning): Parameter Unused not used. (line 3)" in out.splitlines()
    assert "  root.json: -: I3011 (informational): Just so you know (line 1)" in out.splitlines()
    assert out.rstrip().endswith(f"build failed: 1 error(s), 1 warning(s), 1 informational; the failing templates "
                                 f"are in {tmp_path / 'out' / 'failed' / 'templates'}/, no good build yet")
    assert not (tmp_path / "out" / "cache.json").exists()
    assert not (tmp_path / "out" / "templates").exists()  # what failed is never where a deploy reads
    # a failed build is never cached; its findings are, per template, so
    # the next build reports them again without linting again
    assert cli.main(args) == 1 and len(spy.calls) == 1
    assert capsys.readouterr().out == out


def test_a_build_that_fails_before_linting_stops_its_lint_worker(tmp_path, project, monkeypatch):
    monkeypatch.setattr("codemate_cfn.compile.limits.MAX_OUTPUTS", 0)

    with pytest.raises(BuildError):
        build(Project(project.root, output=tmp_path / "out"))

    assert multiprocessing.active_children() == []


def test_a_build_directory_written_before_builds_were_switched_is_taken_over(built, tmp_path, monkeypatch):
    source, _ = built
    old = Project(source.root, output=tmp_path / "old")
    shutil.copytree(source.templates_dir, old.templates_dir)  # real files, as builds used to write them
    for name in ("manifest.json", "lint-cache.json"):
        shutil.copy(source.build_dir / name, old.build_dir / name)
    monkeypatch.setattr(lint, "lint_templates", must_not_run)  # the lint cache still answers

    result = build(old)

    assert result.cached is False
    assert all((old.build_dir / name).is_symlink() for name in ("current", "templates", "manifest.json"))
    assert sorted(p.name for p in old.build_dir.iterdir() if p.name.startswith(".")) == [
        os.readlink(old.build_dir / "current")]
    assert build(old).cached is True


def test_a_tool_the_build_needs_but_that_is_not_installed_is_one_line():
    from codemate_cfn.compile.build import installed_version

    with pytest.raises(BuildError, match=r"^no-such-tool is not installed for .*: install the project first "
                                         r"\(python -m pip install -e \.\)$"):
        installed_version("no-such-tool")
