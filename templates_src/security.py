"""Security layer: the ALB, ECS, RDS and Redis security groups with
exactly the design's rules, each rule described, egress always explicit;
and, when InterfaceEndpoints is true, interface VPC endpoints in the app
subnets (ECR API and Docker registry, CloudWatch Logs, Secrets Manager)
that the ECS tasks alone reach, on 443."""

from troposphere import Equals, GetAtt, Select, Split, Sub, Tags
from troposphere.ec2 import VPCEndpoint

from codemate_cfn.layer import Layer

from .kit.images import PORT
from .kit.scanner import scanner_skip
from .kit.security_group import (
    ANYWHERE,
    NO_EGRESS,
    all_egress,
    egress,
    ingress,
    security_group,
    separate_ingress,
)

HTTPS_PORT = 443
HTTP_PORT = 80
FRONTEND_PORT = PORT["Frontend"]
BACKEND_PORT = PORT["Backend"]
POSTGRES_PORT = 5432
REDIS_PORT = 6379
APP_PORTS = ((FRONTEND_PORT, "frontend (Next.js)"), (BACKEND_PORT, "backend (NestJS)"))
INTERFACE_ENDPOINTS = "InterfaceEndpoints"  # the condition: InterfaceEndpoints is true
# What the tasks call AWS for without the NAT when InterfaceEndpoints is true:
# logical ID -> service (com.amazonaws.<region>.<service>). Image layers come
# from S3 through the network layer's gateway endpoint.
ENDPOINTS = {
    "EcrApiEndpoint": "ecr.api",
    "EcrDkrEndpoint": "ecr.dkr",
    "LogsEndpoint": "logs",
    "SecretsManagerEndpoint": "secretsmanager",
}
APP_SUBNETS = 2  # AppSubnetIds: one app subnet per AZ


def group_id(group) -> GetAtt:
    return GetAtt(group, "GroupId")


def ecs_group(t):
    # Its ingress comes from the ALB group, in resources of their own (alb_group).
    return security_group(t, "EcsSecurityGroup", "ecs-sg", "CodeMate ECS tasks: app ports from the ALB only", [],
                          [all_egress(ANYWHERE, "All outbound (ECR, Secrets Manager, Anthropic API, RDS, Redis)")])


def alb_group(t, ecs):
    alb = security_group(
        t, "AlbSecurityGroup", "alb-sg", "CodeMate ALB: HTTPS and HTTP from the internet",
        [ingress(HTTPS_PORT, ANYWHERE, "HTTPS from the internet"),
         ingress(HTTP_PORT, ANYWHERE, "HTTP from the internet (redirected to HTTPS)")],
        [egress(FRONTEND_PORT, group_id(ecs), "To the frontend tasks (Next.js)"),
         egress(BACKEND_PORT, group_id(ecs), "To the backend tasks (NestJS)")],
    )
    scanner_skip(alb, "CKV_AWS_260", "Port 80 is open to the internet only for the load balancer's HTTP listener, "
                 "which answers every request with a redirect to HTTPS (301) and forwards nothing.")
    # ECS ingress lives in separate resources: inline, ALB -> ECS -> ALB would be a cycle.
    for port, what in APP_PORTS:
        t.add(separate_ingress(f"EcsIngressFromAlb{port}", group_id(ecs), port, group_id(alb),
                               f"{what} from the ALB only"))
    return alb


def data_group(t, logical_id: str, name: str, what: str, port: int, ecs):
    """A data store's group: `port` from the ECS tasks only, nothing out."""
    return security_group(t, logical_id, name, f"CodeMate {what}: {port} from ECS tasks only",
                          [ingress(port, group_id(ecs), f"{what} from the ECS tasks only")], [NO_EGRESS])


def interface_endpoints(t, ecs) -> None:
    """Private DNS names for ECR, CloudWatch Logs and Secrets Manager in the
    app subnets, so the tasks' calls to them skip the NAT; their group takes
    443 from the ECS tasks only. No endpoint policy: what the tasks may do
    there is what their roles allow (scoped to ARNs), and an account
    condition would refuse ecr:GetAuthorizationToken, which names no
    resource."""
    t.condition(INTERFACE_ENDPOINTS, Equals(t.input("InterfaceEndpoints"), "true"))
    group = security_group(t, "EndpointSecurityGroup", "endpoints-sg",
                           "CodeMate interface VPC endpoints: HTTPS from ECS tasks only",
                           [ingress(HTTPS_PORT, group_id(ecs), "HTTPS to AWS APIs from the ECS tasks only")],
                           [NO_EGRESS])
    group.Condition = INTERFACE_ENDPOINTS
    subnets = Split(",", t.input("AppSubnetIds"))
    for logical_id, service in ENDPOINTS.items():
        t.add(VPCEndpoint(
            logical_id,
            Condition=INTERFACE_ENDPOINTS,
            VpcId=t.input("VpcId"),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.%s" % service),
            VpcEndpointType="Interface",
            PrivateDnsEnabled=True,
            SubnetIds=[Select(i, subnets) for i in range(APP_SUBNETS)],
            SecurityGroupIds=[group_id(group)],
            Tags=Tags(Name=t.name_of(service.replace(".", "-"), "endpoint")),
        ))


def build(t):
    ecs = ecs_group(t)
    alb = alb_group(t, ecs)
    rds = data_group(t, "RdsSecurityGroup", "rds-sg", "PostgreSQL", POSTGRES_PORT, ecs)
    redis = data_group(t, "RedisSecurityGroup", "redis-sg", "Redis", REDIS_PORT, ecs)
    interface_endpoints(t, ecs)

    for name, sg in (("Alb", alb), ("Ecs", ecs), ("Rds", rds), ("Redis", redis)):
        t.output(f"{name}SecurityGroupId", group_id(sg), f"ID of the {name} security group.")


LAYER = Layer("security", "security groups for the ALB, ECS tasks, PostgreSQL and Redis", build)
