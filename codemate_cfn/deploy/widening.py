"""Notes on changes that widen access: security-group rules that let more
traffic through, IAM or resource policies that allow more, Deny
statements that go away. Works on resolved properties (see conditions.py)."""

from __future__ import annotations

import ipaddress
import json

from codemate_cfn.deploy.conditions import RENEWED, show

ANYWHERE = {"0.0.0.0/0", "::/0"}
PEER_KEYS = (
    "CidrIp", "CidrIpv6", "SourceSecurityGroupId", "SourceSecurityGroupName", "SourcePrefixListId",
    "DestinationSecurityGroupId", "DestinationPrefixListId",
)
RULE_TYPES = {"AWS::EC2::SecurityGroupIngress": "ingress", "AWS::EC2::SecurityGroupEgress": "egress"}
ALL_PORTS = (0, 65535)
# A rule that matches no traffic (ICMP type 252 code 86 to the broadcast
# address): it stands in for "no egress" where a group must have a rule, so
# AWS does not add its allow-all one (the kit's NO_EGRESS). It opens nothing.
NO_TRAFFIC = ("icmp", (252, 86), "255.255.255.255/32")


def notes(resource_type: str, old: dict | None, new: dict | None) -> list[str]:
    """What the change from properties `old` to `new` (None: the resource
    is absent) opens up; [] when it widens nothing."""
    old, new = old or {}, new or {}
    found = _security_group_notes(resource_type, old, new)
    found += _policy_notes(old, new)
    found += [f"attaches managed policy {arn}" for arn in _new(old.get("ManagedPolicyArns"), new.get("ManagedPolicyArns"))]
    return found


def _new(old, new) -> list:
    old = old if isinstance(old, list) else []
    return [show(v) for v in (new if isinstance(new, list) else []) if v not in old]


# -- security groups ------------------------------------------------------

def _rule(props: dict) -> tuple[str, tuple[int, int], str]:
    protocol = str(props.get("IpProtocol", ""))
    peer = next((show(props[k]) for k in PEER_KEYS if k in props), "")
    if protocol in ("-1", "all"):
        return "all", ALL_PORTS, peer
    protocol = {"1": "icmp", "6": "tcp", "17": "udp"}.get(protocol, protocol)
    try:
        ports = (int(props.get("FromPort", -1)), int(props.get("ToPort", -1)))
    except (TypeError, ValueError):
        ports = (-1, -1)  # a port only AWS knows: assume the widest
    if protocol != "icmp" and -1 in ports:
        ports = ALL_PORTS
    return protocol, ports, peer


def _within(inner: str, outer: str) -> bool:
    if inner == outer:
        return True
    try:
        return ipaddress.ip_network(inner).subnet_of(ipaddress.ip_network(outer))
    except (ValueError, TypeError):
        return False


def _covers(old: tuple, new: tuple) -> bool:
    (old_proto, (old_from, old_to), old_peer), (new_proto, (new_from, new_to), new_peer) = old, new
    if not _within(new_peer, old_peer):
        return False
    if old_proto == "all":
        return True
    if old_proto == "icmp" == new_proto:  # FromPort/ToPort are ICMP type and code, not a range
        return old_from in (-1, new_from) and old_to in (-1, new_to)
    return old_proto == new_proto and old_from <= new_from and new_to <= old_to


def _ports(rule: tuple) -> str:
    protocol, (low, high), _ = rule
    if protocol == "all":
        return "all traffic"
    if protocol == "icmp":
        return "icmp " + ("all types" if low == -1 else f"type {low}" + ("" if high == -1 else f" code {high}"))
    if (low, high) == ALL_PORTS:
        return f"{protocol} all ports"
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def _describe(rule: tuple, direction: str) -> str:
    peer = rule[2]
    text = f"{direction} {_ports(rule)} {'from' if direction == 'ingress' else 'to'} {peer}"
    if peer in ANYWHERE:
        text += " (anywhere: open to the internet)" if direction == "ingress" else " (anywhere)"
    return text


