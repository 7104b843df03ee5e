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


def test_one_nat_gateway_in_dev_one_per_az_in_prod(network):
    env = network.env
    nats = network.of_type("AWS::EC2::NatGateway")

    assert network.condition("TwoNatGateways") is (env == "prod")
    assert sorted(nats) == NAT_GATEWAYS[env]
    for logical_id, nat in nats.items():
        az = logical_id[-2:]
        assert nat["Properties"]["SubnetId"] == {"Ref": f"PublicSubnet{az}"}
        assert nat["Properties"]["AllocationId"] == {"Fn::GetAtt": [f"NatEip{az}", "AllocationId"]}
        assert network.props(f"NatEip{az}")["Domain"] == "vpc"
    assert sorted(network.of_type("AWS::EC2::EIP")) == [n.replace("NatGateway", "NatEip") for n in NAT_GATEWAYS[env]]


def test_public_subnets_route_to_the_internet_gateway(network):
    for az in ("2a", "2c"):
        assert route_table_of(network, f"PublicSubnet{az}") == "PublicRouteTable"
    assert routes_of(network, "PublicRouteTable") == [
        {"RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "InternetGateway"}}
    ]
    attachment = network.props("InternetGatewayAttachment")
    assert attachment == {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "InternetGateway"}}


def test_app_subnets_route_through_the_nat_in_their_az_or_the_only_one(network):
    env = network.env
    expected_nat = {"2a": "NatGateway2a", "2c": "NatGateway2c" if env == "prod" else "NatGateway2a"}
    for az in ("2a", "2c"):
        table = route_table_of(network, f"AppSubnet{az}")
        assert table == f"AppRouteTable{az}"
        assert routes_of(network, table) == [
            {"RouteTableId": {"Ref": table}, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": expected_nat[az]}}
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

