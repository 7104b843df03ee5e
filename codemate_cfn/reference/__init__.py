"""Reference generated from the code, kept current by `python -m
codemate_cfn docs` (`--check` says what is stale) and by a test.

GENERATED lists each generated file: (path relative to the project, the
function that makes its text from the Sources). A new generated file is one
more entry."""

from __future__ import annotations

from codemate_cfn.reference import infrastructure, parameters, schema
from codemate_cfn.reference.sources import COMMAND, Environment, LayerDoc, Sources

GENERATED = [
    (parameters.PAGE, parameters.page),
    (infrastructure.PAGE, infrastructure.page),
    (schema.FILE, schema.text),
]

__all__ = ["COMMAND", "GENERATED", "Environment", "LayerDoc", "Sources"]
