"""The whole application on the local AWS emulator: params/dev.json and
params/prod.json deployed as committed (no image pushed yet, so no service)
and with image tags set (the services, their task definitions and auto
scaling; prod also with CloudFront), then read back through the AWS API
(ELBv2, ECS, Route 53, CloudWatch Logs, IAM) against CodeMate's design.
The expected values are the design's, written out here, never taken from
the emulator's answers. What the emulator does not model (ACM, CloudFront,
Application Auto Scaling, Secrets Manager, bucket policies) must be listed
as not emulated, never shown as created.

One deploy per scenario and parameter file (class-scoped fixtures), each on
the emulator as a fresh account, read back by several tests."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from codemate_cfn.cli.common import not_emulated
from codemate_cfn.compile import layout
from codemate_cfn.deploy import lookups
from codemate_cfn.deploy import stack as stack_reads
from codemate_cfn.deploy.migrate import migrate
from codemate_cfn.emulator import PLACEHOLDER_PREFIX, is_placeholder
from deploy_support import REGION, Recorder, account, client_for, params_file, run_deploy

pytest_plugins = ["emulator_fixtures"]

ZONE = "code1398.io"
IMAGE_TAG = "abc1234"
CLOUDFRONT_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # every CloudFront alias record's hosted zone


@dataclass(frozen=True)
class Design:
    """What CodeMate's design says of one environment."""

    env: str
    domain: str
    alb_deletion_protection: str
    desired: dict[str, int]  # service -> desired task count


