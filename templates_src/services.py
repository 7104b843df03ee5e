"""Services layer: CodeMate running. The ECS cluster, the frontend and
backend task definitions and Fargate services behind the load balancer's
target groups, their auto scaling, the database-migration task, the roles
the tasks run with and their log groups.

A service exists once its image tag is set (FrontendImageTag,
BackendImageTag): before the first image is pushed there is nothing to
run. The edge layer, whose target groups and listener rules the services
register with, is complete before this layer starts: the services are
created after the listener rules exist, as ECS requires."""

from awacs import ecr, kms, logs, s3, secretsmanager
from awacs.aws import Allow, Statement
from troposphere import Equals, FindInMap, GetAtt, If, Join, NoValue, Ref, Split, Sub
from troposphere.applicationautoscaling import (
    PredefinedMetricSpecification,
    ScalableTarget,
    ScalableTargetAction,
    ScalingPolicy,
    ScheduledAction,
    TargetTrackingScalingPolicyConfiguration,
)
from troposphere.ecs import (
    AwsvpcConfiguration,
    CapacityProviderStrategyItem,
    Cluster,
    ClusterSetting,
    ContainerDefinition,
    DeploymentCircuitBreaker,
    DeploymentConfiguration,
    DeploymentController,
    Environment,
    HealthCheck,
    LoadBalancer,
    LogConfiguration,
    NetworkConfiguration,
    PortMapping,
    RuntimePlatform,
    Secret,
    Service,
    TaskDefinition,
)

from codemate_cfn.layer import Layer

from .kit.iam import role
from .kit.images import HEALTH_PATH, PORT, SERVICES, image_set
from .kit.logs import log_group

# CodeMate's design: CPU units and memory (MiB) of each service's task.
TASK_SIZE = {"Frontend": (512, 1024), "Backend": (1024, 2048)}
# container, CPU units, memory (MiB), port, health check path
SIZES = {title: (name, *TASK_SIZE[title], PORT[title], HEALTH_PATH[title]) for title, name in SERVICES.items()}
MIGRATION = ("migrate", 512, 1024)  # container, CPU units, memory (MiB)
MIGRATION_COMMAND = ["npm", "run", "typeorm", "migration:run"]
MIGRATION_LOG_PREFIX = "migrate"
CPU_TARGET = 70.0  # percent, both services
MEMORY_TARGET = 80.0  # percent, backend
SCALE_OUT_COOLDOWN, SCALE_IN_COOLDOWN = 60, 300
HEALTH_CHECK_GRACE_SECONDS = 60
# Capacity: FARGATE (on demand) and FARGATE_SPOT, the service's <Title>SpotPercent
# on Spot. SPOT_WEIGHTS: percent on Spot -> the weights of the strategy and the
# tasks always on demand (Base 1 keeps one task off Spot unless it is all Spot).
CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
SPOT_WEIGHTS = {str(p): {"OnDemandWeight": 100 - p, "OnDemandBase": 0 if p == 100 else 1} for p in range(101)}
# Off-hours scaling (OffHoursScaling): down to OffHoursTaskCount at 19:00 and
# back at 09:00, Monday to Friday, Korean time; down over the weekend.
OFF_HOURS_TIMEZONE = "Asia/Seoul"
OFF_HOURS_DOWN = "cron(0 19 ? * MON-FRI *)"
OFF_HOURS_UP = "cron(0 9 ? * MON-FRI *)"
OFF_HOURS = "OffHoursScaling"  # the condition: OffHoursScaling is true
# Node is in every image of the app, curl and wget may not be.
PROBE = ("node -e \"require('http').get('http://localhost:{port}{path}', r => "
         "process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))\"")


def env(**values) -> list[Environment]:
    return [Environment(Name=name, Value=value) for name, value in values.items()]


def secrets(**value_from) -> list[Secret]:
    return [Secret(Name=name, ValueFrom=source) for name, source in value_from.items()]


def key_of(secret_input: str, key: str) -> Sub:
    """One JSON key of a secret, as ECS's valueFrom names it: <arn>:<key>::"""
    return Sub("${%s}:%s::" % (secret_input, key))


