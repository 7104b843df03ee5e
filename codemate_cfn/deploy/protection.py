"""Protection a parameter file asks for: stack policies that deny replacing
or deleting stateful resources, termination protection on the root, and
lifting a policy for exactly the replacements a user allowed."""

from __future__ import annotations

import json

from codemate_cfn.compile.layout import ROOT
from codemate_cfn.deploy.stack import stack_ids
from codemate_cfn.stateful import is_stateful, stack_policy


def desired_policies(templates: dict[str, dict], params, labels: dict[str, str]) -> dict[str, dict]:
    """Template name -> stack policy: deny replacing or deleting stateful
    resources (when Deployment.ProtectStatefulResources), and in the root
    the nested stacks holding them; plus the file's own StackPolicy."""
    policies = {}
    if params.deployment.get("ProtectStatefulResources"):
        holders = {
            name for name, t in templates.items()
            if any(is_stateful(r.get("Type", "")) for r in t.get("Resources", {}).values())
        }
        for name, t in templates.items():
            ids = [lid for lid, r in t.get("Resources", {}).items() if is_stateful(r.get("Type", ""))]
            if name == ROOT:
                ids = [lid for lid, n in labels.items() if n in holders]
            if ids:
                policies[name] = stack_policy(ids)
    if params.stack_policy:
        root = policies.setdefault(ROOT, {"Statement": []})
        root["Statement"] = root["Statement"] + list(params.stack_policy.get("Statement", []))
    return policies


def current_policy(cfn, stack_id: str) -> dict | None:
    body = cfn.get_stack_policy(StackName=stack_id).get("StackPolicyBody")
    return json.loads(body) if body else None


def without(policy: dict, logical_ids: set[str]) -> dict:
    """The policy with the given resources taken out of its Deny statements."""
    statements = []
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        if statement.get("Effect") == "Deny" and isinstance(resources, list):
            kept = [r for r in resources if r.removeprefix("LogicalResourceId/") not in logical_ids]
            if not kept:
                continue
            statement = {**statement, "Resource": kept}
        statements.append(statement)
    return {**policy, "Statement": statements}


def lift_for(aws, root_id: str, changes, allowed: set[str], labels: dict[str, str], ui) -> bool:
    """Let the stack policies allow the replacements the user allowed
    (ExecuteChangeSet takes no policy override); True when one was lifted."""
    cfn = aws.cloudformation
    by_stack: dict[str, set[str]] = {}
    for c in changes:
        if c.stateful and {c.logical_id, f"{c.stack}/{c.logical_id}"} & allowed:
            by_stack.setdefault(c.stack, set()).add(c.logical_id)
    if not by_stack:
        return False
    ids = stack_ids(cfn, root_id, labels)
    lifted = False
    for stack, logical_ids in by_stack.items():
        if stack not in ids:
            continue
        current = current_policy(cfn, ids[stack])
        if current is None:
            continue
        relaxed = without(current, logical_ids)
        if relaxed != current:
            ui.step(f"stack policy of {stack}: allowing the replacement of {', '.join(sorted(logical_ids))} for this deploy")
            cfn.set_stack_policy(StackName=ids[stack], StackPolicyBody=json.dumps(relaxed))
            lifted = True
    return lifted


def protect(aws, stack: dict, templates: dict[str, dict], params, labels: dict[str, str], ui,
            thorough: bool = True) -> None:
    """Stack policies on the root and each nested stack, and termination
    protection on the root, as the parameter file's Deployment asks.
    Not `thorough` (a deploy that changed nothing): when the root's policy
    is as wanted, the nested ones are taken to be too."""
    cfn = aws.cloudformation
    policies = desired_policies(templates, params, labels)
    # The root's policy is set last, so a root already as wanted means an
    # earlier deploy protected everything; one that failed half-way left the
    # root as it was and is completed now.
    settled = not thorough and ROOT in policies and current_policy(cfn, stack["StackId"]) == policies[ROOT]
    if policies and not settled:
        ids = stack_ids(cfn, stack["StackId"], labels)
        for name in sorted(policies, key=lambda n: n == ROOT):
            if name in ids and current_policy(cfn, ids[name]) != policies[name]:
                cfn.set_stack_policy(StackName=ids[name], StackPolicyBody=json.dumps(policies[name]))
                ui.step(f"stack policy set on {name}: stateful resources cannot be replaced or deleted")
    wanted = bool(params.deployment.get("TerminationProtection"))
    current = bool(stack.get("EnableTerminationProtection"))
    if wanted and not current:
        cfn.update_termination_protection(StackName=stack["StackId"], EnableTerminationProtection=True)
        ui.step(f"termination protection turned on for {stack['StackName']}")
    elif current and not wanted:
        ui.note(f"note: {stack['StackName']} keeps its termination protection although {params.path.name} does not ask "
                f"for it; lift it with: aws cloudformation update-termination-protection "
                f"--no-enable-termination-protection --stack-name {stack['StackName']}")
