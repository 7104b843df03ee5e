"""The observability layer as each environment sees it: the alarm topic
(encrypted, subscribed, publishable by alarms and budgets), the alarms of
CodeMate's design (section 9) with their metrics, thresholds, windows and
actions, the RDS connections threshold per instance class, the dashboard's
widgets, the monthly budget, the account baseline and the alarms a deploy
rolls back on."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from codemate_cfn.compile.discovery import load_layers
from layer_values import ROOT, Environment, catalogue, conventions, templates

TAG = "3f2a9c1"
SERVICES = ("Frontend", "Backend")
BUDGETS = {"dev": "200", "prod": "700"}
DB_CLASSES = {"dev": "db.t4g.micro", "prod": "db.t4g.small"}
TOPIC = {"Ref": "AlarmTopic"}
MAPPING = "DbConnectionLimits"


def with_images(env: str, **overrides) -> Environment:
    """The layer once both image tags are set (the services exist)."""
    return Environment("observability", env, FrontendImageTag=TAG, BackendImageTag=TAG, **overrides)


def dimensions(alarm: dict) -> dict:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def window(alarm: dict) -> tuple:
    """(statistic, period, evaluation periods, datapoints to alarm, comparison, threshold)."""
    return (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"],
            alarm["ComparisonOperator"], float(alarm["Threshold"]))


def alarms(view: Environment) -> dict[str, dict]:
    return {lid: r["Properties"] for lid, r in view.of_type("AWS::CloudWatch::Alarm").items()}


# -- the topic ------------------------------------------------------------

def test_the_alarm_topic_is_named_per_environment_and_encrypted_with_the_project_key(observability):
    topic = observability.props("AlarmTopic")
    assert topic["TopicName"] == f"codemate-alarms-{observability.env}"
    assert topic["KmsMasterKeyId"] == {"Ref": "KmsKeyArn"}
    wired = templates()["root"]["Resources"]["ObservabilityStack"]["Properties"]["Parameters"]["KmsKeyArn"]
    assert wired == {"Fn::GetAtt": ["StorageStack", "Outputs.KmsKeyArn"]}  # the project key


def test_the_email_subscription_exists_only_for_an_address(observability):
    assert observability.values["AlarmEmail"] == ""
    assert not observability.exists("AlarmEmailSubscription")
    subscribed = Environment("observability", observability.env, AlarmEmail="ops@code1398.io")
    assert subscribed.props("AlarmEmailSubscription") == {
        "Endpoint": "ops@code1398.io", "Protocol": "email", "TopicArn": TOPIC}


def test_only_this_accounts_alarms_and_budgets_may_publish_to_the_topic(observability):
    (policy,) = observability.of_type("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [TOPIC]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    sources = {
        "cloudwatch.amazonaws.com": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*",
        "budgets.amazonaws.com": "arn:${AWS::Partition}:budgets::${AWS::AccountId}:*",
    }
    assert {s["Principal"]["Service"] for s in statements.values()} == set(sources)
    for statement in statements.values():
        service = statement["Principal"]["Service"]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == ["sns:Publish"] and statement["Resource"] == [TOPIC]
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                          "ArnLike": {"aws:SourceArn": {"Fn::Sub": sources[service]}}}


def test_the_project_key_lets_the_topics_publishers_use_it():
    """The topic is SSE-KMS: CloudWatch and Budgets need the key too (storage layer)."""
    key = Environment("storage", "dev").props("KmsKey")["KeyPolicy"]["Statement"]
    (publishers,) = [s for s in key if s["Principal"].get("Service") == ["cloudwatch.amazonaws.com",
                                                                          "budgets.amazonaws.com"]]
    assert sorted(publishers["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


# -- alarms ---------------------------------------------------------------

def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears(observability):
    found = alarms(with_images(observability.env))
    assert len(found) == 6
    for logical_id, alarm in found.items():
        assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC], logical_id
        assert alarm["AlarmName"].startswith("codemate-") and alarm["AlarmName"].endswith(f"-{observability.env}")


def test_no_ecs_alarm_before_the_services_exist(observability):
    assert observability.values["FrontendImageTag"] == observability.values["BackendImageTag"] == ""
    assert not observability.exists("FrontendCpuAlarm") and not observability.exists("BackendCpuAlarm")
    only_frontend = Environment("observability", observability.env, FrontendImageTag=TAG)
    assert only_frontend.exists("FrontendCpuAlarm") and not only_frontend.exists("BackendCpuAlarm")


@pytest.mark.parametrize("title", SERVICES)
def test_ecs_cpu_above_80_percent_for_5_minutes_per_service(observability, title):
    alarm = with_images(observability.env).props(f"{title}CpuAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ECS", "CPUUtilization")
    assert dimensions(alarm) == {"ClusterName": {"Ref": "ClusterName"}, "ServiceName": {"Ref": f"{title}ServiceName"}}
    assert window(alarm) == ("Average", 60, 5, 5, "GreaterThanThreshold", 80.0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmName"] == f"codemate-{title.lower()}-cpu-high-{observability.env}"


def test_the_ecs_alarms_follow_the_services_layers_condition():
    """Same condition name and expression as the services layer's, from the same root parameters."""
    ours, theirs = templates()["observability"]["Conditions"], templates()["services"]["Conditions"]
    for title in SERVICES:
        assert ours[f"{title}ImageSet"] == theirs[f"{title}ImageSet"]
        assert templates()["observability"]["Resources"][f"{title}CpuAlarm"]["Condition"] == f"{title}ImageSet"


