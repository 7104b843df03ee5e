"""The security layer holds exactly the rules of CodeMate's design: every rule
described, egress always explicit, and none at all for RDS and Redis."""

from __future__ import annotations

import pytest

from layer_values import templates

ANYWHERE = "0.0.0.0/0"
GROUPS = ("AlbSecurityGroup", "EcsSecurityGroup", "RdsSecurityGroup", "RedisSecurityGroup")
# CodeMate's design, as (protocol, from port, to port, peer): a CIDR or a group's logical ID.
INGRESS = {
    "AlbSecurityGroup": {("tcp", 443, 443, ANYWHERE), ("tcp", 80, 80, ANYWHERE)},
    "EcsSecurityGroup": {("tcp", 3000, 3000, "AlbSecurityGroup"), ("tcp", 3001, 3001, "AlbSecurityGroup")},
    "RdsSecurityGroup": {("tcp", 5432, 5432, "EcsSecurityGroup")},
    "RedisSecurityGroup": {("tcp", 6379, 6379, "EcsSecurityGroup")},
}
EGRESS = {
    "AlbSecurityGroup": {("tcp", 3000, 3000, "EcsSecurityGroup"), ("tcp", 3001, 3001, "EcsSecurityGroup")},
    "EcsSecurityGroup": {("-1", None, None, ANYWHERE)},
    "RdsSecurityGroup": set(),
    "RedisSecurityGroup": set(),
}
PEERS = ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "DestinationSecurityGroupId", "SourcePrefixListId", "DestinationPrefixListId")


@pytest.fixture(scope="module")
def security() -> dict:
    return templates()["security"]


def rules(security: dict, group: str, direction: str) -> list[dict]:
    """Every rule of `group` in one direction ("Ingress" or "Egress"):
    inline ones and separate SecurityGroupIngress/Egress resources."""
    resources = security["Resources"]
    found = list(resources[group]["Properties"].get(f"SecurityGroup{direction}", []))
    for resource in resources.values():
        if resource["Type"] == f"AWS::EC2::SecurityGroup{direction}" and resource["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}:
            found.append({k: v for k, v in resource["Properties"].items() if k != "GroupId"})
    return found


def is_no_traffic_placeholder(rule: dict) -> bool:
    """The rule that stands for "no egress": without any egress rule AWS
    adds allow-all, so a rule no packet can match takes its place."""
    placeholder = {"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "255.255.255.255/32"}
    return {k: rule.get(k) for k in placeholder} == placeholder


def shape(rule: dict) -> tuple:
    (peer,) = [rule[k] for k in PEERS if k in rule]
    peer = peer["Fn::GetAtt"][0] if isinstance(peer, dict) else peer
    return (str(rule["IpProtocol"]), rule.get("FromPort"), rule.get("ToPort"), peer)


@pytest.mark.parametrize("group", GROUPS)
def test_ingress_is_exactly_the_spec(security, group):
    found = rules(security, group, "Ingress")
    assert {shape(r) for r in found} == INGRESS[group]
    assert len(found) == len(INGRESS[group])


@pytest.mark.parametrize("group", GROUPS)
def test_egress_is_explicit_and_exactly_the_spec(security, group):
    found = [r for r in rules(security, group, "Egress") if not is_no_traffic_placeholder(r)]
    assert "SecurityGroupEgress" in security["Resources"][group]["Properties"]
    assert {shape(r) for r in found} == EGRESS[group]
    assert len(found) == len(EGRESS[group])


@pytest.mark.parametrize("group", ["RdsSecurityGroup", "RedisSecurityGroup"])
def test_rds_and_redis_send_nothing_out(security, group):
    (only,) = rules(security, group, "Egress")
    assert is_no_traffic_placeholder(only)


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("direction", ["Ingress", "Egress"])
def test_every_rule_says_what_it_is_for(security, group, direction):
    for rule in rules(security, group, direction):
        assert len(rule.get("Description", "")) > 10, rule


def test_the_groups_live_in_the_network_layers_vpc(security):
    for group in GROUPS:
        assert security["Resources"][group]["Properties"]["VpcId"] == {"Ref": "VpcId"}
    stack = templates()["root"]["Resources"]["SecurityStack"]["Properties"]
    assert stack["Parameters"]["VpcId"] == {"Fn::GetAtt": ["NetworkStack", "Outputs.VpcId"]}


def test_group_names_carry_the_environment(security):
    names = {g: security["Resources"][g]["Properties"]["GroupName"] for g in GROUPS}
    assert names == {
        "AlbSecurityGroup": {"Fn::Sub": "codemate-alb-sg-${EnvironmentName}"},
        "EcsSecurityGroup": {"Fn::Sub": "codemate-ecs-sg-${EnvironmentName}"},
        "RdsSecurityGroup": {"Fn::Sub": "codemate-rds-sg-${EnvironmentName}"},
        "RedisSecurityGroup": {"Fn::Sub": "codemate-redis-sg-${EnvironmentName}"},
    }



# -- InterfaceEndpoints ------------------------------------------------------------

ENDPOINTS = {"EcrApiEndpoint": "ecr.api", "EcrDkrEndpoint": "ecr.dkr", "LogsEndpoint": "logs",
             "SecretsManagerEndpoint": "secretsmanager"}


def test_interface_endpoints_are_off_by_default_and_in_both_committed_files():
    from layer_values import catalogue, param_file
    assert catalogue()["InterfaceEndpoints"].default == "false"
    assert {env: param_file(env)["InterfaceEndpoints"] for env in ("dev", "prod")} == {"dev": "false",
                                                                                     "prod": "false"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_without_interface_endpoints_none_is_made(env):
    from layer_values import Environment
    view = Environment("security", env)
    assert view.of_type("AWS::EC2::VPCEndpoint") == {}
    assert not view.exists("EndpointSecurityGroup")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_interface_endpoints_sit_in_both_app_subnets_with_private_dns(env):
    from layer_values import Environment
    view = Environment("security", env, InterfaceEndpoints="true")
    made = view.of_type("AWS::EC2::VPCEndpoint")
    assert sorted(made) == sorted(ENDPOINTS)
    for logical_id, service in ENDPOINTS.items():
        props = made[logical_id]["Properties"]
        assert props["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.%s" % service}
        assert props["VpcEndpointType"] == "Interface" and props["PrivateDnsEnabled"] is True
        assert props["VpcId"] == {"Ref": "VpcId"}
        assert props["SubnetIds"] == [{"Fn::Select": [i, {"Fn::Split": [",", {"Ref": "AppSubnetIds"}]}]}
                                      for i in (0, 1)]
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": ["EndpointSecurityGroup", "GroupId"]}]


def test_the_endpoints_group_takes_https_from_the_ecs_tasks_only(security):
    assert security["Resources"]["EndpointSecurityGroup"]["Condition"] == "InterfaceEndpoints"
    assert {shape(r) for r in rules(security, "EndpointSecurityGroup", "Ingress")} == {
        ("tcp", 443, 443, "EcsSecurityGroup")}
    assert [r["Description"] for r in rules(security, "EndpointSecurityGroup", "Ingress")]
    egress = security["Resources"]["EndpointSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert len(egress) == 1 and is_no_traffic_placeholder(egress[0])
