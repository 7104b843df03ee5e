"""The monthly estimate: every billed resource of the built templates as one
environment's parameter file makes them (conditions evaluated, the root's
wiring followed into each nested stack by name), priced per line item with
the price file's unit prices and the usage file's assumptions.

Every figure comes from a resource and its properties (task CPU, memory and
architecture, desired counts, capacity provider weights, scheduled actions,
instance classes, Multi-AZ, node counts, storage, endpoints, lifecycle
rules); nothing is read from the environment's name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codemate_cfn import environments
from codemate_cfn.compile.layout import ROOT, nested_names
from codemate_cfn.cost.inputs import Prices
from codemate_cfn.deploy.conditions import Context, parameter_values

GROUPS = ("compute", "network", "data", "storage", "monitoring", "CI/CD", "other", "external")


@dataclass(frozen=True)
class Line:
    key: str
    group: str
    item: str
    sizing: str
    monthly: float
    hourly: float | None = None
    note: str = ""

    @property
    def aws(self) -> bool:
        return self.group != "external"


@dataclass
class Estimate:
    lines: list[Line]
    notes: list[str] = field(default_factory=list)
    reserved: list[Line] = field(default_factory=list)  # options, never in the totals
    goal: float | None = None
    goal_source: str = ""

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def aws_total(self) -> float:
        return sum(line.monthly for line in self.lines if line.aws)

    def group(self, name: str) -> float:
        return sum(line.monthly for line in self.lines if line.group == name)

    def line(self, key: str) -> Line:
        return next(line for line in self.lines if line.key == key)

    def monthly(self, key: str) -> float:
        """One line's monthly figure, 0 when the estimate has no such line."""
        return sum(line.monthly for line in self.lines if line.key == key)


# -- the environment's resources ------------------------------------------


@dataclass
class Found:
    """One resource as the environment creates it."""

    stack: str
    logical_id: str
    type: str
    props: dict
    context: Context


def stack_contexts(templates: dict[str, dict], given: dict[str, str]) -> list[tuple[str, Context]]:
    """Each template the environment deploys, evaluated with its values: the
    root with the parameter file's, each nested stack with what the root
    passes it. Without a root template, every template with `given`."""
    if ROOT not in templates:
        return [(name, Context(name, t, parameter_values(t, given))) for name, t in templates.items()]
    root = templates[ROOT]
    root_context = Context(ROOT, root, parameter_values(root, given))
    found = []
    for logical_id, name in nested_names(root).items():
        if not root_context.present(logical_id) or name not in templates:
            continue
        template = templates[name]
        passed = root_context.resolve(root["Resources"][logical_id].get("Properties", {}).get("Parameters", {}))
        found.append((name, Context(name, template, parameter_values(template, passed))))
    return found


def resources(contexts: list[tuple[str, Context]]) -> list[Found]:
    found = []
    for stack, context in contexts:
        for logical_id, resource in context.resources.items():
            if context.present(logical_id):
                found.append(Found(stack, logical_id, resource.get("Type", ""),
                                   context.resolve(resource.get("Properties", {})), context))
    return sorted(found, key=lambda f: (f.stack, f.logical_id))  # the same order however the templates were read


