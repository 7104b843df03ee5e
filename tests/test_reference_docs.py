"""The reference generated from the code (docs/parameters.md,
docs/infrastructure.md, params/parameters.schema.json) is what `docs`
writes from the sources as they are; `docs --check` names what is stale or
missing; every root parameter, with each file's value, and every layer and
resource of the templates, with what each environment creates, is in it."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from functools import lru_cache

import pytest

from codemate_cfn.cli.docs import generated, sources
from codemate_cfn.compile.project import Project
from codemate_cfn.reference import COMMAND, GENERATED
from codemate_cfn.reference import infrastructure, parameters
from codemate_cfn.reference.markdown import code
from layer_values import ENVIRONMENTS, ROOT, Environment, catalogue, param_file, templates

PATHS = [path for path, _ in GENERATED]
STEADY = {"FrontendImageTag": "steady", "BackendImageTag": "steady"}  # what the page takes empty tags as


@lru_cache(maxsize=None)
def made() -> dict[str, str]:
    """Every generated file as the generators make it from the rendered templates."""
    return generated(Project(ROOT), templates())


def cells(line: str) -> list[str]:
    """A Markdown table row's cells, escaped pipes kept inside them."""
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every table of a Markdown page, as rows keyed by the header's cells."""
    found, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("| ---"):
            header, rows = cells(line), []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, cells(row), strict=True)))
            found.append(rows)
    return found