DESIGN = {
    "dev": Design("dev", "codemate-dev.code1398.io", "false", {"frontend": 1, "backend": 1}),
    "prod": Design("prod", "codemate.code1398.io", "true", {"frontend": 2, "backend": 2}),
}
# Listeners and target groups
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HEALTH = {"HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3, "HealthCheckIntervalSeconds": 30}
SERVICES = {  # service -> container port, health check path, CPU units, memory MiB
    "frontend": (3000, "/api/health", "512", "1024"),
    "backend": (3001, "/health", "1024", "2048"),
}
BACKEND_PATHS = {"/api/*", "/socket.io/*"}
# What each container is told: plain settings in `environment`, secrets only
# by reference in `secrets` (name -> the data layer's secret, JSON key or None).
ENVIRONMENT = {
    "frontend": {"NODE_ENV", "PORT", "HOSTNAME", "NEXTAUTH_URL"},
    "backend": {"DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME", "DATABASE_SSL", "NODE_ENV", "PORT", "REDIS_HOST",
                "REDIS_PORT", "REDIS_TLS", "REDIS_CLUSTER_MODE", "AWS_S3_BUCKET", "AWS_REGION", "NEXTAUTH_URL"},
    "migrate": {"DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME", "DATABASE_SSL", "NODE_ENV"},
}
DATABASE_SECRETS = {"DATABASE_USER": ("DatabaseSecret", "username"), "DATABASE_PASSWORD": ("DatabaseSecret", "password")}
SECRETS = {
    "frontend": {"NEXTAUTH_SECRET": ("NextAuthSecret", None), "GITHUB_CLIENT_ID": ("GithubOAuthSecret", "client_id"),
                 "GITHUB_CLIENT_SECRET": ("GithubOAuthSecret", "client_secret")},
    "backend": {**DATABASE_SECRETS, "REDIS_PASSWORD": ("RedisAuthTokenSecret", None),
                "ANTHROPIC_API_KEY": ("AnthropicSecret", None), "NEXTAUTH_SECRET": ("NextAuthSecret", None)},
    "migrate": DATABASE_SECRETS,
}
MIGRATION_COMMAND = ["npm", "run", "typeorm", "migration:run"]
# The committed cost levers: dev all on Spot, prod 75% on Spot above one task on demand.
SPOT = {"dev": [{"capacityProvider": "FARGATE", "base": 0, "weight": 0},
                {"capacityProvider": "FARGATE_SPOT", "weight": 100}],
        "prod": [{"capacityProvider": "FARGATE", "base": 1, "weight": 25},
                 {"capacityProvider": "FARGATE_SPOT", "weight": 75}]}
# The types moto 5.2.5 has no model for: only these may be stand-ins.
NOT_MODELLED = ("AWS::CertificateManager::", "AWS::CloudFront::", "AWS::ApplicationAutoScaling::",
                "AWS::SecretsManager::", "AWS::S3::BucketPolicy", "AWS::ElastiCache::", "AWS::CodeStarConnections::",
                "AWS::CodeBuild::", "AWS::CodePipeline::", "AWS::Budgets::", "AWS::SNS::Subscription",
                "AWS::SNS::TopicPolicy", "AWS::CloudWatch::Alarm", "AWS::CloudTrail::", "AWS::GuardDuty::")


@dataclass
class App:
    """One deployed scenario: the clients, the design it is read against,
    every stack resource by "label/LogicalId", and what the deploy listed
    as not emulated."""

    aws: object
    design: Design
    zone_id: str
    resources: dict[str, dict]
    not_emulated: list[str]
    outputs: dict[str, str]

    @property
    def env(self) -> str:
        return self.design.env

    def physical(self, name: str) -> str:
        return self.resources[name]["PhysicalResourceId"]

    def client(self, service: str):
        return self.aws.client(service)

    def outputs_of(self, layer: str) -> dict[str, str]:
        """The outputs of one layer's nested stack."""
        found = self.aws.cloudformation.describe_stacks(StackName=self.physical(f"root/{layer.capitalize()}Stack"))
        return {o["OutputKey"]: o["OutputValue"] for o in found["Stacks"][0].get("Outputs", [])}


def deploy(emulator, project, catalogue, templates, env: str, **overrides) -> App:
    """params/<env>.json (with `overrides`) deployed on the emulator as a
    fresh account, which holds the site's public hosted zone: the deploy
    finds its ID (HostedZoneId is empty in the file)."""
    aws = client_for(account(emulator).url)
    [zone] = lookups.zones_named(aws.route53, f"{ZONE}.")
    params = params_file(project, catalogue, env, **overrides)
    assert params.parameters["HostedZoneId"] == ""
    result = run_deploy(aws, templates, params, catalogue, Recorder())
    assert result.outcome == "deployed"
    labels = layout.nested_names(templates["root"])
    stack_id = result.change_set.stack_id
    resources = {f"{r['Label']}/{r['LogicalResourceId']}": r
                 for r in stack_reads.all_resources(aws.cloudformation, stack_id, labels)}
    return App(aws, DESIGN[env], lookups.zone_id(zone), resources, not_emulated(aws, stack_id, labels),
               {o["OutputKey"]: o["OutputValue"] for o in result.outputs})


ENVIRONMENTS = sorted(DESIGN)


@pytest.fixture(scope="class", params=ENVIRONMENTS)
def committed(request, emulator, project, catalogue, templates) -> App:
    """The parameter file as committed: no image tag, so no service yet."""
    return deploy(emulator, project, catalogue, templates, request.param)


@pytest.fixture(scope="class", params=ENVIRONMENTS)
def running(request, emulator, project, catalogue, templates) -> App:
    """The parameter file with both image tags set; prod with CloudFront on."""
    extra = {"EnableCloudFront": "true", "CloudFrontCertificateArn": CLOUDFRONT_CERTIFICATE} if request.param == "prod" else {}
    return deploy(emulator, project, catalogue, templates, request.param,
                  FrontendImageTag=IMAGE_TAG, BackendImageTag=IMAGE_TAG, **extra)


def listed(app: App) -> set[str]:
    """"label/LogicalId" of what the deploy listed as not emulated."""
    return {line.split(" ")[0] for line in app.not_emulated}


def log_groups_and_roles_exist(app: App) -> None:
    logs, iam = app.client("logs"), app.client("iam")
    for service in SERVICES:
        name = f"/aws/ecs/codemate-{service}-{app.env}"
        assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]] == [name]
    for role in (f"codemate-ecs-execution-{app.env}", f"codemate-backend-task-{app.env}"):
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "ecs-tasks.amazonaws.com"}]


PIPELINE_STAND_INS = {"pipeline/GitHubConnection", "pipeline/FrontendBuild", "pipeline/BackendBuild",
                      "pipeline/Pipeline"}


