"""Every root parameter: the schema of params/*.json.

Defaults are the dev values of CodeMate's design; a parameter without a default must
be set in every parameter file.
"""

from codemate_cfn.layer import Param

from .project import AZS, ENVIRONMENT_PARAM, zone_name

TRUE_FALSE = ("true", "false")

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

    # Site: the storage layer's CORS origin
    Param("DomainName", "Public host name of this environment (the site URL is https:// + this).",
          pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
          constraint="a lower-case DNS host name such as codemate-dev.code1398.io"),

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

]
