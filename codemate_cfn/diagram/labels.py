"""What a node of the diagram says about its resource: a title by type and
a few lines of figures read from the resource's properties as the view
resolved them (an environment's values, or `${Parameter}` where the view
has none). A type not listed here is not drawn; a type in AGGREGATED is
drawn once per layer with its count."""

from __future__ import annotations

from typing import Callable

from codemate_cfn.deploy.conditions import show

# type -> (title, noun) of one node standing for all of a layer's resources of it
AGGREGATED = {
    "AWS::SecretsManager::Secret": ("Secrets Manager", "secret"),
    "AWS::CloudWatch::Alarm": ("CloudWatch alarms", "alarm"),
}


def _tag(props: dict, key: str) -> str:
    tags = props.get("Tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("Key") == key:
                return show(tag.get("Value"))
    return ""


def _undecided(value) -> bool:
    """Whether the value still holds an Fn::If (every part drawn: the
    parameter file would decide it)."""
    if isinstance(value, list):
        return any(_undecided(v) for v in value)
    if isinstance(value, dict):
        return "Fn::If" in value or any(_undecided(v) for v in value.values())
    return False


def _value(props: dict, *path: str) -> str:
    """The property at `path` as a person reads it; "" where it is missing
    or not decided."""
    value = props
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return ""
        value = value[key]
    return "" if _undecided(value) else show(value)


def _subnet(props, extra):
    return f"{_tag(props, 'Tier') or 'subnet'} subnet", [_value(props, "AvailabilityZone"), _value(props, "CidrBlock")]


def _nat_instance(props, extra):
    return "NAT instance" if "nat" in _tag(props, "Name") else "EC2 instance", [
        _tag(props, "Name"), _value(props, "InstanceType")]


def _endpoint(props, extra):
    kind = _value(props, "VpcEndpointType") or "Gateway"
    return f"{kind} endpoint", [_value(props, "ServiceName")]


def _database(props, extra):
    if props.get("SourceDBInstanceIdentifier"):
        return "RDS read replica", [_value(props, "DBInstanceIdentifier"), _value(props, "DBInstanceClass")]
    multi_az = _value(props, "MultiAZ")
    az = {"true": "Multi-AZ", "false": "single-AZ"}.get(multi_az, f"MultiAZ {multi_az}" if multi_az else "")
    storage = _value(props, "AllocatedStorage")
    return f"RDS {_value(props, 'Engine')} {_value(props, 'EngineVersion')}".strip(), [
        _value(props, "DBInstanceIdentifier"), _value(props, "DBInstanceClass"),
        " · ".join(x for x in (az, storage and f"{storage} GB") if x)]


def _redis(props, extra):
    shards, replicas = _value(props, "NumNodeGroups"), _value(props, "ReplicasPerNodeGroup")
    clusters = _value(props, "NumCacheClusters")
    if shards:
        nodes = f"{shards} shard(s) × (1 + {replicas or 0} replica(s))"
    else:
        nodes = f"{clusters} node(s)" if clusters else ""
    return f"ElastiCache {_value(props, 'Engine')} {_value(props, 'EngineVersion')}".strip(), [
        _value(props, "ReplicationGroupId"), _value(props, "CacheNodeType"), nodes]


def _target_group(props, extra):
    return "Target group", [_value(props, "Name"),
                            f"{_value(props, 'Protocol')} {_value(props, 'Port')} · health {_value(props, 'HealthCheckPath')}"]


def _service(props, extra):
    task = extra.get("task", {})
    scale = extra.get("scale", {})
    lines = [_value(props, "ServiceName"),
             f"{_value(props, 'DesiredCount')} task(s) · cpu {_value(task, 'Cpu')} · memory {_value(task, 'Memory')}"]
    if scale:
        lines.append(f"scales {_value(scale, 'MinCapacity')} to {_value(scale, 'MaxCapacity')}")
    return "Fargate service", lines


def _task(props, extra):
    return "ECS task (run on demand)", [_value(props, "Family"), f"cpu {_value(props, 'Cpu')} · memory {_value(props, 'Memory')}"]


def _pipeline(props, extra):
    names = []
    for stage in props.get("Stages") if isinstance(props.get("Stages"), list) else []:
        if isinstance(stage, dict) and "Fn::If" in stage:  # a stage some parameter files leave out
            branch = stage["Fn::If"][1]
            names.append(f"({show(branch.get('Name'))})" if isinstance(branch, dict) else "")
        elif isinstance(stage, dict):
            names.append(show(stage.get("Name")))
    return "CodePipeline", [_value(props, "Name"), " → ".join(n for n in names if n)]


def _budget(props, extra):
    limit = props.get("Budget", {}).get("BudgetLimit", {}) if isinstance(props.get("Budget"), dict) else {}
    return "Budget", [_value(props, "Budget", "BudgetName"),
                      f"{_value(limit, 'Amount')} {_value(limit, 'Unit')} per month" if limit else ""]


def _simple(title: str, *keys: str) -> Callable:
    def label(props, extra):
        return title, [_value(props, key) for key in keys]
    return label


LABELS: dict[str, Callable[[dict, dict], tuple[str, list[str]]]] = {
    "AWS::EC2::VPC": _simple("VPC", "CidrBlock"),
    "AWS::EC2::Subnet": _subnet,
    "AWS::EC2::InternetGateway": _simple("Internet gateway"),
    "AWS::EC2::NatGateway": lambda p, e: ("NAT gateway", [_tag(p, "Name")]),
    "AWS::EC2::Instance": _nat_instance,
    "AWS::EC2::VPCEndpoint": _endpoint,
    "AWS::EC2::SecurityGroup": _simple("Security group", "GroupName"),
    "AWS::KMS::Key": _simple("KMS key"),
    "AWS::S3::Bucket": _simple("S3 bucket", "BucketName"),
    "AWS::ECR::Repository": _simple("ECR repository", "RepositoryName"),
    "AWS::RDS::DBInstance": _database,
    "AWS::ElastiCache::ReplicationGroup": _redis,
    "AWS::CertificateManager::Certificate": _simple("ACM certificate", "DomainName"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _simple("Application Load Balancer", "Name"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": _target_group,
    "AWS::CloudFront::Distribution": lambda p, e: ("CloudFront", [_value(p, "DistributionConfig", "PriceClass")]),
    "AWS::Route53::RecordSet": lambda p, e: (f"Route 53 {_value(p, 'Type')} record", [_value(p, "Name")]),
    "AWS::ECS::Cluster": _simple("ECS cluster", "ClusterName"),
    "AWS::ECS::Service": _service,
    "AWS::ECS::TaskDefinition": _task,
    "AWS::SNS::Topic": _simple("SNS topic", "TopicName"),
    "AWS::CloudWatch::Dashboard": _simple("CloudWatch dashboard", "DashboardName"),
    "AWS::Budgets::Budget": _budget,
    "AWS::CloudTrail::Trail": _simple("CloudTrail", "TrailName"),
    "AWS::GuardDuty::Detector": _simple("GuardDuty"),
    "AWS::CodeStarConnections::Connection": lambda p, e: (f"CodeStar connection ({_value(p, 'ProviderType')})",
                                                          [_value(p, "ConnectionName")]),
    "AWS::CodeBuild::Project": _simple("CodeBuild project", "Name"),
    "AWS::CodePipeline::Pipeline": _pipeline,
    **{kind: (lambda title: lambda p, e: (title, []))(title) for kind, (title, _) in AGGREGATED.items()},
}


def label(kind: str, props: dict, extra: dict, region: str) -> tuple[str, tuple[str, ...]]:
    """(title, detail lines) of a node of type `kind`, its region spelled out."""
    title, lines = LABELS[kind](props, extra)
    return title, tuple(line.replace("${AWS::Region}", region) for line in lines if line and line.strip())
