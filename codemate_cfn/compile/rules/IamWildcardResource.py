"""E9003: no policy statement allows an action on every resource ("*"),
except actions AWS authorizes on "*" alone (STAR_ONLY_ACTIONS, the one list).
Covers identity policies (IAM roles, users, groups, policies) and resource
policies (bucket, queue, topic policies, ...): every "Statement" under a
resource's properties, JSON strings included."""

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.compile.rules._values import branches
from codemate_cfn.wildcard_actions import STAR_ONLY_ACTIONS
# Policies where "*" names the one resource the policy is attached to.
ATTACHED_POLICIES = {
    ("AWS::KMS::Key", "KeyPolicy"): "in a key policy, Resource \"*\" means this key",
    ("AWS::SecretsManager::ResourcePolicy", "ResourcePolicy"): "in a secret's policy, Resource \"*\" means that secret",
}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _policies(node, path):
    """(document, path) for every policy document under `node`."""
    if isinstance(node, dict):
        if "Statement" in node:
            yield node, path
            return
        for key, value in node.items():
            yield from _policies(value, path + [key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _policies(value, path + [index])
    elif isinstance(node, str) and '"Statement"' in node:
        try:
            document = json.loads(node)
        except ValueError:
            return
        yield from _policies(document, path)


def _problem(statement) -> str | None:
    if not isinstance(statement, dict) or statement.get("Effect") == "Deny":
        return None  # a Deny on "*" only narrows access
    if "NotResource" in statement:
        return "uses NotResource, which allows every resource but those listed"
    if "*" not in [r for value in _as_list(statement.get("Resource")) for r in branches(value)]:
        return None
    if "NotAction" in statement:
        return 'uses NotAction on Resource "*", which allows nearly every action on everything'
    actions = [a for value in _as_list(statement.get("Action")) for a in branches(value) if a is not None]
    wide = [a if isinstance(a, str) else json.dumps(a) for a in actions
            if not (isinstance(a, str) and a.lower() in STAR_ONLY_ACTIONS)]
    if not wide:
        return None
    return (f"allows {', '.join(wide)} on Resource \"*\"; scope it to ARNs "
            "(\"*\" is only for the actions AWS authorizes on \"*\" alone: STAR_ONLY_ACTIONS in "
            "codemate_cfn/wildcard_actions.py)")


def _statements(rtype: str, properties: dict, base: list):
    """(index, statement, path) for every statement the rule checks."""
    for name, value in properties.items():
        if (rtype, name) in ATTACHED_POLICIES:
            continue
        for document, path in _policies(value, base + [name]):
            statements = document["Statement"]
            for index, statement in enumerate(_as_list(statements)):
                yield index, statement, path + ["Statement"] + ([index] if isinstance(statements, list) else [])


class IamWildcardResource(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "Policy statements are scoped to resources"
    description = (
        'No Allow statement uses Resource "*" (or NotResource) except for actions that AWS authorizes '
        'on "*" only. Deny statements, KMS key policies and secret resource policies are exempt.'
    )
    source_url = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
    tags = ["resources", "iam", "codemate"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in cfn.get_resources().items():
            properties = resource.get("Properties")
            if not isinstance(properties, dict):
                continue
            base = ["Resources", logical_id, "Properties"]
            for index, statement, path in _statements(resource["Type"], properties, base):
                for option in branches(statement):
                    problem = _problem(option)
                    if problem:
                        sid = option.get("Sid")
                        label = f"statement {sid if isinstance(sid, str) else index}"
                        matches.append(RuleMatch(path, f"{logical_id} ({resource['Type']}) {label} {problem}"))
        return matches
