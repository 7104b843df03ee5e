"""E9004: security group rules. Every ingress and egress rule says what it
is for (a Description), and no ingress is open to the internet (0.0.0.0/0,
::/0) but TCP 80 and 443 on the load balancer's group. Covers the inline
rules of AWS::EC2::SecurityGroup and the standalone AWS::EC2::SecurityGroupIngress
and AWS::EC2::SecurityGroupEgress resources."""

import ipaddress

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.compile.rules._values import branches

# The load balancer's group: logical ID -> the parameter that carries its ID
# into later layers (the security layer's output of that name). Named here,
# not found through an ELBv2 LoadBalancer's SecurityGroups: the group lives in
# the security layer and the ALB in another one, so no single template shows
# both. Logical IDs are stable (renaming one replaces the resource).
LOAD_BALANCER_GROUPS = {"AlbSecurityGroup": "AlbSecurityGroupId"}
PUBLIC_PORTS = ("80", "443")
STANDALONE = {"AWS::EC2::SecurityGroupIngress": True, "AWS::EC2::SecurityGroupEgress": False}
INLINE = {"SecurityGroupIngress": True, "SecurityGroupEgress": False}


def _internet(rule: dict) -> str | None:
    """The rule's source when it is the whole internet."""
    for key in ("CidrIp", "CidrIpv6"):
        cidr = rule.get(key)
        try:
            if isinstance(cidr, str) and ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
                return cidr
        except ValueError:
            pass  # not an address: cfn-lint's own rules say so
    return None


def _public_web(rule: dict) -> bool:
    ports = {str(rule.get("FromPort")), str(rule.get("ToPort"))}
    return str(rule.get("IpProtocol")).lower() in ("tcp", "6") and len(ports) == 1 and ports <= set(PUBLIC_PORTS)


def _is_load_balancer_group(group_id) -> bool:
    """True when a standalone rule's GroupId names the load balancer's group."""
    if not isinstance(group_id, dict) or len(group_id) != 1:
        return False
    (function, argument), = group_id.items()
    if function == "Ref":
        return argument in LOAD_BALANCER_GROUPS or argument in LOAD_BALANCER_GROUPS.values()
    if function == "Fn::GetAtt":
        name = argument[0] if isinstance(argument, list) and argument else str(argument).split(".")[0]
        return name in LOAD_BALANCER_GROUPS
    return False


def problems(rule, ingress: bool, load_balancer: bool) -> list[str]:
    if not isinstance(rule, dict):
        return []
    found = []
    description = rule.get("Description")
    if description is None or (isinstance(description, str) and not description.strip()):
        found.append("has no Description")
    source = _internet(rule) if ingress else None
    if source and not (load_balancer and _public_web(rule)):
        ports = f"{rule.get('FromPort', 'all')}-{rule.get('ToPort', 'all')}"
        found.append(f"lets in {rule.get('IpProtocol')} {ports} from {source}; only the load balancer's group "
                     f"({', '.join(LOAD_BALANCER_GROUPS)}) may take TCP {' and '.join(PUBLIC_PORTS)} from the internet")
    return found


class SecurityGroupRules(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "Security group rules are described and closed to the internet"
    description = (
        "Every security group ingress and egress rule has a Description; no ingress from 0.0.0.0/0 or ::/0 "
        "except TCP 80 and 443 on the load balancer's group (" + ", ".join(LOAD_BALANCER_GROUPS) + ")."
    )
    source_url = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
    tags = ["resources", "ec2", "securitygroup", "codemate"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in cfn.get_resources(["AWS::EC2::SecurityGroup", *STANDALONE]).items():
            rtype = resource["Type"]
            properties = resource.get("Properties")
            if not isinstance(properties, dict):
                continue
            base = ["Resources", logical_id, "Properties"]
            if rtype in STANDALONE:
                load_balancer = _is_load_balancer_group(properties.get("GroupId"))
                checks = [(base, properties, STANDALONE[rtype])]
            else:
                load_balancer = logical_id in LOAD_BALANCER_GROUPS
                checks = [(base + [key, index], rule, ingress)
                          for key, ingress in INLINE.items()
                          for rules in branches(properties.get(key)) if isinstance(rules, list)
                          for index, item in enumerate(rules) for rule in branches(item)]
            for path, rule, ingress in checks:
                for problem in problems(rule, ingress, load_balancer):
                    where = "/".join(map(str, path[3:])) or "rule"
                    matches.append(RuleMatch(path, f"{logical_id} ({rtype}) {where} {problem}"))
        return matches
