"""Root parameter values a deploy looks up in the account when the
parameter file leaves them empty, so account-specific IDs stay out of git.

`LOOKUPS` maps a catalogue kind (Param.kind) to the function that finds the
value: it takes the Aws, the parameter and every known parameter value,
and returns what it found, or raises NotFound saying why there is no one
answer. Only `deploy` and `plan` look values up (flow.stack_parameters);
`validate` stays offline and takes the empty value as it is."""

from __future__ import annotations

from dataclasses import dataclass

from codemate_cfn.errors import CodemateError, InvalidInput
from codemate_cfn.params.parameter import Param, with_defaults
from codemate_cfn.params.reading import file_label


@dataclass(frozen=True)
class Found:
    value: str
    what: str  # what the value is, for the progress line: "public hosted zone code1398.io"


class NotFound(Exception):
    """The account holds no single answer; the message completes
    "<file>: Parameters.<name> is empty and ..."."""


def zones_named(route53, dns_name: str) -> list[dict]:
    """Every hosted zone named `dns_name` (ending in a dot), public or
    private. ListHostedZonesByName lists zones in name order from the name
    asked for, a page at a time: the pages go on while the next zone still
    has that name."""
    found, more = [], {}
    while True:
        page = route53.list_hosted_zones_by_name(DNSName=dns_name, **more)
        found += [zone for zone in page["HostedZones"] if zone["Name"].lower() == dns_name]
        if not page.get("IsTruncated") or page.get("NextDNSName", "").lower() != dns_name:
            return found
        more = {"HostedZoneId": page["NextHostedZoneId"]}


def zone_id(zone: dict) -> str:
    """"/hostedzone/Z0123456789ABC" -> "Z0123456789ABC"."""
    return zone["Id"].rsplit("/", 1)[-1]


def public_hosted_zone(aws, param: Param, values: dict[str, str]) -> Found:
    """The ID of the one public hosted zone named by the parameter
    `param.extra["name"]` (private zones do not serve the site's records)."""
    from codemate_cfn.deploy.aws import caller_identity

    source = param.extra["name"]
    name = values[source].rstrip(".").lower()
    zones = zones_named(aws.route53, name + ".")
    public = sorted(zone_id(z) for z in zones if not z.get("Config", {}).get("PrivateZone"))
    if not public:
        private = sorted(zone_id(z) for z in zones if z.get("Config", {}).get("PrivateZone"))
        only = f" (only private ones: {', '.join(private)})" if private else ""
        raise NotFound(f"no public hosted zone named {name} exists in account {caller_identity(aws)['Account']}"
                       f"{only}; create it or set {param.name}")
    if len(public) > 1:
        raise NotFound(f"{len(public)} public hosted zones are named {name} ({', '.join(public)}); "
                       f"set {param.name} to the one to use")
    return Found(public[0], f"public hosted zone {name}")


def make_public_hosted_zone(aws, param: Param, values: dict[str, str]) -> str | None:
    """A public hosted zone named by `param.extra["name"]`, for an emulated
    account, unless it has one; returns what was made, for the progress line."""
    name = values[param.extra["name"]].rstrip(".").lower()
    if any(not z.get("Config", {}).get("PrivateZone") for z in zones_named(aws.route53, name + ".")):
        return None
    aws.route53.create_hosted_zone(Name=name + ".", CallerReference=f"codemate-cfn-local-{name}")
    return f"public hosted zone {name}"


LOOKUPS = {"hosted-zone": public_hosted_zone}
# What the account must already hold for a lookup to find it: made in a local
# emulator (deploy --local, plan --local), which starts empty, as a real
# account would have it. Never called against AWS.
STAND_INS = {"hosted-zone": make_public_hosted_zone}


def stand_in_for_the_account(aws, params, catalogue: dict[str, Param], ui) -> None:
    """In a fresh local emulator, make what each empty looked-up parameter
    expects the account to hold (the site's public hosted zone), and say so."""
    known = with_defaults(catalogue, params.parameters)
    for name, param in catalogue.items():
        made = STAND_INS[param.kind](aws, param, known) if param.kind in STAND_INS and not known.get(name) else None
        if made:
            ui.step(f"local: {made} made, standing in for the account's")


def filled(aws, values: dict[str, str], params, catalogue: dict[str, Param], ui) -> dict[str, str]:
    """`values` (the root stack's parameters) with each one the parameter
    file leaves empty and a lookup can find filled, and said on `ui`. A value
    the file gives is used as it is. One line naming the file and the key
    when a lookup finds no single answer (InvalidInput) or AWS fails it."""
    from codemate_cfn.deploy.aws import translated_errors

    known = with_defaults(catalogue, params.parameters)
    result = dict(values)
    for name, value in values.items():
        param = catalogue.get(name)
        if value or param is None or param.kind not in LOOKUPS:
            continue
        where = f"{file_label(params.path)}: Parameters.{name} is empty and"
        try:
            with translated_errors(aws.target):
                found = LOOKUPS[param.kind](aws, param, known)
        except NotFound as exc:
            raise InvalidInput(f"{where} {exc}") from None
        except CodemateError as exc:  # an AWS error, in translated_errors' words
            raise CodemateError(f"{where} looking it up failed: {exc}; set {name} to skip the lookup") from None
        result[name] = found.value
        ui.step(f"{name}: {found.value} ({found.what})")
    return result
