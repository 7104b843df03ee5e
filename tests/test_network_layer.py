"""The network layer holds the design's values for dev and prod:
subnet CIDRs and AZs, the NAT count per environment, route targets, the S3
gateway endpoint and the flow logs to the logs bucket."""

from __future__ import annotations

import json

import pytest

from layer_values import ENVIRONMENTS, Environment, catalogue, param_file, templates

REGION = "ap-northeast-2"
# CodeMate's design: (tier, AZ) -> CIDR
SUBNETS = {
    ("Public", "2a"): "10.0.1.0/24",
    ("Public", "2c"): "10.0.2.0/24",
    ("App", "2a"): "10.0.11.0/24",
    ("App", "2c"): "10.0.12.0/24",
    ("Db", "2a"): "10.0.21.0/24",
    ("Db", "2c"): "10.0.22.0/24",
}
NAT_GATEWAYS = {"dev": ["NatGateway2a"], "prod": ["NatGateway2a", "NatGateway2c"]}


def in_region(value) -> str:
    """An AZ written as Fn::Sub over ${AWS::Region}, as deployed in Seoul."""
    return value["Fn::Sub"].replace("${AWS::Region}", REGION)


def routes_of(network: Environment, route_table: str) -> list[dict]:
    return [r["Properties"] for r in network.of_type("AWS::EC2::Route").values()
            if r["Properties"]["RouteTableId"] == {"Ref": route_table}]


def route_table_of(network: Environment, subnet: str) -> str:
    (table,) = [a["Properties"]["RouteTableId"]["Ref"]
                for a in network.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
                if a["Properties"]["SubnetId"] == {"Ref": subnet}]
    return table


def test_the_vpc_is_10_0_0_0_16_with_dns(network):
    vpc = network.props("Vpc")
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert vpc["EnableDnsSupport"] is True and vpc["EnableDnsHostnames"] is True


@pytest.mark.parametrize("tier, az", sorted(SUBNETS))
def test_each_subnet_has_the_spec_cidr_in_its_az(network, tier, az):
    subnet = network.props(f"{tier}Subnet{az}")

    assert subnet["CidrBlock"] == SUBNETS[tier, az]
    assert in_region(subnet["AvailabilityZone"]) == f"{REGION}{az[-1]}"
    assert subnet["VpcId"] == {"Ref": "Vpc"}
    assert subnet["MapPublicIpOnLaunch"] is False


@pytest.mark.parametrize("tier, az", sorted(SUBNETS))
def test_the_root_passes_each_subnet_cidr_from_its_parameter(tier, az):
    name = f"{tier}Subnet{az}Cidr"
    root = templates()["root"]

    assert templates()["network"]["Resources"][f"{tier}Subnet{az}"]["Properties"]["CidrBlock"] == {"Ref": name}
    assert root["Resources"]["NetworkStack"]["Properties"]["Parameters"][name] == {"Ref": name}
    assert root["Parameters"][name]["Default"] == SUBNETS[tier, az] == catalogue()[name].default
    for env in ENVIRONMENTS:
        assert param_file(env)[name] == SUBNETS[tier, az]


def test_nat_gateway_count_comes_from_the_parameter_file():
    root = templates()["root"]
    assert root["Resources"]["NetworkStack"]["Properties"]["Parameters"]["NatGatewayCount"] == {"Ref": "NatGatewayCount"}
    assert templates()["network"]["Conditions"]["TwoNatGateways"] == {"Fn::Equals": [{"Ref": "NatGatewayCount"}, "2"]}
    assert {env: param_file(env)["NatGatewayCount"] for env in ENVIRONMENTS} == {"dev": "1", "prod": "2"}


