"""Network layer: the VPC, six subnets in two AZs, internet and NAT
gateways, route tables, the S3 gateway endpoint and VPC flow logs."""

from awacs import s3
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Equals, If, Join, Ref, Sub, Tags
from troposphere.ec2 import (
    EIP,
    VPC,
    FlowLog,
    InternetGateway,
    NatGateway,
    Route,
    RouteTable,
    Subnet,
    SubnetRouteTableAssociation,
    VPCEndpoint,
    VPCGatewayAttachment,
)

from codemate_cfn.layer import Layer

from .project import AZS, az

TIERS = ("Public", "App", "Db")
ANYWHERE = "0.0.0.0/0"
TWO_NATS = "TwoNatGateways"  # the condition: NatGatewayCount is 2


def vpc(t) -> VPC:
    return t.add(VPC(
        "Vpc",
        CidrBlock=t.input("VpcCidr"),
        EnableDnsHostnames=True,
        EnableDnsSupport=True,
        Tags=Tags(Name=t.name_of("vpc")),
    ))


def subnets(t, network: VPC) -> dict[tuple[str, str], Subnet]:
    """One subnet per tier and AZ, by (tier, AZ suffix)."""
    made = {}
    for tier in TIERS:
        for suffix in AZS:
            made[tier, suffix] = t.add(Subnet(
                f"{tier}Subnet{suffix}",
                VpcId=Ref(network),
                CidrBlock=t.input(f"{tier}Subnet{suffix}Cidr"),
                AvailabilityZone=az(suffix),
                MapPublicIpOnLaunch=False,
                Tags=Tags(Name=t.name_of(tier.lower(), suffix), Tier=tier.lower()),
            ))
    return made


def route_table(t, logical_id: str, network: VPC, name: str, *tier_subnets: Subnet) -> RouteTable:
    """A route table, associated with the given subnets."""
    table = t.add(RouteTable(logical_id, VpcId=Ref(network), Tags=Tags(Name=t.name_of(name))))
    for subnet in tier_subnets:
        t.add(SubnetRouteTableAssociation(f"{subnet.title}RouteTableAssociation",
                                          SubnetId=Ref(subnet), RouteTableId=Ref(table)))
    return table


def internet_gateway(t, network: VPC, subnet: dict) -> VPCGatewayAttachment:
    """The internet gateway, and the public subnets' one route table with
    its default route to it; returns the gateway's attachment."""
    igw = t.add(InternetGateway("InternetGateway", Tags=Tags(Name=t.name_of("igw"))))
    attachment = t.add(VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(network), InternetGatewayId=Ref(igw)))
    public = route_table(t, "PublicRouteTable", network, "public-rt", *(subnet["Public", s] for s in AZS))
    t.add(Route(
        "PublicDefaultRoute",
        RouteTableId=Ref(public),
        DestinationCidrBlock=ANYWHERE,
        GatewayId=Ref(igw),
        DependsOn=attachment.title,
    ))
    return attachment


def nat_gateways(t, subnet: dict, attachment: VPCGatewayAttachment) -> dict[str, NatGateway]:
    """One NAT gateway in 2a always; a second in 2c when NatGatewayCount is 2."""
    t.condition(TWO_NATS, Equals(t.input("NatGatewayCount"), "2"))
    nats = {}
    for suffix in AZS:
        condition = {"Condition": TWO_NATS} if suffix != AZS[0] else {}
        eip = t.add(EIP(f"NatEip{suffix}", Domain="vpc", DependsOn=attachment.title,
                        Tags=Tags(Name=t.name_of("nat-eip", suffix)), **condition))
        nats[suffix] = t.add(NatGateway(
            f"NatGateway{suffix}",
            AllocationId=eip.get_att("AllocationId"),
            SubnetId=Ref(subnet["Public", suffix]),
            Tags=Tags(Name=t.name_of("nat", suffix)),
            **condition,
        ))
    return nats