def sections(text: str) -> dict[str, str]:
    """A page's `## name` sections by name."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("path", PATHS)
def test_each_committed_file_is_what_the_generators_make(path):
    assert (ROOT / path).read_text(encoding="utf-8") == made()[path], (
        f"{path} is out of date: run `{COMMAND}`")


def test_the_generated_files_are_the_two_pages_and_the_schema():
    assert PATHS == ["docs/parameters.md", "docs/infrastructure.md", "params/parameters.schema.json"]


# --- docs/parameters.md ---------------------------------------------------------------------------------


def parameter_rows() -> dict[str, dict[str, str]]:
    page = sections(made()[parameters.PAGE])["Parameters"]
    return {row["parameter"].strip("`"): row for rows in tables(page) for row in rows}


def test_every_catalogue_parameter_is_on_the_page_once_with_each_files_value():
    rows = parameter_rows()
    assert list(sorted(rows)) == sorted(catalogue())
    for env in ENVIRONMENTS:
        for name, value in param_file(env).items():
            assert rows[name][env] == code(value), (name, env)


def test_each_row_says_type_allowed_values_default_and_what_it_does():
    rows = parameter_rows()
    assert rows["NatGatewayCount"]["allowed values and checks"] == "`1`, `2`"
    assert rows["NatGatewayCount"]["default"] == "`1`"
    assert rows["EnvironmentName"]["default"] == "required"
    assert rows["DbAllocatedStorage"]["type"] == "Number, whole"
    assert rows["DbAllocatedStorage"]["allowed values and checks"] == "from 20 to 1000"
    assert "pattern `^$|^Z[A-Z0-9]{1,31}$`" in rows["HostedZoneId"]["allowed values and checks"]
    assert "look up the ID of the one public hosted zone named `HostedZoneName`" in \
        rows["HostedZoneId"]["allowed values and checks"]
    assert "inside `VpcCidr`, overlapping no other subnet" in rows["AppSubnet2aCidr"]["allowed values and checks"]
    # a relation check, named with what its function's docstring says
    assert rows["DbMaxAllocatedStorage"]["allowed values and checks"] == (
        "from 0 to 2000; checked against the other parameters' values: RDS refuses an autoscaling ceiling less "
        "than 10% above the allocated storage.")
    assert rows["NatType"]["what it does"].startswith("What the NATs are: gateway")


def test_parameters_are_grouped_by_the_layers_the_root_passes_them_to():
    groups = {heading: names for heading, _, names in parameters.groups(sources(Project(ROOT), templates()))}
    assert groups["network"][:2] == ["VpcCidr", "PublicSubnet2aCidr"]
    assert "InterfaceEndpoints" in groups["security"]
    assert {"EnvironmentName", "DomainName", "LogRetentionDays"} <= set(groups[parameters.SHARED])
    assert sorted(n for names in groups.values() for n in names) == sorted(catalogue())
    shared = parameter_rows()["DbInstanceClass"]["what it does"]
    assert shared.endswith("Used by [data](infrastructure.md#data), "
                           "[observability](infrastructure.md#observability).")


def test_a_value_a_file_leaves_out_is_shown_as_the_default(project_copy):
    dev = project_copy / "params" / "dev.json"
    data = json.loads(dev.read_text())
    del data["Parameters"]["NatInstanceType"], data["Deployment"]["RollbackMonitoringMinutes"]
    dev.write_text(json.dumps(data))

    page = parameters.page(sources(Project(project_copy), templates()))

    row = {r["parameter"]: r for rows in tables(page) for r in rows if "parameter" in r}["`NatInstanceType`"]
    assert (row["dev"], row["prod"]) == ("`t4g.nano` (default)", "`t4g.nano`")
    setting = {r["key"]: r for rows in tables(page) for r in rows if "key" in r}["`RollbackMonitoringMinutes`"]
    assert (setting["dev"], setting["prod"]) == ("`0` (default)", "`10`")


def test_a_no_echo_parameters_value_is_never_shown():
    made_from = sources(Project(ROOT), templates())
    secret = "s3cr3t-value@example.com"
    hidden = dataclasses.replace(made_from.catalogue["AlarmEmail"], no_echo=True, default=secret)
    environments = tuple(dataclasses.replace(env, given={**env.given, "AlarmEmail": secret},
                                             values={**env.values, "AlarmEmail": secret})
                         for env in made_from.environments)
    changed = dataclasses.replace(made_from, catalogue={**made_from.catalogue, "AlarmEmail": hidden},
                                  environments=environments)

    for path, make in GENERATED:
        assert secret not in make(changed), path
    row = {r["parameter"]: r for rows in tables(parameters.page(changed)) for r in rows if "parameter" in r}
    assert row["`AlarmEmail`"]["dev"] == row["`AlarmEmail`"]["default"] == parameters.HIDDEN


def test_tags_and_deployment_are_described_with_each_files_values():
    page = sections(made()[parameters.PAGE])
    tags = {row["tag"]: row for row in tables(page["Tags"])[0]}
    assert tags["`Environment`"]["dev"] == "`dev`" and tags["`Environment`"]["prod"] == "`prod`"
    assert tags["`Project`"]["value"] == "`codemate`" and tags["`Project`"]["required"] == "yes"
    assert "at most 47 tags in a file" in " ".join(page["Tags"].split())
    deployment = {row["key"]: row for row in tables(page["Deployment"])[0]}
    assert deployment["`TerminationProtection`"]["default"] == "`false`"
    assert (deployment["`TerminationProtection`"]["dev"], deployment["`TerminationProtection`"]["prod"]) == (
        "`false`", "`true`")
    assert deployment["`RollbackMonitoringMinutes`"]["type"] == "a whole number of minutes from 0 to 180"
    assert "$schema" in page and "StackPolicy" in page


# --- docs/infrastructure.md -----------------------------------------------------------------------------


def layers() -> list[str]:
    return [name for name in templates() if name != "root"]


def test_every_layer_has_a_section_of_its_own_name_in_the_builds_order():
    assert list(sections(made()[infrastructure.PAGE])) == ["root", *layers()]
    assert layers()[:2] == ["storage", "network"]


def test_each_layer_says_what_it_builds_and_why_from_its_module():
    page = sections(made()[infrastructure.PAGE])
    assert page["network"].lstrip().startswith("**VPC, subnets, internet gateway")
    assert "Network layer: the VPC, six subnets in two AZs" in page["network"]
    assert "The dashboard codemate-\\<env>." in page["observability"]


@pytest.mark.parametrize("template", ["root", *layers()])
def test_every_resource_is_listed_with_what_each_environment_creates(template):
    section = sections(made()[infrastructure.PAGE])[template]
    rows = {row["logical ID"].strip("`"): row for row in tables(section)[0]}
    resources = templates()[template]["Resources"]
    assert sorted(rows) == sorted(resources)
    for logical_id, resource in resources.items():
        row = rows[logical_id]
        assert row["type"] == code(resource["Type"])
        assert row["condition"] == (code(resource["Condition"]) if "Condition" in resource else "–")
        for env in ENVIRONMENTS:
            expected = True if template == "root" else Environment(template, env, **STEADY).exists(logical_id)
            assert row[env] == ("yes" if expected else "no"), (logical_id, env)


def test_resources_that_differ_between_environments_show_it():
    section = sections(made()[infrastructure.PAGE])
    network = {row["logical ID"]: row for row in tables(section["network"])[0]}
    assert (network["`NatInstance2a`"]["dev"], network["`NatInstance2a`"]["prod"]) == ("yes", "no")
    assert (network["`NatGateway2c`"]["dev"], network["`NatGateway2c`"]["prod"]) == ("no", "yes")
    services = {row["logical ID"]: row for row in tables(section["services"])[0]}
    assert services["`BackendService`"]["dev"] == "yes"  # image tags taken as set


def test_each_layers_parameters_come_with_their_source_and_each_files_value():
    section = sections(made()[infrastructure.PAGE])["services"]
    rows = {row["parameter"].strip("`"): row for row in tables(section)[1]}
    assert sorted(rows) == sorted(templates()["services"]["Parameters"])
    assert rows["FargateArchitecture"]["from"] == "root parameter"
    assert (rows["BackendMaxCount"]["dev"], rows["BackendMaxCount"]["prod"]) == ("`2`", "`6`")
    assert rows["AppSubnetIds"]["from"] == "output `AppSubnetIds` of [network](#network)"
    outputs = {row["output"].strip("`"): row for row in tables(section)[2]}
    assert sorted(outputs) == sorted(templates()["services"]["Outputs"])


# --- the command ------------------------------------------------------------------------------------------


@pytest.fixture
def documented(copy_build):
    """A copy of the project with its generated files as committed."""
    for path in PATHS:
        (copy_build.root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, copy_build.root / path)
    return copy_build


def docs(run_main, project: Project, *options: str):
    return run_main("docs", *options, "--project-dir", project.root, "--build-dir", project.build_dir)


def test_check_exits_0_and_writes_nothing_while_every_file_is_current(documented, run_main):
    done = docs(run_main, documented, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "the generated reference is current\n"
    for path in PATHS:
        assert f"- {path}: current" in done.stderr


def test_check_names_a_stale_file_and_the_command_and_leaves_it_as_it_is(documented, run_main):
    page = documented.root / infrastructure.PAGE
    page.write_text(page.read_text() + "edited by hand\n")

    done = docs(run_main, documented, "--check")

    assert done.returncode == 1
    assert done.stdout == f"docs/infrastructure.md is out of date: run `{COMMAND}`\n"
    assert page.read_text().endswith("edited by hand\n")


def test_check_names_a_missing_file_and_docs_writes_it_again(documented, run_main):
    schema = documented.root / "params" / "parameters.schema.json"
    schema.unlink()

    done = docs(run_main, documented, "--check")
    assert done.returncode == 1
    assert done.stdout == f"params/parameters.schema.json is missing: run `{COMMAND}`\n"

    done = docs(run_main, documented)
    assert done.returncode == 0
    assert "- params/parameters.schema.json: written" in done.stderr
    assert schema.read_text() == (ROOT / "params" / "parameters.schema.json").read_text()


def test_docs_follows_a_change_to_a_parameter_file(documented, run_main):
    prod = documented.root / "params" / "prod.json"
    prod.write_text(prod.read_text().replace('"NatGatewayCount": "2"', '"NatGatewayCount": "1"'))

    done = docs(run_main, documented, "--check")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"docs/parameters.md is out of date: run `{COMMAND}`",
                                        f"docs/infrastructure.md is out of date: run `{COMMAND}`"]

    assert docs(run_main, documented).returncode == 0
    rows = {r["logical ID"]: r for r in tables(sections((documented.root / infrastructure.PAGE).read_text())
                                               ["network"])[0]}
    assert rows["`NatGateway2c`"]["prod"] == "no"


def test_a_broken_parameter_file_stops_docs_with_one_line(documented, run_main):
    dev = documented.root / "params" / "dev.json"
    dev.write_text(dev.read_text().replace('"NatGatewayCount": "1"', '"NatGatewayCount": "3"'))

    done = docs(run_main, documented)

    assert done.returncode == 2
    assert f"error: {dev}: Parameters.NatGatewayCount: '3' is not one of the allowed values: 1, 2" in done.stderr
    assert "Traceback" not in done.stderr
