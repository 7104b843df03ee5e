"""Security groups and their rules: TCP on one port, from or to one peer (a
CIDR such as ANYWHERE, or another group's ID), every rule described, and
egress always explicit (a group declared without egress would get AWS's
allow-all rule)."""

from __future__ import annotations

from troposphere import Tags
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, SecurityGroupRule

ANYWHERE = "0.0.0.0/0"

# This rule matches no real traffic: it replaces AWS's allow-all egress with "none".
NO_EGRESS = SecurityGroupRule(
    IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32",
    Description="No outbound traffic (replaces the default allow-all rule)",
)


def _rule(direction: str, port: int | None, peer, description: str) -> dict:
    """The properties of one rule; port None is every protocol and port."""
    if not description or not description.strip():
        raise ValueError(f"security group {direction} rule on port {port if port is not None else 'any'} "
                         f"to or from {peer}: a description is required (say what the traffic is)")
    if isinstance(peer, str):
        where = {"CidrIp": peer}
    else:
        where = {"SourceSecurityGroupId" if direction == "ingress" else "DestinationSecurityGroupId": peer}
    protocol = {"IpProtocol": "-1"} if port is None else {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    return {**protocol, **where, "Description": description}


def ingress(port: int, peer, description: str) -> SecurityGroupRule:
    """TCP `port` from `peer` (a CIDR or a security group ID)."""
    return SecurityGroupRule(**_rule("ingress", port, peer, description))


def egress(port: int, peer, description: str) -> SecurityGroupRule:
    """TCP `port` to `peer` (a CIDR or a security group ID)."""
    return SecurityGroupRule(**_rule("egress", port, peer, description))


def all_egress(peer, description: str) -> SecurityGroupRule:
    """Every protocol and port to `peer`."""
    return SecurityGroupRule(**_rule("egress", None, peer, description))


def separate_ingress(logical_id: str, group, port: int, peer, description: str) -> SecurityGroupIngress:
    """An ingress rule of `group` (its ID) as a resource of its own: for two
    groups whose inline rules would name each other (a dependency cycle)."""
    return SecurityGroupIngress(logical_id, GroupId=group, **_rule("ingress", port, peer, description))


def security_group(t, logical_id: str, name: str, description: str, inbound: list, outbound: list) -> SecurityGroup:
    """A group in the layer's VpcId named <prefix>-<name>-<env>, with these
    inline rules; `outbound` is required (NO_EGRESS for none)."""
    if not outbound:
        raise ValueError(f"security group {logical_id}: egress must be explicit (NO_EGRESS for none)")
    props = {"SecurityGroupIngress": inbound} if inbound else {}
    return t.add(SecurityGroup(
        logical_id,
        GroupName=t.name_of(name),
        GroupDescription=description,
        VpcId=t.input("VpcId"),
        SecurityGroupEgress=outbound,
        Tags=Tags(Name=t.name_of(name)),
        **props,
    ))
