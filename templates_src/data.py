"""Data layer: RDS PostgreSQL 17, ElastiCache Redis 7 and the
application secrets. Sizes, topology and retention come from parameters; the
database and the cache are snapshotted on delete and on replacement."""

import json

from troposphere import Equals, GetAtt, If, Join, Not, NoValue, Or, Ref, Split, Sub
from troposphere import Condition as ConditionRef
from troposphere.elasticache import (
    CloudWatchLogsDestinationDetails,
    DestinationDetails,
    LogDeliveryConfigurationRequest,
    ReplicationGroup,
    SubnetGroup,
)
from troposphere.policies import UpdatePolicy
from troposphere.rds import DBInstance, DBParameterGroup, DBSubnetGroup
from troposphere.secretsmanager import GenerateSecretString, Secret, SecretTargetAttachment

from codemate_cfn.layer import Layer

from .kit.iam import role
from .kit.logs import log_group
from .kit.policies import RETAIN, SNAPSHOT
from .kit.scanner import scanner_skip
from .project import ENVIRONMENT, PROJECT

POSTGRES_MAJOR = "17"
POSTGRES_PORT = 5432
DB_NAME = "codemate"
DB_MASTER_USERNAME = "codemate"
DB_PASSWORD_LENGTH = 32
DB_LOG_EXPORTS = ["postgresql", "upgrade"]
# 03:00 KST is 18:00 UTC; maintenance follows the backup, never overlapping it.
DB_BACKUP_WINDOW = "18:00-19:00"
DB_MAINTENANCE_WINDOW = "sun:19:30-sun:20:30"
# Enhanced Monitoring: OS metrics every 60 s (RDS writes them to the
# account's RDSOSMetrics log group), through a role with AWS's own policy for it.
DB_MONITORING_SECONDS = 60
DB_MONITORING_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"

REDIS_LOGS = ("slow-log", "engine-log")  # both into /aws/elasticache/codemate-redis-<env>

REDIS_ENGINE_VERSION = "7.1"
REDIS_PORT = 6379
REDIS_PARAMETER_GROUPS = {"enabled": "default.redis7.cluster.on", "disabled": "default.redis7"}
REDIS_SNAPSHOT_WINDOW = "19:00-20:00"
REDIS_MAINTENANCE_WINDOW = "sun:20:30-sun:21:30"

# Secrets the operator fills after the first deployment (docs/stateful-resources.md).
OPERATOR_SECRETS = {
    "AnthropicSecret": ("anthropic", "Anthropic API key (ANTHROPIC_API_KEY), filled by the operator."),
    "GithubOAuthSecret": ("github-oauth", "GitHub OAuth app credentials as JSON {\"client_id\", \"client_secret\"}, "
                                          "filled by the operator."),
}


def secret(t, logical_id: str, part: str, description: str, **value) -> Secret:
    """A secret named codemate/<env>/<part>, encrypted with the project key.
    Without a value it is created empty: CloudFormation then never writes
    over what the operator puts in it."""
    return t.add(Secret(
        logical_id,
        Name=Sub(f"{PROJECT}/{ENVIRONMENT}/{part}"),
        Description=description,
        KmsKeyId=t.input("KmsKeyArn"),
        **RETAIN,
        **value,
    ))


def generated(length: int, **options) -> GenerateSecretString:
    return GenerateSecretString(PasswordLength=length, ExcludePunctuation=True, **options)


def database_secret(t) -> Secret:
    """codemate/<env>/database: the master user name and a generated
    password; attached to the instance, it also carries host, port, engine
    and database name. Rotation is the operator's choice
    (docs/stateful-resources.md)."""
    return secret(t, "DatabaseSecret", "database", "PostgreSQL master user (DATABASE_USER, DATABASE_PASSWORD).",
                  GenerateSecretString=generated(
                      DB_PASSWORD_LENGTH,
                      SecretStringTemplate=json.dumps({"username": DB_MASTER_USERNAME}),
                      GenerateStringKey="password"))


