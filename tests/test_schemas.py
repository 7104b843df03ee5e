"""Replacement of a changed property, looked up in the resource schemas
cfn-lint ships."""

from codemate_cfn.schemas import create_only, replacement, strongest, weakest


def test_rds_db_name_is_create_only_and_multi_az_conditional():
    assert replacement("AWS::RDS::DBInstance", ("DBName",)) == "true"
    assert replacement("AWS::RDS::DBInstance", ("StorageEncrypted",)) == "true"
    assert replacement("AWS::RDS::DBInstance", ("MultiAZ",)) == "conditional"
    assert replacement("AWS::RDS::DBInstance", ("Engine",)) == "conditional"
    assert replacement("AWS::RDS::DBInstance", ("AllocatedStorage",)) == "false"


def test_bucket_name_replaces_a_bucket_and_tags_do_not():
    assert replacement("AWS::S3::Bucket", ("BucketName",)) == "true"
    assert replacement("AWS::S3::Bucket", ("Tags", 0, "Value")) == "false"
    assert replacement("AWS::S3::Bucket", ("VersioningConfiguration", "Status")) == "false"


def test_elasticache_replication_group_port_is_create_only():
    assert replacement("AWS::ElastiCache::ReplicationGroup", ("Port",)) == "true"
    assert replacement("AWS::ElastiCache::ReplicationGroup", ("CacheNodeType",)) == "false"


def test_a_change_below_or_above_a_nested_create_only_path_counts():
    # AWS::EC2::VPCEndpoint: /properties/DnsOptions/PrivateDnsPreference is create-only
    always, _ = create_only("AWS::EC2::VPCEndpoint")
    assert ("DnsOptions", "PrivateDnsPreference") in always
    assert replacement("AWS::EC2::VPCEndpoint", ("DnsOptions", "PrivateDnsPreference")) == "true"
    assert replacement("AWS::EC2::VPCEndpoint", ("DnsOptions",)) == "true"
    assert replacement("AWS::EC2::VPCEndpoint", ("DnsOptions", "DnsRecordIpType")) == "false"


def test_a_nested_conditionally_create_only_path_may_replace():
    # AWS::AppSync::GraphQLApi: /properties/LambdaAuthorizerConfig/AuthorizerUri
    assert replacement("AWS::AppSync::GraphQLApi", ("LambdaAuthorizerConfig", "AuthorizerUri")) == "conditional"
    assert replacement("AWS::AppSync::GraphQLApi", ("Name",)) == "false"


def test_a_star_in_a_schema_path_matches_any_list_item():
    # /properties/ReplicationInfoList/*/SourceKafkaClusterArn
    assert replacement("AWS::MSK::Replicator", ("ReplicationInfoList", 3, "SourceKafkaClusterArn")) == "true"
    assert replacement("AWS::MSK::Replicator", ("ReplicationInfoList", 3, "TopicReplication", "TopicsToReplicate")) == "false"


def test_a_type_without_a_schema_may_be_replaced():
    assert create_only("AWS::Nothing::Here") is None
    assert replacement("AWS::Nothing::Here", ("Anything",)) == "conditional"


def test_custom_resources_use_the_custom_resource_schema():
    assert replacement("Custom::Seeder", ("ServiceToken",)) == "true"
    assert replacement("Custom::Seeder", ("Rows",)) == "false"


def test_levels_order_false_conditional_true():
    assert strongest("false", "true", "conditional") == "true"
    assert strongest() == "false"
    assert weakest("true", "conditional") == "conditional"
