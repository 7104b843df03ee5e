"""The shape of one root parameter in the catalogue (templates_src/catalogue.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Param:
    """A root parameter: what parameter files may set and layers may consume.

    kind adds checks CloudFormation cannot express: "cidr" (a valid IPv4
    network), "subnet" (a cidr inside VpcCidr that overlaps no other subnet);
    or says that deploy and plan look an empty value up in the account
    (codemate_cfn/deploy/lookups.py): "hosted-zone" (the ID of the public
    hosted zone named by the parameter extra["name"]);
    integer makes a Number a whole number (a count, a size, days), which
    CloudFormation's Number does not; relation checks the value against
    other parameters' values.
    """

    name: str
    description: str
    type: str = "String"
    default: str | None = None
    allowed_values: tuple[str, ...] = ()
    pattern: str | None = None
    min_value: int | None = None
    max_value: int | None = None
    integer: bool = False
    kind: str | None = None
    constraint: str | None = None
    no_echo: bool = False
    extra: dict = field(default_factory=dict)
    # A check against the other parameters' values (all valid on their own):
    # takes {name: value}, returns what is wrong in one sentence, or None.
    relation: Callable[[dict[str, str]], str | None] | None = field(default=None, compare=False)

    @property
    def required(self) -> bool:
        return self.default is None

    def cfn(self) -> dict:
        """The CloudFormation Parameters entry for this parameter."""
        out = {"Type": self.type, "Description": self.description}
        if self.default is not None:
            out["Default"] = self.default
        if self.allowed_values:
            out["AllowedValues"] = list(self.allowed_values)
        if self.pattern:
            out["AllowedPattern"] = self.pattern
        if self.min_value is not None:
            out["MinValue"] = self.min_value
        if self.max_value is not None:
            out["MaxValue"] = self.max_value
        if self.constraint:
            out["ConstraintDescription"] = self.constraint
        if self.no_echo:
            out["NoEcho"] = True
        return out


def with_defaults(catalogue: dict[str, Param], values: dict[str, str]) -> dict[str, str]:
    """Every root parameter's value: `values` (a parameter file's), else the
    catalogue's default; a required parameter left out has none."""
    return {**{name: p.default for name, p in catalogue.items() if p.default is not None}, **values}


# Parameters the deployer fills; parameter files never set them.
TEMPLATES_BUCKET = Param(
    "TemplatesBucketName",
    "S3 bucket holding the nested templates (filled by deploy or taskcat).",
    pattern=r"^[0-9a-z][0-9a-z.-]{1,61}[0-9a-z]$",
    constraint="an S3 bucket name",
)
TEMPLATES_PREFIX = Param(
    "TemplatesKeyPrefix",
    "Key prefix of the nested templates in TemplatesBucketName, ending in '/' (filled by deploy or taskcat).",
    default="",
    pattern=r"^([0-9a-zA-Z!_.*'()/-]*/)?$",
    constraint="empty, or a key prefix ending in '/'",
)
DEPLOYER_PARAMS = (TEMPLATES_BUCKET, TEMPLATES_PREFIX)
