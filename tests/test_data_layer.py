"""The data layer holds the design's values for dev and prod, keeps
every secret out of the templates, and cannot lose data: stateful resources
carry their policies (the build refuses them otherwise), and every property
a parameter feeds that may replace the database or the cache is listed in
docs/stateful-resources.md."""

import json
import re

import pytest

from codemate_cfn.stateful import is_stateful
from layer_values import ROOT, Environment, catalogue, templates

RETENTION = {"dev": 7, "prod": 30}  # days of logs: LogRetentionDays of each parameter file

# CodeMate's design, per environment.
RDS = {
    "dev": {"DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20", "MultiAZ": "false",
            "BackupRetentionPeriod": "3", "DeletionProtection": "false"},
    "prod": {"DBInstanceClass": "db.t4g.small", "AllocatedStorage": "50", "MaxAllocatedStorage": "100",
             "MultiAZ": "true", "BackupRetentionPeriod": "7", "DeletionProtection": "true"},
}
REDIS = {
    "dev": {"CacheNodeType": "cache.t4g.micro", "ClusterMode": "disabled", "NumCacheClusters": 1,
            "AutomaticFailoverEnabled": False, "MultiAZEnabled": False, "SnapshotRetentionLimit": "1",
            "CacheParameterGroupName": "default.redis7"},
    "prod": {"CacheNodeType": "cache.t4g.small", "ClusterMode": "enabled", "NumNodeGroups": 1,
             "ReplicasPerNodeGroup": "1", "AutomaticFailoverEnabled": True, "MultiAZEnabled": True,
             "SnapshotRetentionLimit": "5", "CacheParameterGroupName": "default.redis7.cluster.on"},
}
REDIS_NODES = {"dev": 1, "prod": 2}
DOCS = ROOT / "docs" / "stateful-resources.md"
SCHEMA_TYPES = ("AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup")
LEVEL_WORDS = {"always replaces": "createOnlyProperties", "may replace": "conditionalCreateOnlyProperties"}


# --- RDS PostgreSQL ------------------------------------------------------------------------

def test_database_size_availability_and_retention_come_from_the_parameter_file(data):
    props = data.props("Database")
    expected = RDS[data.env]
    assert {k: props.get(k) for k in expected} == expected
    if "MaxAllocatedStorage" not in expected:
        assert "MaxAllocatedStorage" not in props  # 0 in the parameter file: no autoscaling
    assert props["StorageType"] == "gp3"