def roles(t, groups: dict):
    """The execution role (pull, log, read the app's secrets) and the
    backend's task role (the user-files bucket), each scoped to ARNs."""
    app_secrets = ["DatabaseSecretArn", "NextAuthSecretArn", "AnthropicSecretArn", "GithubOAuthSecretArn",
                   "RedisAuthTokenSecretArn"]
    execution = t.add(role("TaskExecutionRole", "ecs-tasks.amazonaws.com", [
        # AWS authorizes GetAuthorizationToken on "*" only.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(Sid="PullAppImages", Effect=Allow,
                  Action=[ecr.BatchCheckLayerAvailability, ecr.GetDownloadUrlForLayer, ecr.BatchGetImage],
                  Resource=[t.input("FrontendRepositoryArn"), t.input("BackendRepositoryArn")]),
        Statement(Sid="WriteAppLogs", Effect=Allow, Action=[logs.CreateLogStream, logs.PutLogEvents],
                  Resource=[GetAtt(group, "Arn") for group in groups.values()]),
        Statement(Sid="ReadAppSecrets", Effect=Allow, Action=[secretsmanager.GetSecretValue],
                  Resource=[t.input(name) for name in app_secrets]),
        Statement(Sid="DecryptAppSecrets", Effect=Allow, Action=[kms.Decrypt], Resource=[t.input("KmsKeyArn")]),
    ], RoleName=t.name_of("ecs-execution")))
    files = t.input("FilesBucketArn")
    task = t.add(role("BackendTaskRole", "ecs-tasks.amazonaws.com", [
        Statement(Sid="UserFiles", Effect=Allow, Action=[s3.GetObject, s3.PutObject, s3.DeleteObject],
                  Resource=[Sub("${FilesBucketArn}/*")]),
        Statement(Sid="ListUserFiles", Effect=Allow, Action=[s3.ListBucket], Resource=[files]),
    ], RoleName=t.name_of("backend-task")))
    return execution, task


def log_configuration(group, prefix: str) -> LogConfiguration:
    return LogConfiguration(LogDriver="awslogs", Options={
        "awslogs-group": Ref(group), "awslogs-region": Ref("AWS::Region"), "awslogs-stream-prefix": prefix})


def container(title: str, group, **props) -> ContainerDefinition:
    name, _cpu, _memory, port, path = SIZES[title]
    return ContainerDefinition(
        Name=name,
        Image=Sub("${%sRepositoryUri}:${%sImageTag}" % (title, title)),
        Essential=True,
        PortMappings=[PortMapping(ContainerPort=port, Protocol="tcp")],
        HealthCheck=HealthCheck(Command=["CMD-SHELL", PROBE.format(port=port, path=path)],
                                Interval=30, Timeout=5, Retries=3, StartPeriod=60),
        LogConfiguration=log_configuration(group, name),
        **props,
    )


def task_definition(t, logical_id: str, family: str, cpu: int, memory: int, condition: str, execution,
                    containers: list, **props) -> TaskDefinition:
    return t.add(TaskDefinition(
        logical_id,
        Condition=condition,
        Family=t.name_of(family),
        Cpu=str(cpu),
        Memory=str(memory),
        NetworkMode="awsvpc",
        RequiresCompatibilities=["FARGATE"],
        RuntimePlatform=RuntimePlatform(OperatingSystemFamily="LINUX",
                                        CpuArchitecture=t.input("FargateArchitecture")),
        ExecutionRoleArn=GetAtt(execution, "Arn"),
        ContainerDefinitions=containers,
        **props,
    ))


def database_settings(t) -> tuple[list, list]:
    """What the backend and the migration need to reach PostgreSQL."""
    return (
        env(DATABASE_HOST=t.input("RdsHost"), DATABASE_PORT=t.input("RdsPort"), DATABASE_NAME=t.input("DbName"),
            DATABASE_SSL="true"),
        secrets(DATABASE_USER=key_of("DatabaseSecretArn", "username"),
                DATABASE_PASSWORD=key_of("DatabaseSecretArn", "password")),
    )


def site_url(t) -> Sub:
    t.input("DomainName")
    return Sub("https://${DomainName}")


def frontend_task(t, group, execution):
    t.input("FrontendRepositoryUri")
    return task_definition(t, "FrontendTaskDefinition", "frontend", *SIZES["Frontend"][1:3],
                           image_set(t, "Frontend"), execution, [container(
                               "Frontend", group,
                               Environment=env(NODE_ENV="production", PORT=str(SIZES["Frontend"][3]),
                                               HOSTNAME="0.0.0.0", NEXTAUTH_URL=site_url(t)),
                               Secrets=secrets(NEXTAUTH_SECRET=t.input("NextAuthSecretArn"),
                                               GITHUB_CLIENT_ID=key_of("GithubOAuthSecretArn", "client_id"),
                                               GITHUB_CLIENT_SECRET=key_of("GithubOAuthSecretArn", "client_secret")),
                           )])


