"""Every root parameter: the schema of params/*.json.

Defaults are the dev values of CodeMate's design; a parameter without a default must
be set in every parameter file.
"""

from codemate_cfn.layer import Param

from .project import AZS, ENVIRONMENT_PARAM, REGION, zone_name

TRUE_FALSE = ("true", "false")
# CloudFront uses ACM certificates from this region only.
CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
CONNECTION_ARN = (r"^$|^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:"
                  r"connection/[0-9a-f-]{36}$")
EMAIL = r"^$|^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$"
ACM_ARN = r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$"
# A web ACL CloudFront can use: AWS WAF's, scope CLOUDFRONT ("global"), made in us-east-1.
CLOUDFRONT_WEB_ACL_ARN = (r"^$|^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]{1,128}/"
                          r"[0-9a-f-]{36}$")
# What CloudWatch Logs accepts as a retention in days.
LOG_RETENTION_DAYS = ("1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545",
                      "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653")

# A whole percentage, 0 to 100, as text: the services layer looks it up in its
# SpotWeights mapping, whose keys are strings.
PERCENT = r"^(100|[1-9]?[0-9])$"
DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"

# CodeMate's design: tier -> (what it is, what runs in it, its default CIDR in each AZ)
SUBNETS = {
    "Public": ("Public subnet", "ALB, NAT", ("10.0.1.0/24", "10.0.2.0/24")),
    "App": ("Private app subnet", "ECS tasks", ("10.0.11.0/24", "10.0.12.0/24")),
    "Db": ("Isolated DB subnet", "RDS, ElastiCache", ("10.0.21.0/24", "10.0.22.0/24")),
}


def subnet_cidrs() -> list[Param]:
    """One CIDR parameter per tier and AZ: PublicSubnet2aCidr, ..."""
    return [Param(f"{tier}Subnet{suffix}Cidr", f"{what} in {zone_name(suffix)} ({uses}).", default=cidr, kind="subnet")
            for tier, (what, uses, cidrs) in SUBNETS.items() for suffix, cidr in zip(AZS, cidrs, strict=True)]


def _region_of(arn: str) -> str:
    return arn.split(":")[3] if arn.count(":") >= 5 else ""


def within_zone_problem(domain: str, zone: str) -> str | None:
    """The site's host name must lie in the hosted zone that holds its record."""
    if domain == zone or domain.endswith("." + zone):
        return None
    return f"{domain} is not in the hosted zone {zone} (HostedZoneName): its record and certificate live there"


def certificate_region_problem(arn: str, region: str, why: str) -> str | None:
    if not arn or _region_of(arn) == region:
        return None
    return f"{arn} is a certificate in {_region_of(arn)}; {why} takes one in {region}"


def cloudfront_certificate_problem(values: dict[str, str]) -> str | None:
    """CloudFront reads certificates from us-east-1 only; one is required when it is on."""
    arn = values["CloudFrontCertificateArn"]
    if values["EnableCloudFront"] == "true" and not arn:
        return ("required when EnableCloudFront is true: an ACM certificate in us-east-1 for DomainName "
                "(README: CloudFront's certificate)")
    return certificate_region_problem(arn, CLOUDFRONT_CERTIFICATE_REGION, "CloudFront")


def counts_problem(service: str, values: dict[str, str]) -> str | None:
    """Auto scaling keeps the desired count between the minimum and the maximum."""
    low, desired, high = (int(values[f"{service}{what}"]) for what in ("MinCount", "DesiredCount", "MaxCount"))
    if low <= desired <= high:
        return None
    return (f"{service}MinCount ({low}) <= {service}DesiredCount ({desired}) <= {service}MaxCount ({high}) "
            f"must hold")


def service_params(service: str, what: str, counts: tuple[int, int, int]) -> list[Param]:
    """The image tag and task counts of one ECS service (frontend, backend)."""
    desired, low, high = counts
    tag = Param(f"{service}ImageTag", f"Tag of the {what} image in its ECR repository (a commit tag); empty until "
                f"the first image is pushed: the service is created once it is set.",
                default="", pattern=r"^$|^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
                constraint="empty, or an image tag (letters, digits, _ . -, at most 128)")
    count = {"type": "Number", "min_value": 0, "max_value": 20, "integer": True}
    return [
        tag,
        Param(f"{service}DesiredCount", f"{what} tasks to run when deployed.", default=str(desired), **count,
              relation=lambda values: counts_problem(service, values)),
        Param(f"{service}MinCount", f"Fewest {what} tasks auto scaling keeps.", default=str(low), **count),
        Param(f"{service}MaxCount", f"Most {what} tasks auto scaling runs.", default=str(high), **count),
    ]


