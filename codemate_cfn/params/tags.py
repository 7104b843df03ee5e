"""A parameter file's Tags: checked as AWS checks a stack's tags, counting
the tags the deployer adds, and against the project's conventions."""

from __future__ import annotations

import re
from pathlib import Path

from codemate_cfn.errors import quoted, shown
from codemate_cfn.layer import Conventions

MAX_TAGS = 50  # per stack (CloudFormation)
MAX_KEY = 128
MAX_VALUE = 256
RESERVED_PREFIX = "aws:"  # AWS's own tags; checked case-insensitively, as AWS does
# The deployer's provenance tags (codemate_cfn/deploy/provenance.py TAGS):
# their prefix and how many it adds to every stack. A test holds TAGS to both.
DEPLOYER_TAG_PREFIX = "codemate:"
DEPLOYER_TAG_COUNT = 3
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # control characters, refused in tags (the JSON Schema too)


def _tag_problems(key: str, value) -> list[str]:
    """What AWS would refuse in one tag (lone surrogates are refused for the
    whole file when it is read)."""
    problems = []
    if not 1 <= len(key) <= MAX_KEY:
        problems.append(f"key of {len(key)} characters; AWS takes 1 to {MAX_KEY}")
    if key.lower().startswith(RESERVED_PREFIX):
        problems.append(f"keys starting with {RESERVED_PREFIX} are reserved for AWS")
    elif key.lower().startswith(DEPLOYER_TAG_PREFIX):
        problems.append(f"keys starting with {DEPLOYER_TAG_PREFIX} are set by codemate-cfn deploy, "
                        "not by a parameter file")
    if CONTROL.search(key):
        problems.append("key holds a control character")
    if not isinstance(value, str):
        problems.append(f"wrong type: expected a string, got {type(value).__name__}")
    elif len(value) > MAX_VALUE:
        problems.append(f"value of {len(value)} characters; AWS takes at most {MAX_VALUE}")
    elif CONTROL.search(value):
        problems.append(f"value {quoted(value)} holds a control character")
    return problems


def check_tags(path: Path, tags, environment: str | None, conventions: Conventions) -> list[str]:
    """The root stack's tags: each as AWS takes it, as many as AWS takes
    with the deployer's, and every standard tag of the conventions with the
    value every resource is tagged with (the environment's name for the
    environment tag)."""
    if not isinstance(tags, dict):
        return [f"{path}: Tags: wrong type: expected an object of tag names to strings"]
    problems = [f"{path}: Tags.{shown(key)}: {problem}" for key, value in tags.items()
                for problem in _tag_problems(key, value)]
    if len(tags) + DEPLOYER_TAG_COUNT > MAX_TAGS:
        problems.append(f"{path}: Tags: {len(tags)} tags and the {DEPLOYER_TAG_COUNT} codemate-cfn deploy adds "
                        f"are more than the {MAX_TAGS} AWS takes on a stack (at most "
                        f"{MAX_TAGS - DEPLOYER_TAG_COUNT} in a parameter file)")
    for key in conventions.tags:
        if key not in tags:
            problems.append(f"{path}: Tags.{key}: missing required tag")
    for key, expected in conventions.fixed_tags.items():
        if isinstance(tags.get(key), str) and tags[key] != expected:
            problems.append(f"{path}: Tags.{key}: {quoted(tags[key])} must be {expected!r} "
                            "(every resource is tagged so)")
    for key in conventions.environment_tags:
        if environment and isinstance(tags.get(key), str) and tags[key] != environment:
            problems.append(f"{path}: Tags.{key}: {quoted(tags[key])} differs from "
                            f"Parameters.{conventions.environment_param} {environment!r}")
    return problems
