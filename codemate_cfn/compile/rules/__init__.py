"""The project's policies as cfn-lint custom rules, one rule per module
(E9001-E9006). cfn-lint loads them from RULES_DIR: `--append-rules DIR`
on the command line, `ManualArgs(append_rules=[str(RULES_DIR)])` in Python.

cfn-lint imports each module of the directory by file name, outside this
package: a rule module imports what it needs absolutely (codemate_cfn...),
and modules whose names start with "_" are helpers it skips."""

from pathlib import Path

RULES_DIR = Path(__file__).resolve().parent
RULE_IDS = ("E9001", "E9002", "E9003", "E9004", "E9005", "E9006")
# Rules no ignore turns off (cfn-lint's mandatory_checks): E9006 checks the
# ignores themselves.
MANDATORY_RULES = ("E9006",)


def rule_config(conventions) -> dict[str, dict]:
    """cfn-lint's configure_rules for a project's conventions: the tags E9002
    asks every taggable resource to carry."""
    return {"E9002": {
        "tags": [f"{key}={value}" for key, value in conventions.fixed_tags.items()],
        "environment_tags": list(conventions.environment_tags),
        "environment_parameter": conventions.environment_param,
    }}