def backend_task(t, group, execution, task_role):
    t.input("BackendRepositoryUri")
    db_env, db_secrets = database_settings(t)
    return task_definition(t, "BackendTaskDefinition", "backend", *SIZES["Backend"][1:3],
                           image_set(t, "Backend"), execution, [container(
                               "Backend", group,
                               Environment=db_env + env(
                                   NODE_ENV="production", PORT=str(SIZES["Backend"][3]),
                                   REDIS_HOST=t.input("RedisHost"), REDIS_PORT=t.input("RedisPort"),
                                   REDIS_TLS="true", REDIS_CLUSTER_MODE=t.input("RedisClusterMode"),
                                   AWS_S3_BUCKET=t.input("FilesBucketName"), AWS_REGION=Ref("AWS::Region"),
                                   NEXTAUTH_URL=site_url(t)),
                               Secrets=db_secrets + secrets(
                                   REDIS_PASSWORD=t.input("RedisAuthTokenSecretArn"),
                                   ANTHROPIC_API_KEY=t.input("AnthropicSecretArn"),
                                   NEXTAUTH_SECRET=t.input("NextAuthSecretArn")),
                           )], TaskRoleArn=GetAtt(task_role, "Arn"))


def migration_task(t, group, execution):
    """`npm run typeorm migration:run` on the backend image, run once by
    `codemate_cfn migrate`; its log goes to the backend's log group."""
    name, cpu, memory = MIGRATION
    db_env, db_secrets = database_settings(t)
    return task_definition(t, "MigrationTaskDefinition", name, cpu, memory, image_set(t, "Backend"), execution, [
        ContainerDefinition(
            Name=name,
            Image=Sub("${BackendRepositoryUri}:${BackendImageTag}"),
            Essential=True,
            Command=MIGRATION_COMMAND,
            Environment=db_env + env(NODE_ENV="production"),
            Secrets=db_secrets,
            LogConfiguration=log_configuration(group, MIGRATION_LOG_PREFIX),
        ),
    ])


def capacity(t, title: str) -> list[CapacityProviderStrategyItem]:
    """FARGATE and FARGATE_SPOT weighted by <title>SpotPercent (its
    complement on demand), one task on demand (Base) unless all is Spot."""
    percent = t.input(f"{title}SpotPercent")
    return [
        CapacityProviderStrategyItem(CapacityProvider="FARGATE", Base=FindInMap("SpotWeights", percent, "OnDemandBase"),
                                     Weight=FindInMap("SpotWeights", percent, "OnDemandWeight")),
        CapacityProviderStrategyItem(CapacityProvider="FARGATE_SPOT", Weight=percent),
    ]


def service(t, title: str, cluster, task) -> Service:
    name, _cpu, _memory, port, _path = SIZES[title]
    return t.add(Service(
        f"{title}Service",
        Condition=f"{title}ImageSet",
        ServiceName=t.name_of(name, "service"),
        Cluster=Ref(cluster),
        TaskDefinition=Ref(task),
        CapacityProviderStrategy=capacity(t, title),
        PlatformVersion="LATEST",
        DesiredCount=t.input(f"{title}DesiredCount"),
        NetworkConfiguration=NetworkConfiguration(AwsvpcConfiguration=AwsvpcConfiguration(
            Subnets=Split(",", t.input("AppSubnetIds")),
            SecurityGroups=[t.input("EcsSecurityGroupId")],
            AssignPublicIp="DISABLED",
        )),
        LoadBalancers=[LoadBalancer(ContainerName=name, ContainerPort=port,
                                    TargetGroupArn=t.input(f"{title}TargetGroupArn"))],
        HealthCheckGracePeriodSeconds=HEALTH_CHECK_GRACE_SECONDS,
        DeploymentController=DeploymentController(Type="ECS"),
        DeploymentConfiguration=DeploymentConfiguration(
            MinimumHealthyPercent=100,
            MaximumPercent=200,
            DeploymentCircuitBreaker=DeploymentCircuitBreaker(Enable=True, Rollback=True),
        ),
        PropagateTags="SERVICE",
        EnableECSManagedTags=True,
    ))


def off_hours(t, title: str) -> list[ScheduledAction]:
    """Down to OffHoursTaskCount at 19:00 Monday to Friday (Seoul), back to
    <title>MinCount..<title>MaxCount at 09:00: nights and weekends down."""
    count = t.input("OffHoursTaskCount")
    name = SIZES[title][0]
    return [
        ScheduledAction(ScheduledActionName=Sub("${p}-off-hours-down", p=t.name_of(name)), Schedule=OFF_HOURS_DOWN,
                        Timezone=OFF_HOURS_TIMEZONE,
                        ScalableTargetAction=ScalableTargetAction(MinCapacity=count, MaxCapacity=count)),
        ScheduledAction(ScheduledActionName=Sub("${p}-working-hours-up", p=t.name_of(name)), Schedule=OFF_HOURS_UP,
                        Timezone=OFF_HOURS_TIMEZONE,
                        ScalableTargetAction=ScalableTargetAction(MinCapacity=t.input(f"{title}MinCount"),
                                                                  MaxCapacity=t.input(f"{title}MaxCount"))),
    ]