def _rule_notes(direction: str, old_rules: list, new_rules: list) -> list[str]:
    old = [_rule(p) for p in old_rules if isinstance(p, dict)]
    found = []
    for props in new_rules:
        if not isinstance(props, dict):
            continue
        rule = _rule(props)
        if rule == NO_TRAFFIC or any(_covers(o, rule) for o in old):
            continue
        was = [o for o in old if o[0] == rule[0] and o[2] == rule[2]]
        hint = f", was {_ports(was[0])}" if was else ""
        found.append(f"{_describe(rule, direction)} (new rule{hint})")
    return found


def _security_group_notes(resource_type: str, old: dict, new: dict) -> list[str]:
    if resource_type in RULE_TYPES:
        return _rule_notes(RULE_TYPES[resource_type], [old] if old else [], [new] if new else [])
    if resource_type != "AWS::EC2::SecurityGroup":
        return []
    found = _rule_notes("ingress", old.get("SecurityGroupIngress", []), new.get("SecurityGroupIngress", []))
    found += _rule_notes("egress", old.get("SecurityGroupEgress", []), new.get("SecurityGroupEgress", []))
    if old.get("SecurityGroupEgress") and new and not new.get("SecurityGroupEgress"):
        found.append("egress rules removed: AWS then allows all outbound traffic")
    return found


# -- policies -------------------------------------------------------------

def _documents(value) -> list[dict]:
    """Every policy document (a dict with a Statement) inside properties."""
    if isinstance(value, list):
        return [d for v in value for d in _documents(v)]
    if not isinstance(value, dict):
        return []
    if "Statement" in value:
        return [value]
    return [d for v in value.values() for d in _documents(v)]


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _statements(document: dict) -> list[dict]:
    return [s for s in _listed(document.get("Statement")) if isinstance(s, dict)]


def _grants(statement: dict) -> set[tuple]:
    """(effect, action, resource, principal, condition) for every action
    and resource of a statement; Not* keys are kept apart by a prefix."""
    def pick(*keys):
        for key in keys:
            if key in statement:
                prefix = "not " if key.startswith("Not") else ""
                return [prefix + show(v) for v in _listed(statement[key])]
        return [""]

    principal = ""
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            principal = ("not " if key == "NotPrincipal" else "") + _principal(statement[key])
    condition = _canonical(statement.get("Condition", {}))
    effect = statement.get("Effect", "Allow")
    return {
        (effect, action, resource, principal, condition)
        for action in pick("Action", "NotAction")
        for resource in pick("Resource", "NotResource")
    }


def _principal(value) -> str:
    """{"AWS": [a, b]} -> "AWS a, b"; "*" stays "*"."""
    if not isinstance(value, dict) or any(k == "Ref" or k.startswith("Fn::") for k in value):
        return show(value)
    return "; ".join(f"{kind} {show(who)}" for kind, who in sorted(value.items()))


def _canonical(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str).replace(f'"{RENEWED}"', '"renewed"')


def _wild(text: str) -> bool:
    return text == "*" or text.endswith((":*", " *"))


def _policy_notes(old: dict, new: dict) -> list[str]:
    old_grants = {g for d in _documents(old) for s in _statements(d) for g in _grants(s)}
    new_grants = {g for d in _documents(new) for s in _statements(d) for g in _grants(s)}
    found = []
    for document in _documents(new):
        for statement in _statements(document):
            added = {g for g in _grants(statement) - old_grants if g[0] == "Allow"}
            if not added:
                continue
            actions = sorted({g[1] for g in added})
            resources = sorted({g[2] for g in added if g[2]})
            principals = sorted({g[3] for g in added if g[3]})
            text = f"policy allows {', '.join(actions)}"
            text += f" on {', '.join(resources)}" if resources else ""
            text += f" to {', '.join(principals)}" if principals else ""
            if any(_wild(x) for x in [*actions, *resources, *principals]):
                text = "wildcard: " + text
            sid = statement.get("Sid")
            found.append(text + (f" (statement {sid})" if sid else ""))
    gone = {g for g in old_grants - new_grants if g[0] == "Deny"}
    for action in sorted({g[1] for g in gone}):
        found.append(f"policy no longer denies {action}")
    return found
