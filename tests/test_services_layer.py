"""The services layer as each environment sees it: the cluster, the task
definitions and Fargate services of CodeMate's design, auto scaling, the
migration task, and roles that reach only what the tasks need."""

from __future__ import annotations

import json

import pytest

from codemate_cfn.params import paramfile
from layer_values import ROOT, Environment, catalogue, conventions

TAG = "3f2a9c1"
# CodeMate's design: container, CPU, memory, port, health path, (desired, min, max) per environment.
DESIGN = {
    "Frontend": ("frontend", "512", "1024", 3000, "/api/health", {"dev": (1, 1, 2), "prod": (2, 2, 5)}),
    "Backend": ("backend", "1024", "2048", 3001, "/health", {"dev": (1, 1, 2), "prod": (2, 2, 6)}),
}
DOMAINS = {"dev": "codemate-dev.code1398.io", "prod": "codemate.code1398.io"}
RETENTION = {"dev": 7, "prod": 30}


def running(env: str) -> Environment:
    """The layer once both images are pushed and their tags set."""
    return Environment("services", env, FrontendImageTag=TAG, BackendImageTag=TAG)


def container(view: Environment, task: str) -> dict:
    (found,) = view.props(task)["ContainerDefinitions"]
    return found


def env_of(definition: dict) -> dict:
    return {e["Name"]: e["Value"] for e in definition.get("Environment", [])}


def secrets_of(definition: dict) -> dict:
    return {s["Name"]: s["ValueFrom"] for s in definition.get("Secrets", [])}


def test_cluster_is_named_per_environment_with_container_insights(services):
    cluster = services.props("Cluster")
    assert cluster["ClusterName"] == f"codemate-cluster-{services.env}"
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]


def test_before_the_first_image_there_is_no_service_to_run(services):
    assert services.values["FrontendImageTag"] == services.values["BackendImageTag"] == ""
    for absent in ("FrontendService", "BackendService", "FrontendTaskDefinition", "BackendTaskDefinition",
                   "MigrationTaskDefinition", "FrontendScalableTarget", "BackendScalableTarget"):
        assert not services.exists(absent), absent
    assert services.output("MigrationTaskDefinitionArn") == ""
    assert services.output("BackendServiceName") == ""
    assert services.exists("Cluster") and services.exists("TaskExecutionRole")


@pytest.mark.parametrize("title", DESIGN)
def test_task_definitions_have_the_designs_size_port_and_health_check(services, title):
    name, cpu, memory, port, path, _ = DESIGN[title]
    view = running(services.env)
    task = view.props(f"{title}TaskDefinition")
    assert task["Family"] == f"codemate-{name}-{services.env}"
    assert (task["Cpu"], task["Memory"]) == (cpu, memory)
    assert task["NetworkMode"] == "awsvpc" and task["RequiresCompatibilities"] == ["FARGATE"]
    box = container(view, f"{title}TaskDefinition")
    assert box["Name"] == name
    assert box["Image"] == {"Fn::Sub": "${%sRepositoryUri}:%s" % (title, TAG)}
    assert box["PortMappings"] == [{"ContainerPort": port, "Protocol": "tcp"}]
    check = box["HealthCheck"]["Command"]
    assert check[0] == "CMD-SHELL" and f"http://localhost:{port}{path}" in check[1]


@pytest.mark.parametrize("title", DESIGN)
def test_logs_go_to_a_log_group_of_the_environment_with_its_retention(services, title):
    name = DESIGN[title][0]
    group = services.props(f"{title}LogGroup")
    assert group["LogGroupName"] == f"/aws/ecs/codemate-{name}-{services.env}"
    assert group["RetentionInDays"] == str(RETENTION[services.env])
    logging = container(running(services.env), f"{title}TaskDefinition")["LogConfiguration"]
    assert logging["LogDriver"] == "awslogs"
    assert logging["Options"]["awslogs-group"] == {"Ref": f"{title}LogGroup"}


def test_backend_environment_is_wired_from_the_other_layers(services):
    backend = container(running(services.env), "BackendTaskDefinition")
    assert env_of(backend) == {
        "DATABASE_HOST": {"Ref": "RdsHost"}, "DATABASE_PORT": {"Ref": "RdsPort"}, "DATABASE_NAME": {"Ref": "DbName"},
        "DATABASE_SSL": "true", "NODE_ENV": "production", "PORT": "3001",
        "REDIS_HOST": {"Ref": "RedisHost"}, "REDIS_PORT": {"Ref": "RedisPort"}, "REDIS_TLS": "true",
        "REDIS_CLUSTER_MODE": {"dev": "disabled", "prod": "enabled"}[services.env],
        "AWS_S3_BUCKET": {"Ref": "FilesBucketName"}, "AWS_REGION": {"Ref": "AWS::Region"},
        "NEXTAUTH_URL": f"https://{DOMAINS[services.env]}",
    }


