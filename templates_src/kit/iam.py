"""An IAM role a service assumes, with inline awacs statements scoped to
ARNs, and a further policy of a role as a resource of its own (for grants
that exist only under a condition). A statement that allows actions on
Resource "*" is refused when the template is built, naming the role or the
policy, unless AWS allows those actions on nothing narrower."""

from __future__ import annotations

from collections.abc import Iterable

from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere.iam import Policy, PolicyType, Role

from codemate_cfn.layer import STAR_ONLY_ACTIONS

# Actions AWS authorizes only on "*" (lower case), the same list the IAM
# policy rule reads: add one there, with its reason, only when AWS's Service
# Authorization Reference lists no resource type for it.
ONLY_ON_ANY_RESOURCE = frozenset(STAR_ONLY_ACTIONS)


def _wildcard_actions(statement: Statement, allowed: Iterable[str]) -> list[str]:
    """The actions `statement` allows on Resource "*" that are not in `allowed`."""
    props = statement.properties
    if props.get("Effect") != Allow or "*" not in props.get("Resource", []):
        return []
    return [name for name in (action.JSONrepr() for action in props.get("Action", [])) if name.lower() not in allowed]


def _refuse_wildcards(owner: str, statements: list[Statement]) -> None:
    """ValueError naming `owner` and the statement when one allows an action
    on Resource "*" that AWS also authorizes on narrower resources."""
    for number, statement in enumerate(statements, 1):
        wide = _wildcard_actions(statement, ONLY_ON_ANY_RESOURCE)
        if wide:
            which = statement.properties.get("Sid") or f"statement {number}"
            raise ValueError(
                f"{owner}: {which} allows {', '.join(wide)} on Resource \"*\"; scope it to ARNs "
                f"(only actions AWS authorizes on \"*\" alone may have it: codemate_cfn/wildcard_actions.py)"
            )


def role(logical_id: str, service: str, statements: list[Statement], **props) -> Role:
    """A role `service` (e.g. "ecs-tasks.amazonaws.com") assumes, with one
    inline policy holding `statements` (none when there are none: a role AWS
    defines the permissions of takes its managed policy, ManagedPolicyArns).
    ValueError when a statement allows an action on Resource "*" that AWS
    also authorizes on narrower resources."""
    _refuse_wildcards(f"role {logical_id}", statements)
    if statements:
        props["Policies"] = [Policy(PolicyName=logical_id, PolicyDocument=PolicyDocument(
            Version="2012-10-17", Statement=list(statements)))]
    return Role(
        logical_id,
        AssumeRolePolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            Statement(Effect=Allow, Principal=Principal("Service", service), Action=[AssumeRole]),
        ]),
        **props,
    )


def role_policy(logical_id: str, roles: list, statements: list[Statement], **props) -> PolicyType:
    """A further inline policy of `roles` (Refs to roles) as a resource of
    its own, named like its logical ID: for grants that exist only under a
    condition (Condition=...), which a role's own policy cannot leave out.
    ValueError as role() for a statement on Resource "*"."""
    _refuse_wildcards(f"policy {logical_id}", statements)
    return PolicyType(
        logical_id,
        PolicyName=logical_id,
        Roles=list(roles),
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=list(statements)),
        **props,
    )