def app_routes(t, network: VPC, subnet: dict, nats: dict) -> list[RouteTable]:
    """A route table per AZ, default route through the NAT in that AZ
    (through the 2a NAT when there is only one)."""
    tables = []
    for suffix in AZS:
        table = route_table(t, f"AppRouteTable{suffix}", network, f"app-rt-{suffix}", subnet["App", suffix])
        nat = Ref(nats[suffix]) if suffix == AZS[0] else If(TWO_NATS, Ref(nats[suffix]), Ref(nats[AZS[0]]))
        t.add(Route(f"AppDefaultRoute{suffix}", RouteTableId=Ref(table), DestinationCidrBlock=ANYWHERE, NatGatewayId=nat))
        tables.append(table)
    return tables


def db_routes(t, network: VPC, subnet: dict) -> None:
    """Isolated: one route table with only the VPC's local route."""
    route_table(t, "DbRouteTable", network, "db-rt", *(subnet["Db", s] for s in AZS))


# The one bucket of AWS's own the app subnets read through the endpoint:
# ECR keeps image layers there, and Fargate downloads them from it when it
# pulls the services' images (ECR user guide, "Minimum Amazon S3 bucket
# permissions for Amazon ECR"). GetObject only: AWS's example adds
# PutObject for pushes, and nothing in these subnets pushes images (the
# CodeBuild projects run outside the VPC). Fargate needs no other AWS
# bucket (no Amazon Linux package repositories: tasks install nothing).
ECR_LAYERS = "arn:${AWS::Partition}:s3:::prod-${AWS::Region}-starport-layer-bucket/*"


def endpoint_policy() -> PolicyDocument:
    """What S3 requests from the app subnets may do through the endpoint:
    anything on this account's buckets (aws:ResourceAccount), which IAM and
    the bucket policies narrow further, and read ECR's image layers; no
    other account's bucket. Resource names S3 ARNs only, so "*" stays out."""
    return PolicyDocument(Version="2012-10-17", Statement=[
        Statement(
            Sid="ThisAccountsBuckets",
            Effect=Allow,
            Principal=Principal("*"),
            Action=[s3.Action("*")],
            Resource=[Sub("arn:${AWS::Partition}:s3:::*")],
            Condition=Condition(StringEquals({"aws:ResourceAccount": Ref("AWS::AccountId")})),
        ),
        Statement(
            Sid="EcrImageLayers",
            Effect=Allow,
            Principal=Principal("*"),
            Action=[s3.GetObject],
            Resource=[Sub(ECR_LAYERS)],
        ),
    ])


def endpoints(t, network: VPC, app_tables: list[RouteTable]) -> None:
    """S3 traffic from the app subnets skips the NAT (gateway endpoints are
    free), to this account's buckets and ECR's image layers only."""
    t.add(VPCEndpoint(
        "S3GatewayEndpoint",
        VpcId=Ref(network),
        ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
        VpcEndpointType="Gateway",
        RouteTableIds=[Ref(table) for table in app_tables],
        PolicyDocument=endpoint_policy(),
    ))


def flow_log(t, network: VPC) -> None:
    """Every flow of the VPC into the logs bucket of the storage layer."""
    t.input("LogsBucketArn")  # named in LogDestination below
    t.add(FlowLog(
        "VpcFlowLog",
        ResourceId=Ref(network),
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=Sub("${LogsBucketArn}/vpc-flow-logs/"),
        MaxAggregationInterval=600,
        Tags=Tags(Name=t.name_of("flow-log")),
    ))


def outputs(t, network: VPC, subnet: dict) -> None:
    t.output("VpcId", Ref(network), "ID of the VPC.")
    for tier in TIERS:
        t.output(f"{tier}SubnetIds", Join(",", [Ref(subnet[tier, s]) for s in AZS]),
                 f"{tier} subnet IDs ({','.join(AZS)}), comma-separated.")


def build(t):
    network = vpc(t)
    subnet = subnets(t, network)
    attachment = internet_gateway(t, network, subnet)
    nats = nat_gateways(t, subnet, attachment)
    app_tables = app_routes(t, network, subnet, nats)
    db_routes(t, network, subnet)
    endpoints(t, network, app_tables)
    flow_log(t, network)
    outputs(t, network, subnet)


LAYER = Layer("network", "VPC, subnets, internet and NAT gateways, routes, S3 endpoint, flow logs", build)
