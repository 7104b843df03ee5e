"""`cost`: the monthly estimate of a parameter file from the built
templates (no AWS call), or two side by side with --compare."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from codemate_cfn.cli.common import built_for_file, checked_params, find_project
from codemate_cfn.console import Console
from codemate_cfn.errors import EXIT_OK, InvalidInput
from codemate_cfn.files import write_whole
from codemate_cfn.params.parameter import with_defaults


def register(sub) -> None:
    p = sub.add_parser(
        "cost", help="estimate the monthly cost of a parameter file (or compare two)",
        description="Monthly cost (730 h, USD, ap-northeast-2) per line item and service group, from the built "
                    "templates with the parameter file's values, the price file (costs/prices-ap-northeast-2.json) "
                    "and a usage file (default costs/usage/<environment>.json). No AWS call unless --refresh-prices.",
    )
    p.add_argument("params_file", type=Path, nargs="?", metavar="PARAMS_FILE", help="e.g. params/dev.json")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"),
                   help="two parameter files side by side (or give one PARAMS_FILE and --usage twice)")
    p.add_argument("--usage", action="append", type=Path, default=[], metavar="FILE",
                   help="usage assumptions (default costs/usage/<environment>.json); twice to compare two usage files")
    p.add_argument("--prices", type=Path, default=None, metavar="FILE",
                   help="price file (default costs/prices-ap-northeast-2.json)")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    p.add_argument("--refresh-prices", action="store_true",
                   help="update the price file from the AWS Price List API first (needs credentials)")
    p.add_argument("--write-readme", action="store_true",
                   help="rewrite the README's Cost tables from params/dev.json and params/prod.json (markdown)")
    p.add_argument("--pricing-endpoint-url", default=None, help=argparse.SUPPRESS)
    p.set_defaults(run=run, stack_name=None)


def _inputs(args, ui: Console, params_file: Path):
    """The built templates and the parameter file's values (the catalogue's
    defaults for what it leaves out)."""
    project, templates = built_for_file(args, ui, params_file)
    params, catalogue = checked_params(project, params_file, ui)
    given = with_defaults(catalogue, params.parameters)
    return project, templates, params, given


def run(args) -> int:
    from codemate_cfn.cost import inputs, report
    from codemate_cfn.cost.estimate import estimate, lever_savings

    ui = Console()
    if args.write_readme:
        return write_readme(args, ui)
    files = list(args.compare or ([args.params_file] if args.params_file else []))
    if not files:
        raise InvalidInput("cost: give a PARAMS_FILE, or --compare A B")
    if args.compare and args.params_file:
        raise InvalidInput("cost: --compare A B takes the place of PARAMS_FILE; give one or the other")
    if len(args.usage) > 2 or (len(args.usage) == 2 and args.compare):
        raise InvalidInput("cost: --usage twice compares two usage files for one PARAMS_FILE; "
                           "with --compare A B give it at most once")
    project = find_project(args)

    def shown(path: Path) -> Path:
        try:
            return path.resolve().relative_to(project.root.resolve())
        except ValueError:
            return path

    price_path = args.prices or project.root / inputs.PRICE_FILE
    if args.refresh_prices:
        from codemate_cfn.cost.refresh import refresh

        ui.step(refresh(price_path, endpoint_url=args.pricing_endpoint_url))
    prices = inputs.load_prices(price_path)
    prices = dataclasses.replace(prices, path=shown(price_path))

    def usage_for(params, index: int) -> tuple[dict, Path]:
        path = args.usage[index] if len(args.usage) > index else (
            args.usage[0] if args.usage else project.root / inputs.USAGE_DIR / f"{params.environment}.json")
        return inputs.load_usage(path), path

    def heading(params, usage_path: Path) -> str:
        return report.heading(shown(params.path), shown(usage_path), prices)

    if len(files) == 1 and len(args.usage) < 2:
        _, templates, params, given = _inputs(args, ui, files[0])
        usage, usage_path = usage_for(params, 0)
        result = estimate(templates, given, usage, prices)
        ui.say(report.FORMATS[args.format](result, heading(params, usage_path)))
        return EXIT_OK

    if len(files) == 1:  # one parameter file, two usage files
        _, templates, params, given = _inputs(args, ui, files[0])
        sides = [(given, *usage_for(params, 0)), (given, *usage_for(params, 1))]
        labels = [f"{shown(params.path)} with {shown(sides[0][2])}", f"{shown(params.path)} with {shown(sides[1][2])}"]
    else:
        _, templates, params_a, given_a = _inputs(args, ui, files[0])
        _, templates_b, params_b, given_b = _inputs(args, ui, files[1])
        sides = [(given_a, *usage_for(params_a, 0)), (given_b, *usage_for(params_b, 0))]
        labels = [str(shown(params_a.path)), str(shown(params_b.path))]
    (given_a, usage_a, _), (given_b, usage_b, _) = sides
    a = estimate(templates, given_a, usage_a, prices)
    b = estimate(templates, given_b, usage_b, prices)
    savings = lever_savings(templates, given_a, given_b, usage_a, prices) if given_a != given_b else []
    ui.say(report.compare(a, b, labels[0], labels[1], savings, args.format))
    return EXIT_OK


def write_readme(args, ui: Console) -> int:
    """The README's Cost section: `cost params/<env>.json --format markdown`
    for dev and prod, between the section's markers."""
    from codemate_cfn.cost import inputs, report
    from codemate_cfn.cost.estimate import estimate

    project = find_project(args)
    prices = inputs.load_prices(project.root / inputs.PRICE_FILE)
    prices = dataclasses.replace(prices, path=inputs.PRICE_FILE)
    path = project.root / "README.md"
    readme = path.read_text(encoding="utf-8")
    for env in report.README_ENVIRONMENTS:
        params_file = Path("params") / f"{env}.json"
        _, templates, params, given = _inputs(args, ui, project.root / params_file)
        usage_path = inputs.USAGE_DIR / f"{params.environment}.json"
        text = report.markdown(estimate(templates, given, inputs.load_usage(project.root / usage_path), prices),
                               report.heading(params_file, usage_path, prices))
        if report.readme_section(readme, env) is None:
            raise InvalidInput(f"{path}: no markers for the {env} cost table ({report.readme_markers(env)[0]})")
        readme = report.with_readme_section(readme, env, text)
    write_whole(path, readme)
    ui.step(f"{path}: cost tables written")
    return EXIT_OK
