"""E9002: every taggable resource carries the project's three tags, in
the form its type takes them (which types, which property, list or map:
codemate_cfn.tagging, from the resource schemas)."""

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.compile.rules._values import branches
from codemate_cfn.tagging import LIST, MAP, read_tags, tag_form

# SPEC 1 (DESIGN.md, Conventions). codemate_cfn.layer tags with the same
# values (PROJECT, MANAGED_BY, ENVIRONMENT_PARAM); a test keeps them equal.
EXPECTED = {
    # One template serves every environment: a literal would mislabel the others.
    "Environment": {"Ref": "EnvironmentName"},
    "Project": "codemate",
    "ManagedBy": "cloudformation",
}
# CloudFormation tags nested stacks with the root stack's tags, which the
# deploy takes from the parameter file's Tags (checked to hold these three).
INHERITS_STACK_TAGS = {"AWS::CloudFormation::Stack"}
FORMS = {LIST: "a list of {Key, Value}", MAP: "a map of key to value"}


def problems(form, value) -> list[str]:
    tags = {} if value is None else read_tags(form, value)
    if tags is None:
        return [f"cannot be read as {FORMS[form.shape]}"]
    found = []
    missing = [key for key in EXPECTED if key not in tags]
    if missing:
        found.append("lacks " + ", ".join(missing))
    found += [f"{key} is {json.dumps(tags[key])} (expected {json.dumps(expected)})"
              for key, expected in EXPECTED.items() if key in tags and tags[key] != expected]
    return found


class ProjectTags(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "Taggable resources carry the project's tags"
    description = (
        "Every resource whose type takes tags carries Environment (Ref EnvironmentName), "
        "Project (codemate) and ManagedBy (cloudformation), under its type's tag property and in its form."
    )
    source_url = "https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html#schema-properties-tagging"
    tags = ["resources", "tags", "codemate"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in cfn.get_resources().items():
            rtype = resource["Type"]
            if not isinstance(rtype, str) or rtype in INHERITS_STACK_TAGS:
                continue
            form = tag_form(rtype)
            if form is None:
                continue
            properties = resource.get("Properties")
            properties = properties if isinstance(properties, dict) else {}
            found = [p for value in branches(properties.get(form.property)) for p in problems(form, value)]
            if found:
                path = ["Resources", logical_id] + (["Properties", form.property] if form.property in properties else [])
                matches.append(RuleMatch(path, (
                    f"{logical_id} ({rtype}) {form.property}, {FORMS[form.shape]}: " + "; ".join(dict.fromkeys(found))
                )))
        return matches
