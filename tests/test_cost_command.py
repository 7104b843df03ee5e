"""`cost` on the command line: the estimate of a parameter file as a table,
Markdown or JSON; two files or two usage files side by side; the README's
tables kept the command's output; one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest

from codemate_cfn.cost import report
from codemate_cfn.cost.estimate import estimate
from codemate_cfn.cost.inputs import PRICE_FILE, USAGE_DIR, load_prices, load_usage
from codemate_cfn.params import paramfile
from layer_values import ROOT, catalogue, conventions, templates
from run_cli import assert_one_line_errors, copy_project, in_process


def committed(env: str) -> str:
    """`cost params/<env>.json --format markdown` worked out here, from the
    rendered templates, as the command prints it."""
    params = paramfile.load(ROOT / "params" / f"{env}.json", catalogue(), conventions())
    given = {**{n: p.default for n, p in catalogue().items() if p.default is not None}, **params.parameters}
    prices = load_prices(ROOT / PRICE_FILE)
    import dataclasses

    prices = dataclasses.replace(prices, path=PRICE_FILE)
    usage_path = USAGE_DIR / f"{params.environment}.json"
    return report.markdown(estimate(templates(), given, load_usage(ROOT / usage_path), prices),
                           report.heading(f"params/{env}.json", usage_path, prices))


@pytest.mark.parametrize("env", report.README_ENVIRONMENTS)
def test_the_readme_shows_the_commands_estimate_of_each_committed_parameter_file(env):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert report.readme_section(readme, env) == committed(env), (
        "README.md's cost table is out of date: run `python -m codemate_cfn cost --write-readme`")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    where = copy_project(tmp_path_factory.mktemp("cost") / "project")
    shutil.copytree(ROOT / "costs", where / "costs")
    shutil.copytree(ROOT / "tests" / "fixtures" / "cost", where / "design")
    return where


def cost(capsys, project, *args):
    return in_process(capsys, "cost", *args, "--project-dir", project)


def test_the_command_prints_the_same_markdown_the_readme_holds(capsys, project):
    done = cost(capsys, project, project / "params" / "dev.json", "--format", "markdown")
    assert done.returncode == 0
    assert done.stdout.strip() == committed("dev")


def test_the_table_shows_totals_the_goal_and_reserved_apart(capsys, project):
    done = cost(capsys, project, project / "design" / "design-prod.json")
    assert done.returncode == 0
    assert "total: $674.56 a month" in done.stdout
    assert "AWS only (external apart), steady state (no free tier, no reserved purchases): $494.56" in done.stdout
    assert "goal: AWS only at most $400.00 a month" in done.stdout and "over by $94.56" in done.stdout
    assert "option, not in the figures above: 1-year reserved" in done.stdout


def test_json_gives_lines_groups_and_totals(capsys, project):
    done = cost(capsys, project, project / "design" / "design-dev.json", "--format", "json")
    data = json.loads(done.stdout)
    assert data["total"] == 198.10 and data["aws_total"] == 178.10
    assert data["groups"]["external"] == 20.00
    assert {"key": "nat_gateway", "group": "network", "item": "NAT gateway", "sizing": "1 gateway",
            "hourly": 0.059, "monthly": 43.07} in data["lines"]


def test_compare_prints_both_with_the_difference_per_line(capsys, project):
    done = cost(capsys, project, "--compare", project / "design" / "design-dev.json",
                project / "design" / "design-prod.json", "--format", "json")
    data = json.loads(done.stdout)
    rows = {row["item"]: row for row in data["lines"]}
    assert rows["total"] == {"item": "total", "a": 198.10, "b": 674.56, "difference": 476.46}
    assert rows["NAT gateway"]["difference"] == pytest.approx(43.07)  # 1 gateway -> 2 (NAT gateways)
    assert rows["RDS backup"] == {"item": "RDS backup", "a": 0.0, "b": 3.50, "difference": 3.50}
    levers = {s["lever"].split()[0]: s["saves"] for s in data["savings_by_lever"]}
    assert levers["DbMultiAz"] == -14.60  # db.t4g.micro twice the hours


def test_compare_two_usage_files(capsys, project, tmp_path):
    more = tmp_path / "more.json"
    more.write_text(json.dumps({**json.loads((ROOT / USAGE_DIR / "dev.json").read_text()), "nat_data_gb": 110}))
    done = cost(capsys, project, project / "design" / "design-dev.json",
                "--usage", project / "costs" / "usage" / "dev.json", "--usage", more)
    assert done.returncode == 0
    row = next(line for line in done.stdout.splitlines() if line.startswith("NAT data"))
    assert row.split()[-1] == "+5.90"  # 100 GB more x $0.059


def test_a_bad_usage_file_is_one_line(capsys, project, tmp_path):
    bad = tmp_path / "usage.json"
    bad.write_text('{"nat_data_gb": -3, "lcus": 1}')
    done = cost(capsys, project, project / "params" / "dev.json", "--usage", bad)
    assert done.returncode == 2
    assert assert_one_line_errors(done) == [f"{bad}: nat_data_gb: must not be negative (-3)",
                                            f"{bad}: lcus: unknown key"]


def test_refresh_prices_stops_in_one_line_when_the_api_is_unreachable(capsys, project, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    done = cost(capsys, project, project / "params" / "dev.json", "--refresh-prices",
                "--pricing-endpoint-url", "http://127.0.0.1:9")
    assert done.returncode == 1
    [line] = assert_one_line_errors(done)
    assert line.startswith("refresh prices: the AWS Price List API (http://127.0.0.1:9) could not be used:")


def test_refresh_prices_writes_what_the_price_list_api_gives_with_its_source(tmp_path):
    import botocore.session
    from botocore.stub import ANY, Stubber

    from codemate_cfn.cost.refresh import refresh

    path = tmp_path / "prices.json"
    path.write_text((ROOT / PRICE_FILE).read_text())
    client = botocore.session.get_session().create_client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    product = {"terms": {"OnDemand": {"X": {"priceDimensions": {"Y": {"pricePerUnit": {"USD": "0.0061"}}}}}}}
    with Stubber(client) as stub:
        for _ in ("t4g.micro", "t4g.nano"):
            stub.add_response("get_products", {"PriceList": [json.dumps(product)]},
                              {"ServiceCode": "AmazonEC2", "Filters": ANY, "MaxResults": 1})
        said = refresh(path, client=client)
    prices = load_prices(path)
    assert prices("nat_instance_hour", "t4g.nano") == 0.0061
    assert prices.table["nat_instance_hour"]["source"].startswith("aws-price-list-api ")
    assert said == f"refresh prices: t4g.micro $0.0061/h, t4g.nano $0.0061/h ({path})"


def test_cost_reads_a_parameter_file_whose_name_makes_no_stack_name(run_main, tmp_path):
    """cost touches no stack: the file's name need not make one."""
    blue = tmp_path / "dev.blue.json"
    blue.write_text((ROOT / "params" / "dev.json").read_text())
    done = run_main("cost", blue, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] > 0