def auto_scaling(t, title: str, cluster, running: Service, targets: dict[str, float]) -> None:
    """Between <title>MinCount and <title>MaxCount tasks, tracking each
    metric's target (percent)."""
    condition = f"{title}ImageSet"
    scalable = t.add(ScalableTarget(
        f"{title}ScalableTarget",
        Condition=condition,
        ServiceNamespace="ecs",
        ScalableDimension="ecs:service:DesiredCount",
        ResourceId=Join("/", ["service", Ref(cluster), GetAtt(running, "Name")]),
        MinCapacity=t.input(f"{title}MinCount"),
        MaxCapacity=t.input(f"{title}MaxCount"),
        ScheduledActions=If(OFF_HOURS, off_hours(t, title), NoValue),
    ))
    for metric, target in targets.items():
        t.add(ScalingPolicy(
            f"{title}{metric}ScalingPolicy",
            Condition=condition,
            PolicyName=t.name_of(SIZES[title][0], metric.lower()),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(scalable),
            TargetTrackingScalingPolicyConfiguration=TargetTrackingScalingPolicyConfiguration(
                PredefinedMetricSpecification=PredefinedMetricSpecification(
                    PredefinedMetricType=f"ECSServiceAverage{metric}Utilization"),
                TargetValue=target,
                ScaleOutCooldown=SCALE_OUT_COOLDOWN,
                ScaleInCooldown=SCALE_IN_COOLDOWN,
            ),
        ))


def outputs(t, cluster, running: dict, migration, groups: dict, roles: tuple) -> None:
    t.output("ClusterName", Ref(cluster), "Name of the ECS cluster.", root="cluster_name")
    for title, svc in running.items():
        t.output(f"{title}ServiceName", If(f"{title}ImageSet", GetAtt(svc, "Name"), ""),
                 f"Name of the {title.lower()} ECS service; empty until {title}ImageTag is set.",
                 root=f"{title.lower()}_service_name")
        t.output(f"{title}ServiceArn", If(f"{title}ImageSet", Ref(svc), ""),
                 f"ARN of the {title.lower()} ECS service; empty until {title}ImageTag is set.")
    execution, task_role = roles
    t.output("TaskExecutionRoleArn", GetAtt(execution, "Arn"), "Role ECS pulls images and reads secrets with.")
    t.output("BackendTaskRoleArn", GetAtt(task_role, "Arn"), "Role the backend tasks run with.")
    for title, group in groups.items():
        t.output(f"{title}LogGroupName", Ref(group), f"CloudWatch log group of the {title.lower()} tasks.")
    t.output("MigrationTaskDefinitionArn", If("BackendImageSet", Ref(migration), ""),
             "Task definition of the database migration; empty until BackendImageTag is set.")
    t.output("MigrationContainerName", MIGRATION[0], "Container of the migration task.")
    t.output("MigrationSubnetIds", t.input("AppSubnetIds"), "Subnets the migration task runs in.")
    t.output("MigrationSecurityGroupId", t.input("EcsSecurityGroupId"), "Security group of the migration task.")
    t.output("MigrationLogGroupName", Ref(groups["Backend"]), "Log group of the migration task.")
    t.output("MigrationLogStreamPrefix", MIGRATION_LOG_PREFIX, "awslogs stream prefix of the migration task.")


def build(t):
    t.template.add_mapping("SpotWeights", SPOT_WEIGHTS)
    t.condition(OFF_HOURS, Equals(t.input("OffHoursScaling"), "true"))
    cluster = t.add(Cluster(
        "Cluster",
        ClusterName=t.name_of("cluster"),
        ClusterSettings=[ClusterSetting(Name="containerInsights", Value="enabled")],
        CapacityProviders=list(CAPACITY_PROVIDERS),
    ))
    groups = {title: log_group(t, f"{title}LogGroup", "/aws/ecs/", SIZES[title][0], retention_input="LogRetentionDays")
              for title in SIZES}
    execution, task_role = roles(t, groups)
    tasks = {"Frontend": frontend_task(t, groups["Frontend"], execution),
             "Backend": backend_task(t, groups["Backend"], execution, task_role)}
    migration = migration_task(t, groups["Backend"], execution)
    running = {title: service(t, title, cluster, task) for title, task in tasks.items()}
    auto_scaling(t, "Frontend", cluster, running["Frontend"], {"CPU": CPU_TARGET})
    auto_scaling(t, "Backend", cluster, running["Backend"], {"CPU": CPU_TARGET, "Memory": MEMORY_TARGET})
    outputs(t, cluster, running, migration, groups, (execution, task_role))


LAYER = Layer("services", "ECS cluster, task definitions, Fargate services, auto scaling, task roles and log groups",
              build)
