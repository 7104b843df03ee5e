"""The architecture diagram read from the built templates: what each
environment's parameter file makes (counts, optional parts, figures), the
edges that matter, the Mermaid and DOT it is written as, the README's copy,
and the `diagram` command with and without Graphviz."""

from __future__ import annotations

import os
import stat
from xml.etree import ElementTree
from pathlib import Path

import pytest

from codemate_cfn.cli import diagram as diagram_command
from codemate_cfn.diagram import model, render
from codemate_cfn.diagram.dot import dot
from codemate_cfn.diagram.mermaid import mermaid
from codemate_cfn.params.parameter import with_defaults
from layer_values import ROOT, catalogue, param_file, templates
from run_cli import assert_one_line_errors

REGION = "ap-northeast-2"


def of(env: str, **changed: str) -> model.Diagram:
    """The diagram of params/<env>.json, with `changed` values over the file's."""
    given = with_defaults(catalogue(), {**param_file(env), **changed})
    return model.of_parameter_file(templates(), env, f"params/{env}.json", given, REGION)


def every_part() -> model.Diagram:
    return model.of_every_part(templates(), REGION)


def ids(diagram: model.Diagram, kind: str) -> list[str]:
    return [n.id for n in diagram.of_type(kind)]


def edges(diagram: model.Diagram, kind: str | None = None) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in diagram.edges if kind is None or e.kind == kind}


def label(diagram: model.Diagram, source: str, target: str) -> str:
    return next(e.label for e in diagram.edges if (e.source, e.target) == (source, target))


# -- what each environment makes -----------------------------------------------


def test_every_layer_is_a_box_of_its_own_in_the_order_the_build_renders_them():
    assert every_part().layers == ["storage", "network", "security", "data", "edge", "services", "observability",
                                   "pipeline"]


def test_prod_has_a_nat_gateway_per_az_and_each_app_subnet_routes_to_its_own():
    prod = of("prod")
    assert ids(prod, "AWS::EC2::NatGateway") == ["network_NatGateway2a", "network_NatGateway2c"]
    assert ids(prod, "AWS::EC2::Instance") == []
    assert {("network_AppSubnet2a", "network_NatGateway2a"),
            ("network_AppSubnet2c", "network_NatGateway2c")} <= edges(prod, "egress")
    assert ("network_AppSubnet2c", "network_NatGateway2a") not in edges(prod)


def test_dev_has_one_nat_instance_that_both_app_subnets_route_through():
    dev = of("dev")
    assert ids(dev, "AWS::EC2::NatGateway") == []
    assert ids(dev, "AWS::EC2::Instance") == ["network_NatInstance2a"]
    assert {("network_AppSubnet2a", "network_NatInstance2a"),
            ("network_AppSubnet2c", "network_NatInstance2a")} <= edges(dev, "egress")
    assert dev.node("network_NatInstance2a").details == ("codemate-nat-instance-2a-dev", "t4g.nano")


def test_the_subnets_are_boxed_by_tier_with_their_az_and_cidr():
    prod = of("prod")
    subnets = prod.of_type("AWS::EC2::Subnet")
    assert {n.group for n in subnets} == {"public subnets", "app subnets", "db subnets"}
    assert prod.node("network_DbSubnet2c").details == ("ap-northeast-2c", "10.0.22.0/24")


def test_the_figures_are_the_parameter_files_values():
    prod, dev = of("prod"), of("dev")
    assert prod.node("data_Database").details == ("codemate-db-prod", "db.t4g.small", "Multi-AZ · 50 GB",
                                                  "in 2 db subnets")
    assert dev.node("data_Database").details[2].startswith("single-AZ")
    assert prod.node("services_BackendService").details[1:] == (
        "2 task(s) · cpu 1024 · memory 2048", "scales 2 to 6", "in 2 app subnets")
    # a value changed in the file shows: nothing in the diagram is written by hand
    assert of("prod", BackendDesiredCount="4", BackendMaxCount="9").node("services_BackendService").details[1:] == (
        "4 task(s) · cpu 1024 · memory 2048", "scales 2 to 9", "in 2 app subnets")