def storage_ceiling_problem(allocated: str, ceiling: str) -> str | None:
    """RDS refuses an autoscaling ceiling less than 10% above the allocated storage."""
    if float(ceiling) == 0 or float(ceiling) * 10 >= float(allocated) * 11:
        return None
    return (f"{ceiling} GB must be 0 (no storage autoscaling) or at least 10% above "
            f"DbAllocatedStorage ({allocated} GB)")


PARAMETERS = [
    # Identity
    Param(ENVIRONMENT_PARAM, "Environment name, used in resource names and tags.",
          allowed_values=("dev", "prod")),

    # Network
    Param("VpcCidr", "CIDR block of the VPC.", default="10.0.0.0/16", kind="cidr"),
    *subnet_cidrs(),
    Param("NatGatewayCount", "NAT gateways: 1 (shared by both AZs, dev) or 2 (one per AZ, prod).",
          default="1", allowed_values=("1", "2")),
    Param("NatType", "What the NATs are: gateway (managed NAT gateways) or instance (an EC2 NAT instance each, "
          "NatInstanceType, with an Elastic IP and recovery on failure: far cheaper, one instance's bandwidth).",
          default="gateway", allowed_values=("gateway", "instance")),
    Param("InterfaceEndpoints", "Interface VPC endpoints in the app subnets for ECR (API and Docker), CloudWatch "
          "Logs and Secrets Manager: their traffic skips the NAT; each costs by the hour in each AZ.",
          default="false", allowed_values=TRUE_FALSE),
    Param("NatInstanceType", "EC2 instance type of the NAT instances (Graviton, arm64) when NatType is instance.",
          default="t4g.nano", allowed_values=("t4g.nano", "t4g.micro", "t4g.small", "t4g.medium")),

    # Site: DNS, TLS, the load balancer and CloudFront
    Param("DomainName", "Public host name of this environment (the site URL is https:// + this).",
          pattern=DNS_NAME, constraint="a lower-case DNS host name such as codemate-dev.code1398.io",
          relation=lambda v: within_zone_problem(v["DomainName"], v["HostedZoneName"])),
    Param("HostedZoneName", "Route 53 public hosted zone of the site (the certificate also covers *.<zone>).",
          default="code1398.io", pattern=DNS_NAME, constraint="a lower-case DNS name such as code1398.io"),
    Param("HostedZoneId", "ID of HostedZoneName's public hosted zone; empty: deploy looks it up by name.",
          default="", pattern=r"^$|^Z[A-Z0-9]{1,31}$", constraint="empty, or a hosted zone ID such as Z0123456789ABC",
          kind="hosted-zone", extra={"name": "HostedZoneName"}),
    Param("CertificateArn", f"ACM certificate (in {REGION}) for the load balancer; empty: the edge layer "
          "requests one for DomainName and *.HostedZoneName, validated through Route 53.",
          default="", pattern=ACM_ARN, constraint="empty, or an ACM certificate ARN",
          relation=lambda v: certificate_region_problem(v["CertificateArn"], REGION, "the load balancer")),
    Param("AlbDeletionProtection", "Refuse to delete the load balancer.", default="false",
          allowed_values=TRUE_FALSE),
    Param("EnableCloudFront", "Put CloudFront in front of the load balancer and the static bucket.",
          default="false", allowed_values=TRUE_FALSE),
    Param("CloudFrontCertificateArn", "ACM certificate in us-east-1 for DomainName, used by CloudFront; "
          "required when EnableCloudFront is true.",
          default="", pattern=ACM_ARN, constraint="empty, or an ACM certificate ARN",
          relation=cloudfront_certificate_problem),
    Param("CloudFrontWebAclArn", "AWS WAF web ACL (scope CLOUDFRONT, made in us-east-1) that filters CloudFront's "
          "requests; empty: none.",
          default="", pattern=CLOUDFRONT_WEB_ACL_ARN,
          constraint="empty, or a WAF web ACL ARN in us-east-1 (arn:aws:wafv2:us-east-1:<account>:global/webacl/...)"),

    # Data: RDS PostgreSQL
    Param("DbEngineVersion", "PostgreSQL 17 minor version (RDS upgrades minors automatically; raise it to upgrade now).",
          default="17.6", pattern=r"^17\.[0-9]+$", constraint="a PostgreSQL 17 version such as 17.6"),
    Param("DbInstanceClass", "RDS instance class.", default="db.t4g.micro",
          allowed_values=("db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.t4g.large")),
    Param("DbAllocatedStorage", "RDS gp3 storage in GB.", type="Number", default="20",
          min_value=20, max_value=1000, integer=True),
    Param("DbMaxAllocatedStorage", "Storage autoscaling ceiling in GB; 0 turns autoscaling off.",
          type="Number", default="0", min_value=0, max_value=2000, integer=True,
          relation=lambda v: storage_ceiling_problem(v["DbAllocatedStorage"], v["DbMaxAllocatedStorage"])),
    Param("DbMultiAz", "Run RDS Multi-AZ (a standby in the other AZ).", default="false",
          allowed_values=TRUE_FALSE),
    Param("DbBackupRetentionDays", "Days of automated backups (point-in-time recovery window).",
          type="Number", default="3", min_value=1, max_value=35, integer=True),
    Param("DbCreateReadReplica", "Add a read replica of the database.", default="false",
          allowed_values=TRUE_FALSE),
    Param("DbDeletionProtection", "Refuse to delete the database instance.", default="false",
          allowed_values=TRUE_FALSE),

    # Data: ElastiCache Redis
    Param("RedisNodeType", "ElastiCache node type.", default="cache.t4g.micro",
          allowed_values=("cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium")),
    Param("RedisClusterMode", "Redis cluster mode (sharding): disabled for one node, enabled in prod.",
          default="disabled", allowed_values=("enabled", "disabled")),
    Param("RedisReplicasPerShard", "Replicas per shard: 0 (one node) or 1 (failover pair).",
          type="Number", default="0", min_value=0, max_value=1, integer=True),
    Param("RedisSnapshotRetentionDays", "Days of automatic Redis snapshots.", type="Number",
          default="1", min_value=0, max_value=35, integer=True),

    # Services: ECS on Fargate
    *service_params("Frontend", "frontend (Next.js)", (1, 1, 2)),
    *service_params("Backend", "backend (NestJS)", (1, 1, 2)),
    Param("FargateArchitecture", "CPU architecture of the tasks, and of the images the pipeline builds for them: "
          "X86_64, or ARM64 (Graviton, about 20% cheaper).", default="X86_64", allowed_values=("X86_64", "ARM64")),
    *[Param(f"{service}SpotPercent", f"Share (percent) of the {what} tasks on Fargate Spot (up to 70% cheaper, "
            f"interrupted at two minutes' notice); below 100 one task always runs on demand.",
            default="0", pattern=PERCENT, constraint="a whole number from 0 to 100")
      for service, what in (("Frontend", "frontend"), ("Backend", "backend"))],
    Param("OffHoursScaling", "Scale both services down to OffHoursTaskCount at 19:00 and back at 09:00, Monday to "
          "Friday, Korean time (down over the weekend).", default="false", allowed_values=TRUE_FALSE),
    Param("OffHoursTaskCount", "Tasks per service outside working hours when OffHoursScaling is true.",
          type="Number", default="0", min_value=0, max_value=2, integer=True),
    Param("FilesIntelligentTiering", "User files go to S3 Intelligent-Tiering at once instead of the design's "
          "ladder (Standard-IA at 30 days, Glacier Instant Retrieval at 90, Deep Archive at 365).",
          default="false", allowed_values=TRUE_FALSE),
    Param("LogRetentionDays", "Days CloudWatch keeps the environment's logs (services, builds, RDS, Redis).",
          type="Number", default="7", integer=True, allowed_values=LOG_RETENTION_DAYS),

    # Pipeline: CodePipeline and CodeBuild
    Param("GitHubRepository", "GitHub repository the pipeline builds, owner/name.", default="Nharu/codemate",
          pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", constraint="owner/name, such as Nharu/codemate"),
    Param("GitHubBranch", "Branch whose pushes start the pipeline.", default="develop",
          pattern=r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,255}(?<![/.])$",
          constraint="a branch name such as develop or main"),
    Param("CodeStarConnectionArn", "An existing CodeStar connection to GitHub; empty: the pipeline layer creates "
          "one, to be approved once in the console (README).",
          default="", pattern=CONNECTION_ARN, constraint="empty, or a CodeStar (CodeConnections) connection ARN"),
    Param("RequireManualApproval", "Wait for a person's approval between build and deploy.", default="false",
          allowed_values=TRUE_FALSE),

    # Observability: alarms, dashboard, budget, account baseline
    Param("AlarmEmail", "E-mail address subscribed to the alarm topic; empty: no subscription.", default="",
          pattern=EMAIL, constraint="empty, or an e-mail address"),
    Param("MonthlyBudgetUsd", "Monthly AWS cost budget of the environment, in US dollars.", type="Number",
          default="200", min_value=1, max_value=1000000, integer=True),
    Param("EnableAccountBaseline", "Create the account's CloudTrail trail and GuardDuty detector (one of each per "
          "account: turn it on in one environment of an account).", default="false", allowed_values=TRUE_FALSE),

]
