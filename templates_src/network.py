"""Network layer (SPEC 2): the VPC, six subnets in two AZs, internet and NAT
gateways, route tables, the S3 gateway endpoint and VPC flow logs."""

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


def build(t):
    vpc = t.add(VPC(
        "Vpc",
        CidrBlock=t.input("VpcCidr"),
        EnableDnsHostnames=True,
        EnableDnsSupport=True,
        Tags=Tags(Name=t.name_of("vpc")),
    ))
    two_nats = t.condition("TwoNatGateways", Equals(t.input("NatGatewayCount"), "2"))

    subnets = {}
    for tier in TIERS:
        for suffix in AZS:
            subnets[tier, suffix] = t.add(Subnet(
                f"{tier}Subnet{suffix}",
                VpcId=Ref(vpc),
                CidrBlock=t.input(f"{tier}Subnet{suffix}Cidr"),
                AvailabilityZone=az(suffix),
                MapPublicIpOnLaunch=False,
                Tags=Tags(Name=t.name_of(tier.lower(), suffix), Tier=tier.lower()),
            ))

    # Public: one route table, default route to the internet gateway.
    igw = t.add(InternetGateway("InternetGateway", Tags=Tags(Name=t.name_of("igw"))))
    attachment = t.add(VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)))
    public_rt = t.add(RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=Tags(Name=t.name_of("public-rt"))))
    t.add(Route(
        "PublicDefaultRoute",
        RouteTableId=Ref(public_rt),
        DestinationCidrBlock=ANYWHERE,
        GatewayId=Ref(igw),
        DependsOn=attachment.title,
    ))

    # NAT: one gateway in 2a always; a second in 2c when NatGatewayCount is 2.
    nats = {}
    for suffix in AZS:
        condition = {"Condition": two_nats} if suffix != AZS[0] else {}
        eip = t.add(EIP(f"NatEip{suffix}", Domain="vpc", DependsOn=attachment.title,
                        Tags=Tags(Name=t.name_of("nat-eip", suffix)), **condition))
        nats[suffix] = t.add(NatGateway(
            f"NatGateway{suffix}",
            AllocationId=eip.get_att("AllocationId"),
            SubnetId=Ref(subnets["Public", suffix]),
            Tags=Tags(Name=t.name_of("nat", suffix)),
            **condition,
        ))

    # App: a route table per AZ, default route through the NAT in that AZ
    # (through the 2a NAT when there is only one).
    app_rts = {}
    for suffix in AZS:
        app_rts[suffix] = t.add(RouteTable(f"AppRouteTable{suffix}", VpcId=Ref(vpc),
                                           Tags=Tags(Name=t.name_of("app-rt", suffix))))
        nat = Ref(nats[suffix]) if suffix == AZS[0] else If(two_nats, Ref(nats[suffix]), Ref(nats[AZS[0]]))
        t.add(Route(f"AppDefaultRoute{suffix}", RouteTableId=Ref(app_rts[suffix]),
                    DestinationCidrBlock=ANYWHERE, NatGatewayId=nat))

    # DB: isolated, only the VPC's local route.
    db_rt = t.add(RouteTable("DbRouteTable", VpcId=Ref(vpc), Tags=Tags(Name=t.name_of("db-rt"))))

    for (tier, suffix), subnet in subnets.items():
        table = {"Public": public_rt, "App": app_rts[suffix], "Db": db_rt}[tier]
        t.add(SubnetRouteTableAssociation(f"{tier}Subnet{suffix}RouteTableAssociation",
                                          SubnetId=Ref(subnet), RouteTableId=Ref(table)))

    # S3 traffic from the app subnets skips the NAT (gateway endpoints are free).
    t.add(VPCEndpoint(
        "S3GatewayEndpoint",
        VpcId=Ref(vpc),
        ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
        VpcEndpointType="Gateway",
        RouteTableIds=[Ref(app_rts[s]) for s in AZS],
    ))

    t.input("LogsBucketArn")  # from the storage layer; named in LogDestination below
    t.add(FlowLog(
        "VpcFlowLog",
        ResourceId=Ref(vpc),
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=Sub("${LogsBucketArn}/vpc-flow-logs/"),
        MaxAggregationInterval=600,
        Tags=Tags(Name=t.name_of("flow-log")),
    ))

    t.output("VpcId", Ref(vpc), "ID of the VPC.")
    for tier in TIERS:
        t.output(f"{tier}SubnetIds", Join(",", [Ref(subnets[tier, s]) for s in AZS]),
                 f"{tier} subnet IDs (2a,2c), comma-separated.")


LAYER = Layer("network", "VPC, subnets, internet and NAT gateways, routes, S3 endpoint, flow logs", build)
