"""Observability layer: what tells the operators how CodeMate is doing
(CodeMate's design, section 9).

- The alarm topic, encrypted with the project key, and its e-mail
  subscription (AlarmEmail). Its policy lets this account's CloudWatch
  alarms and AWS Budgets publish; the key's policy (storage layer) lets
  them use the key.
- The design's alarms, each notifying the topic on ALARM and on OK: ECS CPU
  per service (once its image tag is set, as the services layer makes the
  service), unhealthy targets per target group and target 5XX (urgent, and
  what a deploy rolls back on: RollbackAlarmArns), RDS connections near
  max_connections for the instance class.
- The dashboard codemate-<env>.
- The monthly cost budget, notifying at 80% of the forecast and 100% of the
  actual cost.
- The account baseline (EnableAccountBaseline): a multi-region CloudTrail
  trail into the logs bucket, encrypted with the project key, and a
  GuardDuty detector.
"""

import json
import re

from awacs import sns as sns_actions
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Equals, FindInMap, GetAtt, If, Join, Not, Ref, Select, Split, Sub
from troposphere.budgets import Budget, BudgetData, Notification, NotificationWithSubscribers, Spend, Subscriber
from troposphere.cloudtrail import Trail
from troposphere.cloudwatch import Alarm, Dashboard, MetricDimension
from troposphere.guardduty import Detector
from troposphere.sns import SubscriptionResource, Topic, TopicPolicy

from codemate_cfn.layer import Layer

from .kit.images import SERVICES, image_set
from .project import TRAIL_NAME

MINUTE = 60  # seconds: every alarm looks at one-minute datapoints

ECS_CPU_PERCENT = 80  # CPUUtilization above this ...
ECS_CPU_MINUTES = 5  # ... for this long
UNHEALTHY_HOSTS = 0  # UnHealthyHostCount above this ...
UNHEALTHY_MINUTES = 2  # ... for this long
TARGET_5XX = 10  # HTTPCode_Target_5XX_Count above this in one minute
DB_CONNECTIONS_SHARE = 0.8  # DatabaseConnections above this share of max_connections ...
DB_CONNECTIONS_MINUTES = 5  # ... for this long

# max_connections of RDS for PostgreSQL's default parameter group is
# LEAST({DBInstanceClassMemory/9531392}, 5000) (RDS user guide, "Maximum
# number of database connections"; AWS Prescriptive Guidance, "Tuning
# PostgreSQL parameters: max_connections"). DBInstanceClassMemory is the
# class's memory less what RDS keeps for the operating system and its own
# processes, which AWS does not publish: the nominal memory overstates it.
# Measured with SHOW max_connections:
#   db.t4g.small (2 GiB), PostgreSQL 18.6: 181, not the 225 of 2 GiB
#     (github.com/kirill-markin/flashcards-open-source-app pull 1657);
#   db.m7g.large (8 GiB, Graviton like t4g): 832, not 901
#     (github.com/mitodl/ol-infrastructure pull 5427).
# So RDS withholds about 403 MiB of 2 GiB and 629 MiB of 8 GiB. micro (1 GiB)
# and medium (4 GiB) take the withheld memory on the line through those two
# points (365 and 478 MiB): 72 and 398. large is the 8 GiB measurement.
# After a deploy, SHOW max_connections on the instance checks its entry.
DB_MAX_CONNECTIONS = {"db.t4g.micro": 72, "db.t4g.small": 181, "db.t4g.medium": 398, "db.t4g.large": 832}
DB_LIMITS = "DbConnectionLimits"  # the mapping: instance class -> MaxConnections, AlarmAbove

BUDGET_NOTICES = (("FORECASTED", 80), ("ACTUAL", 100))  # notification type, percent of the budget
BASELINE = "AccountBaselineEnabled"  # the condition: EnableAccountBaseline is true


# -- the topic ------------------------------------------------------------

def alarm_topic(t) -> Topic:
    topic = t.add(Topic("AlarmTopic", TopicName=t.name_of("alarms"), DisplayName="CodeMate alarms",
                        KmsMasterKeyId=t.input("KmsKeyArn")))
    subscribe = t.condition("SubscribeAlarmEmail", Not(Equals(t.input("AlarmEmail"), "")))
    # AWS e-mails the address a confirmation link: no message arrives before it is followed.
    t.add(SubscriptionResource("AlarmEmailSubscription", Condition=subscribe, TopicArn=Ref(topic), Protocol="email",
                               Endpoint=Ref("AlarmEmail")))
    # This policy replaces SNS's default one (which let any principal of the
    # account publish): CloudWatch alarms and AWS Budgets now need their own
    # statements, each for this account's alarms or budgets only (Budgets:
    # Cost Management user guide, "Creating an Amazon SNS topic for budget
    # notifications"). People and roles of the account keep their IAM access.
    this_account = StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})
    publishers = {
        "CloudWatchAlarmsPublish": ("cloudwatch.amazonaws.com",
                                    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
        "BudgetsPublish": ("budgets.amazonaws.com", "arn:${AWS::Partition}:budgets::${AWS::AccountId}:*"),
    }
    t.add(TopicPolicy(
        "AlarmTopicPolicy",
        Topics=[Ref(topic)],
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            Statement(Sid=sid, Effect=Allow, Principal=Principal("Service", service), Action=[sns_actions.Publish],
                      Resource=[Ref(topic)],
                      Condition=Condition([this_account, ArnLike({"aws:SourceArn": Sub(source)})]))
            for sid, (service, source) in publishers.items()
        ]),
    ))
    t.output("AlarmTopicArn", Ref(topic), "SNS topic every alarm and the budget notify.")
    return topic