def export_log_groups(t, logical_id: str, *name: str, **props) -> list[str]:
    """The log groups RDS exports an instance's logs into
    (/aws/rds/instance/<identifier>/<log>), made before the instance: RDS
    would otherwise create them itself, kept forever and owned by no stack.
    Returns their logical IDs, for the instance's DependsOn."""
    return [log_group(t, f"{logical_id}{log.capitalize()}LogGroup", "/aws/rds/instance/", *name,
                      retention_input="LogRetentionDays", suffix=f"/{log}", **props).title
            for log in DB_LOG_EXPORTS]


def monitoring_role(t):
    """The role RDS Enhanced Monitoring assumes to publish OS metrics. Its
    permissions are AWS's managed policy for exactly that (writing to the
    RDSOSMetrics log group), which AWS keeps current."""
    return t.add(role("DbMonitoringRole", "monitoring.rds.amazonaws.com", [],
                      ManagedPolicyArns=[Sub(DB_MONITORING_POLICY)], RoleName=t.name_of("rds-monitoring")))


def database(t):
    kms = t.input("KmsKeyArn")
    credentials = database_secret(t)
    monitoring = monitoring_role(t)
    subnets = t.add(DBSubnetGroup(
        "DbSubnetGroup",
        DBSubnetGroupName=t.name_of("db"),
        DBSubnetGroupDescription="CodeMate PostgreSQL: the isolated DB subnets",
        SubnetIds=Split(",", t.input("DbSubnetIds")),
    ))
    parameter_group_name = t.name_of(f"postgres{POSTGRES_MAJOR}")
    parameters = t.add(DBParameterGroup(
        "DbParameterGroup",
        DBParameterGroupName=parameter_group_name,
        Description="CodeMate PostgreSQL: TLS required",
        Family=f"postgres{POSTGRES_MAJOR}",
        Parameters={"rds.force_ssl": "1"},
    ))
    autoscaling = t.condition("DbStorageAutoscaling", Not(Equals(t.input("DbMaxAllocatedStorage"), "0")))
    replica = t.condition("DbReadReplica", Equals(t.input("DbCreateReadReplica"), "true"))
    # The dev database's exception to Multi-AZ is granted to the environment,
    # not to the setting: a prod parameter file turning Multi-AZ off fails the
    # security gate instead of inheriting dev's skip.
    dev = t.condition("DevEnvironment", Equals(t.env, "dev"))
    common = dict(
        Engine="postgres",
        DBInstanceClass=t.input("DbInstanceClass"),
        DBParameterGroupName=Ref(parameters),
        VPCSecurityGroups=[t.input("RdsSecurityGroupId")],
        PubliclyAccessible=False,
        Port=str(POSTGRES_PORT),
        AutoMinorVersionUpgrade=True,
        CopyTagsToSnapshot=True,
        EnableCloudwatchLogsExports=DB_LOG_EXPORTS,
        MonitoringInterval=DB_MONITORING_SECONDS,
        MonitoringRoleArn=GetAtt(monitoring, "Arn"),
        # IAM database authentication on: a database user may sign in with an
        # IAM token once granted rds_iam; the application keeps its password.
        EnableIAMDatabaseAuthentication=True,
    )
    # troposphere refuses ManageMasterUserPassword next to MasterUserPassword
    # even when it is false; cfn-lint checks the instance in its place.
    db = t.add(DBInstance(
        "Database",
        DependsOn=export_log_groups(t, "Database", "db"),
        DBInstanceIdentifier=t.name_of("db"),
        EngineVersion=t.input("DbEngineVersion"),
        DBName=DB_NAME,
        MasterUsername=DB_MASTER_USERNAME,
        # The password is ours (codemate/<env>/database), not RDS-managed: RDS
        # refuses read replicas and blue/green upgrades of instances whose
        # password it manages. False, not absent: an instance created with a
        # managed password gives it up in place.
        ManageMasterUserPassword=False,
        MasterUserPassword=Sub("{{resolve:secretsmanager:${%s}:SecretString:password}}" % credentials.title),
        StorageType="gp3",
        AllocatedStorage=t.input("DbAllocatedStorage"),
        MaxAllocatedStorage=If(autoscaling, t.input("DbMaxAllocatedStorage"), NoValue),
        StorageEncrypted=True,
        KmsKeyId=kms,
        DBSubnetGroupName=Ref(subnets),
        MultiAZ=t.input("DbMultiAz"),
        BackupRetentionPeriod=t.input("DbBackupRetentionDays"),
        PreferredBackupWindow=DB_BACKUP_WINDOW,
        PreferredMaintenanceWindow=DB_MAINTENANCE_WINDOW,
        DeleteAutomatedBackups=False,
        DeletionProtection=t.input("DbDeletionProtection"),
        **common,
        **SNAPSHOT,
    ).no_validation())
    scanner_skip(db, "CKV_AWS_157", "DEV ONLY: the dev database is single-AZ by design (cost over availability, "
                 "restored from its backups); prod runs Multi-AZ and is scanned without this skip.", when=dev)
    # A same-region replica inherits storage, encryption and subnets from its
    # source. CloudFormation skips the final snapshot for read replicas (RDS
    # refuses one), so Snapshot here only keeps the build's rule uniform.
    read_replica = t.add(DBInstance(
        "DatabaseReadReplica",
        Condition=replica,
        DependsOn=export_log_groups(t, "DatabaseReadReplica", "db", "replica", Condition=replica),
        DBInstanceIdentifier=t.name_of("db", "replica"),
        SourceDBInstanceIdentifier=Ref(db),
        **common,
        **SNAPSHOT,
    ))
    scanner_skip(read_replica, "CKV_AWS_16", "A same-region read replica is encrypted as its source is: it "
                 "inherits storage encryption and the project key (CloudFormation says not to set them on a replica).")
    scanner_skip(read_replica, "CKV_AWS_157", "A read replica serves reads only: the primary's Multi-AZ (DbMultiAz) "
                 "carries availability, and a lost replica is made again from the primary.")

    t.add(SecretTargetAttachment(
        "DatabaseSecretAttachment",
        SecretId=Ref(credentials),
        TargetId=Ref(db),
        TargetType="AWS::RDS::DBInstance",
    ))

    host, port = GetAtt(db, "Endpoint.Address"), GetAtt(db, "Endpoint.Port")
    t.output("RdsEndpoint", Join(":", [host, port]), "PostgreSQL endpoint, host:port.", root="rds_endpoint")
    t.output("RdsHost", host, "PostgreSQL host name (DATABASE_HOST).")
    t.output("RdsPort", port, "PostgreSQL port (DATABASE_PORT).")
    t.output("DbName", DB_NAME, "Database name (DATABASE_NAME).")
    t.output("DbInstanceId", Ref(db), "RDS instance identifier (alarms, dashboard).")
    t.output("DatabaseSecretArn", Ref(credentials),
             "ARN of codemate/<env>/database, JSON with username and password (DATABASE_USER, DATABASE_PASSWORD).")