def test_backend_secrets_come_only_from_secrets_manager(services):
    backend = container(running(services.env), "BackendTaskDefinition")
    assert secrets_of(backend) == {
        "DATABASE_USER": {"Fn::Sub": "${DatabaseSecretArn}:username::"},
        "DATABASE_PASSWORD": {"Fn::Sub": "${DatabaseSecretArn}:password::"},
        "REDIS_PASSWORD": {"Ref": "RedisAuthTokenSecretArn"},
        "ANTHROPIC_API_KEY": {"Ref": "AnthropicSecretArn"},
        "NEXTAUTH_SECRET": {"Ref": "NextAuthSecretArn"},
    }


def test_no_secret_is_a_plain_environment_variable(services):
    view = running(services.env)
    for task in ("FrontendTaskDefinition", "BackendTaskDefinition", "MigrationTaskDefinition"):
        box = container(view, task)
        assert not set(env_of(box)) & set(secrets_of(box)), task
        assert not any(word in name for name in env_of(box) for word in ("PASSWORD", "SECRET", "API_KEY")), task


def test_frontend_gets_its_auth_settings(services):
    frontend = container(running(services.env), "FrontendTaskDefinition")
    assert env_of(frontend)["NEXTAUTH_URL"] == f"https://{DOMAINS[services.env]}"
    assert secrets_of(frontend) == {
        "NEXTAUTH_SECRET": {"Ref": "NextAuthSecretArn"},
        "GITHUB_CLIENT_ID": {"Fn::Sub": "${GithubOAuthSecretArn}:client_id::"},
        "GITHUB_CLIENT_SECRET": {"Fn::Sub": "${GithubOAuthSecretArn}:client_secret::"},
    }