# -- alarms ---------------------------------------------------------------

def alarm(t, logical_id: str, name: tuple, description: str, topic: Topic, metric: tuple, dimensions: dict,
          statistic: str, above, minutes: int, missing: str, **props) -> Alarm:
    """An alarm on one metric (namespace, name) of one-minute datapoints:
    ALARM when `statistic` is above `above` for `minutes` minutes in a row,
    notifying the topic then and when it is OK again."""
    namespace, metric_name = metric
    return t.add(Alarm(
        logical_id,
        AlarmName=t.name_of(*name),
        AlarmDescription=description,
        Namespace=namespace,
        MetricName=metric_name,
        Dimensions=[MetricDimension(Name=key, Value=value) for key, value in dimensions.items()],
        Statistic=statistic,
        Period=MINUTE,
        EvaluationPeriods=minutes,
        DatapointsToAlarm=minutes,
        Threshold=above,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData=missing,
        AlarmActions=[Ref(topic)],
        OKActions=[Ref(topic)],
        **props,
    ))


def service_alarms(t, topic: Topic) -> None:
    """ECS CPU per service. A service exists once its image tag is set (the
    services layer's <Title>ImageSet, from the same root parameter), and so
    does its alarm."""
    cluster = t.input("ClusterName")
    for title in SERVICES:
        present = image_set(t, title)
        alarm(t, f"{title}CpuAlarm", (title.lower(), "cpu-high"),
              f"{title} ECS service: CPU above {ECS_CPU_PERCENT}% for {ECS_CPU_MINUTES} minutes.", topic,
              ("AWS/ECS", "CPUUtilization"), {"ClusterName": cluster, "ServiceName": t.input(f"{title}ServiceName")},
              "Average", ECS_CPU_PERCENT, ECS_CPU_MINUTES,
              # A service without a running task reports no CPU, which is not
              # high CPU: the unhealthy-host alarm is the one for an outage.
              "notBreaching", Condition=present)


def load_balancer_alarms(t, topic: Topic) -> list[Alarm]:
    """Unhealthy targets per target group and target 5XX, urgent; these
    always exist and are what a deploy rolls back on."""
    alb = t.input("AlbFullName")
    urgent = []
    for title in SERVICES:
        urgent.append(alarm(
            t, f"{title}UnhealthyHostsAlarm", ("urgent", title.lower(), "unhealthy-hosts"),
            f"URGENT: {title.lower()} target group has unhealthy targets for {UNHEALTHY_MINUTES} minutes.", topic,
            ("AWS/ApplicationELB", "UnHealthyHostCount"),
            {"TargetGroup": t.input(f"{title}TargetGroupFullName"), "LoadBalancer": alb},
            "Maximum", UNHEALTHY_HOSTS, UNHEALTHY_MINUTES,
            # No datapoint: no target registered (before the first image),
            # so none unhealthy.
            "notBreaching"))
    urgent.append(alarm(
        t, "Target5xxAlarm", ("urgent", "target-5xx"),
        f"URGENT: the services answered more than {TARGET_5XX} requests with 5XX in one minute.", topic,
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"), {"LoadBalancer": alb},
        "Sum", TARGET_5XX, 1,
        # The load balancer publishes a count only when it is not zero: no
        # datapoint is no 5XX.
        "notBreaching"))
    return urgent


def check_connection_limits(t) -> None:
    """Every instance class the catalogue allows has its max_connections."""
    allowed = t.catalogue["DbInstanceClass"].allowed_values
    missing = [cls for cls in allowed if cls not in DB_MAX_CONNECTIONS]
    if missing:
        raise ValueError(f"DB_MAX_CONNECTIONS has no max_connections for {', '.join(missing)}: "
                         "add the class (DbInstanceClass's allowed values) with its source")


