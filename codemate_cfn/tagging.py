"""Which resource types take tags, under which property and in which form
(a list of {Key, Value} or a map {key: value}), read from the resource
provider schemas cfn-lint ships; and merging tags into a value of either
form. A leaf module: the compiler adds tags with it, the tag rule checks
them with it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# The region whose copy of the resource schemas is read when a caller names
# none: cfn-lint's own default. Types and their create-only properties are
# the same in every region that has them; callers that know the stack's
# region pass it.
DEFAULT_REGION = "us-east-1"
LIST = "list"  # [{"Key": k, "Value": v}, ...]
MAP = "map"  # {k: v, ...}


@dataclass(frozen=True)
class TagForm:
    property: str  # "Tags", "HostedZoneTags", ...
    shape: str  # LIST or MAP


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    for part in ref[2:].split("/"):
        schema = schema[part]
    return schema


def _shape(prop: dict) -> str | None:
    kind = prop.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "array" in kinds:
        return LIST
    if prop.get("properties"):
        return None  # a record such as CloudFront::AnycastIpList's {"Items": [...]}
    # Some maps also accept a JSON string (Glue), some leave out "type" (PCS).
    if "object" in kinds or "patternProperties" in prop or "additionalProperties" in prop:
        return MAP
    return None


@lru_cache(maxsize=None)
def tag_form(resource_type: str, region: str = DEFAULT_REGION) -> TagForm | None:
    """How `resource_type` takes tags; None when it takes none, when
    cfn-lint has no schema for it, or when its tags are not one top-level
    property of either form (EC2 capacity reservations tag through
    TagSpecifications, CloudFront Anycast IP lists through {"Items": [...]};
    the project writes neither)."""
    from cfnlint.schema._exceptions import ResourceNotFoundError
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError:
        return None
    properties = schema.get("properties", {})
    tagging = schema.get("tagging")
    if tagging is None:
        # Older schemas (CodeBuild::Project, DocDB, EMR, ...) have no tagging
        # section at all, yet take a Tags property.
        pointer = "/properties/Tags"
    elif tagging.get("taggable", True):
        pointer = tagging.get("tagProperty", "/properties/Tags")
    else:
        return None
    parts = pointer.strip("/").split("/")
    if len(parts) != 2 or parts[0] != "properties" or parts[1] not in properties:
        return None
    shape = _shape(_resolve(schema, properties[parts[1]]))
    return TagForm(parts[1], shape) if shape else None


def read_tags(form: TagForm, value) -> dict | None:
    """{key: value} of the tags in `value` (keys given by an intrinsic
    function are left out); None when `value` does not have the form's shape."""
    if form.shape == LIST and isinstance(value, list):
        return {item["Key"]: item.get("Value") for item in value
                if isinstance(item, dict) and isinstance(item.get("Key"), str)}
    if form.shape == MAP and isinstance(value, dict) and not is_function(value):
        return dict(value)
    return None


def is_function(value) -> bool:
    """True for an intrinsic function: {"Ref": ...} or {"Fn::...": ...}."""
    return isinstance(value, dict) and len(value) == 1 and any(k == "Ref" or k.startswith("Fn::") for k in value)


def with_tags(resource_type: str, value, tags: dict) -> list | dict:
    """`value` (the type's tag property, or None) with `tags` merged in, in
    the type's form: `tags` first and winning over the same keys in `value`,
    then the other tags `value` had."""
    form = tag_form(resource_type)
    if form is None:
        raise ValueError(f"{resource_type} takes no tags")
    if value is not None and read_tags(form, value) is None:
        raise ValueError(f"{resource_type} {form.property}: expected a {form.shape}, got {type(value).__name__}")
    if form.shape == LIST:
        kept = [item for item in value or [] if not (isinstance(item, dict) and item.get("Key") in tags)]
        return [{"Key": k, "Value": v} for k, v in tags.items()] + kept
    return {**tags, **{k: v for k, v in (value or {}).items() if k not in tags}}