def test_what_runs_in_the_vpc_says_which_subnets_it_is_placed_in():
    prod = of("prod")
    assert prod.node("edge_LoadBalancer").details[-1] == "in 2 public subnets"
    assert prod.node("data_Redis").details[-1] == "in 2 db subnets"
    assert prod.node("services_FrontendService").details[-1] == "in 2 app subnets"
    endpoints = of("prod", InterfaceEndpoints="true").of_type("AWS::EC2::VPCEndpoint")
    assert {n.details[-1] for n in endpoints if n.title == "Interface endpoint"} == {"in 2 app subnets"}


def test_cloudfront_is_drawn_only_where_the_file_turns_it_on():
    assert ids(of("prod"), "AWS::CloudFront::Distribution") == []
    with_cdn = of("prod", EnableCloudFront="true",
                  CloudFrontCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/"
                                           "11111111-2222-3333-4444-555555555555")
    assert ids(with_cdn, "AWS::CloudFront::Distribution") == ["edge_Distribution"]
    traffic = edges(with_cdn, "traffic")
    assert {("internet", "edge_SiteRecord"), ("edge_SiteRecord", "edge_Distribution"),
            ("edge_Distribution", "edge_OriginRecord"), ("edge_OriginRecord", "edge_LoadBalancer"),
            ("edge_Distribution", "storage_StaticBucket")} <= traffic
    assert ("edge_SiteRecord", "edge_LoadBalancer") not in traffic  # the site's record now names CloudFront


def test_services_left_out_for_want_of_an_image_are_drawn_as_once_deployed_and_the_diagram_says_so():
    prod = of("prod")
    assert ids(prod, "AWS::ECS::Service") == ["services_BackendService", "services_FrontendService"]
    assert prod.notes == [
        "FrontendImageTag is empty in params/prod.json: its service is drawn as once its image is deployed",
        "BackendImageTag is empty in params/prod.json: its service is drawn as once its image is deployed"]
    assert of("prod", FrontendImageTag="abc1234", BackendImageTag="abc1234").notes == []


# -- the edges that matter -------------------------------------------------------


def test_traffic_goes_from_the_internet_through_the_load_balancer_to_the_services():
    prod = of("prod")
    assert {("internet", "edge_SiteRecord"), ("edge_SiteRecord", "edge_LoadBalancer"),
            ("edge_LoadBalancer", "edge_FrontendTargetGroup"), ("edge_LoadBalancer", "edge_BackendTargetGroup"),
            ("edge_FrontendTargetGroup", "services_FrontendService"),
            ("edge_BackendTargetGroup", "services_BackendService")} <= edges(prod, "traffic")
    assert label(prod, "edge_LoadBalancer", "edge_BackendTargetGroup") == "HTTPS 443 /api/*, /socket.io/*"
    assert label(prod, "edge_LoadBalancer", "edge_FrontendTargetGroup") == "HTTPS 443 default"


def test_the_backend_reaches_the_database_cache_files_and_secrets_and_the_frontend_only_its_secrets():
    uses = edges(of("prod"), "uses")
    assert {("services_BackendService", "data_Database"), ("services_BackendService", "data_Redis"),
            ("services_BackendService", "storage_FilesBucket"),
            ("services_BackendService", "data_Secrets_Manager")} <= uses
    assert {t for s, t in uses if s == "services_FrontendService"} == {"data_Secrets_Manager"}


def test_security_group_allowances_are_drawn_with_their_ports():
    prod = of("prod")
    allows = {(e.source, e.target): e.label for e in prod.edges if e.kind == "allows"}
    assert allows == {
        ("internet", "security_AlbSecurityGroup"): "tcp 443; tcp 80",
        ("security_AlbSecurityGroup", "security_EcsSecurityGroup"): "tcp 3000; tcp 3001",
        ("security_EcsSecurityGroup", "security_RdsSecurityGroup"): "tcp 5432",
        ("security_EcsSecurityGroup", "security_RedisSecurityGroup"): "tcp 6379",
    }