def database_alarm(t, topic: Topic) -> None:
    check_connection_limits(t)
    t.template.add_mapping(DB_LIMITS, {
        cls: {"MaxConnections": str(limit), "AlarmAbove": f"{round(limit * DB_CONNECTIONS_SHARE, 1):g}"}
        for cls, limit in DB_MAX_CONNECTIONS.items()
    })
    percent = round(DB_CONNECTIONS_SHARE * 100)
    alarm(t, "DbConnectionsAlarm", ("db", "connections-high"),
          f"PostgreSQL: connections above {percent}% of max_connections for {DB_CONNECTIONS_MINUTES} minutes.",
          topic, ("AWS/RDS", "DatabaseConnections"), {"DBInstanceIdentifier": t.input("DbInstanceId")},
          "Maximum", db_connections_alarm_above(t), DB_CONNECTIONS_MINUTES,
          # RDS reports every minute while the instance runs: a gap (reboot,
          # failover) is shown as such, not taken for a count.
          "missing")


def db_connections_alarm_above(t) -> FindInMap:
    return FindInMap(DB_LIMITS, t.input("DbInstanceClass"), "AlarmAbove")


# -- the dashboard ----------------------------------------------------------

WIDGET_WIDTH, WIDGET_HEIGHT, PER_ROW = 12, 6, 2


def search(source: tuple[str, str, str], metric: str, statistic: str) -> list:
    """A search expression as a dashboard metric: every series of `metric`
    in `source` (namespace, dimension names, filter), one line each."""
    namespace, dimensions, where = source
    return [{"expression": f"SEARCH('{{{namespace},{dimensions}}} MetricName=\"{metric}\" {where}', "
                           f"'{statistic}', {MINUTE})", "label": "", "id": metric.lower()}]


NUMBER = re.compile(r'"<number:(\w+)>"')


def number(name: str) -> str:
    """The Fn::Sub variable `name` as a JSON number in the body: json.dumps
    quotes this marker, body() takes the quotes off."""
    return f"<number:{name}>"


def body(widgets: list[dict]) -> str:
    """The dashboard's JSON (Fn::Sub text): widgets laid out two to a row."""
    for index, widget in enumerate(widgets):
        widget.update(x=(index % PER_ROW) * WIDGET_WIDTH, y=(index // PER_ROW) * WIDGET_HEIGHT,
                      width=WIDGET_WIDTH, height=WIDGET_HEIGHT)
    return NUMBER.sub(r"${\1}", json.dumps({"widgets": widgets}, separators=(",", ":")))


def graph(title: str, metrics: list, stat: str = "Average", **properties) -> dict:
    return {"type": "metric", "properties": {
        "title": title, "region": "${AWS::Region}", "view": "timeSeries", "stat": stat, "period": MINUTE,
        "metrics": metrics, **properties}}


def dashboard(t) -> Dashboard:
    alb = ["LoadBalancer", "${AlbFullName}"]
    db = ["DBInstanceIdentifier", "${DbInstanceId}"]
    # ECS and ElastiCache by search expression. The services may not exist
    # yet (no image tag): a search shows them once they report. ElastiCache
    # reports per node (CacheClusterId): one node "<group>-001" in dev's
    # one-node group, "<group>-0001-001" and "-0001-002" in prod's clustered
    # one, so an unquoted (partial) match on the group's ID finds every node
    # of either shape and no other group's.
    ecs = ("AWS/ECS", "ClusterName,ServiceName", 'ClusterName="${ClusterName}"')
    insights = ("ECS/ContainerInsights", "ClusterName,ServiceName", 'ClusterName="${ClusterName}"')
    redis = ("AWS/ElastiCache", "CacheClusterId,CacheNodeId", "CacheClusterId=${RedisReplicationGroupId}")
    widgets = [
        graph("ECS CPU utilization (%)", [search(ecs, "CPUUtilization", "Average")]),
        graph("ECS memory utilization (%)", [search(ecs, "MemoryUtilization", "Average")]),
        graph("ECS tasks: running and desired", [search(insights, metric, "Average")
                                                  for metric in ("RunningTaskCount", "DesiredTaskCount")]),
        graph("5XX errors per minute", [["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb,
                                         {"label": "from the services"}],
                                        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *alb,
                                         {"label": "from the load balancer"}]], stat="Sum"),
        graph("ALB requests per minute", [["AWS/ApplicationELB", "RequestCount", *alb]], stat="Sum"),
        graph("ALB target response time (s)", [["AWS/ApplicationELB", "TargetResponseTime", *alb,
                                                {"stat": p, "label": p}] for p in ("p50", "p95", "p99")]),
        graph("RDS CPU utilization (%)", [["AWS/RDS", "CPUUtilization", *db]]),
        graph("RDS connections", [["AWS/RDS", "DatabaseConnections", *db]], stat="Maximum",
              annotations={"horizontal": [{"label": f"alarm: {round(DB_CONNECTIONS_SHARE * 100)}% of max_connections",
                                           "value": number("DbConnectionsAlarmAbove")}]}),
        graph("RDS free storage (bytes)", [["AWS/RDS", "FreeStorageSpace", *db]], stat="Minimum"),
        graph("ElastiCache hits and misses per minute", [search(redis, metric, "Sum")
                                                         for metric in ("CacheHits", "CacheMisses")]),
        # EngineCPUUtilization: Redis's own thread, the one that saturates
        # first on a two-vCPU node.
        graph("ElastiCache CPU utilization (%)", [search(redis, metric, "Average")
                                                  for metric in ("CPUUtilization", "EngineCPUUtilization")]),
        graph("Target health", [["AWS/ApplicationELB", metric, "TargetGroup", "${%sTargetGroupFullName}" % title,
                                 *alb, {"label": f"{title.lower()} {word}"}]
                                for title in SERVICES
                                for metric, word in (("HealthyHostCount", "healthy"),
                                                     ("UnHealthyHostCount", "unhealthy"))], stat="Maximum"),
    ]
    for name in ("AlbFullName", "DbInstanceId", "ClusterName", "RedisReplicationGroupId",
                 *(f"{title}TargetGroupFullName" for title in SERVICES)):
        t.input(name)
    board = t.add(Dashboard(
        "Dashboard",
        DashboardName=t.name_of(),
        DashboardBody=Sub(body(widgets), DbConnectionsAlarmAbove=db_connections_alarm_above(t)),
    ))
    t.output("DashboardUrl",
             Sub("https://${AWS::Region}.console.${AWS::URLSuffix}/cloudwatch/home?region=${AWS::Region}"
                 "#dashboards/dashboard/${%s}" % board.title),
             "The environment's CloudWatch dashboard.", root="dashboard_url")
    return board


