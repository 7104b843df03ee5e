"""E9001: every stateful resource keeps its data on delete and on
replacement."""

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.stateful import KEEPING_POLICIES, STATEFUL_TYPES

KEEPING = " or ".join(sorted(KEEPING_POLICIES))
# What each policy attribute guards against.
EVENTS = {"DeletionPolicy": "a delete", "UpdateReplacePolicy": "a replacement"}


class StatefulPolicies(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Stateful resources keep their data"
    description = (
        "Every stateful resource (codemate_cfn.stateful.STATEFUL_TYPES) has a DeletionPolicy and an "
        f"UpdateReplacePolicy that keeps its data ({KEEPING})."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html"
    tags = ["resources", "deletionpolicy", "updatereplacepolicy", "codemate"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in cfn.get_resources(list(STATEFUL_TYPES)).items():
            rtype = resource["Type"]
            for attribute, event in EVENTS.items():
                value = resource.get(attribute)
                if isinstance(value, str) and value in KEEPING_POLICIES:
                    continue
                path = ["Resources", logical_id] + ([attribute] if attribute in resource else [])
                matches.append(RuleMatch(path, (
                    f"{logical_id} ({rtype}) needs {attribute} {KEEPING} "
                    f"(has {value if value is not None else 'none'}); without it {event} loses {STATEFUL_TYPES[rtype]}"
                )))
        return matches
