"""CloudFormation's per-template quotas (1 MB from S3, 500 resources, 200
parameters, 200 outputs) are checked before anything is linted or uploaded."""

from __future__ import annotations

import re

import pytest

from codemate_cfn.compile import limits
from codemate_cfn.compile.build import build
from codemate_cfn.errors import BuildError
from codemate_cfn.compile.limits import check_limits
from codemate_cfn.compile.project import Project
from run_cli import assert_one_line_errors

BULK_LAYER = '''"""A layer of {count} resources, each with {note} bytes of metadata."""

from troposphere.cloudformation import WaitConditionHandle

from codemate_cfn.layer import Layer


def build(t):
    for i in range({count}):
        t.add(WaitConditionHandle(f"Handle{{i}}", Metadata={{"Note": "x" * {note}}}))


LAYER = Layer("bulk", "a layer too big for one template", build)
'''


def template_with(section: str, count: int) -> dict:
    return {section: {f"Item{i}": {} for i in range(count)}}


@pytest.mark.parametrize("section, limit", [("Resources", 500), ("Parameters", 200), ("Outputs", 200)])
def test_a_section_at_its_limit_passes_and_one_more_fails(section, limit):
    assert check_limits("data.json", 100, template_with(section, limit)) == []
    assert check_limits("data.json", 100, template_with(section, limit + 1)) == [
        f"data.json: {limit + 1} {section.lower()} exceeds CloudFormation's limit of {limit}"
    ]


def test_a_template_of_1_mb_passes_and_one_byte_more_fails():
    assert check_limits("services.json", 1_000_000, {}) == []
    assert check_limits("services.json", 1_000_001, {}) == [
        "services.json: 1,000,001 bytes exceeds CloudFormation's 1,000,000-byte template limit"
    ]


def test_every_exceeded_limit_is_reported():
    template = {**template_with("Resources", 501), **template_with("Outputs", 201)}
    assert len(check_limits("edge.json", 2_000_000, template)) == 3


def test_build_names_the_template_over_a_limit(project, rendered, tmp_path, monkeypatch):
    network_resources = len(rendered.templates["network"]["Resources"])
    monkeypatch.setattr(limits, "MAX_RESOURCES", network_resources - 1)

    with pytest.raises(BuildError) as raised:
        build(Project(project.root, output=tmp_path / "out"))

    assert (
        f"network.json: {network_resources} resources exceeds CloudFormation's limit of {network_resources - 1}"
        in str(raised.value).splitlines()
    )
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_layer_over_1_mb_fails_the_build_in_one_line(project_copy, tmp_path, run_main):
    (project_copy / "templates_src" / "bulk.py").write_text(BULK_LAYER.format(count=100, note=10_000))

    done = run_main("--project-dir", project_copy, "--build-dir", tmp_path / "out", "build")

    assert done.returncode == 1
    (error,) = assert_one_line_errors(done)
    assert re.fullmatch(r"bulk\.json: 1,0\d\d,\d\d\d bytes exceeds CloudFormation's 1,000,000-byte template limit", error)


def test_a_layer_with_501_resources_fails_the_build_in_one_line(project_copy, tmp_path, run_main):
    (project_copy / "templates_src" / "bulk.py").write_text(BULK_LAYER.format(count=501, note=1))

    done = run_main("--project-dir", project_copy, "--build-dir", tmp_path / "out", "build")

    # troposphere refuses the 501st resource before the build counts them
    assert done.returncode == 1
    assert assert_one_line_errors(done) == [
        "layer bulk: Maximum number of resources 500 reached (templates_src/bulk.py line 10, ValueError)"
    ]