# -- budget and account baseline ------------------------------------------

def budget(t, topic: Topic) -> None:
    t.add(Budget(
        "MonthlyBudget",
        DependsOn=["AlarmTopicPolicy"],  # Budgets checks that it may publish when the notification is made
        Budget=BudgetData(
            BudgetName=t.name_of("monthly"),
            BudgetType="COST",
            TimeUnit="MONTHLY",
            BudgetLimit=Spend(Amount=t.input("MonthlyBudgetUsd"), Unit="USD"),
        ),
        NotificationsWithSubscribers=[
            NotificationWithSubscribers(
                Notification=Notification(NotificationType=kind, ComparisonOperator="GREATER_THAN",
                                          Threshold=percent, ThresholdType="PERCENTAGE"),
                Subscribers=[Subscriber(SubscriptionType="SNS", Address=Ref(topic))],
            )
            for kind, percent in BUDGET_NOTICES
        ],
    ))


def account_baseline(t) -> None:
    """CloudTrail and GuardDuty, one of each per account: only where
    EnableAccountBaseline is true. The storage layer's key and logs-bucket
    policies let CloudTrail write for this trail (TRAIL_NAME) alone."""
    t.condition(BASELINE, Equals(t.input("EnableAccountBaseline"), "true"))
    trail = t.add(Trail(
        "Trail",
        Condition=BASELINE,
        TrailName=Sub(TRAIL_NAME),
        S3BucketName=t.input("LogsBucketName"),
        S3KeyPrefix=Select(0, Split("/", t.input("CloudTrailLogPrefix"))),  # "cloudtrail/" -> "cloudtrail"
        KMSKeyId=t.input("KmsKeyArn"),
        IsLogging=True,
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
    ))
    detector = t.add(Detector("GuardDutyDetector", Condition=BASELINE, Enable=True,
                              FindingPublishingFrequency="FIFTEEN_MINUTES"))
    t.output("TrailArn", If(BASELINE, GetAtt(trail, "Arn"), ""),
             "ARN of the account's CloudTrail trail; empty unless EnableAccountBaseline is true.")
    t.output("GuardDutyDetectorId", If(BASELINE, Ref(detector), ""),
             "ID of the account's GuardDuty detector; empty unless EnableAccountBaseline is true.")


def build(t):
    topic = alarm_topic(t)
    service_alarms(t, topic)
    urgent = load_balancer_alarms(t, topic)
    database_alarm(t, topic)
    # The deploy passes these to CloudFormation as rollback triggers.
    t.output("RollbackAlarmArns", Join(",", [GetAtt(a, "Arn") for a in urgent]),
             "Alarms a deploy rolls back on (comma-separated ARNs): unhealthy targets, target 5XX.",
             root="rollback_alarm_arns")
    dashboard(t)
    budget(t, topic)
    account_baseline(t)


LAYER = Layer("observability", "alarm topic, alarms, dashboard, cost budget and the account baseline", build)
