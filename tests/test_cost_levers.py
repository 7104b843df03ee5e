"""Each cost lever read from the resources it changes, on small hand-written
templates of the shapes the levers give: a NAT instance instead of a
gateway, ARM64 task definitions, Fargate Spot weights, scheduled off-hours
scaling, interface VPC endpoints, Intelligent-Tiering and log retention.
The estimate moves by what the price file says each change is worth."""

from __future__ import annotations

import pytest

from codemate_cfn.cost.estimate import cron_hours_of_week, estimate, lever_savings, weekly_average
from codemate_cfn.cost.inputs import PRICE_FILE, load_prices
from layer_values import ROOT

PRICES = load_prices(ROOT / PRICE_FILE)
HOURS = 730
USAGE = {"nat_data_gb": 10, "nat_data_share_to_endpoint_services": 0.5, "logs_ingested_gb": 20,
         "s3_objects_thousands": 10}


def task(cpu="1024", memory="2048", arch="X86_64"):
    return {"Type": "AWS::ECS::TaskDefinition",
            "Properties": {"Cpu": cpu, "Memory": memory, "RuntimePlatform": {"CpuArchitecture": arch}}}


def service(desired=1, strategy=None):
    props = {"TaskDefinition": {"Ref": "BackendTaskDefinition"}, "DesiredCount": desired}
    if strategy:
        props["CapacityProviderStrategy"] = [{"CapacityProvider": p, "Weight": w} for p, w in strategy]
    return {"Type": "AWS::ECS::Service", "Properties": props}


def services(**resources):
    return {"services": {"Resources": {"BackendTaskDefinition": task(), "BackendService": service(), **resources}}}


def cost(templates, usage=USAGE, **given):
    return estimate(templates, given, usage, PRICES)


# -- Fargate: architecture, Spot, scheduled scaling ------------------------------------------

def test_x86_backend_costs_the_designs_hourly_rate():
    assert cost(services()).monthly("ecs_backend") == pytest.approx(0.0688 * HOURS)


def test_arm64_task_definitions_cost_20_percent_less():
    result = cost(services(BackendTaskDefinition=task(arch="ARM64")))
    assert result.monthly("ecs_backend") == pytest.approx(0.0688 * 0.8 * HOURS)
    assert "ARM64" in result.line("ecs_backend").sizing


def test_spot_weights_price_their_share_at_the_spot_rate():
    """FARGATE 1 : FARGATE_SPOT 3 runs 75% of the tasks on Spot, about 70% cheaper."""
    result = cost(services(BackendService=service(strategy=[("FARGATE", 1), ("FARGATE_SPOT", 3)])))
    assert result.monthly("ecs_backend") == pytest.approx(0.0688 * HOURS * (0.25 + 0.75 * 0.3))
    assert "75% on Spot" in result.line("ecs_backend").sizing


def test_all_on_spot():
    result = cost(services(BackendService=service(strategy=[("FARGATE_SPOT", 1)])))
    assert result.monthly("ecs_backend") == pytest.approx(0.0688 * HOURS * 0.3)


