"""Security layer (SPEC 3): the ALB, ECS, RDS and Redis security groups with
exactly the SPEC's rules, each rule described, egress always explicit."""

from troposphere import GetAtt, Ref, Tags
from troposphere.ec2 import SecurityGroup, SecurityGroupIngress, SecurityGroupRule

from codemate_cfn.layer import Layer

FRONTEND_PORT = 3000
BACKEND_PORT = 3001
POSTGRES_PORT = 5432
REDIS_PORT = 6379

# A security group declared without egress rules gets AWS's allow-all rule.
# This rule matches no real traffic, so it replaces allow-all with "none".
NO_EGRESS = SecurityGroupRule(
    IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32",
    Description="No outbound traffic (replaces the default allow-all rule)",
)


def tcp(port: int, description: str, **source) -> SecurityGroupRule:
    return SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, Description=description, **source)


def group(t, logical_id: str, name: str, description: str, ingress: list, egress: list) -> SecurityGroup:
    props = {"SecurityGroupIngress": ingress} if ingress else {}
    return t.add(SecurityGroup(
        logical_id,
        GroupName=t.name_of(name),
        GroupDescription=description,
        VpcId=t.input("VpcId"),
        SecurityGroupEgress=egress,
        Tags=Tags(Name=t.name_of(name)),
        **props,
    ))


def build(t):
    ecs = group(t, "EcsSecurityGroup", "ecs-sg", "CodeMate ECS tasks: app ports from the ALB only", [],
                [SecurityGroupRule(IpProtocol="-1", CidrIp="0.0.0.0/0",
                                   Description="All outbound (ECR, Secrets Manager, Anthropic API, RDS, Redis)")])
    ecs_id = GetAtt(ecs, "GroupId")
    alb = group(t, "AlbSecurityGroup", "alb-sg", "CodeMate ALB: HTTPS and HTTP from the internet",
                [tcp(443, "HTTPS from the internet", CidrIp="0.0.0.0/0"),
                 tcp(80, "HTTP from the internet (redirected to HTTPS)", CidrIp="0.0.0.0/0")],
                [tcp(FRONTEND_PORT, "To the frontend tasks (Next.js)", DestinationSecurityGroupId=ecs_id),
                 tcp(BACKEND_PORT, "To the backend tasks (NestJS)", DestinationSecurityGroupId=ecs_id)])
    alb_id = GetAtt(alb, "GroupId")
    # ECS ingress lives in separate resources: inline, ALB -> ECS -> ALB would be a cycle.
    for port, what in ((FRONTEND_PORT, "frontend (Next.js)"), (BACKEND_PORT, "backend (NestJS)")):
        t.add(SecurityGroupIngress(
            f"EcsIngressFromAlb{port}", GroupId=ecs_id, IpProtocol="tcp", FromPort=port, ToPort=port,
            SourceSecurityGroupId=alb_id, Description=f"{what} from the ALB only",
        ))
    rds = group(t, "RdsSecurityGroup", "rds-sg", "CodeMate PostgreSQL: 5432 from ECS tasks only",
                [tcp(POSTGRES_PORT, "PostgreSQL from the ECS tasks only", SourceSecurityGroupId=ecs_id)],
                [NO_EGRESS])
    redis = group(t, "RedisSecurityGroup", "redis-sg", "CodeMate Redis: 6379 from ECS tasks only",
                  [tcp(REDIS_PORT, "Redis from the ECS tasks only", SourceSecurityGroupId=ecs_id)],
                  [NO_EGRESS])

    for name, sg in (("Alb", alb), ("Ecs", ecs), ("Rds", rds), ("Redis", redis)):
        t.output(f"{name}SecurityGroupId", GetAtt(sg, "GroupId"), f"ID of the {name} security group.")


LAYER = Layer("security", "security groups for the ALB, ECS tasks, PostgreSQL and Redis", build)
