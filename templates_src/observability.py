"""Observability layer: what tells the operators how CodeMate is doing. The
alarm topic and its e-mail subscription, the monthly cost budget, and, to
come, the alarms, the dashboard and the account baseline."""

from troposphere import Equals, Not, Ref
from troposphere.budgets import Budget, BudgetData, Notification, NotificationWithSubscribers, Spend, Subscriber
from troposphere.sns import SubscriptionResource, Topic

from codemate_cfn.layer import Layer

BUDGET_NOTICES = (("FORECASTED", 80), ("ACTUAL", 100))  # notification type, percent of the budget


def alarm_topic(t) -> Topic:
    topic = t.add(Topic("AlarmTopic", TopicName=t.name_of("alarms"), KmsMasterKeyId=t.input("KmsKeyArn")))
    subscribe = t.condition("SubscribeAlarmEmail", Not(Equals(t.input("AlarmEmail"), "")))
    t.add(SubscriptionResource("AlarmEmailSubscription", Condition=subscribe, TopicArn=Ref(topic), Protocol="email",
                               Endpoint=Ref("AlarmEmail")))
    t.output("AlarmTopicArn", Ref(topic), "SNS topic every alarm notifies.")
    return topic


def budget(t, topic: Topic) -> None:
    t.add(Budget(
        "MonthlyBudget",
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


def build(t):
    topic = alarm_topic(t)
    budget(t, topic)
    t.output("AccountBaseline", t.input("EnableAccountBaseline"), "Whether this environment holds the account baseline.")


LAYER = Layer("observability", "alarm topic, alarms, dashboard, cost budget and the account baseline", build)