def test_delivery_runs_from_github_through_the_pipeline_and_repositories_to_the_services():
    delivery = edges(of("prod"), "delivery")
    assert {("github", "pipeline_GitHubConnection"), ("pipeline_GitHubConnection", "pipeline_Pipeline"),
            ("pipeline_Pipeline", "pipeline_FrontendBuild"), ("pipeline_FrontendBuild", "storage_FrontendRepository"),
            ("storage_FrontendRepository", "services_FrontendService"),
            ("storage_BackendRepository", "services_BackendService"),
            ("pipeline_Pipeline", "services_BackendService")} <= delivery
    # each service pulls its own image only
    assert ("storage_BackendRepository", "services_FrontendService") not in delivery
    assert of("prod").node("pipeline_Pipeline").details[1] == "Source → Build → Approval → Deploy"
    assert of("dev").node("pipeline_Pipeline").details[1] == "Source → Build → Deploy"


def test_every_part_marks_what_hangs_on_a_condition_and_shows_parameters_for_figures():
    every = every_part()
    assert every.node("network_NatGateway2c").condition == "SecondNatGateway"
    assert every.node("edge_Distribution").condition == "CloudFrontEnabled"
    assert every.node("network_Vpc").condition == ""
    assert every.node("network_Vpc").details == ("${VpcCidr}",)
    assert next(e for e in every.edges if e.target == "edge_Distribution").conditional
    for node in every.nodes:  # undecided choices are left out of a label, never printed raw
        assert not any("Fn::" in d or "object at" in d for d in node.details), node


