"""What a layer module writes against: declare inputs and outputs, add
troposphere resources. Everything AWS-specific stays in templates_src/, and
so does every value a project decides (its Conventions)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

from codemate_cfn.compile.layout import ROOT
from troposphere import AWSObject, Output, Parameter, Ref, Sub, Tags, Template

from codemate_cfn.ignores import ignore_check  # re-exported: a layer ignores a cfn-lint check with its reason
from codemate_cfn.params.parameter import Param  # re-exported: the catalogue is written with it
from codemate_cfn.scanner_skips import with_skip  # re-exported: the kit's scanner_skip writes skips with it
from codemate_cfn.wildcard_actions import STAR_ONLY_ACTIONS  # re-exported: the kit's role reads it

__all__ = ["Conventions", "Layer", "LayerTemplate", "Param", "RootOutput", "STAR_ONLY_ACTIONS", "ignore_check",
           "with_skip"]


@dataclass(frozen=True)
class Conventions:
    """What a project decides and the compiler applies to every layer.

    name_prefix: the first word of every AWS name (`t.name_of`).
    environment_param: the root parameter that names the environment; every
        layer takes it as an input and every name carries it.
    tags: the tags every taggable resource carries, in order; a value is a
        string, or Ref(environment_param) for the environment's name.
    regions: the regions the templates are made for.
    """

    name_prefix: str
    environment_param: str
    tags: Mapping[str, object]
    regions: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        object.__setattr__(self, "regions", tuple(self.regions))
        if not self.regions:
            raise ValueError("Conventions: name at least one region the templates are made for")
        for key, value in self.tags.items():
            if not isinstance(value, str) and not self._is_environment(value):
                raise ValueError(
                    f"Conventions: tag {key} must be a string or Ref({self.environment_param!r}), not {value!r}"
                )

    def _is_environment(self, value) -> bool:
        return isinstance(value, Ref) and value.to_dict() == {"Ref": self.environment_param}

    @property
    def fixed_tags(self) -> dict[str, str]:
        """The tags whose value is the same in every environment."""
        return {key: value for key, value in self.tags.items() if isinstance(value, str)}

    @property
    def environment_tags(self) -> tuple[str, ...]:
        """The tags whose value is the environment's name."""
        return tuple(key for key, value in self.tags.items() if self._is_environment(value))

    def standard_tags(self) -> Tags:
        """The tags as troposphere Tags, for a resource (sorted by key)."""
        return Tags(dict(self.tags))


def _is_tag_list(expected) -> bool:
    if isinstance(expected, tuple):
        return Tags in expected
    return expected is Tags or getattr(expected, "__name__", "") == "validate_tags_or_list"


def _key_value_type(expected):
    """The property type of a list of {Key, Value} objects with a class of
    their own (AWS::Budgets::Budget's ResourceTags), or None."""
    if isinstance(expected, list) and len(expected) == 1 and isinstance(expected[0], type):
        props = getattr(expected[0], "props", None)
        if isinstance(props, dict) and set(props) == {"Key", "Value"}:
            return expected[0]
    return None


def tag_property(resource: AWSObject) -> tuple[str, str] | None:
    """(property, "list", "objects" or "map") where the resource's type
    takes its tags, from troposphere's own property types: a list of
    Key/Value under any name (Tags, HostedZoneTags, ...), a list of a
    Key/Value type of its own (ResourceTags of a budget), or a map under
    Tags (SSM parameters). None for a type that takes no tags. The tag
    policy (cfn-lint rule E9002) checks the built templates against the
    resource schemas as well."""
    for name, (expected, _required) in resource.props.items():
        if _is_tag_list(expected):
            return name, "list"
    for name, (expected, _required) in resource.props.items():
        if _key_value_type(expected) is not None:
            return name, "objects"
    if resource.props.get("Tags", (None,))[0] is dict:
        return "Tags", "map"
    return None


@dataclass
class RootOutput:
    """An output the root template re-exports for people."""

    name: str
    description: str


class LayerTemplate:
    """The template a layer builder fills in.

    Inputs become the nested stack's parameters; the root wires each one by
    name to a root parameter or to an earlier layer's output.
    """

    def __init__(self, name: str, description: str, catalogue: dict, conventions: Conventions):
        self.name = name
        self.catalogue = catalogue
        self.conventions = conventions
        self.template = Template(Description=f"CodeMate {name} layer: {description}")
        self.inputs: dict[str, Parameter] = {}
        self.outputs: dict[str, Output] = {}
        self.root_outputs: dict[str, RootOutput] = {}
        self.input(conventions.environment_param)

    @property
    def env(self) -> Ref:
        return Ref(self.conventions.environment_param)

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
        found = tag_property(resource)
        if found is not None:
            name, shape = found
            existing = resource.properties.get(name)
            if shape == "list":
                tags = self.conventions.standard_tags()
                if existing is not None:
                    tags = tags + (existing if isinstance(existing, Tags) else Tags(*existing))
            elif shape == "objects":
                kind = _key_value_type(resource.props[name][0])
                given = list(existing or [])
                named = {tag.properties["Key"] for tag in given}
                tags = [kind(Key=k, Value=v) for k, v in self.conventions.tags.items() if k not in named] + given
            else:
                tags = {**self.conventions.tags, **{k: v for k, v in (existing or {}).items() if k not in self.conventions.tags}}
            setattr(resource, name, tags)
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

    def name_of(self, *parts: str, account: bool = False, path: str = "", suffix: str = "") -> Sub:
        """An AWS resource name that carries the environment: with the name
        prefix "codemate", name_of("alb") -> "codemate-alb-${EnvironmentName}";
        account=True appends the account ID (for globally unique names);
        `path` goes before the name and `suffix` after it:
        name_of("db", path="/aws/rds/instance/", suffix="/postgresql") ->
        "/aws/rds/instance/codemate-db-${EnvironmentName}/postgresql"."""
        words = [self.conventions.name_prefix, *parts, "${%s}" % self.conventions.environment_param]
        if account:
            words.append("${AWS::AccountId}")
        return Sub(path + "-".join(words) + suffix)

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

    def render(self, catalogue: dict, conventions: Conventions) -> LayerTemplate:
        t = LayerTemplate(self.name, self.description, catalogue, conventions)
        self.build(t)
        return t
