"""Network layer: the VPC, six subnets in two AZs, the internet gateway,
NAT (managed gateways, or NAT instances: NatType), route tables, the S3
gateway endpoint and VPC flow logs."""

from awacs import s3
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import And, Base64, Equals, If, Join, NoValue, Ref, Sub, Tags
from troposphere.cloudwatch import Alarm, MetricDimension
from troposphere.ec2 import (
    EIP,
    VPC,
    BlockDeviceMapping,
    EbsBlockDevice,
    FlowLog,
    Instance,
    InternetGateway,
    MetadataOptions,
    NatGateway,
    Route,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
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
NAT_GATEWAYS = "NatGateways"  # NatType is gateway: managed NAT gateways
NAT_INSTANCES = "NatInstances"  # NatType is instance: an EC2 NAT instance per NAT
# The second NAT (2c) of each kind: NatGatewayCount is 2 and NatType says which.
SECOND = {NAT_GATEWAYS: "SecondNatGateway", NAT_INSTANCES: "SecondNatInstance"}
# Amazon Linux 2023 for arm64 (Graviton: t4g), the current AMI from AWS's public SSM parameter.
NAT_AMI = "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64}}"
NAT_ROOT_GB = 8  # the AMI's own root volume size (a NAT keeps nothing on disk)
# Forward and masquerade the app subnets' traffic, persistently: the sysctl
# in /etc/sysctl.d and the nftables ruleset in the file the nftables unit
# loads at boot. dnf retries until the Elastic IP (associated once the
# instance exists) gives the instance its way out.
NAT_USER_DATA = """#!/bin/bash
set -euxo pipefail
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
sysctl --system
until dnf install -y nftables; do sleep 10; done
cat > /etc/sysconfig/nftables.conf <<'RULES'
flush ruleset
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr { ${AppSubnet2aCidr}, ${AppSubnet2cCidr} } ip daddr != ${VpcCidr} masquerade
  }
}
RULES
systemctl enable nftables
systemctl restart nftables
"""


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


def nat_conditions(t) -> None:
    t.condition(TWO_NATS, Equals(t.input("NatGatewayCount"), "2"))
    t.condition(NAT_GATEWAYS, Equals(t.input("NatType"), "gateway"))
    t.condition(NAT_INSTANCES, Equals(t.input("NatType"), "instance"))
    for second, nat_type in ((SECOND[NAT_GATEWAYS], "gateway"), (SECOND[NAT_INSTANCES], "instance")):
        t.condition(second, And(Equals(t.input("NatGatewayCount"), "2"), Equals(t.input("NatType"), nat_type)))


def nat_gateways(t, subnet: dict, attachment: VPCGatewayAttachment) -> dict[str, NatGateway]:
    """When NatType is gateway: one NAT gateway in 2a; a second in 2c when
    NatGatewayCount is 2."""
    nats = {}
    for suffix in AZS:
        condition = {"Condition": SECOND[NAT_GATEWAYS] if suffix != AZS[0] else NAT_GATEWAYS}
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


def nat_security_group(t, network: VPC) -> SecurityGroup:
    """The NAT instances' group: everything from the app subnets, which
    route their internet traffic through them, and everything out."""
    group = t.add(SecurityGroup(
        "NatInstanceSecurityGroup",
        Condition=NAT_INSTANCES,
        GroupName=t.name_of("nat-sg"),
        GroupDescription="CodeMate NAT instances: all traffic from the app subnets, all outbound",
        VpcId=Ref(network),
        SecurityGroupIngress=[
            SecurityGroupRule(IpProtocol="-1", CidrIp=t.input(f"AppSubnet{suffix}Cidr"),
                              Description=f"Traffic to the internet from the app subnet in {suffix}")
            for suffix in AZS
        ],
        SecurityGroupEgress=[SecurityGroupRule(IpProtocol="-1", CidrIp=ANYWHERE,
                                               Description="All outbound: the app subnets' internet traffic")],
        Tags=Tags(Name=t.name_of("nat-sg")),
    ))
    return group


def nat_instances(t, network: VPC, subnet: dict, attachment: VPCGatewayAttachment) -> dict[str, Instance]:
    """When NatType is instance: a NAT instance (NatInstanceType, Amazon
    Linux 2023 arm64) in the public subnet of 2a, and of 2c when
    NatGatewayCount is 2; source/destination check off, an Elastic IP each,
    IMDSv2 only, an encrypted root volume, and recovered onto other
    hardware when the system status check fails."""
    group = nat_security_group(t, network)
    t.input("VpcCidr")
    instances = {}
    for suffix in AZS:
        condition = SECOND[NAT_INSTANCES] if suffix != AZS[0] else NAT_INSTANCES
        instance = t.add(Instance(
            f"NatInstance{suffix}",
            Condition=condition,
            InstanceType=t.input("NatInstanceType"),
            ImageId=NAT_AMI,
            SubnetId=Ref(subnet["Public", suffix]),
            SecurityGroupIds=[group.get_att("GroupId")],
            SourceDestCheck=False,
            EbsOptimized=True,
            MetadataOptions=MetadataOptions(HttpTokens="required", HttpEndpoint="enabled",
                                            HttpPutResponseHopLimit=1),
            BlockDeviceMappings=[BlockDeviceMapping(DeviceName="/dev/xvda", Ebs=EbsBlockDevice(
                Encrypted=True, VolumeType="gp3", VolumeSize=NAT_ROOT_GB, DeleteOnTermination=True))],
            UserData=Base64(Sub(NAT_USER_DATA)),
            Tags=Tags(Name=t.name_of("nat-instance", suffix)),
            DependsOn=attachment.title,
        ))
        t.add(EIP(f"NatInstanceEip{suffix}", Condition=condition, Domain="vpc", InstanceId=Ref(instance),
                  Tags=Tags(Name=t.name_of("nat-eip", suffix))))
        t.add(Alarm(
            f"NatInstanceRecoveryAlarm{suffix}",
            Condition=condition,
            AlarmName=t.name_of("nat-instance-recover", suffix),
            AlarmDescription=f"Recover the NAT instance in {suffix} onto other hardware when its system status "
                             f"check fails.",
            Namespace="AWS/EC2",
            MetricName="StatusCheckFailed_System",
            Dimensions=[MetricDimension(Name="InstanceId", Value=Ref(instance))],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=2,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[Sub("arn:${AWS::Partition}:automate:${AWS::Region}:ec2:recover")],
        ))
        instances[suffix] = instance
    return instances


def _nat_in(suffix: str, nats: dict) -> object:
    """A Ref to the NAT (of one kind) that serves `suffix`: its own in 2a,
    the 2c one when there are two, else the 2a one."""
    if suffix == AZS[0]:
        return Ref(nats[suffix])
    return If(TWO_NATS, Ref(nats[suffix]), Ref(nats[AZS[0]]))


def app_routes(t, network: VPC, subnet: dict, gateways: dict, instances: dict) -> list[RouteTable]:
    """A route table per AZ, default route through the NAT in that AZ
    (through the 2a NAT when there is only one): the NAT gateway, or the
    NAT instance's ID when NatType is instance."""
    tables = []
    for suffix in AZS:
        table = route_table(t, f"AppRouteTable{suffix}", network, f"app-rt-{suffix}", subnet["App", suffix])
        t.add(Route(f"AppDefaultRoute{suffix}", RouteTableId=Ref(table), DestinationCidrBlock=ANYWHERE,
                    NatGatewayId=If(NAT_GATEWAYS, _nat_in(suffix, gateways), NoValue),
                    InstanceId=If(NAT_INSTANCES, _nat_in(suffix, instances), NoValue),
                    # One target in each environment: troposphere cannot tell the Fn::Ifs apart.
                    validation=False))
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
    nat_conditions(t)
    gateways = nat_gateways(t, subnet, attachment)
    instances = nat_instances(t, network, subnet, attachment)
    app_tables = app_routes(t, network, subnet, gateways, instances)
    db_routes(t, network, subnet)
    endpoints(t, network, app_tables)
    flow_log(t, network)
    outputs(t, network, subnet)


LAYER = Layer("network", "VPC, subnets, internet gateway, NAT gateways or instances, routes, S3 endpoint, flow logs", build)