def test_nat_type_comes_from_the_parameter_file_instance_in_dev_gateways_in_prod():
    root = templates()["root"]
    for name in ("NatType", "NatInstanceType"):
        assert root["Resources"]["NetworkStack"]["Properties"]["Parameters"][name] == {"Ref": name}
    assert catalogue()["NatType"].default == "gateway"
    assert catalogue()["NatInstanceType"].default == "t4g.nano"
    assert {env: param_file(env)["NatType"] for env in ENVIRONMENTS} == {"dev": "instance", "prod": "gateway"}
    assert {env: param_file(env)["NatInstanceType"] for env in ENVIRONMENTS} == {"dev": "t4g.nano", "prod": "t4g.nano"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_with_nat_gateways_one_in_dev_one_per_az_in_prod(env):
    """NatType gateway (prod's): NatGatewayCount managed NAT gateways, no NAT instance."""
    network = Environment("network", env, NatType="gateway")
    nats = network.of_type("AWS::EC2::NatGateway")

    assert network.condition("TwoNatGateways") is (env == "prod")
    assert sorted(nats) == NAT_GATEWAYS[env]
    for logical_id, nat in nats.items():
        az = logical_id[-2:]
        assert nat["Properties"]["SubnetId"] == {"Ref": f"PublicSubnet{az}"}
        assert nat["Properties"]["AllocationId"] == {"Fn::GetAtt": [f"NatEip{az}", "AllocationId"]}
        assert network.props(f"NatEip{az}")["Domain"] == "vpc"
    assert sorted(network.of_type("AWS::EC2::EIP")) == [n.replace("NatGateway", "NatEip") for n in NAT_GATEWAYS[env]]
    assert network.of_type("AWS::EC2::Instance") == {}
    assert not network.exists("NatInstanceSecurityGroup")


def test_the_committed_files_give_prod_two_nat_gateways_and_dev_one_nat_instance(network):
    if network.env == "prod":
        assert sorted(network.of_type("AWS::EC2::NatGateway")) == ["NatGateway2a", "NatGateway2c"]
        assert network.of_type("AWS::EC2::Instance") == {}
    else:
        assert network.of_type("AWS::EC2::NatGateway") == {}
        assert sorted(network.of_type("AWS::EC2::Instance")) == ["NatInstance2a"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_with_nat_instances_each_nat_is_a_t4g_nano_in_the_public_subnet(env):
    """NatType instance (dev's): NatGatewayCount EC2 instances, source/dest
    check off, IMDSv2 only, encrypted root volume, an Elastic IP each."""
    network = Environment("network", env, NatType="instance")
    instances = network.of_type("AWS::EC2::Instance")
    azs = ["2a", "2c"] if env == "prod" else ["2a"]

    assert network.of_type("AWS::EC2::NatGateway") == {}
    assert sorted(instances) == [f"NatInstance{az}" for az in azs]
    assert sorted(network.of_type("AWS::EC2::EIP")) == [f"NatInstanceEip{az}" for az in azs]
    for az in azs:
        props = instances[f"NatInstance{az}"]["Properties"]
        assert props["InstanceType"] == "t4g.nano"
        assert props["ImageId"] == (
            "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64}}")
        assert props["SubnetId"] == {"Ref": f"PublicSubnet{az}"}
        assert props["SourceDestCheck"] is False
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": ["NatInstanceSecurityGroup", "GroupId"]}]
        assert props["MetadataOptions"]["HttpTokens"] == "required"
        assert [d["Ebs"]["Encrypted"] for d in props["BlockDeviceMappings"]] == [True]
        assert network.props(f"NatInstanceEip{az}") == {
            "Domain": "vpc", "InstanceId": {"Ref": f"NatInstance{az}"}, "Tags": network.props(f"NatInstanceEip{az}")["Tags"]}


def test_the_nat_instance_forwards_and_masquerades_the_app_subnets_persistently():
    written = templates()["network"]["Resources"]["NatInstance2a"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    script = Environment("network", "dev").props("NatInstance2a")["UserData"]["Fn::Base64"]

    assert "net.ipv4.ip_forward = 1" in script and "/etc/sysctl.d/" in script
    assert "masquerade" in script and "/etc/sysconfig/nftables.conf" in script
    assert "systemctl enable nftables" in script
    assert "ip saddr { ${AppSubnet2aCidr}, ${AppSubnet2cCidr} } ip daddr != ${VpcCidr} masquerade" in written
    assert "ip saddr { 10.0.11.0/24, 10.0.12.0/24 } ip daddr != 10.0.0.0/16 masquerade" in script


def test_the_nat_instance_is_recovered_when_its_system_status_check_fails():
    network = Environment("network", "dev")
    alarm = network.props("NatInstanceRecoveryAlarm2a")

    assert alarm["Namespace"] == "AWS/EC2" and alarm["MetricName"] == "StatusCheckFailed_System"
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": {"Ref": "NatInstance2a"}}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0
    assert alarm["AlarmActions"] == [{"Fn::Sub": "arn:${AWS::Partition}:automate:${AWS::Region}:ec2:recover"}]


def test_the_nat_instances_group_takes_traffic_from_the_app_subnets_only():
    group = Environment("network", "dev").props("NatInstanceSecurityGroup")

    assert [(r["IpProtocol"], r["CidrIp"]) for r in group["SecurityGroupIngress"]] == [
        ("-1", SUBNETS["App", "2a"]), ("-1", SUBNETS["App", "2c"])]
    assert all(r["Description"] for r in group["SecurityGroupIngress"] + group["SecurityGroupEgress"])
    assert [(r["IpProtocol"], r["CidrIp"]) for r in group["SecurityGroupEgress"]] == [("-1", "0.0.0.0/0")]
    assert group["VpcId"] == {"Ref": "Vpc"}


def test_public_subnets_route_to_the_internet_gateway(network):
    for az in ("2a", "2c"):
        assert route_table_of(network, f"PublicSubnet{az}") == "PublicRouteTable"
    assert routes_of(network, "PublicRouteTable") == [
        {"RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "InternetGateway"}}
    ]
    attachment = network.props("InternetGatewayAttachment")
    assert attachment == {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "InternetGateway"}}


@pytest.mark.parametrize("nat_type, target, kind", [("gateway", "NatGatewayId", "NatGateway"),
                                                    ("instance", "InstanceId", "NatInstance")])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_app_subnets_route_through_the_nat_in_their_az_or_the_only_one(env, nat_type, target, kind):
    network = Environment("network", env, NatType=nat_type)
    expected_nat = {"2a": f"{kind}2a", "2c": f"{kind}2c" if env == "prod" else f"{kind}2a"}
    for az in ("2a", "2c"):
        table = route_table_of(network, f"AppSubnet{az}")
        assert table == f"AppRouteTable{az}"
        assert routes_of(network, table) == [
            {"RouteTableId": {"Ref": table}, "DestinationCidrBlock": "0.0.0.0/0", target: {"Ref": expected_nat[az]}}
        ]


def test_db_subnets_share_a_route_table_with_no_routes(network):
    assert route_table_of(network, "DbSubnet2a") == route_table_of(network, "DbSubnet2c") == "DbRouteTable"
    assert routes_of(network, "DbRouteTable") == []
    assert len(network.of_type("AWS::EC2::Route")) == 3  # public + one per app route table


def test_the_s3_gateway_endpoint_serves_the_app_route_tables(network):
    endpoint = network.props("S3GatewayEndpoint")

    assert endpoint["VpcEndpointType"] == "Gateway"
    assert in_region(endpoint["ServiceName"]) == f"com.amazonaws.{REGION}.s3"
    assert endpoint["RouteTableIds"] == [{"Ref": "AppRouteTable2a"}, {"Ref": "AppRouteTable2c"}]


ACCOUNT_ID = "123456789012"


def in_account(value) -> str:
    """An ARN written as Fn::Sub over the pseudo parameters, as deployed in
    Seoul in account ACCOUNT_ID."""
    return (value["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::Region}", REGION)
            .replace("${AWS::AccountId}", ACCOUNT_ID))


def test_the_s3_gateway_endpoint_reaches_only_this_accounts_buckets_and_ecrs_image_layers(network):
    """Who (any principal in the app subnets) may do what on which S3 ARNs
    through the endpoint, per environment; nothing else passes it."""
    policy = network.props("S3GatewayEndpoint")["PolicyDocument"]
    assert policy["Version"] == "2012-10-17"
    rows = {(s["Sid"], s["Effect"], json.dumps(s["Principal"]), action, in_account(resource),
             json.dumps(s.get("Condition", {}), sort_keys=True))
            for s in policy["Statement"] for action in s["Action"] for resource in s["Resource"]}

    assert rows == {
        ("ThisAccountsBuckets", "Allow", '"*"', "s3:*", "arn:aws:s3:::*",
         json.dumps({"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}})),
        # ECR user guide, "Minimum Amazon S3 bucket permissions for Amazon ECR": Fargate pulls the layers from here
        ("EcrImageLayers", "Allow", '"*"', "s3:GetObject", f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/*",
         "{}"),
    }


def test_the_s3_gateway_endpoint_policy_lets_no_other_accounts_bucket_through(network):
    """Every statement either names this account (aws:ResourceAccount) or
    reads objects of ECR's layer bucket alone."""
    for statement in network.props("S3GatewayEndpoint")["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow" and "NotResource" not in statement and "NotAction" not in statement
        account = statement.get("Condition", {}).get("StringEquals", {}).get("aws:ResourceAccount")
        if account != {"Ref": "AWS::AccountId"}:
            assert statement["Action"] == ["s3:GetObject"]
            assert [in_account(r) for r in statement["Resource"]] == [
                f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/*"]


def test_vpc_flow_logs_go_to_the_logs_bucket(network):
    flow_log = network.props("VpcFlowLog")

    assert flow_log["ResourceId"] == {"Ref": "Vpc"}
    assert flow_log["ResourceType"] == "VPC"
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "s3"
    assert flow_log["LogDestination"] == {
        "Fn::Sub": "${LogsBucketArn}/vpc-flow-logs/"
    }
    root = templates()["root"]
    assert root["Resources"]["NetworkStack"]["Properties"]["Parameters"]["LogsBucketArn"] == {
        "Fn::GetAtt": ["StorageStack", "Outputs.LogsBucketArn"]
    }
    assert templates()["storage"]["Outputs"]["LogsBucketArn"]["Value"] == {"Fn::GetAtt": ["LogsBucket", "Arn"]}