OFF_HOURS = [  # working hours 09:00-19:00 KST, Monday to Friday; none at night or weekends
    {"ScheduledActionName": "work", "Schedule": "cron(0 9 ? * MON-FRI *)", "Timezone": "Asia/Seoul",
     "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 2}},
    {"ScheduledActionName": "rest", "Schedule": "cron(0 19 ? * MON-FRI *)", "Timezone": "Asia/Seoul",
     "ScalableTargetAction": {"MinCapacity": 0, "MaxCapacity": 0}},
]


def test_cron_hours_are_converted_from_kst_to_utc_hours_of_the_week():
    # Monday 09:00 KST is Monday 00:00 UTC: hour 24 of a week starting Sunday 00:00 UTC
    assert cron_hours_of_week("cron(0 9 ? * MON-FRI *)", "Asia/Seoul") == [24, 48, 72, 96, 120]


def test_off_hours_scaling_runs_the_desired_count_50_of_168_hours():
    assert weekly_average(1, OFF_HOURS) == pytest.approx(50 / 168)
    assert weekly_average(2, OFF_HOURS) == pytest.approx(2 * 50 / 168)


def test_off_hours_to_one_task_keeps_one_at_night():
    keep_one = [OFF_HOURS[0], {**OFF_HOURS[1], "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1}}]
    assert weekly_average(2, keep_one) == pytest.approx((2 * 50 + 1 * 118) / 168)


def test_a_services_scheduled_actions_set_its_average_tasks():
    target = {"Type": "AWS::ApplicationAutoScaling::ScalableTarget",
              "Properties": {"ResourceId": {"Fn::Join": ["/", ["service", {"Ref": "Cluster"},
                                                              {"Fn::GetAtt": ["BackendService", "Name"]}]]},
                             "ScheduledActions": OFF_HOURS}}
    result = cost(services(BackendScalableTarget=target))
    assert result.monthly("ecs_backend") == pytest.approx(0.0688 * HOURS * 50 / 168)
    assert "scheduled actions" in result.line("ecs_backend").sizing


def test_the_usage_files_average_wins_over_the_desired_count():
    result = cost(services(), usage={**USAGE, "average_tasks": {"backend": 3}})
    assert result.monthly("ecs_backend") == pytest.approx(3 * 0.0688 * HOURS)


# -- NAT: gateway or instance, interface endpoints -------------------------------------------

GATEWAY = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
INSTANCE = {"Type": "AWS::EC2::Instance", "Properties": {"InstanceType": "t4g.nano", "SourceDestCheck": False}}


def test_a_nat_gateway_costs_hours_and_data():
    result = cost({"network": {"Resources": {"NatGateway2a": GATEWAY}}})
    assert result.monthly("nat_gateway") == pytest.approx(0.059 * HOURS)
    assert result.monthly("nat_data") == pytest.approx(10 * 0.059)


def test_a_nat_instance_costs_its_t4g_nano_hours_and_no_processing_charge():
    result = cost({"network": {"Resources": {"NatInstance2a": INSTANCE}}})
    assert result.monthly("nat_instance_NatInstance2a") == pytest.approx(0.0052 * HOURS)
    assert result.monthly("nat_gateway") == 0 and result.monthly("nat_data") == 0


def test_an_instance_with_source_dest_check_on_is_no_nat():
    other = {"Type": "AWS::EC2::Instance", "Properties": {"InstanceType": "t4g.nano"}}
    assert not [l for l in cost({"network": {"Resources": {"Bastion": other}}}).lines if l.key.startswith("nat")]


def endpoint(service_name):
    return {"Type": "AWS::EC2::VPCEndpoint",
            "Properties": {"ServiceName": service_name, "VpcEndpointType": "Interface",
                           "SubnetIds": [{"Ref": "AppSubnet2a"}, {"Ref": "AppSubnet2c"}]}}


def test_interface_endpoints_cost_per_az_hour_and_say_when_they_cost_more_than_the_nat_data_they_save():
    endpoints = {f"{n}Endpoint": endpoint(n) for n in ("EcrApi", "EcrDkr", "Logs", "SecretsManager")}
    result = cost({"network": {"Resources": {"NatGateway2a": GATEWAY, **endpoints}}})
    line = result.line("interface_endpoints")
    # 4 endpoints x 2 AZs x $0.013/h, and half of the 10 NAT GB through them at $0.01
    assert line.monthly == pytest.approx(8 * 0.013 * HOURS + 5 * 0.01)
    assert result.monthly("nat_data") == pytest.approx(5 * 0.059)
    assert line.note == "costs $75.67 more than the NAT data it saves ($0.29)"  # $75.97 against 5 GB x $0.059


def test_a_gateway_endpoint_is_free():
    s3 = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}}
    assert cost({"network": {"Resources": {"S3Endpoint": s3}}}).monthly("interface_endpoints") == 0


# -- storage and logs ---------------------------------------------------------------------------

def bucket(storage_class):
    return {"Type": "AWS::S3::Bucket", "Properties": {"LifecycleConfiguration": {"Rules": [
        {"Status": "Enabled", "Transitions": [{"StorageClass": storage_class, "TransitionInDays": 0}]}]}}}


def test_intelligent_tiering_adds_its_monitoring_per_object():
    result = cost({"storage": {"Resources": {"FilesBucket": bucket("INTELLIGENT_TIERING")}}})
    assert result.monthly("s3_intelligent_tiering") == pytest.approx(10 * 0.0025)
    assert "s3_intelligent_tiering" not in {l.key for l in cost(
        {"storage": {"Resources": {"FilesBucket": bucket("STANDARD_IA")}}}).lines}


def log_group(days):
    return {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": days}}


def test_shorter_log_retention_stores_less():
    month = cost({"logs": {"Resources": {"Group": log_group(30)}}}).monthly("logs")
    week = cost({"logs": {"Resources": {"Group": log_group(7)}}}).monthly("logs")
    assert month == pytest.approx(20 * 0.303 + 20 * 0.303)
    assert month - week == pytest.approx(20 * (1 - 7 / 30) * 0.303)


# -- a lever as a parameter: its saving ----------------------------------------------------------

LEVER = {"network": {
    "Parameters": {"NatType": {"Type": "String", "Default": "gateway"}},
    "Conditions": {"UseInstance": {"Fn::Equals": [{"Ref": "NatType"}, "instance"]},
                   "UseGateway": {"Fn::Not": [{"Condition": "UseInstance"}]}},
    "Resources": {"NatGateway2a": {**GATEWAY, "Condition": "UseGateway"},
                  "NatInstance2a": {**INSTANCE, "Condition": "UseInstance"}}}}


def test_the_saving_of_a_lever_is_the_estimate_with_that_parameter_alone_changed():
    [(lever, saves)] = lever_savings(LEVER, {"NatType": "gateway"}, {"NatType": "instance"}, USAGE, PRICES)
    assert lever == "NatType gateway -> instance"
    assert saves == pytest.approx(0.059 * HOURS + 10 * 0.059 - 0.0052 * HOURS)  # about $40, as the design says


def test_a_base_on_fargate_runs_first_and_the_weights_split_the_rest():
    """2 tasks, FARGATE base 1, then FARGATE_SPOT weight 1 only: 1 of 2 on Spot."""
    result = cost(services(BackendService={**service(desired=2), "Properties": {
        **service(desired=2)["Properties"],
        "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 0},
                                     {"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]}}))
    assert result.monthly("ecs_backend") == pytest.approx(0.0688 * HOURS * (1 + 0.3))
    assert "50% on Spot" in result.line("ecs_backend").sizing


def test_a_read_replica_is_an_instance_of_its_own_with_its_sources_storage():
    primary = {"Type": "AWS::RDS::DBInstance",
               "Properties": {"DBInstanceClass": "db.t4g.small", "AllocatedStorage": "50", "MultiAZ": "true"}}
    replica = {"Type": "AWS::RDS::DBInstance", "Properties": {
        "DBInstanceClass": "db.t4g.small", "SourceDBInstanceIdentifier": {"Ref": "Database"}}}
    result = cost({"data": {"Resources": {"Database": primary, "DatabaseReadReplica": replica}}})
    assert result.monthly("rds_instance") == pytest.approx(0.080 * HOURS)  # Multi-AZ: twice $0.040
    assert result.monthly("rds_DatabaseReadReplica_instance") == pytest.approx(0.040 * HOURS)
    assert result.monthly("rds_DatabaseReadReplica_storage") == result.monthly("rds_storage") == 50 * 0.138