def the_pipeline_around_its_stand_ins_exists(app: App) -> None:
    """CodeStar connections, CodeBuild and CodePipeline are stand-ins; the
    build log groups, the roles and the artifact bucket are real."""
    logs, iam, s3 = app.client("logs"), app.client("iam"), app.client("s3")
    for service in SERVICES:
        name = f"/aws/codebuild/codemate-{service}-build-{app.env}"
        assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]] == [name]
        trust = iam.get_role(RoleName=f"codemate-{service}-codebuild-{app.env}")["Role"]["AssumeRolePolicyDocument"]
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "codebuild.amazonaws.com"}]
    trust = iam.get_role(RoleName=f"codemate-pipeline-{app.env}")["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "codepipeline.amazonaws.com"}]
    account = app.client("sts").get_caller_identity()["Account"]
    s3.head_bucket(Bucket=f"codemate-pipeline-artifacts-{app.env}-{account}")
    assert PIPELINE_STAND_INS <= listed(app)


class TestAsCommitted:
    """Before the first image: the cluster, log groups and roles, and no
    service, task definition or scaling."""

    def test_no_service_task_definition_or_scaling_exists(self, committed):
        ecs = committed.client("ecs")
        assert ecs.list_services(cluster=f"codemate-cluster-{committed.env}")["serviceArns"] == []
        assert ecs.list_task_definitions()["taskDefinitionArns"] == []
        services = {name.split("/")[1] for name in committed.resources if name.startswith("services/")}
        assert not services & {"FrontendService", "BackendService", "FrontendTaskDefinition",
                               "BackendTaskDefinition", "MigrationTaskDefinition", "FrontendScalableTarget",
                               "BackendScalableTarget"}
        assert (committed.outputs["FrontendServiceName"], committed.outputs["BackendServiceName"]) == ("", "")

    def test_the_cluster_log_groups_and_roles_exist(self, committed):
        cluster = committed.client("ecs").describe_clusters(clusters=[f"codemate-cluster-{committed.env}"])["clusters"]
        assert [c["status"] for c in cluster] == ["ACTIVE"]
        log_groups_and_roles_exist(committed)

    def test_the_pipeline_exists_but_may_not_deploy_yet(self, committed):
        the_pipeline_around_its_stand_ins_exists(committed)
        assert "pipeline/PipelineDeployPolicy" not in committed.resources
        policies = committed.client("iam").list_role_policies(RoleName=f"codemate-pipeline-{committed.env}")
        assert policies["PolicyNames"] == ["PipelineRole"]

    def test_the_load_balancer_is_there_already(self, committed):
        found = committed.client("elbv2").describe_load_balancers(Names=[f"codemate-alb-{committed.env}"])
        assert len(found["LoadBalancers"]) == 1

    def test_not_emulated_lists_the_certificate_secrets_and_bucket_policies_and_no_scaling(self, committed):
        names = listed(committed)
        assert "edge/Certificate" in names  # no CertificateArn in the file: the edge layer requests one
        assert {"data/DatabaseSecret", "data/NextAuthSecret", "data/AnthropicSecret", "data/GithubOAuthSecret",
                "data/RedisAuthTokenSecret"} <= names
        assert {"edge/StaticBucketPolicy", "storage/LogsBucketPolicy"} <= names
        assert not any(line.startswith(("services/", "edge/Distribution")) for line in names)  # absent, not stand-ins

    def test_the_alarm_topic_is_encrypted_with_the_project_key(self, committed):
        sns = committed.client("sns")
        arn = committed.outputs_of("observability")["AlarmTopicArn"]
        assert arn.endswith(f":codemate-alarms-{committed.env}")
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attributes["KmsMasterKeyId"] == committed.outputs_of("storage")["KmsKeyArn"]

    def test_the_dashboard_graphs_this_environments_resources(self, committed):
        the_dashboard_graphs_this_environments_resources(committed)

    def test_the_alarms_budget_and_baseline_are_stand_ins_and_rollback_alarms_are_published(self, committed):
        observability_stand_ins(committed, ECS_ALARMS_ABSENT)


# The observability layer: moto models the topic and the dashboard, not the
# alarms, the topic policy, the budget, CloudTrail or GuardDuty.
ROLLBACK_ALARMS = ("FrontendUnhealthyHostsAlarm", "BackendUnhealthyHostsAlarm", "Target5xxAlarm")
ALWAYS = {f"observability/{name}" for name in (*ROLLBACK_ALARMS, "DbConnectionsAlarm", "AlarmTopicPolicy",
                                                "MonthlyBudget")}
BASELINE = {"observability/Trail", "observability/GuardDutyDetector"}
ECS_ALARMS = {"observability/FrontendCpuAlarm", "observability/BackendCpuAlarm"}
ECS_ALARMS_ABSENT, ECS_ALARMS_THERE = False, True
DB_CONNECTIONS_ALARM_AT = {"dev": 57.6, "prod": 144.8}  # 80% of max_connections of db.t4g.micro, db.t4g.small


def observability_stand_ins(app: App, ecs_alarms: bool) -> None:
    names = listed(app)
    assert ALWAYS <= names
    assert (ECS_ALARMS <= names) if ecs_alarms else not ECS_ALARMS & set(app.resources)
    if app.env == "prod":  # EnableAccountBaseline
        assert BASELINE <= names
    else:
        assert not BASELINE & set(app.resources)  # off: not there at all
    assert "observability/AlarmEmailSubscription" not in app.resources  # no AlarmEmail in the files
    assert {"observability/AlarmTopic", "observability/Dashboard"}.isdisjoint(names)  # real ones
    # what a deploy rolls back on, from the root stack: the three urgent alarms (stand-ins' ARNs here)
    arns = app.outputs["RollbackAlarmArns"].split(",")
    assert arns == [f"{PLACEHOLDER_PREFIX}-{name}.Arn" for name in ROLLBACK_ALARMS]


def the_dashboard_graphs_this_environments_resources(app: App) -> None:
    """codemate-<env>, its placeholders filled with this stack's resources."""
    found = app.client("cloudwatch").get_dashboard(DashboardName=f"codemate-{app.env}")
    body = json.loads(found["DashboardBody"])
    alb = app.client("elbv2").describe_load_balancers(Names=[f"codemate-alb-{app.env}"])["LoadBalancers"][0]
    alb_full_name = alb["LoadBalancerArn"].split(":loadbalancer/")[1]
    lines = [line for widget in body["widgets"] for line in widget["properties"]["metrics"]]
    explicit = {(line[0], line[1]): line[2:4] for line in lines if isinstance(line[0], str)}
    assert explicit[("AWS/ApplicationELB", "RequestCount")] == ["LoadBalancer", alb_full_name]
    assert explicit[("AWS/RDS", "DatabaseConnections")] == ["DBInstanceIdentifier", f"codemate-db-{app.env}"]
    searches = " ".join(line[0]["expression"] for line in lines if isinstance(line[0], dict))
    assert f'ClusterName="codemate-cluster-{app.env}"' in searches
    assert f"CacheClusterId={app.physical('data/Redis')}'" in searches  # the replication group (a stand-in here)
    assert "${" not in found["DashboardBody"]
    (connections,) = [w for w in body["widgets"] if w["properties"].get("annotations")]
    assert connections["properties"]["annotations"]["horizontal"][0]["value"] == DB_CONNECTIONS_ALARM_AT[app.env]
    assert {w["properties"]["region"] for w in body["widgets"]} == {REGION}


class TestWithImages:
    """Both image tags set (prod with CloudFront): the whole application."""

    def load_balancer(self, app: App) -> dict:
        found = app.client("elbv2").describe_load_balancers(Names=[f"codemate-alb-{app.env}"])["LoadBalancers"]
        assert len(found) == 1
        return found[0]

    def target_groups(self, app: App) -> dict[str, dict]:
        """service -> its target group, told apart by port."""
        by_port = {g["Port"]: g for g in app.client("elbv2").describe_target_groups()["TargetGroups"]}
        assert len(by_port) == len(SERVICES)
        return {service: by_port[port] for service, (port, *_rest) in SERVICES.items()}

    def listeners(self, app: App) -> dict[int, dict]:
        arn = self.load_balancer(app)["LoadBalancerArn"]
        return {lis["Port"]: lis for lis in app.client("elbv2").describe_listeners(LoadBalancerArn=arn)["Listeners"]}

    def task_definition(self, app: App, family: str) -> dict:
        return app.client("ecs").describe_task_definition(taskDefinition=f"codemate-{family}-{app.env}")["taskDefinition"]

    def test_the_load_balancer_is_internet_facing_in_both_public_subnets_behind_its_security_group(self, running):
        alb = self.load_balancer(running)
        assert (alb["Type"], alb["Scheme"], alb["IpAddressType"]) == ("application", "internet-facing", "ipv4")
        public = {running.physical(f"network/PublicSubnet{az}") for az in ("2a", "2c")}
        assert {z["SubnetId"] for z in alb["AvailabilityZones"]} == public
        assert sorted(z["ZoneName"] for z in alb["AvailabilityZones"]) == ["ap-northeast-2a", "ap-northeast-2c"]
        assert alb["SecurityGroups"] == [running.physical("security/AlbSecurityGroup")]
        assert alb["VpcId"] == running.physical("network/Vpc")

    def test_the_load_balancer_attributes_are_the_designs(self, running):
        arn = self.load_balancer(running)["LoadBalancerArn"]
        found = running.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        attributes = {a["Key"]: a["Value"] for a in found}
        assert attributes["idle_timeout.timeout_seconds"] == "3600"  # Socket.IO's long-lived connections
        assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
        assert attributes["access_logs.s3.enabled"] == "true"
        assert attributes["access_logs.s3.bucket"] == running.physical("storage/LogsBucket")
        assert attributes["access_logs.s3.prefix"] == "alb"
        assert attributes["deletion_protection.enabled"] == running.design.alb_deletion_protection

    def test_https_forwards_to_the_frontend_and_http_redirects_to_https(self, running):
        listeners, groups = self.listeners(running), self.target_groups(running)
        assert set(listeners) == {443, 80}
        https, http = listeners[443], listeners[80]
        assert (https["Protocol"], https["SslPolicy"]) == ("HTTPS", TLS_POLICY)
        # no CertificateArn in the file: the certificate the edge layer requests, which ACM here only stands in for
        assert https["Certificates"] == [{"CertificateArn": running.physical("edge/Certificate")}]
        assert is_placeholder(https["Certificates"][0]["CertificateArn"])
        assert https["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": groups["frontend"]["TargetGroupArn"]}]
        assert http["Protocol"] == "HTTP"
        assert http["DefaultActions"] == [{"Type": "redirect", "RedirectConfig": {
            "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]

    def test_the_api_and_socket_io_paths_go_to_the_backend(self, running):
        https = self.listeners(running)[443]
        rules = running.client("elbv2").describe_rules(ListenerArn=https["ListenerArn"])["Rules"]
        backend = self.target_groups(running)["backend"]["TargetGroupArn"]
        paths = {}
        for rule in rules:
            if rule["IsDefault"]:
                continue
            [condition] = rule["Conditions"]
            assert condition["Field"] == "path-pattern"
            [path] = condition["PathPatternConfig"]["Values"]
            paths[path] = rule["Actions"]
        assert set(paths) == BACKEND_PATHS
        assert all(actions == [{"Type": "forward", "TargetGroupArn": backend}] for actions in paths.values())

    def test_the_target_groups_check_each_services_health_and_only_the_backend_is_sticky(self, running):
        elbv2 = running.client("elbv2")
        for service, group in self.target_groups(running).items():
            port, path, *_ = SERVICES[service]
            assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", port)
            assert (group["HealthCheckProtocol"], group["HealthCheckPath"]) == ("HTTP", path)
            assert {key: group[key] for key in HEALTH} == HEALTH
            assert group["VpcId"] == running.physical("network/Vpc")
            found = elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
            attributes = {a["Key"]: a["Value"] for a in found}
            assert attributes["deregistration_delay.timeout_seconds"] == "300"
            assert attributes["stickiness.enabled"] == ("true" if service == "backend" else "false")
            if service == "backend":  # Socket.IO's polling fallback stays on one task
                assert attributes["stickiness.type"] == "lb_cookie"

    def test_the_cluster_has_container_insights(self, running):
        [cluster] = running.client("ecs").describe_clusters(clusters=[f"codemate-cluster-{running.env}"])["clusters"]
        assert cluster["status"] == "ACTIVE"
        assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]

    def test_the_task_definitions_are_fargate_sized_checked_and_logged_with_secrets_by_reference(self, running):
        for service, (port, path, cpu, memory) in SERVICES.items():
            task = self.task_definition(running, service)
            assert (task["cpu"], task["memory"]) == (cpu, memory)
            assert (task["networkMode"], task["requiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
            assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
            assert task["executionRoleArn"].endswith(f":role/codemate-ecs-execution-{running.env}")
            [container] = task["containerDefinitions"]
            assert container["name"] == service
            assert container["image"].endswith(f"/codemate-{service}-{running.env}:{IMAGE_TAG}")
            assert container["portMappings"] == [{"containerPort": port, "protocol": "tcp"}]
            command = container["healthCheck"]["command"]
            assert command[0] == "CMD-SHELL" and f"http://localhost:{port}{path}" in command[1]
            environment = {e["name"]: e["value"] for e in container["environment"]}
            assert set(environment) == ENVIRONMENT[service]
            assert (environment["NODE_ENV"], environment["PORT"]) == ("production", str(port))
            assert environment["NEXTAUTH_URL"] == f"https://{running.design.domain}"
            self.secrets_are_references(running, container, service)
            assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
                "awslogs-group": f"/aws/ecs/codemate-{service}-{running.env}", "awslogs-region": REGION,
                "awslogs-stream-prefix": service}}
        backend = self.task_definition(running, "backend")
        assert backend["taskRoleArn"].endswith(f":role/codemate-backend-task-{running.env}")

    def secrets_are_references(self, app: App, container: dict, family: str) -> None:
        """Each secret comes from the data layer's secret by reference (its
        ARN on AWS, a stand-in here), and no secret is in `environment`."""
        expected = {}
        for name, (secret, key) in SECRETS[family].items():
            reference = app.physical(f"data/{secret}")
            expected[name] = f"{reference}:{key}::" if key else reference
        assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == expected
        assert not {e["name"] for e in container["environment"]} & set(expected)

    def test_the_migration_task_runs_typeorm_on_the_backend_image(self, running):
        task = self.task_definition(running, "migrate")
        assert (task["networkMode"], task["requiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
        [container] = task["containerDefinitions"]
        assert container["command"] == MIGRATION_COMMAND
        assert container["image"].endswith(f"/codemate-backend-{running.env}:{IMAGE_TAG}")
        assert {e["name"] for e in container["environment"]} == ENVIRONMENT["migrate"]
        self.secrets_are_references(running, container, "migrate")
        options = container["logConfiguration"]["options"]
        assert options["awslogs-group"] == f"/aws/ecs/codemate-backend-{running.env}"
        services_stack = running.physical("root/ServicesStack")
        found = running.aws.cloudformation.describe_stacks(StackName=services_stack)["Stacks"][0]["Outputs"]
        assert {o["OutputKey"]: o["OutputValue"] for o in found}["MigrationTaskDefinitionArn"] == task["taskDefinitionArn"]

    def test_migrate_launches_the_migration_task_privately_in_the_app_subnets(self, running):
        ecs, cluster = running.client("ecs"), f"codemate-cluster-{running.env}"
        ui = Recorder()
        done = migrate(running.aws, f"codemate-{running.env}", f"params/{running.env}.json", ui, timeout=60,
                       poll_seconds=0.01)
        [arn] = ecs.list_tasks(cluster=cluster, startedBy="codemate-cfn migrate")["taskArns"]
        [task] = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
        assert task["taskDefinitionArn"] == self.task_definition(running, "migrate")["taskDefinitionArn"]
        assert task["launchType"] == "FARGATE"
        [attachment] = task["attachments"]
        details = {d["name"]: d["value"] for d in attachment["details"]}
        ec2 = running.client("ec2")
        [interface] = ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])[
            "NetworkInterfaces"]
        app_subnets = set(running.outputs_of("network")["AppSubnetIds"].split(","))
        assert interface["SubnetId"] in app_subnets
        assert [g["GroupId"] for g in interface["Groups"]] == [running.outputs_of("security")["EcsSecurityGroupId"]]
        assert "Association" not in interface  # no public IP
        # moto runs no container: the task stops at once with exit code 0.
        assert task["lastStatus"] == "STOPPED" and done.startswith("migration")

    def test_the_services_run_in_the_app_subnets_behind_their_target_groups_and_roll_back_failed_deployments(self, running):
        ecs, cluster = running.client("ecs"), f"codemate-cluster-{running.env}"
        names = {service: f"codemate-{service}-service-{running.env}" for service in SERVICES}
        found = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=list(names.values()))["services"]}
        assert set(found) == set(names.values())
        groups = self.target_groups(running)
        app_subnets = {running.physical(f"network/AppSubnet{az}") for az in ("2a", "2c")}
        for service, name in names.items():
            running_service = found[name]
            # on Fargate capacity providers (FrontendSpotPercent, BackendSpotPercent), no launch type
            assert "launchType" not in running_service
            assert running_service["capacityProviderStrategy"] == SPOT[running.env]
            assert running_service["taskDefinition"] == self.task_definition(running, service)["taskDefinitionArn"]
            assert running_service["desiredCount"] == running.design.desired[service]
            network = running_service["networkConfiguration"]["awsvpcConfiguration"]
            assert set(network["subnets"]) == app_subnets
            assert network["securityGroups"] == [running.physical("security/EcsSecurityGroup")]
            assert network["assignPublicIp"] == "DISABLED"
            assert running_service["loadBalancers"] == [{"targetGroupArn": groups[service]["TargetGroupArn"],
                                                         "containerName": service, "containerPort": SERVICES[service][0]}]
            breaker = running_service["deploymentConfiguration"]["deploymentCircuitBreaker"]
            assert breaker == {"enable": True, "rollback": True}
        assert (running.outputs["FrontendServiceName"], running.outputs["BackendServiceName"]) == (
            names["frontend"], names["backend"])

    def test_the_site_record_points_at_the_load_balancer_or_at_cloudfront(self, running):
        records = running.client("route53").list_resource_record_sets(HostedZoneId=running.zone_id)["ResourceRecordSets"]
        aliases = {r["Name"]: r["AliasTarget"] for r in records if r["Type"] == "A"}
        alb = self.load_balancer(running)
        to_alb = {"DNSName": alb["DNSName"], "HostedZoneId": alb["CanonicalHostedZoneId"], "EvaluateTargetHealth": False}
        site = f"{running.design.domain}."
        if running.env == "dev":  # CloudFront off
            assert aliases == {site: to_alb}
            return
        # CloudFront on: the site goes to the distribution (which the emulator only stands in for),
        # and CloudFront reaches the load balancer by origin.<domain>
        assert set(aliases) == {site, f"origin.{site}"}
        assert aliases[f"origin.{site}"] == to_alb
        assert aliases[site]["HostedZoneId"] == CLOUDFRONT_ZONE
        assert is_placeholder(aliases[site]["DNSName"])

    def test_log_groups_and_roles_exist(self, running):
        log_groups_and_roles_exist(running)

    def test_the_pipeline_may_update_the_deployed_services_and_pass_only_their_roles(self, running):
        the_pipeline_around_its_stand_ins_exists(running)
        iam, ecs = running.client("iam"), running.client("ecs")
        found = iam.get_role_policy(RoleName=f"codemate-pipeline-{running.env}", PolicyName="PipelineDeployPolicy")
        granted = {s["Sid"]: s for s in found["PolicyDocument"]["Statement"]}
        cluster = f"codemate-cluster-{running.env}"
        arns = [svc["serviceArn"] for svc in ecs.describe_services(
            cluster=cluster, services=[f"codemate-{name}-service-{running.env}" for name in SERVICES])["services"]]
        assert sorted(granted["UpdateServices"]["Resource"]) == sorted(arns)
        roles = [iam.get_role(RoleName=f"codemate-{role}-{running.env}")["Role"]["Arn"]
                 for role in ("ecs-execution", "backend-task")]
        assert granted["PassTaskRoles"]["Resource"] == roles
        assert granted["PassTaskRoles"]["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}

    def test_not_emulated_names_acm_cloudfront_auto_scaling_and_the_secrets(self, running):
        names = listed(running)
        assert "edge/Certificate" in names
        assert {"services/FrontendScalableTarget", "services/BackendScalableTarget",
                "services/FrontendCPUScalingPolicy", "services/BackendCPUScalingPolicy",
                "services/BackendMemoryScalingPolicy"} <= names
        assert {"data/DatabaseSecret", "data/NextAuthSecret", "data/AnthropicSecret", "data/GithubOAuthSecret",
                "data/RedisAuthTokenSecret"} <= names
        cloudfront = {"edge/Distribution", "edge/StaticOriginAccessControl", "edge/StaticCachePolicy",
                      "edge/PagesCachePolicy"}
        if running.env == "prod":
            assert cloudfront <= names
        else:
            assert not cloudfront & set(running.resources)  # off: not there at all
        # and nothing else: what the emulator models (ELBv2, ECS, Route 53, ...) is never a stand-in
        assert all(line.split(" (")[1].rstrip(")").startswith(NOT_MODELLED) for line in running.not_emulated)

    def test_the_ecs_cpu_alarms_come_with_the_services(self, running):
        observability_stand_ins(running, ECS_ALARMS_THERE)


@pytest.fixture(scope="class")
def levers(emulator, project, catalogue, templates) -> App:
    """params/dev.json with its images and every cost lever on: the NAT
    instance, ARM64, all on Spot and off-hours scaling as committed, plus
    the interface endpoints and Intelligent-Tiering."""
    return deploy(emulator, project, catalogue, templates, "dev", FrontendImageTag=IMAGE_TAG,
                  BackendImageTag=IMAGE_TAG, InterfaceEndpoints="true", FilesIntelligentTiering="true")


class TestEveryCostLeverOn:
    """dev with every lever on deploys; what the emulator models reads back
    as the levers say, the rest (scheduled scaling, CodeBuild, the recovery
    alarm) is listed as not emulated."""

    def test_the_nat_is_an_instance_with_its_elastic_ip_and_the_app_routes_go_through_it(self, levers):
        ec2 = levers.client("ec2")
        instance_id = levers.physical("network/NatInstance2a")
        [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        [instance] = reservation["Instances"]
        assert instance["InstanceType"] == "t4g.nano"
        assert instance["SubnetId"] == levers.physical("network/PublicSubnet2a")
        assert "network/NatGateway2a" not in levers.resources and "network/NatInstance2c" not in levers.resources
        for az in ("2a", "2c"):
            [table] = ec2.describe_route_tables(RouteTableIds=[levers.physical(f"network/AppRouteTable{az}")])[
                "RouteTables"]
            default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
            assert [r.get("InstanceId") for r in default] == [instance_id]
        addresses = ec2.describe_addresses()["Addresses"]
        assert instance_id in [a.get("InstanceId") for a in addresses]

    def test_the_services_run_arm64_tasks_all_on_spot(self, levers):
        ecs, cluster = levers.client("ecs"), "codemate-cluster-dev"
        names = [f"codemate-{service}-service-dev" for service in SERVICES]
        for found in ecs.describe_services(cluster=cluster, services=names)["services"]:
            assert found["capacityProviderStrategy"] == SPOT["dev"]
            task = ecs.describe_task_definition(taskDefinition=found["taskDefinition"])["taskDefinition"]
            assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"

    def test_the_interface_endpoints_are_in_the_app_subnets(self, levers):
        ec2 = levers.client("ec2")
        app_subnets = {levers.physical(f"network/AppSubnet{az}") for az in ("2a", "2c")}
        found = {e["ServiceName"]: e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                 if e["VpcEndpointType"] == "Interface"}
        assert set(found) == {f"com.amazonaws.{REGION}.{s}" for s in ("ecr.api", "ecr.dkr", "logs", "secretsmanager")}
        for endpoint in found.values():
            assert set(endpoint["SubnetIds"]) == app_subnets
            assert endpoint["PrivateDnsEnabled"] is True

    def test_user_files_go_to_intelligent_tiering(self, levers):
        bucket = levers.physical("storage/FilesBucket")
        [rule] = levers.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert [(t["Days"], t["StorageClass"]) for t in rule["Transitions"]] == [(0, "INTELLIGENT_TIERING")]

    def test_scheduled_scaling_builds_and_the_recovery_alarm_are_not_emulated(self, levers):
        names = listed(levers)
        assert {"services/FrontendScalableTarget", "services/BackendScalableTarget", "pipeline/FrontendBuild",
                "pipeline/BackendBuild", "network/NatInstanceRecoveryAlarm2a"} <= names
        assert all(line.split(" (")[1].rstrip(")").startswith(NOT_MODELLED) for line in levers.not_emulated)
