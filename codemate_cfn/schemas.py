"""Which property changes replace a resource, read from the CloudFormation
resource provider schemas that cfn-lint ships (createOnlyProperties and
conditionalCreateOnlyProperties)."""

from __future__ import annotations

from functools import lru_cache

# The region whose copy of the resource schemas is read when a caller names
# none: cfn-lint's own default. Types and their create-only properties are
# the same in every region that has them; callers that know the stack's
# region pass it.
DEFAULT_REGION = "us-east-1"

# Replacement levels, weakest first.
LEVELS = ("false", "conditional", "true")


def strongest(*levels: str) -> str:
    return max(levels, key=LEVELS.index, default="false")


def weakest(*levels: str) -> str:
    return min(levels, key=LEVELS.index, default="false")


def _split(pointer: str) -> tuple[str, ...]:
    # "/properties/Foo/*/Bar" -> ("Foo", "*", "Bar")
    parts = tuple(p for p in pointer.split("/") if p)
    return parts[1:] if parts and parts[0] == "properties" else parts


@lru_cache(maxsize=None)
def create_only(resource_type: str, region: str = DEFAULT_REGION) -> tuple[tuple, tuple] | None:
    """(create-only paths, conditionally create-only paths) of a type, each a
    tuple of property names ("*" for any list item); None when cfn-lint has
    no schema for the type in that region."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER
    from cfnlint.schema._exceptions import ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError:
        return None
    return (
        tuple(_split(p) for p in schema.get("createOnlyProperties", [])),
        tuple(_split(p) for p in schema.get("conditionalCreateOnlyProperties", [])),
    )


def _overlaps(schema_path: tuple, changed: tuple) -> bool:
    """True when one path lies inside the other: a change to Foo touches
    Foo/Bar, and a change to Foo/Bar/Baz is a change of Foo/Bar."""
    return all(s == "*" or s == c for s, c in zip(schema_path, changed))


def replacement(resource_type: str, path: tuple, region: str = DEFAULT_REGION) -> str:
    """"true" when changing the property at `path` (names and list indexes
    under Properties) replaces the resource, "conditional" when it may, else
    "false". A type without a schema gives "conditional": nobody can tell."""
    paths = create_only(resource_type, region)
    if paths is None:
        return "conditional"
    always, sometimes = paths
    if any(_overlaps(p, path) for p in always):
        return "true"
    if any(_overlaps(p, path) for p in sometimes):
        return "conditional"
    return "false"