@pytest.mark.parametrize("title", SERVICES)
def test_unhealthy_targets_for_2_minutes_per_target_group_are_urgent(observability, title):
    alarm = observability.props(f"{title}UnhealthyHostsAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApplicationELB", "UnHealthyHostCount")
    assert dimensions(alarm) == {"TargetGroup": {"Ref": f"{title}TargetGroupFullName"},
                                 "LoadBalancer": {"Ref": "AlbFullName"}}
    assert window(alarm) == ("Maximum", 60, 2, 2, "GreaterThanThreshold", 0.0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmName"] == f"codemate-urgent-{title.lower()}-unhealthy-hosts-{observability.env}"
    assert alarm["AlarmDescription"].startswith("URGENT")


def test_more_than_10_target_5xx_in_a_minute_is_urgent(observability):
    alarm = observability.props("Target5xxAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count")
    assert dimensions(alarm) == {"LoadBalancer": {"Ref": "AlbFullName"}}
    assert window(alarm) == ("Sum", 60, 1, 1, "GreaterThanThreshold", 10.0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmName"] == f"codemate-urgent-target-5xx-{observability.env}"
    assert alarm["AlarmDescription"].startswith("URGENT")


def test_the_alarm_inputs_come_from_the_edge_services_and_data_layers():
    wired = templates()["root"]["Resources"]["ObservabilityStack"]["Properties"]["Parameters"]
    sources = {"AlbFullName": "EdgeStack", "FrontendTargetGroupFullName": "EdgeStack",
               "BackendTargetGroupFullName": "EdgeStack", "ClusterName": "ServicesStack",
               "FrontendServiceName": "ServicesStack", "BackendServiceName": "ServicesStack",
               "DbInstanceId": "DataStack", "RedisReplicationGroupId": "DataStack"}
    for name, stack in sources.items():
        assert wired[name] == {"Fn::GetAtt": [stack, f"Outputs.{name}"]}, name
    for name in ("FrontendImageTag", "BackendImageTag", "DbInstanceClass", "AlarmEmail", "MonthlyBudgetUsd",
                 "EnableAccountBaseline"):
        assert wired[name] == {"Ref": name}, name


def test_rds_connections_above_80_percent_of_max_connections_for_5_minutes(observability):
    alarm = observability.props("DbConnectionsAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/RDS", "DatabaseConnections")
    assert dimensions(alarm) == {"DBInstanceIdentifier": {"Ref": "DbInstanceId"}}
    limits = templates()["observability"]["Mappings"][MAPPING][DB_CLASSES[observability.env]]
    expected = round(0.8 * int(limits["MaxConnections"]), 1)
    assert window(alarm) == ("Maximum", 60, 5, 5, "GreaterThanThreshold", expected)
    assert alarm["TreatMissingData"] == "missing"


def test_the_connections_threshold_follows_the_instance_class_not_one_number():
    dev, prod = (float(Environment("observability", env).props("DbConnectionsAlarm")["Threshold"])
                 for env in ("dev", "prod"))
    assert (dev, prod) == (57.6, 144.8)  # 80% of 72 (db.t4g.micro) and of 181 (db.t4g.small)


def test_every_allowed_instance_class_has_max_connections_below_the_nominal_memorys():
    limits = templates()["observability"]["Mappings"][MAPPING]
    allowed = catalogue()["DbInstanceClass"].allowed_values
    assert set(limits) == set(allowed)
    nominal_gib = {"db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8}
    for cls in allowed:
        most = int(limits[cls]["MaxConnections"])
        # RDS keeps part of the memory: fewer than LEAST(memory / 9531392, 5000) of the nominal size
        assert 0 < most < min(nominal_gib[cls] * 2**30 // 9531392, 5000), cls
        assert float(limits[cls]["AlarmAbove"]) == round(0.8 * most, 1), cls
        threshold = Environment("observability", "dev", DbInstanceClass=cls).props("DbConnectionsAlarm")["Threshold"]
        assert threshold == limits[cls]["AlarmAbove"], cls
    ordered = [int(limits[cls]["MaxConnections"]) for cls in sorted(allowed, key=nominal_gib.get)]
    assert ordered == sorted(set(ordered))  # more memory, more connections


def test_a_class_without_max_connections_stops_the_build():
    (layer,) = [layer for layer in load_layers(ROOT) if layer.name == "observability"]
    param = catalogue()["DbInstanceClass"]
    wider = {**catalogue(), "DbInstanceClass": dataclasses.replace(
        param, allowed_values=(*param.allowed_values, "db.t4g.xlarge"))}
    with pytest.raises(ValueError, match="db.t4g.xlarge"):
        layer.render(wider, conventions())


# -- what a deploy rolls back on --------------------------------------------

def test_the_rollback_alarms_are_the_urgent_ones_that_always_exist(observability):
    urgent = ["FrontendUnhealthyHostsAlarm", "BackendUnhealthyHostsAlarm", "Target5xxAlarm"]
    assert observability.output("RollbackAlarmArns") == {
        "Fn::Join": [",", [{"Fn::GetAtt": [name, "Arn"]} for name in urgent]]}
    resources = templates()["observability"]["Resources"]
    assert all("Condition" not in resources[name] for name in urgent)
    root = templates()["root"]["Outputs"]["RollbackAlarmArns"]
    assert root == {"Description": "rollback_alarm_arns",
                    "Value": {"Fn::GetAtt": ["ObservabilityStack", "Outputs.RollbackAlarmArns"]}}


# -- the dashboard ----------------------------------------------------------

SEARCH = re.compile(r"SEARCH\('\{([^,}]+),([^}]*)\} MetricName=\"([^\"]+)\" (.*)', '(\w+)', 60\)")


def widgets(view: Environment) -> list[dict]:
    board = view.props("Dashboard")
    assert board["DashboardName"] == f"codemate-{view.env}"
    text = board["DashboardBody"]["Fn::Sub"]  # ${AWS::Region} and other layers' outputs stay for AWS
    return json.loads(text)["widgets"]


def metrics_of(widget: dict) -> list[tuple[str, str, str, tuple]]:
    """(namespace, metric, statistic, dimensions or the search's filter) of each line."""
    found = []
    properties = widget["properties"]
    for line in properties["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        if "expression" in options:
            namespace, dimension_names, metric, where, stat = SEARCH.fullmatch(options["expression"]).groups()
            found.append((namespace, metric, stat, (dimension_names, where)))
        else:
            names = [part for part in line if not isinstance(part, dict)]
            found.append((names[0], names[1], options.get("stat", properties["stat"]), tuple(names[2:])))
    return found


def test_the_dashboard_shows_every_metric_of_the_design(observability):
    shown = {(ns, metric): (stat, where) for widget in widgets(observability)
             for ns, metric, stat, where in metrics_of(widget)}
    alb, db = ("LoadBalancer", "${AlbFullName}"), ("DBInstanceIdentifier", "${DbInstanceId}")
    ecs = ("ClusterName,ServiceName", 'ClusterName="${ClusterName}"')
    redis = ("CacheClusterId,CacheNodeId", "CacheClusterId=${RedisReplicationGroupId}")
    expected = {
        ("AWS/ECS", "CPUUtilization"): ("Average", ecs),
        ("AWS/ECS", "MemoryUtilization"): ("Average", ecs),
        ("ECS/ContainerInsights", "RunningTaskCount"): ("Average", ecs),
        ("AWS/ApplicationELB", "RequestCount"): ("Sum", alb),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): ("Sum", alb),
        ("AWS/RDS", "CPUUtilization"): ("Average", db),
        ("AWS/RDS", "DatabaseConnections"): ("Maximum", db),
        ("AWS/RDS", "FreeStorageSpace"): ("Minimum", db),
        ("AWS/ElastiCache", "CacheHits"): ("Sum", redis),
        ("AWS/ElastiCache", "CacheMisses"): ("Sum", redis),
        ("AWS/ElastiCache", "CPUUtilization"): ("Average", redis),
    }
    for key, value in expected.items():
        assert shown.get(key) == value, key


def test_the_dashboard_shows_response_time_percentiles(observability):
    lines = [m for widget in widgets(observability) for m in metrics_of(widget)
             if m[:2] == ("AWS/ApplicationELB", "TargetResponseTime")]
    assert sorted(stat for _, _, stat, _ in lines) == ["p50", "p95", "p99"]
    assert all(where == ("LoadBalancer", "${AlbFullName}") for *_, where in lines)


def test_the_dashboard_marks_the_connections_alarm_and_lays_widgets_out_without_overlap(observability):
    found = widgets(observability)
    (connections,) = [w for w in found if ("AWS/RDS", "DatabaseConnections") in
                      {m[:2] for m in metrics_of(w)}]
    (line,) = connections["properties"]["annotations"]["horizontal"]
    assert line["value"] == float(observability.props("DbConnectionsAlarm")["Threshold"])
    cells = [(x, y) for w in found for x in range(w["x"], w["x"] + w["width"])
             for y in range(w["y"], w["y"] + w["height"])]
    assert len(cells) == len(set(cells))
    assert all(w["x"] + w["width"] <= 24 for w in found)
    assert all(w["properties"]["region"] == "${AWS::Region}" for w in found)


# -- budget -----------------------------------------------------------------

def test_the_monthly_budget_notifies_at_80_percent_forecast_and_100_percent_actual(observability):
    budget = observability.props("MonthlyBudget")
    assert budget["Budget"] == {"BudgetName": f"codemate-monthly-{observability.env}", "BudgetType": "COST",
                                "TimeUnit": "MONTHLY",
                                "BudgetLimit": {"Amount": BUDGETS[observability.env], "Unit": "USD"}}
    notices = {(n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n
               for n in budget["NotificationsWithSubscribers"]}
    assert set(notices) == {("FORECASTED", 80), ("ACTUAL", 100)}
    for notice in notices.values():
        assert notice["Notification"]["ComparisonOperator"] == "GREATER_THAN"
        assert notice["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert notice["Subscribers"] == [{"SubscriptionType": "SNS", "Address": TOPIC}]
    # made once the topic's policy lets Budgets publish
    assert observability.resource("MonthlyBudget")["DependsOn"] == ["AlarmTopicPolicy"]


# -- account baseline -------------------------------------------------------

BASELINE = ("Trail", "GuardDutyDetector")


def test_the_baseline_is_in_prod_only(observability):
    present = {name: observability.exists(name) for name in BASELINE}
    if observability.env == "dev":
        assert present == {"Trail": False, "GuardDutyDetector": False}
        assert observability.output("TrailArn") == observability.output("GuardDutyDetectorId") == ""
    else:
        assert present == {"Trail": True, "GuardDutyDetector": True}
        assert observability.output("TrailArn") == {"Fn::GetAtt": ["Trail", "Arn"]}
    off = Environment("observability", observability.env, EnableAccountBaseline="false")
    assert not any(off.exists(name) for name in BASELINE)


def test_the_trail_is_multi_region_validated_encrypted_and_logs_into_the_logs_bucket():
    prod = Environment("observability", "prod")
    trail = prod.props("Trail")
    assert trail["TrailName"] == "codemate-trail-prod"
    assert (trail["IsLogging"], trail["IsMultiRegionTrail"], trail["IncludeGlobalServiceEvents"],
            trail["EnableLogFileValidation"]) == (True, True, True, True)
    assert trail["KMSKeyId"] == {"Ref": "KmsKeyArn"}
    assert trail["S3BucketName"] == {"Ref": "LogsBucketName"}
    # the storage layer's prefix without its slash: cloudtrail/ -> cloudtrail
    assert trail["S3KeyPrefix"] == {"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "CloudTrailLogPrefix"}]}]}
    assert Environment("storage", "prod").output("CloudTrailLogPrefix") == "cloudtrail/"
    assert prod.props("GuardDutyDetector")["Enable"] is True


def test_the_storage_policies_name_this_trail():
    """The key and the logs bucket let CloudTrail write for the trail this layer makes, by its ARN."""
    storage = Environment("storage", "prod")
    arn = {"Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/"
                      + Environment("observability", "prod").props("Trail")["TrailName"]}
    key = {s["Sid"]: s for s in storage.props("KmsKey")["KeyPolicy"]["Statement"]}
    assert key["CloudTrailEncryptsThisTrailsLogs"]["Condition"]["StringEquals"]["aws:SourceArn"] == arn
    (policy,) = [p for p in storage.of_type("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": "LogsBucket"}]
    bucket = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert bucket["CloudTrailWrite"]["Condition"]["StringEquals"]["aws:SourceArn"] == arn
    assert bucket["CloudTrailAclCheck"]["Condition"]["StringEquals"]["aws:SourceArn"] == arn
