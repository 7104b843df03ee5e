"""E9002: every taggable resource carries the project's tags, in the form
its type takes them (which types, which property, list or map:
codemate_cfn.tagging, from the resource schemas).

Which tags, and their values, are the project's to say (its Conventions):
the build configures the rule with them (`rule_config` in this package);
unconfigured, it asks for no tag."""

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.compile.rules._values import branches
from codemate_cfn.tagging import LIST, MAP, read_tags, tag_form

# CloudFormation tags nested stacks with the root stack's tags, which the
# deploy takes from the parameter file's Tags (checked to hold these three).
INHERITS_STACK_TAGS = {"AWS::CloudFormation::Stack"}
FORMS = {LIST: "a list of {Key, Value}", MAP: "a map of key to value"}


def problems(form, value, expected: dict) -> list[str]:
    tags = {} if value is None else read_tags(form, value)
    if tags is None:
        return [f"cannot be read as {FORMS[form.shape]}"]
    found = []
    missing = [key for key in expected if key not in tags]
    if missing:
        found.append("lacks " + ", ".join(missing))
    found += [f"{key} is {json.dumps(tags[key])} (expected {json.dumps(wanted)})"
              for key, wanted in expected.items() if key in tags and tags[key] != wanted]
    return found


class ProjectTags(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "Taggable resources carry the project's tags"
    description = (
        "Every resource whose type takes tags carries the project's tags (configured: `tags` as Key=Value, "
        "`environment_tags` whose value is a Ref to `environment_parameter`), under its type's tag property "
        "and in its form."
    )
    source_url = "https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html#schema-properties-tagging"
    tags = ["resources", "tags", "codemate"]

    def __init__(self):
        super().__init__()
        self.config_definition = {
            "tags": {"default": [], "type": "list", "itemtype": "string"},
            "environment_tags": {"default": [], "type": "list", "itemtype": "string"},
            "environment_parameter": {"default": "EnvironmentName", "type": "string"},
        }
        self.configure()

    def expected(self) -> dict:
        """Tag key -> the value every resource must carry."""
        # One template serves every environment: its tag is a Ref, never a literal.
        wanted = {key: {"Ref": self.config["environment_parameter"]} for key in self.config["environment_tags"]}
        for pair in self.config["tags"]:
            key, _, value = pair.partition("=")
            wanted[key] = value
        return wanted

    def match(self, cfn):
        expected = self.expected()
        if not expected:
            return []
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
            found = [p for value in branches(properties.get(form.property)) for p in problems(form, value, expected)]
            if found:
                path = ["Resources", logical_id] + (["Properties", form.property] if form.property in properties else [])
                matches.append(RuleMatch(path, (
                    f"{logical_id} ({rtype}) {form.property}, {FORMS[form.shape]}: " + "; ".join(dict.fromkeys(found))
                )))
        return matches