def test_database_is_postgres_17_named_codemate_private_and_encrypted(data):
    props = data.props("Database")
    assert props["Engine"] == "postgres" and re.fullmatch(r"17\.\d+", props["EngineVersion"])
    assert props["DBName"] == "codemate"
    assert props["DBInstanceIdentifier"] == f"codemate-db-{data.env}"
    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True and props["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    assert props["VPCSecurityGroups"] == [{"Ref": "RdsSecurityGroupId"}]
    assert props["Port"] == "5432"
    assert "postgresql" in props["EnableCloudwatchLogsExports"]


def test_database_lives_in_the_db_subnets(data):
    assert data.props("Database")["DBSubnetGroupName"] == {"Ref": "DbSubnetGroup"}
    assert data.props("DbSubnetGroup")["SubnetIds"] == {"Fn::Split": [",", {"Ref": "DbSubnetIds"}]}
    root_wiring = templates()["root"]["Resources"]["DataStack"]["Properties"]["Parameters"]
    assert root_wiring["DbSubnetIds"] == {"Fn::GetAtt": ["NetworkStack", "Outputs.DbSubnetIds"]}


def test_database_forces_tls_through_its_own_parameter_group(data):
    group = data.props("DbParameterGroup")
    assert group["Family"] == "postgres17"
    assert group["Parameters"] == {"rds.force_ssl": "1"}
    assert data.props("Database")["DBParameterGroupName"] == {"Ref": "DbParameterGroup"}


def test_backups_start_at_three_in_the_morning_korean_time(data):
    props = data.props("Database")
    start, end = props["PreferredBackupWindow"].split("-")
    assert "18:00" <= start < end <= "19:00"  # 03:00-04:00 KST
    assert props["DeleteAutomatedBackups"] is False
    maintenance_start = props["PreferredMaintenanceWindow"].split("-")[0]
    assert maintenance_start.split(":", 1)[1] >= end  # after the backup window, never overlapping


def test_the_master_password_is_generated_into_codemate_env_database(data):
    secret = data.resource("DatabaseSecret")
    props = secret["Properties"]
    assert props["Name"] == f"codemate/{data.env}/database"
    assert props["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("Retain", "Retain")
    generated = props["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"username": "codemate"}
    assert generated["GenerateStringKey"] == "password"
    # RDS takes 8 to 128 characters for PostgreSQL, none of / " @ or a space
    assert 8 <= generated["PasswordLength"] <= 128 and generated["ExcludePunctuation"] is True
    assert "SecretString" not in props  # no password in the template


def test_the_database_takes_its_password_from_that_secret_not_from_rds(data):
    props = data.props("Database")
    assert props["MasterUsername"] == "codemate"
    assert props["MasterUserPassword"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}"}
    # false, not left out: an instance created with an RDS-managed password gives it up in place
    assert props["ManageMasterUserPassword"] is False
    assert "MasterUserSecret" not in props


def test_the_secret_is_attached_to_the_database(data):
    # the attachment adds host, port, engine and dbname to the secret's JSON
    assert data.props("DatabaseSecretAttachment") == {
        "SecretId": {"Ref": "DatabaseSecret"}, "TargetId": {"Ref": "Database"}, "TargetType": "AWS::RDS::DBInstance"}


def test_the_data_stack_gives_the_secret_arn_not_rds_s_secret(data):
    assert data.output("DatabaseSecretArn") == {"Ref": "DatabaseSecret"}
    assert "DbMasterSecretArn" not in data.template["Outputs"]


def test_the_read_replica_is_off_by_default_and_follows_the_parameter(data):
    assert not data.exists("DatabaseReadReplica")
    with_replica = Environment("data", data.env, DbCreateReadReplica="true")
    replica = with_replica.props("DatabaseReadReplica")
    assert replica["SourceDBInstanceIdentifier"] == {"Ref": "Database"}
    assert replica["DBInstanceClass"] == RDS[data.env]["DBInstanceClass"]
    assert replica["PubliclyAccessible"] is False


def test_storage_autoscaling_turns_on_with_a_ceiling():
    dev_with_ceiling = Environment("data", "dev", DbMaxAllocatedStorage="40")
    assert dev_with_ceiling.props("Database")["MaxAllocatedStorage"] == "40"


# --- ElastiCache Redis ---------------------------------------------------------------------

def test_redis_topology_and_retention_come_from_the_parameter_file(data):
    props = data.props("Redis")
    expected = REDIS[data.env]
    assert {k: props.get(k) for k in expected} == expected
    for absent in {"NumCacheClusters", "NumNodeGroups", "ReplicasPerNodeGroup"} - set(expected):
        assert absent not in props


def test_redis_node_count_matches_the_spec(data):
    props = data.props("Redis")
    nodes = props.get("NumCacheClusters") or props["NumNodeGroups"] * (1 + int(props["ReplicasPerNodeGroup"]))
    assert nodes == REDIS_NODES[data.env]


def test_redis_7_is_encrypted_and_authenticated_by_a_generated_token(data):
    props = data.props("Redis")
    assert props["Engine"] == "redis" and props["EngineVersion"].startswith("7.")
    assert props["TransitEncryptionEnabled"] is True and props["AtRestEncryptionEnabled"] is True
    assert props["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    assert props["AuthToken"] == {"Fn::Sub": "{{resolve:secretsmanager:${RedisAuthTokenSecret}}}"}
    token = data.props("RedisAuthTokenSecret")
    assert token["Name"] == f"codemate/{data.env}/redis-auth"
    assert token["GenerateSecretString"]["PasswordLength"] >= 16
    assert token["GenerateSecretString"]["ExcludePunctuation"] is True  # no / " @ in an AUTH token
    assert props["SecurityGroupIds"] == [{"Ref": "RedisSecurityGroupId"}]
    assert data.props("RedisSubnetGroup")["SubnetIds"] == {"Fn::Split": [",", {"Ref": "DbSubnetIds"}]}


def test_resharding_redis_does_not_replace_it():
    assert templates()["data"]["Resources"]["Redis"]["UpdatePolicy"] == {"UseOnlineResharding": True}


def test_redis_endpoint_is_the_configuration_endpoint_only_in_cluster_mode(data):
    endpoint = "ConfigurationEndPoint" if data.env == "prod" else "PrimaryEndPoint"
    assert data.output("RedisEndpoint") == {"Fn::Join": [":", [
        {"Fn::GetAtt": ["Redis", f"{endpoint}.Address"]}, {"Fn::GetAtt": ["Redis", f"{endpoint}.Port"]}]]}


def test_root_prints_the_database_and_cache_endpoints():
    outputs = templates()["root"]["Outputs"]
    assert outputs["RdsEndpoint"]["Description"] == "rds_endpoint"
    assert outputs["RedisEndpoint"]["Description"] == "redis_endpoint"
    assert Environment("data", "dev").output("RdsEndpoint") == {"Fn::Join": [":", [
        {"Fn::GetAtt": ["Database", "Endpoint.Address"]}, {"Fn::GetAtt": ["Database", "Endpoint.Port"]}]]}


# --- secrets -------------------------------------------------------------------------------

def test_application_secrets_are_named_per_environment_and_use_the_project_key(data):
    secrets = data.of_type("AWS::SecretsManager::Secret")
    names = {s["Properties"]["Name"] for s in secrets.values()}
    env = data.env
    assert names == {f"codemate/{env}/{part}"
                     for part in ("database", "nextauth", "anthropic", "github-oauth", "redis-auth")}
    for secret in secrets.values():
        assert secret["Properties"]["KmsKeyId"] == {"Ref": "KmsKeyArn"}


def test_operator_secrets_are_created_empty_and_generated_ones_generated(data):
    for logical_id in ("AnthropicSecret", "GithubOAuthSecret"):
        props = data.props(logical_id)
        assert "SecretString" not in props and "GenerateSecretString" not in props
    assert data.props("NextAuthSecret")["GenerateSecretString"]["PasswordLength"] >= 32


# --- no data loss --------------------------------------------------------------------------

# --- what replaces the database or the cache --------------------------------------------------

def schema(resource_type: str) -> dict:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return PROVIDER_SCHEMA_MANAGER.get_resource_schema("ap-northeast-2", resource_type).schema


def replacing(resource_type: str) -> dict[str, str]:
    """property -> "always replaces" / "may replace", from the resource schema."""
    found = {}
    for words, key in LEVEL_WORDS.items():
        for pointer in schema(resource_type).get(key, []):
            found.setdefault(pointer.split("/")[2], words)
    return found


def doc_section(heading: str) -> str:
    text = DOCS.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def documented_properties(resource_type: str) -> dict[str, str]:
    rows = re.findall(r"^\| `(\w+)` \| (always replaces|may replace) \|", doc_section(resource_type), re.M)
    return dict(rows)


def documented_parameters() -> set[tuple[str, str, str, str]]:
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)\.(\w+)` \| (always replaces|may replace) \|",
                      doc_section("Parameters that may replace the database or the cache"), re.M)
    return set(rows)


def referenced_names(value, conditions: dict) -> set[str]:
    """Parameter (or resource) names a value depends on, through Ref, Fn::Sub
    and the conditions of Fn::If."""
    names: set[str] = set()
    if isinstance(value, list):
        for item in value:
            names |= referenced_names(item, conditions)
    elif isinstance(value, dict):
        for key, args in value.items():
            if key == "Ref":
                names.add(args)
            elif key == "Condition":
                names |= referenced_names(conditions[args], conditions)
            elif key == "Fn::If":
                names |= referenced_names(conditions[args[0]], conditions) | referenced_names(args[1:], conditions)
            elif key == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else args
                names |= set(re.findall(r"\$\{([^}!.]+)\}", text)) - set(variables)
                names |= referenced_names(variables, conditions)
            else:
                names |= referenced_names(args, conditions)
    return names


def through_resources(names: set[str], template: dict) -> set[str]:
    """The names, plus what feeds the create-only properties of the resources
    among them, transitively: a parameter that replaces (renames) a referenced
    resource changes the reference."""
    resources, conditions = template["Resources"], template.get("Conditions", {})
    seen, todo = set(), set(names)
    while todo:
        name = todo.pop()
        seen.add(name)
        if name in resources:
            create_only = {p for p, level in replacing(resources[name]["Type"]).items() if level == "always replaces"}
            props = resources[name].get("Properties", {})
            todo |= referenced_names({p: v for p, v in props.items() if p in create_only}, conditions) - seen
    return seen


def parameter_fed_replacements(template: dict, parameters) -> set[tuple[str, str, str, str]]:
    """(parameter, resource, property, level) for every property of an RDS
    instance or a replication group that a parameter feeds and whose change
    may replace the resource."""
    found = set()
    conditions = template.get("Conditions", {})
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in SCHEMA_TYPES:
            continue
        levels = replacing(resource["Type"])
        for prop, value in resource.get("Properties", {}).items():
            if prop in levels:
                for name in through_resources(referenced_names(value, conditions), template) & set(parameters):
                    found.add((name, logical_id, prop, levels[prop]))
    return found


@pytest.mark.parametrize("resource_type", SCHEMA_TYPES)
def test_docs_list_exactly_the_properties_the_schema_says_replace(resource_type):
    assert documented_properties(resource_type) == replacing(resource_type)


def test_every_parameter_that_can_replace_the_database_or_the_cache_is_documented():
    fed = parameter_fed_replacements(templates()["data"], catalogue())
    assert fed == documented_parameters()


def test_a_parameter_feeding_a_create_only_property_is_caught():
    template = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
        "DBName": {"Fn::If": ["Named", {"Ref": "DbNameParam"}, "codemate"]},
        "DBInstanceClass": {"Ref": "DbInstanceClass"},
    }}}, "Conditions": {"Named": {"Fn::Equals": [{"Ref": "NamingMode"}, "custom"]}}}
    fed = parameter_fed_replacements(template, {"DbNameParam", "NamingMode", "DbInstanceClass"})
    assert fed == {("DbNameParam", "Db", "DBName", "always replaces"),
                   ("NamingMode", "Db", "DBName", "always replaces")}


def test_docs_give_every_stateful_resource_its_policies():
    rows = re.findall(r"^\| `(\w+)` \| `([\w:]+)` \| (\w+) \| (\w+) \|", doc_section("Deletion and replacement policies"),
                      re.M)
    documented = {lid: (rtype, deletion, replace) for lid, rtype, deletion, replace in rows}
    actual = {lid: (r["Type"], r["DeletionPolicy"], r["UpdateReplacePolicy"])
              for name, t in templates().items() for lid, r in t.get("Resources", {}).items()
              if is_stateful(r["Type"])}
    assert documented == actual


def test_rds_exports_into_log_groups_of_ours_made_before_the_instance(data):
    for instance, identifier in (("Database", f"codemate-db-{data.env}"),
                                 ("DatabaseReadReplica", f"codemate-db-replica-{data.env}")):
        view = data if instance == "Database" else Environment("data", data.env, DbCreateReadReplica="true")
        exported = view.props(instance)["EnableCloudwatchLogsExports"]
        groups = view.resource(instance)["DependsOn"]
        names = {view.props(g)["LogGroupName"] for g in groups}
        assert names == {f"/aws/rds/instance/{identifier}/{log}" for log in exported}
        assert {view.props(g)["RetentionInDays"] for g in groups} == {str(RETENTION[data.env])}
    assert not data.exists("DatabaseReadReplicaPostgresqlLogGroup")  # no replica, no log group


def test_redis_sends_its_slow_and_engine_logs_to_its_log_group(data):
    group = data.props("RedisLogGroup")
    assert group["LogGroupName"] == f"/aws/elasticache/codemate-redis-{data.env}"
    assert group["RetentionInDays"] == str(RETENTION[data.env])
    deliveries = data.props("Redis")["LogDeliveryConfigurations"]
    assert {d["LogType"] for d in deliveries} == {"slow-log", "engine-log"}
    for delivery in deliveries:
        assert delivery["DestinationType"] == "cloudwatch-logs"
        assert delivery["DestinationDetails"] == {"CloudWatchLogsDetails": {"LogGroup": {"Ref": "RedisLogGroup"}}}