def steady_state(given: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    values, empty = environments.steady_state(given)
    return values, [f"{name} is empty in the parameter file: priced as once its image is deployed" for name in empty]


# -- small readers ----------------------------------------------------------


def number(value, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def truthy(value) -> bool:
    return value is True or str(value).lower() == "true"


def money(value: float) -> str:
    return f"${value:,.2f}"


def plural(n: float, word: str) -> str:
    shown = f"{n:g}"
    return f"{shown} {word}" + ("" if n == 1 else "s")


def referenced(value) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


# -- scheduled scaling --------------------------------------------------------

DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS cron: 1 = SUN
ZONE_OFFSETS = {"UTC": 0, "Etc/UTC": 0, "Asia/Seoul": 9, "Asia/Tokyo": 9}


def _field(text: str, low: int, high: int, names: tuple[str, ...] = ()) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values = set()
    for part in text.split(","):
        ends = [names.index(p.upper()) + low if p.upper() in names else int(p) for p in part.split("-")]
        values |= set(range(ends[0], ends[-1] + 1))
    return values


def cron_hours_of_week(schedule: str, zone: str | None) -> list[int]:
    """The UTC hours of the week (0 = Sunday 00:00) at which an AWS cron
    schedule `cron(min hour dom month dow year)` fires."""
    match = re.fullmatch(r"cron\((.*)\)", schedule.strip())
    if not match:
        raise ValueError(f"only cron(...) schedules are understood, not {schedule!r}")
    fields = match.group(1).split()
    hours = _field(fields[1], 0, 23)
    days = {d - 1 for d in _field(fields[4], 1, 7, DAYS)}
    offset = ZONE_OFFSETS.get(zone or "UTC")
    if offset is None:
        raise ValueError(f"time zone {zone!r} is not known to the estimate")
    return sorted(((day * 24 + hour - offset) % 168) for day in days for hour in hours)


def weekly_average(desired: float, actions: list[dict]) -> float:
    """Average running tasks over a week when scheduled actions set the
    scalable target's minimum and maximum: at each hour the latest action
    that fired bounds the desired count."""
    fired: dict[int, tuple[float, float]] = {}
    for action in actions:
        bounds = action.get("ScalableTargetAction", {})
        low, high = number(bounds.get("MinCapacity"), 0), number(bounds.get("MaxCapacity"), float("inf"))
        for hour in cron_hours_of_week(str(action.get("Schedule")), action.get("Timezone")):
            fired[hour] = (low, high)
    if not fired:
        return desired
    total = 0.0
    for hour in range(168):
        back = next(h for h in ((hour - k) % 168 for k in range(168)) if h in fired)
        low, high = fired[back]
        total += min(max(desired, low), high)
    return total / 168


def spot_share(strategy: list[dict], tasks: float) -> float:
    """The share of `tasks` a capacity provider strategy runs on
    FARGATE_SPOT: each provider's Base first, the rest by Weight."""
    if not strategy or not tasks:
        return 0.0
    spot, rest = 0.0, tasks
    for item in strategy:
        base = min(number(item.get("Base"), 0), rest)
        rest -= base
        if item.get("CapacityProvider") == "FARGATE_SPOT":
            spot += base
    weights = {item.get("CapacityProvider"): number(item.get("Weight"), 0) for item in strategy}
    if sum(weights.values()):
        spot += rest * weights.get("FARGATE_SPOT", 0) / sum(weights.values())
    return spot / tasks


# -- the estimate ---------------------------------------------------------------


def estimate(templates: dict[str, dict], given: dict[str, str], usage: dict, prices: Prices) -> Estimate:
    values, notes = steady_state(given)
    found = resources(stack_contexts(templates, values))
    hours = prices.hours
    lines: list[Line] = []
    reserved: list[Line] = []

    def of_type(kind: str) -> list[Found]:
        return [f for f in found if f.type == kind]

    # compute: ECS services on Fargate
    targets = {}
    for target in of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
        text = repr(target.props.get("ResourceId"))
        for service in of_type("AWS::ECS::Service"):
            if service.stack == target.stack and f"'{service.logical_id}'" in text:
                targets[(service.stack, service.logical_id)] = target
    for service in of_type("AWS::ECS::Service"):
        name = service.logical_id.removesuffix("Service").lower()
        task_id = referenced(service.props.get("TaskDefinition"))
        task = next((f for f in found if f.stack == service.stack and f.logical_id == task_id), None)
        if task is None:
            notes.append(f"{service.logical_id}: its task definition is not in the templates; not priced")
            continue
        vcpu = number(task.props.get("Cpu"), 256) / 1024
        gb = number(task.props.get("Memory"), 512) / 1024
        arch = (task.props.get("RuntimePlatform") or {}).get("CpuArchitecture", "X86_64")
        rate = vcpu * prices("fargate_vcpu_hour") + gb * prices("fargate_gb_hour")
        if arch == "ARM64":
            rate *= prices("fargate_arm64_factor")
        desired = number(service.props.get("DesiredCount"), 1)
        how = ""
        target = targets.get((service.stack, service.logical_id))
        if name in usage.get("average_tasks", {}):
            tasks = float(usage["average_tasks"][name])
            how = f" (usage file: average; desired {desired:g})"
        elif target is not None and target.props.get("ScheduledActions"):
            tasks = weekly_average(desired, target.props["ScheduledActions"])
            how = " (weekly average with its scheduled actions)"
        else:
            tasks = desired
        spot = spot_share(service.props.get("CapacityProviderStrategy") or [], tasks)
        factor = (1 - spot) + spot * prices("fargate_spot_factor")
        hourly = rate * tasks * factor
        sizing = f"{vcpu:g} vCPU, {gb:g} GB{', ARM64' if arch == 'ARM64' else ''} x {plural(round(tasks, 2), 'task')}{how}"
        if spot:
            sizing += f", {spot:.0%} on Spot"
        lines.append(Line(f"ecs_{name}", "compute", f"ECS {name}", sizing, hourly * hours, hourly))

    # data: RDS and ElastiCache
    for db in of_type("AWS::RDS::DBInstance"):
        kind = str(db.props.get("DBInstanceClass"))
        multi_az = truthy(db.props.get("MultiAZ"))
        hourly = prices("rds_instance_hour", kind) * (2 if multi_az else 1)
        base, label = ("rds", "RDS") if db.logical_id == "Database" else (f"rds_{db.logical_id}", f"RDS {db.logical_id}")
        lines.append(Line(f"{base}_instance", "data", f"{label} instance",
                          f"{kind}, {'Multi-AZ' if multi_az else 'single-AZ'}", hourly * hours, hourly))
        reserved.append(Line(f"reserved_{base}_instance", "data", f"{label} instance: 1-year reserved instead",
                             kind, -hourly * hours * (1 - prices("rds_reserved_factor"))))
        source = referenced(db.props.get("SourceDBInstanceIdentifier"))
        primary = next((d for d in of_type("AWS::RDS::DBInstance") if d.logical_id == source), None)
        storage = number(db.props.get("AllocatedStorage", primary.props.get("AllocatedStorage") if primary else 0), 0)
        if storage:
            lines.append(Line(f"{base}_storage", "data", f"{label} storage",
                              f"{storage:g} GB {db.props.get('StorageType', 'gp3')}",
                              storage * prices("rds_gp3_gb_month")))
            retention = number(db.props.get("BackupRetentionPeriod"), 0 if primary else 1)
            if usage.get("rds_backup_billed", False) and retention:
                lines.append(Line(f"{base}_backup", "data", f"{label} backup", f"{storage:g} GB x {retention:g} days",
                                  storage * retention * prices("rds_backup_gb_day")))
    for group in of_type("AWS::ElastiCache::ReplicationGroup"):
        kind = str(group.props.get("CacheNodeType"))
        if "NumNodeGroups" in group.props:
            nodes = number(group.props["NumNodeGroups"], 1) * (number(group.props.get("ReplicasPerNodeGroup"), 0) + 1)
            topology = "cluster"
        else:
            nodes = number(group.props.get("NumCacheClusters"), 1)
            topology = "non-cluster"
        # 12a prod writes "cache.t4g.small x 2 (cluster) $0.068": the hourly
        # figure for both nodes (2 x $0.034), as here.
        hourly = prices("elasticache_node_hour", kind) * nodes
        lines.append(Line("elasticache", "data", "ElastiCache nodes", f"{kind} x {nodes:g} ({topology})",
                          hourly * hours, hourly))
        reserved.append(Line("reserved_elasticache", "data", "ElastiCache: 1-year reserved nodes instead", kind,
                             -hourly * hours * (1 - prices("elasticache_reserved_factor"))))

    # storage: S3 and ECR
    standard, ia = usage.get("s3_standard_gb", 0), usage.get("s3_standard_ia_gb", 0)
    lines.append(Line("s3_storage", "storage", "S3 storage", f"{standard:g} GB Standard, {ia:g} GB Standard-IA",
                      standard * prices("s3_standard_gb_month") + ia * prices("s3_standard_ia_gb_month")))
    lines.append(Line("s3_requests", "storage", "S3 requests", f"{usage.get('s3_requests_thousands', 0) * 1000:,.0f} PUT/GET",
                      usage.get("s3_requests_thousands", 0) * prices("s3_1000_requests")))
    tiering = [b for b in of_type("AWS::S3::Bucket")
               if "INTELLIGENT_TIERING" in repr((b.props.get("LifecycleConfiguration") or {}).get("Rules"))]
    if tiering:
        objects = usage.get("s3_objects_thousands", 0)
        lines.append(Line("s3_intelligent_tiering", "storage", "S3 Intelligent-Tiering monitoring",
                          f"{objects * 1000:,.0f} objects ({', '.join(b.logical_id for b in tiering)})",
                          objects * prices("s3_intelligent_tiering_monitoring_1000_objects"),
                          note="objects move between tiers by access instead of by age"))
    if of_type("AWS::ECR::Repository"):
        lines.append(Line("ecr", "storage", "ECR", f"{usage.get('ecr_gb', 0):g} GB of images",
                          usage.get("ecr_gb", 0) * prices("ecr_gb_month")))

    # network: ALB, NAT, endpoints, CloudFront, Route 53
    albs = [b for b in of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
            if b.props.get("Type", "application") == "application"]
    if albs:
        lines.append(Line("alb", "network", "ALB", plural(len(albs), "load balancer"),
                          len(albs) * prices("alb_hour") * hours, len(albs) * prices("alb_hour")))
        lcu = usage.get("alb_lcu_average", 0)
        lines.append(Line("alb_lcu", "network", "ALB LCU", f"{lcu:g} LCU average",
                          lcu * prices("alb_lcu_hour") * hours, lcu * prices("alb_lcu_hour")))
    gateways = of_type("AWS::EC2::NatGateway")
    instances = [i for i in of_type("AWS::EC2::Instance") if str(i.props.get("SourceDestCheck")).lower() == "false"]
    endpoints = [e for e in of_type("AWS::EC2::VPCEndpoint") if e.props.get("VpcEndpointType") == "Interface"]
    nat_gb = usage.get("nat_data_gb", 0)
    share = usage.get("nat_data_share_to_endpoint_services", 0)
    through_endpoints = nat_gb * share if endpoints else 0.0
    if gateways:
        hourly = len(gateways) * prices("nat_gateway_hour")
        lines.append(Line("nat_gateway", "network", "NAT gateways" if len(gateways) > 1 else "NAT gateway",
                          plural(len(gateways), "gateway"), hourly * hours, hourly))
    for instance in instances:
        kind = str(instance.props.get("InstanceType"))
        hourly = prices("nat_instance_hour", kind)
        lines.append(Line(f"nat_instance_{instance.logical_id}", "network", "NAT instance",
                          f"{kind} ({instance.logical_id})", hourly * hours, hourly))
    if gateways or instances:
        billed = nat_gb - through_endpoints
        per_gb = prices("nat_gateway_gb") if gateways else 0.0  # an instance has no processing charge
        lines.append(Line("nat_data", "network", "NAT data", f"{billed:g} GB outbound"
                          + ("" if gateways else " (no per-GB charge on a NAT instance)"), billed * per_gb))
    if endpoints:
        azs = 0
        for endpoint in endpoints:
            subnets = endpoint.props.get("SubnetIds")
            azs += len(subnets) if isinstance(subnets, list) else 1
        hourly = azs * prices("interface_endpoint_az_hour")
        monthly = hourly * hours + through_endpoints * prices("interface_endpoint_gb")
        saved = through_endpoints * (prices("nat_gateway_gb") if gateways else 0.0)
        note = (f"costs {money(monthly - saved)} more than the NAT data it saves ({money(saved)})" if monthly > saved
                else f"saves {money(saved - monthly)} of NAT data")
        lines.append(Line("interface_endpoints", "network", "Interface VPC endpoints",
                          f"{len(endpoints)} endpoints x AZs = {azs} endpoint-AZs, {through_endpoints:g} GB",
                          monthly, hourly, note))
    if of_type("AWS::CloudFront::Distribution"):
        gb, requests = usage.get("cloudfront_data_gb", 0), usage.get("cloudfront_requests_millions", 0)
        lines.append(Line("cloudfront_data", "network", "CloudFront data", f"{gb:g} GB", gb * prices("cloudfront_gb")))
        lines.append(Line("cloudfront_requests", "network", "CloudFront requests", f"{requests:g} M HTTP/HTTPS",
                          requests * prices("cloudfront_million_requests")))
    zones, queries = usage.get("hosted_zones", 0), usage.get("route53_queries_millions", 0)
    if zones or queries:
        lines.append(Line("route53", "network", "Route 53", f"{plural(zones, 'hosted zone')} + {queries:g} M queries",
                          zones * prices("hosted_zone_month") + queries * prices("route53_million_queries")))

    # monitoring: CloudWatch
    groups = of_type("AWS::Logs::LogGroup")
    retention = max((number(g.props.get("RetentionInDays"), 0) for g in groups), default=0)
    ingested = usage.get("logs_ingested_gb", 0)
    stored = usage.get("logs_stored_gb", ingested * retention / 30)
    lines.append(Line("logs", "monitoring", "CloudWatch logs",
                      f"{ingested:g} GB ingested + {stored:.3g} GB stored ({plural(len(groups), 'log group')}, "
                      f"{retention:g} days)",
                      ingested * prices("logs_gb_ingested") + stored * prices("logs_gb_stored")))
    metrics = usage.get("custom_metrics", 0)
    lines.append(Line("custom_metrics", "monitoring", "CloudWatch custom metrics", plural(metrics, "metric"),
                      metrics * prices("custom_metric_month")))
    dashboards = usage.get("dashboards", len(of_type("AWS::CloudWatch::Dashboard")))
    if dashboards:
        lines.append(Line("dashboards", "monitoring", "CloudWatch dashboards", f"{dashboards:g}",
                          dashboards * prices("dashboard_month")))
    alarms = usage.get("alarms", len(of_type("AWS::CloudWatch::Alarm")))
    if alarms:
        lines.append(Line("alarms", "monitoring", "CloudWatch alarms", f"{alarms:g}", alarms * prices("alarm_month")))

    # other: Secrets Manager
    secrets = len(of_type("AWS::SecretsManager::Secret")) + usage.get("secrets_outside_templates", 0)
    if secrets:
        lines.append(Line("secrets", "other", "Secrets Manager", plural(secrets, "secret"),
                          secrets * prices("secret_month")))

    # CI/CD
    pipelines = of_type("AWS::CodePipeline::Pipeline")
    if pipelines:
        lines.append(Line("codepipeline", "CI/CD", "CodePipeline", plural(len(pipelines), "pipeline"),
                          len(pipelines) * prices("codepipeline_month")))
    if of_type("AWS::CodeBuild::Project"):
        minutes = usage.get("codebuild_minutes", 0)
        lines.append(Line("codebuild", "CI/CD", "CodeBuild", f"{minutes:g} build minutes",
                          minutes * prices("codebuild_minute")))

    # external: outside AWS
    for item, amount in usage.get("external", {}).items():
        lines.append(Line(f"external:{item}", "external", item, "usage file", float(amount)))

    return Estimate(lines, notes, reserved, usage.get("goal_aws_monthly_usd"), usage.get("goal_source", ""))


def lever_savings(templates, given_a: dict, given_b: dict, usage: dict, prices: Prices) -> list[tuple[str, float]]:
    """For each parameter that differs between two files, what changing it
    alone (from A's value to B's) saves on A's estimate; positive = cheaper."""
    base = estimate(templates, given_a, usage, prices).total
    savings = []
    for name in sorted(set(given_a) | set(given_b)):
        if given_a.get(name) == given_b.get(name) or name not in given_b:
            continue
        changed = estimate(templates, {**given_a, name: given_b[name]}, usage, prices).total
        if abs(changed - base) >= 0.005:
            savings.append((f"{name} {given_a.get(name)!s} -> {given_b[name]}", base - changed))
    return savings


__all__ = ["Estimate", "Line", "GROUPS", "estimate", "lever_savings"]