def test_a_new_layer_is_drawn_as_its_own_box_without_a_change_to_the_diagram():
    made = dict(templates())
    made["notice"] = {"Resources": {"NoticeTopic": {"Type": "AWS::SNS::Topic",
                                                    "Properties": {"TopicName": "codemate-notice"}}}}
    made["root"] = {**made["root"], "Resources": {**made["root"]["Resources"], "NoticeStack": {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": {"Fn::Sub": "https://b.s3.${AWS::Region}.${AWS::URLSuffix}/p/notice.json"}}}}}
    drawn = model.of_every_part(made, REGION)
    assert drawn.layers[-1] == "notice"
    assert drawn.node("notice_NoticeTopic").details == ("codemate-notice",)


def test_a_layer_of_types_the_diagram_does_not_draw_still_has_its_box_saying_what_it_holds():
    made = dict(templates())
    made["queues"] = {"Resources": {
        "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "JobsPolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {}}}}
    made["root"] = {**made["root"], "Resources": {**made["root"]["Resources"], "QueuesStack": {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": {"Fn::Sub": "https://b.s3.${AWS::Region}.${AWS::URLSuffix}/p/queues.json"}}}}}
    drawn = model.of_every_part(made, REGION)
    assert drawn.layers[-1] == "queues"
    node = drawn.node("queues_resources")
    assert (node.title, node.details) == ("3 resources", ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy"))


# -- how it is written -------------------------------------------------------------


def test_the_mermaid_declares_every_node_once_in_its_layers_box_and_only_declared_nodes_in_edges():
    prod = of("prod")
    text = mermaid(prod, "test")
    lines = text.splitlines()
    assert lines[2] == "flowchart LR"
    declared = [line.strip().split("[")[0].split("(")[0] for line in lines
                if line.startswith("  ") and ("[\"" in line or "([" in line or "[(" in line)
                and not line.strip().startswith("subgraph")]
    assert sorted(declared) == sorted(n.id for n in prod.nodes)
    assert [line.strip() for line in lines if line.strip().startswith("subgraph layer_")] == [
        f'subgraph layer_{layer}["{layer}"]' for layer in prod.layers]
    assert sum(1 for line in lines if "==>" in line or "-->" in line or "-.->" in line) == len(prod.edges)
    assert text.count("subgraph") == text.count("\n    end") + text.count("\n  end")


def test_mermaid_labels_cannot_break_out_of_their_quotes():
    node = model.Node("x_Y", "x", 'A "quoted" #1 <b>', ("a & b",))
    text = mermaid(model.Diagram("t", ["x"], [node], []), "test")
    assert 'x_Y["<b>A #quot;quoted#quot; #35;1 #lt;b#gt;</b><br/>a #amp; b"]' in text


def test_conditional_parts_are_dashed_in_both_languages():
    every = every_part()
    assert "class " in mermaid(every, "t") and "edge_Distribution" in mermaid(every, "t").split("class ")[-1]
    assert 'style="rounded,dashed"' in dot(every, "t")


def test_the_dot_holds_the_same_nodes_and_edges():
    import pygraphviz  # installed with the test extra

    prod = of("prod")
    graph = pygraphviz.AGraph(string=dot(prod, "test"))
    assert sorted(graph.nodes()) == sorted(n.id for n in prod.nodes)
    assert sorted(graph.edges()) == sorted((e.source, e.target) for e in prod.edges)
    assert sorted(s.name for s in graph.subgraphs()) == sorted(f"cluster_{layer}" for layer in prod.layers)


def test_the_readme_shows_the_diagram_prod_deploys():
    from codemate_cfn import readme_sections
    from codemate_cfn.diagram.mermaid import LEGEND

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    source = "generated by `python -m codemate_cfn diagram --params params/prod.json` from the built templates"
    expected = f"```mermaid\n{mermaid(of('prod'), source)}```\n\n{LEGEND}."
    assert readme_sections.read(readme, diagram_command.README_SECTION, diagram_command.README_COMMAND) == expected, (
        "README.md's architecture diagram is out of date: run `python -m codemate_cfn diagram --write-readme`")


# -- the command ---------------------------------------------------------------------


def stand_in_dot(where: Path, script: str) -> Path:
    """A `dot` program on a PATH of its own: `script` is its shell body."""
    where.mkdir()
    path = where / "dot"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return where


@pytest.mark.subprocess
def test_diagram_draws_svg_and_png_with_pygraphviz_when_there_is_no_dot(copy_build, run_main, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir,
                    "diagram", "--params", copy_build.root / "params" / "dev.json")
    assert done.returncode == 0, done.stderr
    out = copy_build.build_dir
    assert done.stdout.split() == [str(out / f"architecture-dev.{s}") for s in ("mmd", "dot", "svg", "png")]
    assert "drawing SVG and PNG with pygraphviz" in done.stderr
    words = list(ElementTree.parse(out / "architecture-dev.svg").getroot().itertext())
    assert "codemate-nat-instance-2a-dev" in words and "codemate-alb-dev" in words
    assert (out / "architecture-dev.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "flowchart LR" in (out / "architecture-dev.mmd").read_text()
    assert not list(out.glob(".*partial*"))


@pytest.mark.subprocess
def test_diagram_uses_graphvizs_dot_where_it_is_on_path(copy_build, run_main, tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    bin_dir = stand_in_dot(tmp_path / "bin", f'echo "$@" >> {calls}\nprintf drawn > "$3"\nprintf drawn > "$6"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "diagram")
    assert done.returncode == 0, done.stderr
    out = copy_build.build_dir
    svg, png, source = (out / "architecture.svg", out / "architecture.png", out / "architecture.dot")
    assert calls.read_text().splitlines() == [  # laid out once, both formats written
        f"-Tsvg -o {out / '.architecture.partial.svg'} -Tpng -o {out / '.architecture.partial.png'} {source}"]
    assert svg.read_text() == png.read_text() == "drawn"


@pytest.mark.subprocess
def test_a_drawing_that_fails_is_one_line_and_leaves_the_last_good_picture(copy_build, run_main, tmp_path,
                                                                           monkeypatch):
    out = copy_build.build_dir
    (out / "architecture.svg").write_text("the last good one")
    bin_dir = stand_in_dot(tmp_path / "bin", 'printf half > "$3"\necho "Error: syntax error in line 3" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = run_main("--project-dir", copy_build.root, "--build-dir", out, "diagram")
    assert done.returncode != 0
    assert assert_one_line_errors(done) == [
        f"{out / 'architecture.svg'}: dot could not draw {out / 'architecture.dot'} (exit 1): "
        "Error: syntax error in line 3"]
    assert (out / "architecture.svg").read_text() == "the last good one"
    assert not list(out.glob(".*partial*"))


def test_without_graphviz_the_mermaid_is_written_and_the_command_says_how_to_get_pictures(copy_build, run_main,
                                                                                          monkeypatch):
    monkeypatch.setattr(render, "renderer", lambda: None)
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir,
                    "diagram", "--params", copy_build.root / "params" / "prod.json")
    assert done.returncode == 0, done.stderr
    assert f"- {render.NOT_INSTALLED}" in done.stderr.splitlines()
    assert done.stdout.split() == [str(copy_build.build_dir / f"architecture-prod.{s}") for s in ("mmd", "dot")]
    assert "network_NatGateway2c" in (copy_build.build_dir / "architecture-prod.mmd").read_text()


def test_a_parameter_file_that_is_not_there_is_one_line_naming_it(copy_build, run_main):
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir,
                    "diagram", "--params", copy_build.root / "params" / "nope.json")
    assert done.returncode != 0
    [line] = assert_one_line_errors(done)
    assert "nope.json" in line


def test_write_readme_refuses_a_readme_without_the_markers(copy_build, run_main):
    (copy_build.root / "README.md").write_text("# a README without the diagram's markers\n")
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "diagram",
                    "--write-readme")
    assert done.returncode != 0
    assert assert_one_line_errors(done) == [
        f"{copy_build.root / 'README.md'}: no markers for the architecture diagram "
        "(<!-- architecture prod: generated by `python -m codemate_cfn diagram --write-readme`; do not edit -->)"]


def test_write_readme_fills_the_markers_with_prods_diagram(copy_build, run_main):
    from codemate_cfn import readme_sections

    readme = copy_build.root / "README.md"
    section, command = diagram_command.README_SECTION, diagram_command.README_COMMAND
    readme.write_text("# title\n\n" + readme_sections.block(section, command, "old") + "\n\n## next\n")
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "diagram",
                    "--write-readme")
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert text.startswith("# title\n\n") and text.endswith("\n\n## next\n")
    drawn = readme_sections.read(text, section, command)
    assert drawn.startswith("```mermaid\n") and "network_NatGateway2c" in drawn and "old" not in drawn


@pytest.mark.subprocess
def test_a_drawing_that_hangs_is_stopped_with_one_line_and_no_half_file(copy_build, run_main, tmp_path, monkeypatch):
    out = copy_build.build_dir
    bin_dir = stand_in_dot(tmp_path / "bin", 'printf half > "$3"\nexec sleep 30\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(render, "TIMEOUT_SECONDS", 1)
    done = run_main("--project-dir", copy_build.root, "--build-dir", out, "diagram")
    assert done.returncode != 0
    assert assert_one_line_errors(done) == [f"{out / 'architecture.svg'}: dot took longer than 1 s; nothing written"]
    assert not (out / "architecture.svg").exists() and not list(out.glob(".*partial*"))


def test_an_output_directory_that_is_a_file_is_one_line_naming_it(copy_build, run_main, tmp_path):
    (tmp_path / "taken").write_text("a file")
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "diagram",
                    "--output-dir", tmp_path / "taken")
    assert done.returncode != 0
    [line] = assert_one_line_errors(done)
    assert str(tmp_path / "taken") in line


def test_a_parameter_file_whose_name_makes_no_stack_name_is_drawn_all_the_same(copy_build, run_main, tmp_path,
                                                                                 monkeypatch):
    """diagram touches no stack: the file's name need not make one (deploy's would be codemate-dev.blue)."""
    monkeypatch.setattr(render, "renderer", lambda: None)
    blue = tmp_path / "dev.blue.json"
    blue.write_text((copy_build.root / "params" / "dev.json").read_text())
    done = run_main("--project-dir", copy_build.root, "--build-dir", copy_build.build_dir, "diagram", "--params", blue)
    assert done.returncode == 0, done.stderr
    assert "CodeMate on AWS: dev (" in (copy_build.build_dir / "architecture-dev.mmd").read_text()
