"""`.taskcat.yml` is made from the parameter files by `python -m
codemate_cfn taskcat`; the committed one must be what it would write now."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from codemate_cfn import taskcat_config
from codemate_cfn.cli import main
from codemate_cfn.cli.taskcat import wanted
from codemate_cfn.compile.project import Project

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_taskcat_yml_is_current():
    committed = (ROOT / ".taskcat.yml").read_text(encoding="utf-8")
    assert committed == wanted(Project(ROOT)), "run `python -m codemate_cfn taskcat` and commit .taskcat.yml"


def test_one_test_per_parameter_file_with_its_values_tags_and_the_bucket():
    cfg = yaml.safe_load(wanted(Project(ROOT)))
    assert cfg["project"] == {"name": "codemate", "regions": ["ap-northeast-2"]}
    assert sorted(cfg["tests"]) == ["dev", "prod"]
    for env, test in cfg["tests"].items():
        data = json.loads((ROOT / "params" / f"{env}.json").read_text(encoding="utf-8"))
        params = dict(test["parameters"])
        assert params.pop("TemplatesBucketName") == "$[taskcat_autobucket]"
        assert params.pop("TemplatesKeyPrefix") == "codemate/build/taskcat/"
        assert params == data["Parameters"]
        assert all(isinstance(v, str) for v in params.values())
        assert test["tags"] == data["Tags"]
        assert test["template"] == "build/taskcat/root.json"
    # the emulator-only settings are never committed
    text = (ROOT / ".taskcat.yml").read_text(encoding="utf-8")
    assert "package_lambda" not in text and "s3_enable_sig_v2" not in text


def test_check_fails_on_a_stale_file_and_write_fixes_it(tmp_path, capsys):
    for part in ("templates_src", "params"):
        src = ROOT / part
        for path in src.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = tmp_path / part / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    assert main(["--project-dir", str(tmp_path), "taskcat", "--check"]) == 1
    assert main(["--project-dir", str(tmp_path), "taskcat"]) == 0
    assert main(["--project-dir", str(tmp_path), "taskcat", "--check"]) == 0
    dev = json.loads((tmp_path / "params" / "dev.json").read_text(encoding="utf-8"))
    dev["Parameters"]["DbAllocatedStorage"] = "30"
    (tmp_path / "params" / "dev.json").write_text(json.dumps(dev), encoding="utf-8")
    assert main(["--project-dir", str(tmp_path), "taskcat", "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


def test_stage_copies_the_templates_into_a_plain_directory(tmp_path):
    built = tmp_path / "real" / "templates"
    built.mkdir(parents=True)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "templates").symlink_to(built)  # as build/ links to the current build
    for name in ("root.json", "data.json"):
        (built / name).write_text('{"Resources": {}}', encoding="utf-8")
    staged = taskcat_config.stage(tmp_path / "build" / "templates", tmp_path)
    assert staged == tmp_path / "build" / "taskcat"
    assert not staged.is_symlink()
    assert sorted(p.name for p in staged.iterdir()) == ["data.json", "root.json"]
    (built / "data.json").unlink()
    taskcat_config.stage(tmp_path / "build" / "templates", tmp_path)  # a stale copy goes
    assert sorted(p.name for p in staged.iterdir()) == ["root.json"]