@pytest.mark.parametrize("title", DESIGN)
def test_services_run_privately_behind_their_target_groups_and_roll_back_bad_deployments(services, title):
    name, _, _, port, _, counts = DESIGN[title]
    svc = running(services.env).props(f"{title}Service")
    assert svc["ServiceName"] == f"codemate-{name}-service-{services.env}"
    assert "LaunchType" not in svc  # a capacity provider strategy instead (FARGATE, FARGATE_SPOT)
    assert svc["DesiredCount"] == str(counts[services.env][0])
    network = svc["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network == {"Subnets": {"Fn::Split": [",", {"Ref": "AppSubnetIds"}]},
                       "SecurityGroups": [{"Ref": "EcsSecurityGroupId"}], "AssignPublicIp": "DISABLED"}
    assert svc["LoadBalancers"] == [{"ContainerName": name, "ContainerPort": port,
                                     "TargetGroupArn": {"Ref": f"{title}TargetGroupArn"}}]
    assert svc["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert svc["HealthCheckGracePeriodSeconds"] > 0


@pytest.mark.parametrize("title", DESIGN)
def test_auto_scaling_keeps_the_designs_bounds(services, title):
    _, _, _, _, _, counts = DESIGN[title]
    target = running(services.env).props(f"{title}ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == tuple(str(c) for c in counts[services.env][1:])
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert target["ResourceId"] == {"Fn::Join": ["/", ["service", {"Ref": "Cluster"},
                                                       {"Fn::GetAtt": [f"{title}Service", "Name"]}]]}


def test_cpu_70_on_both_and_memory_80_on_the_backend(services):
    view = running(services.env)
    policies = {}
    for policy in view.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        scaled = policy["Properties"]["ScalingTargetId"]["Ref"].removesuffix("ScalableTarget")
        policies[scaled, config["PredefinedMetricSpecification"]["PredefinedMetricType"]] = config["TargetValue"]
    assert policies == {("Frontend", "ECSServiceAverageCPUUtilization"): 70.0,
                        ("Backend", "ECSServiceAverageCPUUtilization"): 70.0,
                        ("Backend", "ECSServiceAverageMemoryUtilization"): 80.0}


def test_migration_runs_typeorm_on_the_backend_image(services):
    view = running(services.env)
    box = container(view, "MigrationTaskDefinition")
    assert box["Command"] == ["npm", "run", "typeorm", "migration:run"]
    assert box["Image"] == {"Fn::Sub": "${BackendRepositoryUri}:%s" % TAG}
    assert secrets_of(box) == {"DATABASE_USER": {"Fn::Sub": "${DatabaseSecretArn}:username::"},
                               "DATABASE_PASSWORD": {"Fn::Sub": "${DatabaseSecretArn}:password::"}}
    assert box["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "BackendLogGroup"}
    assert view.output("MigrationTaskDefinitionArn") == {"Ref": "MigrationTaskDefinition"}
    assert view.output("MigrationContainerName") == box["Name"]
    assert view.output("MigrationLogStreamPrefix") == box["LogConfiguration"]["Options"]["awslogs-stream-prefix"]


def statements(view: Environment, role: str) -> dict[str, dict]:
    (policy,) = view.props(role)["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_execution_role_reaches_only_the_apps_repositories_logs_secrets_and_key(services):
    found = statements(services, "TaskExecutionRole")
    assert found["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert found["EcrLogin"]["Resource"] == ["*"]
    wildcards = [sid for sid, s in found.items() if "*" in s["Resource"]]
    assert wildcards == ["EcrLogin"]
    assert found["PullAppImages"]["Resource"] == [{"Ref": "FrontendRepositoryArn"}, {"Ref": "BackendRepositoryArn"}]
    assert found["WriteAppLogs"]["Resource"] == [{"Fn::GetAtt": ["FrontendLogGroup", "Arn"]},
                                                 {"Fn::GetAtt": ["BackendLogGroup", "Arn"]}]
    assert {r["Ref"] for r in found["ReadAppSecrets"]["Resource"]} == {
        "DatabaseSecretArn", "NextAuthSecretArn", "AnthropicSecretArn", "GithubOAuthSecretArn",
        "RedisAuthTokenSecretArn"}
    assert found["DecryptAppSecrets"] == {"Sid": "DecryptAppSecrets", "Effect": "Allow", "Action": ["kms:Decrypt"],
                                          "Resource": [{"Ref": "KmsKeyArn"}]}


def test_every_secret_a_task_reads_is_one_the_execution_role_may_read(services):
    view = running(services.env)
    readable = {json.dumps(r) for r in statements(view, "TaskExecutionRole")["ReadAppSecrets"]["Resource"]}
    for task in ("FrontendTaskDefinition", "BackendTaskDefinition", "MigrationTaskDefinition"):
        for source in secrets_of(container(view, task)).values():
            arn = {"Ref": source["Fn::Sub"].split("}")[0][2:]} if "Fn::Sub" in source else source
            assert json.dumps(arn) in readable, (task, source)


def test_task_role_has_only_the_designs_s3_actions_on_the_files_bucket(services):
    found = statements(services, "BackendTaskRole")
    assert found == {
        "UserFiles": {"Sid": "UserFiles", "Effect": "Allow",
                      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                      "Resource": [{"Fn::Sub": "${FilesBucketArn}/*"}]},
        "ListUserFiles": {"Sid": "ListUserFiles", "Effect": "Allow", "Action": ["s3:ListBucket"],
                          "Resource": [{"Ref": "FilesBucketArn"}]},
    }
    view = running(services.env)
    assert view.props("BackendTaskDefinition")["TaskRoleArn"] == {"Fn::GetAtt": ["BackendTaskRole", "Arn"]}
    assert "TaskRoleArn" not in view.props("FrontendTaskDefinition")


def test_root_prints_cluster_and_service_names():
    outputs = Environment("root", "dev").template["Outputs"]
    assert {outputs[n]["Description"] for n in ("ClusterName", "FrontendServiceName", "BackendServiceName")} == {
        "cluster_name", "frontend_service_name", "backend_service_name"}


def test_task_counts_out_of_order_are_refused(tmp_path):
    source = json.loads((ROOT / "params" / "prod.json").read_text())
    source["Parameters"].update(BackendDesiredCount="7")
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(source))
    _, problems = paramfile.check(path, catalogue(), conventions())
    assert problems == [f"{path}: Parameters.BackendDesiredCount: BackendMinCount (2) <= BackendDesiredCount (7) "
                        f"<= BackendMaxCount (6) must hold"]


# -- cost levers -------------------------------------------------------------------
# Committed values: ARM64 in both; dev all on Spot and scaled down off hours,
# prod 75% on Spot above one task on demand, always up.
COMMITTED = {"dev": {"FargateArchitecture": "ARM64", "FrontendSpotPercent": "100", "BackendSpotPercent": "100",
                     "OffHoursScaling": "true", "OffHoursTaskCount": "0"},
             "prod": {"FargateArchitecture": "ARM64", "FrontendSpotPercent": "75", "BackendSpotPercent": "75",
                      "OffHoursScaling": "false", "OffHoursTaskCount": "0"}}


def test_the_levers_committed_values_and_defaults():
    defaults = {"FargateArchitecture": "X86_64", "FrontendSpotPercent": "0", "BackendSpotPercent": "0",
                "OffHoursScaling": "false", "OffHoursTaskCount": "0"}
    assert {name: catalogue()[name].default for name in defaults} == defaults
    for env, values in COMMITTED.items():
        given = paramfile.load(ROOT / "params" / f"{env}.json", catalogue(), conventions()).parameters
        assert {name: given[name] for name in values} == values


@pytest.mark.parametrize("architecture", ["X86_64", "ARM64"])
def test_every_task_runs_on_the_architecture_of_the_parameter(services, architecture):
    view = Environment("services", services.env, FrontendImageTag=TAG, BackendImageTag=TAG,
                       FargateArchitecture=architecture)
    for task in ("FrontendTaskDefinition", "BackendTaskDefinition", "MigrationTaskDefinition"):
        assert view.props(task)["RuntimePlatform"] == {"OperatingSystemFamily": "LINUX",
                                                       "CpuArchitecture": architecture}


def test_the_committed_files_run_arm64_tasks(services):
    assert running(services.env).props("BackendTaskDefinition")["RuntimePlatform"]["CpuArchitecture"] == "ARM64"


def test_the_cluster_offers_fargate_and_fargate_spot(services):
    assert services.props("Cluster")["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


@pytest.mark.parametrize("percent, on_demand, base", [("0", 100, 1), ("30", 70, 1), ("75", 25, 1), ("100", 0, 0)])
@pytest.mark.parametrize("title", DESIGN)
def test_the_spot_percent_weighs_fargate_spot_against_fargate(services, title, percent, on_demand, base):
    """Below 100%, one task (Base) stays on demand for availability."""
    view = Environment("services", services.env, FrontendImageTag=TAG, BackendImageTag=TAG,
                       **{f"{title}SpotPercent": percent})
    strategy = view.props(f"{title}Service")["CapacityProviderStrategy"]
    assert strategy == [{"CapacityProvider": "FARGATE", "Base": base, "Weight": on_demand},
                        {"CapacityProvider": "FARGATE_SPOT", "Weight": percent}]


@pytest.mark.parametrize("title", DESIGN)
def test_the_committed_spot_shares(services, title):
    strategy = running(services.env).props(f"{title}Service")["CapacityProviderStrategy"]
    spot = COMMITTED[services.env][f"{title}SpotPercent"]
    assert strategy[1] == {"CapacityProvider": "FARGATE_SPOT", "Weight": spot}
    assert strategy[0]["Base"] == (0 if spot == "100" else 1)


@pytest.mark.parametrize("title", DESIGN)
def test_off_hours_scaling_goes_down_at_19_and_up_at_9_on_weekdays_in_seoul(services, title):
    name, _, _, _, _, counts = DESIGN[title]
    view = Environment("services", services.env, FrontendImageTag=TAG, BackendImageTag=TAG,
                       OffHoursScaling="true", OffHoursTaskCount="1")
    actions = view.props(f"{title}ScalableTarget")["ScheduledActions"]
    low, high = (str(c) for c in counts[services.env][1:])
    assert [(a["Schedule"], a["Timezone"], a["ScalableTargetAction"]) for a in actions] == [
        ("cron(0 19 ? * MON-FRI *)", "Asia/Seoul", {"MinCapacity": "1", "MaxCapacity": "1"}),
        ("cron(0 9 ? * MON-FRI *)", "Asia/Seoul", {"MinCapacity": low, "MaxCapacity": high}),
    ]
    assert [a["ScheduledActionName"] for a in actions] == [
        f"codemate-{name}-{services.env}-off-hours-down", f"codemate-{name}-{services.env}-working-hours-up"]


@pytest.mark.parametrize("title", DESIGN)
def test_off_hours_scaling_is_on_in_dev_and_off_in_prod(services, title):
    target = running(services.env).props(f"{title}ScalableTarget")
    if services.env == "dev":
        assert [a["ScalableTargetAction"]["MinCapacity"] for a in target["ScheduledActions"]] == ["0", "1"]
    else:
        assert "ScheduledActions" not in target