def cache(t):
    cluster = t.condition("RedisClusterEnabled", Equals(t.input("RedisClusterMode"), "enabled"))
    replicas = t.input("RedisReplicasPerShard")
    has_replica = t.condition("RedisHasReplica", Not(Equals(replicas, "0")))
    failover = t.condition("RedisFailover", Or(ConditionRef(cluster), ConditionRef(has_replica)))
    token = secret(t, "RedisAuthTokenSecret", "redis-auth", "Redis AUTH token (generated).",
                   # AUTH tokens: 16-128 printable characters, none of / " @.
                   GenerateSecretString=generated(64))
    logs = log_group(t, "RedisLogGroup", "/aws/elasticache/", "redis", retention_input="LogRetentionDays")
    subnets = t.add(SubnetGroup(
        "RedisSubnetGroup",
        CacheSubnetGroupName=t.name_of("redis"),
        Description="CodeMate Redis: the isolated DB subnets",
        SubnetIds=Split(",", t.input("DbSubnetIds")),
    ))
    redis = t.add(ReplicationGroup(
        "Redis",
        ReplicationGroupId=t.name_of("redis"),
        ReplicationGroupDescription="CodeMate Redis: sessions, WebSocket state, API cache, rate limits",
        Engine="redis",
        EngineVersion=REDIS_ENGINE_VERSION,
        CacheNodeType=t.input("RedisNodeType"),
        ClusterMode=t.input("RedisClusterMode"),
        CacheParameterGroupName=If(cluster, REDIS_PARAMETER_GROUPS["enabled"], REDIS_PARAMETER_GROUPS["disabled"]),
        # Cluster mode: one shard with N replicas. Without it: a primary plus
        # N replicas as cache clusters (N is 0 or 1, see RedisReplicasPerShard).
        NumNodeGroups=If(cluster, 1, NoValue),
        ReplicasPerNodeGroup=If(cluster, replicas, NoValue),
        NumCacheClusters=If(cluster, NoValue, If(has_replica, 2, 1)),
        AutomaticFailoverEnabled=If(failover, True, False),
        MultiAZEnabled=If(has_replica, True, False),
        CacheSubnetGroupName=Ref(subnets),
        SecurityGroupIds=[t.input("RedisSecurityGroupId")],
        Port=REDIS_PORT,
        TransitEncryptionEnabled=True,
        AtRestEncryptionEnabled=True,
        KmsKeyId=t.input("KmsKeyArn"),
        AuthToken=Sub("{{resolve:secretsmanager:${RedisAuthTokenSecret}}}"),
        SnapshotRetentionLimit=t.input("RedisSnapshotRetentionDays"),
        SnapshotWindow=REDIS_SNAPSHOT_WINDOW,
        PreferredMaintenanceWindow=REDIS_MAINTENANCE_WINDOW,
        AutoMinorVersionUpgrade=True,
        LogDeliveryConfigurations=[LogDeliveryConfigurationRequest(
            LogType=log, LogFormat="json", DestinationType="cloudwatch-logs",
            DestinationDetails=DestinationDetails(CloudWatchLogsDetails=CloudWatchLogsDestinationDetails(
                LogGroup=Ref(logs))),
        ) for log in REDIS_LOGS],
        # Without it, a change of NumNodeGroups replaces the replication group.
        UpdatePolicy=UpdatePolicy(UseOnlineResharding=True),
        **SNAPSHOT,
    ))
    # Cluster mode has a configuration endpoint; a non-clustered group has
    # a primary endpoint only (GetAtt of the other one fails).
    host = If(cluster, GetAtt(redis, "ConfigurationEndPoint.Address"), GetAtt(redis, "PrimaryEndPoint.Address"))
    port = If(cluster, GetAtt(redis, "ConfigurationEndPoint.Port"), GetAtt(redis, "PrimaryEndPoint.Port"))
    t.output("RedisEndpoint", Join(":", [host, port]), "Redis endpoint, host:port.", root="redis_endpoint")
    t.output("RedisHost", host, "Redis host name (REDIS_HOST): the configuration endpoint in cluster mode.")
    t.output("RedisPort", port, "Redis port (REDIS_PORT).")
    t.output("RedisReplicationGroupId", Ref(redis), "ElastiCache replication group ID (alarms, dashboard).")
    t.output("RedisAuthTokenSecretArn", Ref(token), "ARN of the secret holding the Redis AUTH token.")


def app_secrets(t):
    nextauth = secret(t, "NextAuthSecret", "nextauth", "NEXTAUTH_SECRET (generated).",
                      GenerateSecretString=generated(48))
    t.output("NextAuthSecretArn", Ref(nextauth), "ARN of the NEXTAUTH_SECRET secret.")
    for logical_id, (part, description) in OPERATOR_SECRETS.items():
        created = secret(t, logical_id, part, description)
        t.output(f"{logical_id}Arn", Ref(created), f"ARN of the codemate/<env>/{part} secret.")


def build(t):
    database(t)
    cache(t)
    app_secrets(t)


LAYER = Layer("data", "RDS PostgreSQL, ElastiCache Redis and the application secrets", build)
