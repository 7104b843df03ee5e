"""What a layer module writes against: declare inputs and outputs, add
troposphere resources. Everything AWS-specific stays in templates_src/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from codemate_cfn.compile.layout import ROOT, template_file
from troposphere import AWSObject, Output, Parameter, Ref, Sub, Tags, Template

PROJECT = "codemate"
MANAGED_BY = "cloudformation"
ENVIRONMENT_PARAM = "EnvironmentName"


def standard_tags(**extra) -> Tags:
    """The tags every taggable resource carries (SPEC 1), plus any extra."""
    return Tags(
        Environment=Ref(ENVIRONMENT_PARAM),
        Project=PROJECT,
        ManagedBy=MANAGED_BY,
        **extra,
    )


def _takes_tag_list(resource: AWSObject) -> bool:
    spec = resource.props.get("Tags")
    if spec is None:
        return False
    expected = spec[0]
    if isinstance(expected, tuple):
        return Tags in expected
    return expected is Tags or getattr(expected, "__name__", "") == "validate_tags_or_list"


@dataclass
class RootOutput:
    """An output the root template re-exports for people (SPEC section 10)."""

    name: str
    description: str


class LayerTemplate:
    """The template a layer builder fills in.

    Inputs become the nested stack's parameters; the root wires each one by
    name to a root parameter or to an earlier layer's output.
    """

    def __init__(self, name: str, description: str, catalogue: dict):
        self.name = name
        self.catalogue = catalogue
        self.template = Template(Description=f"CodeMate {name} layer: {description}")
        self.inputs: dict[str, Parameter] = {}
        self.outputs: dict[str, Output] = {}
        self.root_outputs: dict[str, RootOutput] = {}
        self.input(ENVIRONMENT_PARAM)

    @property
    def env(self) -> Ref:
        return Ref(ENVIRONMENT_PARAM)

    def input(self, name: str, description: str = "", type: str = "String") -> Ref:
        """Declare (once) that this layer needs `name`; returns Ref(name)."""
        if name not in self.inputs:
            param = self.catalogue.get(name)
            if param is not None:
                spec = param.cfn()
                spec.pop("Default", None)
                props = {k: v for k, v in spec.items()}
            else:
                props = {"Type": type, "Description": description or f"{name} (from another layer)"}
            self.inputs[name] = self.template.add_parameter(Parameter(name, **props))
        return Ref(name)

    def condition(self, name: str, expression) -> str:
        self.template.add_condition(name, expression)
        return name

    def add(self, resource: AWSObject) -> AWSObject:
        """Add a resource; taggable ones get the standard tags merged in."""
        if _takes_tag_list(resource):
            existing = resource.properties.get("Tags")
            tags = standard_tags()
            if existing is not None:
                tags = tags + (existing if isinstance(existing, Tags) else Tags(*existing))
            resource.Tags = tags
        return self.template.add_resource(resource)

    def output(self, name: str, value, description: str, root: str | None = None) -> None:
        """Publish `name` for later layers; `root` also shows it in the root
        stack's outputs under that description (e.g. "rds_endpoint")."""
        if name in self.outputs:
            raise ValueError(f"output {name} declared twice")
        self.outputs[name] = self.template.add_output(
            Output(name, Value=value, Description=description)
        )
        if root:
            self.root_outputs[name] = RootOutput(name, root)

    def name_of(self, *parts: str, account: bool = False) -> Sub:
        """An AWS resource name that carries the environment:
        name_of("alb") -> "codemate-alb-${EnvironmentName}";
        account=True appends the account ID (for globally unique names)."""
        words = [PROJECT, *parts, "${%s}" % ENVIRONMENT_PARAM]
        if account:
            words.append("${AWS::AccountId}")
        return Sub("-".join(words))

    def to_dict(self) -> dict:
        return self.template.to_dict()


@dataclass(frozen=True)
class Layer:
    """One nested stack: a name (file `<name>.json`, logical ID
    `<Name>Stack`), a one-line description and the builder function."""

    name: str
    description: str
    build: Callable[[LayerTemplate], None] = field(compare=False)

    def __post_init__(self):
        # The name becomes a file name and, capitalised, a logical ID
        # (letters and digits only); "root" is the root template's file.
        if not re.fullmatch(r"[a-z][a-z0-9]*", self.name) or self.name == ROOT:
            raise ValueError(f"layer name {self.name!r}: use lower-case letters and digits, not 'root'")

    @property
    def logical_id(self) -> str:
        return self.name.capitalize() + "Stack"

    @property
    def file_name(self) -> str:
        return template_file(self.name)

    def render(self, catalogue: dict) -> LayerTemplate:
        t = LayerTemplate(self.name, self.description, catalogue)
        self.build(t)
        return t
