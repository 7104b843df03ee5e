"""A local AWS for `deploy --local` and the tests: moto's server on
127.0.0.1 (a free port), with the patches that let the deploy flow run end
to end on moto 5.2.5.

Each patch fills one gap seen on moto 5.2.5 and takes moto to what AWS
does; tests/test_emulator.py shows each gap with the patch taken out.

- nested outputs: `GetAtt <NestedStack>.Outputs.X` made execute_change_set
  answer HTTP 500 ('Stack' object has no attribute 'get_cfn_attribute').
- outputs after a change set: execute_change_set left the stack's outputs
  empty and kept its old tags and parameters.
- nested update in place: an update of a nested stack deleted it and
  created a new one, with new copies of everything in it.
- placeholders: a type moto does not model (ElastiCache replication group,
  Secrets Manager secret, bucket policy, ...) was skipped, and a `Ref` or
  `GetAtt` to it failed. It becomes a placeholder whose physical ID starts
  with PLACEHOLDER_PREFIX, which `deploy` reports as "not emulated", never
  as created.
- termination protection: UpdateTerminationProtection answered HTTP 500;
  it now sets the flag, and DeleteStack refuses a protected stack.
- DB instance from a template: moto read few of a DB instance's
  properties, crashed on `DBParameterGroupName: Ref(<group>)` and had no
  `MasterUserSecret.SecretArn`.
- flow log to an S3 folder: a flow log delivering to
  `arn:aws:s3:::bucket/folder/` crashed (moto looked for a bucket named
  "bucket/folder/").
- KMS key from a template: a key with Tags failed (moto passed
  CloudFormation's Key/Value tags to a backend expecting TagKey/TagValue).
- bucket from a template: only encryption and tags were applied; now
  versioning, public access block, lifecycle, CORS and object ownership
  too, and a replaced bucket with UpdateReplacePolicy Retain is kept.
- ECR repository from a template: scan-on-push and encryption kept
  CloudFormation's capitalised keys (invisible through the API); the
  lifecycle policy was dropped.
- absent resources: a resource whose condition is false was listed as an
  empty entry among the stack's resources.
- keep what moto cannot update: a changed resource of a type moto cannot
  update (route, DB instance) vanished from the stack; it now stays as it
  was (its new properties are not applied).
- conditions on update: an update that flips a condition (NatGatewayCount
  1 -> 2) did not create or delete the resources it covers.
- resource events: moto recorded stack-level events only; resources now
  get CREATE/UPDATE/DELETE_COMPLETE events (placeholders none).
- Sub references: a parameter used inside `Fn::Sub` did not count as a
  reference, so a nested stack whose TemplateURL moves with
  ${TemplatesKeyPrefix} was never pointed at its new template.
- deleted stays deleted: moto creates resources lazily when they are read,
  so describing a deleted root stack created its nested stacks again.
- change sets on a stack in review: a CREATE change set on the name of a
  stack in REVIEW_IN_PROGRESS (a first change set not executed) made a
  second stack of that name; AWS adds the change set to that stack, which
  keeps its ID. A CREATE change set on any other existing stack is refused
  (AlreadyExistsException), and an UPDATE change set on a stack in review
  is refused (moto answered HTTP 500).
- other change sets go on execution: executing a change set left the
  stack's other change sets available; AWS deletes them, as they no longer
  apply to the updated stack.
- template of a change set: GetTemplate with ChangeSetName gave the
  stack's template (none, for a stack in review), not the change set's.
- listener on a placeholder certificate: an HTTPS listener on the
  certificate its template requests (a placeholder: ACM certificates are
  not modelled) failed with CertificateNotFound; it is created and shows
  the placeholder as its certificate. An unknown certificate ARN still
  fails, as on AWS.
- load balancer from a template: moto dropped LoadBalancerAttributes (idle
  timeout, access logs, deletion protection, ...), Type, IpAddressType and
  Tags, and left `GetAtt` CanonicalHostedZoneID and LoadBalancerFullName
  as the text "{'Fn::GetAtt': [...]}" (a Route 53 alias to the load
  balancer named that as its zone).
- target group from a template: TargetGroupAttributes (deregistration
  delay, stickiness), HealthCheckEnabled, ProtocolVersion, IpAddressType
  and Tags were dropped, and any `GetAtt` (TargetGroupFullName, ...) failed,
  which cost the stack all its outputs.
- ECS cluster from a template: ClusterSettings (Container Insights),
  Configuration, capacity providers and Tags were dropped.
- task definition from a template: moto kept the family, containers,
  volumes and memory only, so a Fargate definition read back as EC2 with
  bridge networking, no CPU, runtime platform, roles or tags; an update
  registered its revision with CloudFormation's capitalised keys. As on
  AWS, every change registers a new revision and retires the old one.
- ECS service from a template: moto kept cluster, name, task definition
  and desired count only (an EC2 service outside any VPC); the launch type
  or capacity provider strategy (FARGATE, FARGATE_SPOT: run as Fargate),
  platform version, network configuration, load balancers, deployment
  controller and configuration (circuit breaker), health check grace
  period, tag propagation, managed tags and tags now apply.
- record set from a template: moto added the record as written (no
  trailing dot, not checked against its zone); it is made through
  ChangeResourceRecordSets, as CloudFormation makes it.
- Fn::If on a flipped condition: an update that flips a condition left
  the resources whose properties choose by it (`Fn::If`) as they were
  (turning CloudFront on left the site's DNS record on the load balancer);
  they are updated, as on AWS.
- VPC from a template: EnableDnsHostnames and EnableDnsSupport were
  ignored (DNS hostnames off), so a Fargate task's network interface had
  no private DNS name and RunTask answered HTTP 500.
- Fargate task without container memory: RunTask of a Fargate task whose
  containers leave memory to the task (as AWS allows) answered HTTP 500
  (moto added up container memory only); the task's memory counts. moto
  runs no container: the task goes to STOPPED with exit code 0 as it is
  described.
- security group rules on every port: an inline rule of protocol -1 (all
  traffic, as AWS allows without ports) failed the group (KeyError
  FromPort), and every `GetAtt` to it with it; its ports are -1, as AWS
  reports them.
- allowed values on create: CreateStack took a parameter value outside
  the template's AllowedValues and created the stack; AWS refuses it with
  a ValidationError (taskcat then reports the test as CREATE_FAILED).

Left open, because the success path does not need them: change sets
carry no Modify/Replacement detail and no nested change sets (deploy's
offline prediction stands in); nothing fails or rolls back (failures are
tested with recorded AWS responses); stack policies are stored, not
enforced; updates of types moto cannot update are not applied;
ListChangeSets lists the change sets of every stack (callers filter by
StackId). Updates of load balancers, target groups, clusters and services
apply what moto's own updates apply (a service's task definition and
count), not their attributes or settings. A load balancer's canonical
hosted zone is moto's Z2P70J7EXAMPLE (in DescribeLoadBalancers and
`GetAtt` alike), not the region's.

moto is imported only when the emulator starts: it is an optional
dependency (`pip install codemate-cfn[emulator]`).
"""

from __future__ import annotations

import logging
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass

PLACEHOLDER_PREFIX = "not-emulated"
# moto accepts any credentials; real ones must never reach it.
DUMMY_KEYS = ("emulated", "emulated")  # access key ID, secret access key


def is_placeholder(physical_id: str | None) -> bool:
    return bool(physical_id) and physical_id.startswith(PLACEHOLDER_PREFIX)


def not_emulated(resources: list[dict]) -> list[str]:
    """"label/LogicalId (Type)" of each resource (from
    codemate_cfn.deploy.stack.all_resources) that is only a placeholder here."""
    return [
        f"{r['Label']}/{r['LogicalResourceId']} ({r['ResourceType']})"
        for r in resources
        if is_placeholder(r.get("PhysicalResourceId"))
    ]


# --- the patches ------------------------------------------------------------
# Each patch returns the (owner, attribute, new value) triples it installs,
# so a test can take one out again to show the gap it fills.

_MISSING = object()


def _raw(owner, attr):
    """The attribute as stored on its owner (a classmethod stays one)."""
    return vars(owner).get(attr, _MISSING)


def _patch_nested_outputs():
    """`GetAtt NestedStack.Outputs.X` resolves to the nested stack's output."""
    from moto.cloudformation.exceptions import UnsupportedAttribute
    from moto.cloudformation.models import Stack

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name.startswith("Outputs."):
            output = self.output_map.get(attribute_name.split(".", 1)[1])
            if output is not None:
                return output.value
        raise UnsupportedAttribute(resource="Stack", attr=attribute_name)

    return [(Stack, "get_cfn_attribute", get_cfn_attribute)]


def _patch_outputs_after_change_set():
    """After execute_change_set the stack shows its new outputs, tags and
    parameters."""
    from moto.cloudformation.models import CloudFormationBackend

    original = _raw(CloudFormationBackend, "execute_change_set")

    def execute_change_set(self, change_set_name, stack_name=None):
        original(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()  # moto kept the template it was created with ({} for a new stack)
        stack.output_map = stack._create_output_map()
        stack.parameters = dict(change_set.parameters)
        if change_set.tags:
            stack.tags = dict(change_set.tags)

    return [(CloudFormationBackend, "execute_change_set", execute_change_set)]


def _patch_nested_update_in_place():
    """An update of a nested stack updates that stack; moto deleted it and
    created a new one with new copies of every resource in it."""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.utils import get_stack_from_s3_url
    from moto.utilities.utils import get_partition

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        properties = cloudformation_json["Properties"]
        template = get_stack_from_s3_url(properties["TemplateURL"], account_id=account_id,
                                         partition=get_partition(region_name))
        original_resource.update(template, parameters=properties.get("Parameters", {}))
        return original_resource

    return [(Stack, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))]


class Placeholder:
    """Stands in for a resource of a type moto does not model, so that
    `Ref` and `GetAtt` to it resolve. Nothing is created."""

    def __init__(self, physical_id: str, logical_id: str):
        self.physical_resource_id = physical_id
        self.logical_id = logical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls(f"{PLACEHOLDER_PREFIX}-{resource_name}", kwargs.get("LogicalId", resource_name))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        return None

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return f"{PLACEHOLDER_PREFIX}-{self.logical_id}.{attribute_name}"

    def is_created(self) -> bool:
        return True


def _patch_placeholders():
    """Types moto does not model become placeholders instead of nothing."""
    from moto.cloudformation import parsing

    original = _raw(parsing, "resource_class_from_type")

    def resource_class_from_type(resource_type: str):
        found = original(resource_type)
        if found is None and resource_type not in parsing.NULL_MODELS:
            return Placeholder
        return found

    return [(parsing, "resource_class_from_type", resource_class_from_type)]


def _patch_termination_protection():
    """UpdateTerminationProtection sets the flag; DeleteStack honours it."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection", False)
        return ActionResult({"StackId": stack.stack_id})

    original_delete = _raw(CloudFormationBackend, "delete_stack")

    def delete_stack(self, name_or_stack_id):
        for stack in list(self.stacks.values()):
            if name_or_stack_id in (stack.name, stack.stack_id) and stack.enable_termination_protection:
                raise ValidationError(
                    name_or_stack_id,
                    message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled",
                )
        original_delete(self, name_or_stack_id)

    return [
        (CloudFormationResponse, "update_termination_protection", update_termination_protection),
        (CloudFormationBackend, "delete_stack", delete_stack),
    ]


# CloudFormation property of AWS::RDS::DBInstance -> (moto's keyword, conversion)
_DB_PROPERTIES = {
    "AllocatedStorage": ("allocated_storage", int),
    "AutoMinorVersionUpgrade": ("auto_minor_version_upgrade", "bool"),
    "AvailabilityZone": ("availability_zone", str),
    "BackupRetentionPeriod": ("backup_retention_period", int),
    "CopyTagsToSnapshot": ("copy_tags_to_snapshot", "bool"),
    "DBInstanceClass": ("db_instance_class", str),
    "DBName": ("db_name", str),
    "DBParameterGroupName": ("db_parameter_group_name", "name"),
    "DBSubnetGroupName": ("db_subnet_group_name", "name"),
    "DeletionProtection": ("deletion_protection", "bool"),
    "EnableCloudwatchLogsExports": ("enable_cloudwatch_logs_exports", list),
    "Engine": ("engine", str),
    "EngineVersion": ("engine_version", str),
    "Iops": ("iops", int),
    "KmsKeyId": ("kms_key_id", str),
    "ManageMasterUserPassword": ("manage_master_user_password", "bool"),
    "MasterUserPassword": ("master_user_password", str),
    "MasterUsername": ("master_username", str),
    "MaxAllocatedStorage": ("max_allocated_storage", int),
    "MultiAZ": ("multi_az", "bool"),
    "Port": ("port", int),
    "PreferredBackupWindow": ("preferred_backup_window", str),
    "PreferredMaintenanceWindow": ("preferred_maintenance_window", str),
    "PubliclyAccessible": ("publicly_accessible", "bool"),
    "SourceDBInstanceIdentifier": ("source_db_instance_identifier", str),
    "StorageEncrypted": ("storage_encrypted", "bool"),
    "StorageThroughput": ("storage_throughput", int),
    "StorageType": ("storage_type", str),
    "Tags": ("tags", list),
    "VPCSecurityGroups": ("vpc_security_group_ids", list),
}


def _db_value(value, conversion):
    if conversion == "bool":
        return value is True or str(value).lower() == "true"
    if conversion == "name":
        return getattr(value, "name", value)  # a Ref to a group in the template gives moto's model
    return conversion(value)


def _patch_db_instance_from_template():
    """A DB instance declared in a template gets its properties: moto read
    a few (ignoring VPCSecurityGroups, DeletionProtection,
    ManageMasterUserPassword, MaxAllocatedStorage, log exports), crashed on
    `DBParameterGroupName: Ref(<DBParameterGroup>)`, and had no
    `MasterUserSecret.SecretArn` attribute."""
    from moto.rds.models import DBInstance, rds_backends

    original_attribute = _raw(DBInstance, "get_cfn_attribute")

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        db_kwargs = {
            keyword: _db_value(properties[name], conversion)
            for name, (keyword, conversion) in _DB_PROPERTIES.items()
            if properties.get(name) is not None
        }
        db_kwargs["db_instance_identifier"] = resource_name.replace("_", "-")
        secret = properties.get("MasterUserSecret") or {}
        if secret.get("KmsKeyId"):
            db_kwargs["master_user_secret_kms_key_id"] = secret["KmsKeyId"]
        backend = rds_backends[account_id][region_name]
        if "source_db_instance_identifier" in db_kwargs:
            return backend.create_db_instance_read_replica(db_kwargs)
        return backend.create_db_instance(db_kwargs)

    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Endpoint.Address", "Endpoint.Port", "MasterUserSecret.SecretArn")

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "MasterUserSecret.SecretArn" and getattr(self, "master_user_secret", None):
            return self.master_user_secret.secret_arn
        return original_attribute(self, attribute_name)

    return [
        (DBInstance, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
        (DBInstance, "has_cfn_attr", classmethod(has_cfn_attr)),
        (DBInstance, "get_cfn_attribute", get_cfn_attribute),
    ]


def _patch_flow_log_s3_folder():
    """A flow log whose S3 destination names a folder
    (`arn:aws:s3:::bucket/folder/`, as AWS allows) finds its bucket; moto
    looked for a bucket called "bucket/folder/" and crashed."""
    from moto.ec2.models.flow_logs import FlowLogsBackend

    original = _raw(FlowLogsBackend, "create_flow_logs")

    def create_flow_logs(self, resource_type, resource_ids, traffic_type, deliver_logs_permission_arn,
                         log_destination_type, log_destination, *rest):
        bucket_arn = log_destination
        if log_destination_type == "s3" and log_destination and "/" in log_destination:
            bucket_arn = log_destination.split("/", 1)[0]
        created, unsuccessful = original(self, resource_type, resource_ids, traffic_type,
                                         deliver_logs_permission_arn, log_destination_type, bucket_arn, *rest)
        for flow_log in created:
            flow_log.log_destination = log_destination
        return created, unsuccessful

    return [(FlowLogsBackend, "create_flow_logs", create_flow_logs)]


def _patch_kms_key_from_template():
    """A KMS key declared in a template gets its tags and key policy in the
    forms moto's KMS backend keeps (TagKey/TagValue, policy as JSON text);
    moto passed CloudFormation's Key/Value tags on and failed (KeyError)."""
    import json

    from moto.kms.models import Key

    original = _raw(Key, "create_from_cloudformation_json").__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return [(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _patch_resource_events():
    """Resources get stack events (CREATE/UPDATE/DELETE_COMPLETE) as on
    AWS; moto recorded stack-level events only. Placeholders get none: they
    were not created."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Event, cloudformation_backends

    def record(resources_map, logical_id, resource, resource_type, status):
        if resource is None or isinstance(resource, Placeholder):
            return
        backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
        stack = backend.stacks.get(resources_map.stack_id)
        if stack is not None:
            stack.events.append(Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                physical_resource_id=getattr(resource, "physical_resource_id", None), resource_type=resource_type,
                resource_status=status, resource_status_reason=None, resource_properties=None,
            ))

    create, update = _raw(parsing, "parse_and_create_resource"), _raw(parsing, "parse_and_update_resource")
    delete = _raw(parsing.ResourceMap, "_delete_resource")

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        resource = create(logical_id, resource_json, resources_map, account_id, region_name)
        record(resources_map, logical_id, resource, resource_json["Type"], "CREATE_COMPLETE")
        return resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        resource = update(logical_id, resource_json, resources_map, account_id, region_name)
        record(resources_map, logical_id, resource, resource_json["Type"], "UPDATE_COMPLETE")
        return resource

    def _delete_resource(self, parsed_resource, resource_json):
        delete(self, parsed_resource, resource_json)
        logical_id = getattr(parsed_resource, "logical_resource_id", None)
        record(self, logical_id, parsed_resource, resource_json["Type"], "DELETE_COMPLETE")

    return [
        (parsing, "parse_and_create_resource", parse_and_create_resource),
        (parsing, "parse_and_update_resource", parse_and_update_resource),
        (parsing.ResourceMap, "_delete_resource", _delete_resource),
    ]


def _patch_conditions_on_update():
    """An update that flips a condition creates the resources it now
    covers and deletes those it no longer does; moto created them only
    when something happened to read them, and never deleted them."""
    from moto.cloudformation import parsing

    original = _raw(parsing.ResourceMap, "update")

    def update(self, template, parameters=None):
        before = {name: value for name, value in dict.items(getattr(self, "lazy_condition_map", {}))
                  if isinstance(value, bool)}
        original(self, template, parameters)
        flipped = {name for name in template.get("Conditions", {}) if before.get(name, True) != self.lazy_condition_map[name]}
        resources = template["Resources"]
        for logical_id, resource in resources.items():
            if resource.get("Condition") in flipped and self.lazy_condition_map[resource["Condition"]]:
                _ = self[logical_id]  # creates it
        for logical_id, resource in resources.items():
            condition = resource.get("Condition")
            if condition in flipped and not self.lazy_condition_map[condition] and logical_id in self._parsed_resources:
                self._delete_resource(self._parsed_resources.pop(logical_id), resource)

    return [(parsing.ResourceMap, "update", update)]


def _patch_keep_what_cannot_update():
    """A change to a resource whose type moto cannot update (a route, a DB
    instance) keeps the resource as it was; moto dropped it from the stack,
    and every later `Ref` or `GetAtt` to it failed."""
    from moto.cloudformation import parsing

    original = _raw(parsing, "parse_and_update_resource")

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        return updated if updated is not None else resources_map._parsed_resources.get(logical_id)

    return [(parsing, "parse_and_update_resource", parse_and_update_resource)]


def _lifecycle_rule(rule: dict) -> dict:
    """A CloudFormation lifecycle rule in the S3 API's form."""
    api = {"ID": rule.get("Id"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": rule["ExpirationInDays"]}
    transitions = rule.get("Transitions", []) + ([rule["Transition"]] if "Transition" in rule else [])
    if transitions:
        api["Transition"] = [{"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]} for t in transitions]
    days = rule.get("NoncurrentVersionExpirationInDays") or rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
    if days:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return api


def _cors_rule(rule: dict) -> dict:
    api = {"AllowedMethod": rule["AllowedMethods"], "AllowedOrigin": rule["AllowedOrigins"],
           "AllowedHeader": rule.get("AllowedHeaders", []), "ExposeHeader": rule.get("ExposedHeaders", [])}
    if "MaxAge" in rule:
        api["MaxAgeSeconds"] = str(rule["MaxAge"])
    return api


def _patch_bucket_from_template():
    """A bucket declared in a template gets its versioning, public access
    block, lifecycle rules, CORS rules and object ownership (moto applied
    only encryption and tags), and a replaced bucket whose
    UpdateReplacePolicy keeps it stays (moto deleted it)."""
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    create, update = _raw(FakeBucket, "create_from_cloudformation_json"), _raw(FakeBucket, "update_from_cloudformation_json")

    def apply(bucket, properties, account_id, region_name):
        backend = s3_backends[account_id][get_partition(region_name)]
        if "VersioningConfiguration" in properties:
            backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])
        if "PublicAccessBlockConfiguration" in properties:
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        if "LifecycleConfiguration" in properties:
            backend.put_bucket_lifecycle(bucket.name, [_lifecycle_rule(r) for r in properties["LifecycleConfiguration"]["Rules"]])
        if "CorsConfiguration" in properties:
            backend.put_bucket_cors(bucket.name, [_cors_rule(r) for r in properties["CorsConfiguration"]["CorsRules"]])
        for rule in properties.get("OwnershipControls", {}).get("Rules", []):
            backend.put_bucket_ownership_controls(bucket.name, rule["ObjectOwnership"])
        return bucket

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = create.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        return apply(bucket, cloudformation_json.get("Properties", {}), account_id, region_name)

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        properties = cloudformation_json["Properties"]
        name = properties.get("BucketName")
        if name and name != original_resource.name and cloudformation_json.get("UpdateReplacePolicy") == "Retain":
            return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
        bucket = update.__func__(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        return apply(bucket, properties, account_id, region_name)

    return [
        (FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
        (FakeBucket, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json)),
    ]


def _patch_deleted_stays_deleted():
    """Reading the resources of a deleted stack shows what is left; moto
    creates resources lazily on read, so describing a deleted root stack
    created its nested stacks again (left CREATE_IN_PROGRESS)."""
    from moto.cloudformation import parsing

    delete, getitem = _raw(parsing.ResourceMap, "delete"), _raw(parsing.ResourceMap, "__getitem__")

    def deleting(self):
        self._codemate_deleted = True
        delete(self)

    def __getitem__(self, key):
        if getattr(self, "_codemate_deleted", False) and key not in self._parsed_resources:
            return None
        return getitem(self, key)

    return [(parsing.ResourceMap, "delete", deleting), (parsing.ResourceMap, "__getitem__", __getitem__)]


def _patch_sub_references():
    """A parameter named inside `Fn::Sub` counts as a reference: moto
    looked for `Ref` only, so a nested stack whose TemplateURL moves with
    ${TemplatesKeyPrefix} was never pointed at its new template."""
    import re

    from moto.cloudformation import parsing

    original = _raw(parsing, "get_references_from_template")

    def get_references_from_template(template):
        found = original(template)  # moto's walk calls this function for what lies below
        if isinstance(template, dict) and "Fn::Sub" in template:
            text = template["Fn::Sub"][0] if isinstance(template["Fn::Sub"], list) else template["Fn::Sub"]
            found += re.findall(r"\$\{([^!}][^}.]*)\}", text if isinstance(text, str) else "")
        return found

    return [(parsing, "get_references_from_template", get_references_from_template)]


def _camel(config: dict | None) -> dict | None:
    """{"ScanOnPush": true} -> {"scanOnPush": true}."""
    return {k[:1].lower() + k[1:]: v for k, v in config.items()} if config else config


def _patch_ecr_repository_from_template():
    """An ECR repository declared in a template gets its scan-on-push,
    encryption and lifecycle policy: moto kept CloudFormation's
    capitalised keys (ScanOnPush), which its API never shows, and dropped
    the lifecycle policy."""
    from moto.ecr.models import Repository, ecr_backends

    original = _raw(Repository, "create_from_cloudformation_json")

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        for key in ("ImageScanningConfiguration", "EncryptionConfiguration"):
            properties[key] = _camel(properties.get(key))
        repository = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        text = properties.get("LifecyclePolicy", {}).get("LifecyclePolicyText")
        if text:
            ecr_backends[account_id][region_name].put_lifecycle_policy(None, repository.name, text)
        return repository

    return [(Repository, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _patch_absent_resources():
    """A resource whose condition is false is not listed among the stack's
    resources; moto listed an empty entry for it."""
    from moto.cloudformation.models import Stack

    def stack_resources(self):
        return [resource for resource in self.resource_map.values() if resource is not None]

    return [(Stack, "stack_resources", property(stack_resources))]


def _patch_change_sets_in_review():
    """A CREATE change set on a stack in REVIEW_IN_PROGRESS joins that stack
    (AWS keeps one stack, its ID unchanged); moto made a second stack of the
    same name. A CREATE change set on a stack in any other state is refused
    as AWS refuses it, and so is an UPDATE change set on a stack in review
    (moto answered HTTP 500)."""
    from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.cloudformation.utils import generate_changeset_id, validate_create_change_set

    original_backend = _raw(CloudFormationBackend, "create_change_set")
    original_response = _raw(CloudFormationResponse, "create_change_set")

    def create_change_set(self, stack_name, change_set_name, template, parameters, description, change_set_type,
                          notification_arns=None, tags=None, role_arn=None):
        live = next((s for s in self.stacks.values() if s.name == stack_name), None)
        if change_set_type != "CREATE" or live is None:
            return original_backend(self, stack_name, change_set_name, template, parameters, description,
                                    change_set_type, notification_arns, tags, role_arn)
        if live.status != "REVIEW_IN_PROGRESS":
            raise AlreadyExistsException(f"Stack [{stack_name}] already exists and cannot be created again with "
                                         f"the changeSet [{change_set_name}].")
        validate_create_change_set(change_set_name)
        change_set_id = generate_changeset_id(change_set_name, self.region_name, self.account_id)
        made = ChangeSet(change_set_type="CREATE", change_set_id=change_set_id, change_set_name=change_set_name,
                         stack=live, template=template, parameters=parameters, description=description,
                         notification_arns=notification_arns, tags=tags, role_arn=role_arn)
        made.status, made.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        self.change_sets[change_set_id] = made
        return change_set_id, live.stack_id

    def create_change_set_response(self):
        if self._get_param("ChangeSetType", "CREATE") == "UPDATE":
            stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
            if stack.status == "REVIEW_IN_PROGRESS":
                raise ValidationError(message=f"Stack:{stack.stack_id} is in REVIEW_IN_PROGRESS state and can not "
                                              f"be updated.")
        return original_response(self)

    return [
        (CloudFormationBackend, "create_change_set", create_change_set),
        (CloudFormationResponse, "create_change_set", create_change_set_response),
    ]


def _patch_other_change_sets_go():
    """Executing a change set deletes the stack's other change sets, as AWS
    does (they no longer apply to the updated stack); moto kept them."""
    from moto.cloudformation.models import CloudFormationBackend

    original = _raw(CloudFormationBackend, "execute_change_set")

    def execute_change_set(self, change_set_name, stack_name=None):
        executed = self.describe_change_set(change_set_name)
        original(self, change_set_name, stack_name)
        for change_set_id, other in list(self.change_sets.items()):
            if other is not executed and other.stack_id == executed.stack_id:
                del self.change_sets[change_set_id]

    return [(CloudFormationBackend, "execute_change_set", execute_change_set)]


def _patch_change_set_template():
    """GetTemplate with ChangeSetName gives the change set's template;
    moto gave the stack's (none, for a stack in review)."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    original = _raw(CloudFormationResponse, "get_template")

    def get_template(self):
        name = self._get_param("ChangeSetName")
        if not name:
            return original(self)
        return ActionResult({"TemplateBody": self.cloudformation_backend.describe_change_set(name).template})

    return [(CloudFormationResponse, "get_template", get_template)]


def _patch_placeholder_certificate():
    """A listener on a certificate that is a placeholder (one the template
    requests from ACM, which the emulator does not model) is created, showing
    the placeholder as its certificate; moto looked it up in its ACM and
    failed (CertificateNotFound). Any other unknown certificate still fails,
    as on AWS."""
    from moto.elbv2 import models as elbv2

    register, exists = _raw(elbv2, "register_certificate"), _raw(elbv2.ELBv2Backend, "_certificate_exists")

    def register_certificate(account_id, region, arn_certificate, arn_user):
        if not is_placeholder(arn_certificate):
            register(account_id, region, arn_certificate, arn_user)

    def _certificate_exists(self, certificate_arn):
        return is_placeholder(certificate_arn) or exists(self, certificate_arn)

    return [(elbv2, "register_certificate", register_certificate),
            (elbv2.ELBv2Backend, "_certificate_exists", _certificate_exists)]


def _elbv2_attributes(pairs) -> dict[str, str]:
    """CloudFormation's [{Key, Value}] attributes as ELBv2's API keeps them."""
    return {pair["Key"]: str(pair["Value"]).lower() if isinstance(pair["Value"], bool) else str(pair["Value"])
            for pair in pairs or []}


def _patch_load_balancer_from_template():
    """A load balancer declared in a template gets its attributes (idle
    timeout, access logs, deletion protection, ...), type, IP address type
    and tags, which moto dropped; and `GetAtt` gives CanonicalHostedZoneID,
    LoadBalancerFullName and SecurityGroups, which moto left as the text
    "{'Fn::GetAtt': [...]}" (a DNS alias to the load balancer named that as
    its zone)."""
    from moto.elbv2.models import FakeLoadBalancer, elbv2_backends

    original_attribute = _raw(FakeLoadBalancer, "get_cfn_attribute")

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = elbv2_backends[account_id][region_name]
        balancer = backend.create_load_balancer(
            resource_name, properties.get("SecurityGroups") or [], properties.get("Subnets") or [],
            subnet_mappings=properties.get("SubnetMappings"), scheme=properties.get("Scheme", "internet-facing"),
            loadbalancer_type=properties.get("Type", "application"),
            ip_address_type=properties.get("IpAddressType", "ipv4"), tags=properties.get("Tags"),
        )
        attributes = _elbv2_attributes(properties.get("LoadBalancerAttributes"))
        if attributes:
            backend.modify_load_balancer_attributes(balancer.arn, attributes)
        return balancer

    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("CanonicalHostedZoneID", "DNSName", "LoadBalancerArn", "LoadBalancerFullName",
                        "LoadBalancerName", "SecurityGroups")

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "CanonicalHostedZoneID":
            return self.canonical_hosted_zone_id  # what DescribeLoadBalancers shows
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]  # app/<name>/<id>
        if attribute_name == "LoadBalancerArn":
            return self.arn
        if attribute_name == "SecurityGroups":
            return list(self.security_groups)
        return original_attribute(self, attribute_name)

    return [
        (FakeLoadBalancer, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
        (FakeLoadBalancer, "has_cfn_attr", classmethod(has_cfn_attr)),
        (FakeLoadBalancer, "get_cfn_attribute", get_cfn_attribute),
    ]


def _patch_target_group_from_template():
    """A target group declared in a template gets its attributes
    (deregistration delay, stickiness, ...), HealthCheckEnabled, protocol
    version, IP address type and tags, which moto dropped; and `GetAtt`
    gives TargetGroupFullName, TargetGroupName, TargetGroupArn and
    LoadBalancerArns (moto had no attribute at all, and the stack lost its
    outputs)."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.elbv2.models import FakeTargetGroup, elbv2_backends

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = elbv2_backends[account_id][region_name]
        enabled = properties.get("HealthCheckEnabled")
        group = backend.create_target_group(
            name=resource_name, vpc_id=properties.get("VpcId"), protocol=properties.get("Protocol"),
            port=properties.get("Port"), protocol_version=properties.get("ProtocolVersion"),
            healthcheck_protocol=properties.get("HealthCheckProtocol"),
            healthcheck_port=properties.get("HealthCheckPort"), healthcheck_path=properties.get("HealthCheckPath"),
            healthcheck_interval_seconds=properties.get("HealthCheckIntervalSeconds"),
            healthcheck_timeout_seconds=properties.get("HealthCheckTimeoutSeconds"),
            healthcheck_enabled=None if enabled is None else str(enabled).lower(),
            healthy_threshold_count=properties.get("HealthyThresholdCount"),
            unhealthy_threshold_count=properties.get("UnhealthyThresholdCount"),
            matcher=properties.get("Matcher"), target_type=properties.get("TargetType"),
            ip_address_type=properties.get("IpAddressType"), tags=properties.get("Tags"),
        )
        attributes = _elbv2_attributes(properties.get("TargetGroupAttributes"))
        if attributes:
            backend.modify_target_group_attributes(group.arn, attributes)
        return group

    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("LoadBalancerArns", "TargetGroupArn", "TargetGroupFullName", "TargetGroupName")

    def get_cfn_attribute(self, attribute_name: str):
        values = {"LoadBalancerArns": lambda: list(dict.fromkeys(self.load_balancer_arns)),
                  "TargetGroupArn": lambda: self.arn,
                  "TargetGroupFullName": lambda: self.arn.split(":", 5)[5],  # targetgroup/<name>/<id>
                  "TargetGroupName": lambda: self.name}
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]()

    return [
        (FakeTargetGroup, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
        (FakeTargetGroup, "has_cfn_attr", classmethod(has_cfn_attr)),
        (FakeTargetGroup, "get_cfn_attribute", get_cfn_attribute),
    ]


def _camel_tree(value):
    """CloudFormation's PascalCase keys, at every depth, as ECS's API names
    them ({"AwsvpcConfiguration": {"AssignPublicIp": ...}} ->
    {"awsvpcConfiguration": {"assignPublicIp": ...}}); None stays None."""
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    return None if value is None else remap_nested_keys(value, pascal_to_camelcase)


def _ecs_tags(tags):
    return [{"key": tag["Key"], "value": tag["Value"]} for tag in tags] if tags else None


def _patch_ecs_cluster_from_template():
    """An ECS cluster declared in a template gets its settings (Container
    Insights), configuration, capacity providers and tags; moto made a bare
    cluster with Container Insights disabled."""
    from moto.ecs.models import Cluster, ecs_backends

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json.get("Properties") or {}
        return ecs_backends[account_id][region_name].create_cluster(
            cluster_name=resource_name, tags=_ecs_tags(properties.get("Tags")),
            cluster_settings=_camel_tree(properties.get("ClusterSettings")),
            configuration=_camel_tree(properties.get("Configuration")),
            capacity_providers=properties.get("CapacityProviders"),
            default_capacity_provider_strategy=_camel_tree(properties.get("DefaultCapacityProviderStrategy")),
        )

    return [(Cluster, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _patch_task_definition_from_template():
    """A task definition declared in a template is registered with all its
    properties: moto kept the family, containers, volumes and memory only
    (no CPU, network mode, Fargate compatibility, runtime platform, roles or
    tags), and an update registered the new revision with CloudFormation's
    capitalised keys, which the API never shows."""
    from moto.ecs.models import TaskDefinition, ecs_backends

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        return ecs_backends[account_id][region_name].register_task_definition(
            family=properties.get("Family") or resource_name,
            container_definitions=_camel_tree(properties.get("ContainerDefinitions", [])),
            volumes=_camel_tree(properties.get("Volumes", [])),
            network_mode=properties.get("NetworkMode"),
            tags=_ecs_tags(properties.get("Tags")),
            placement_constraints=_camel_tree(properties.get("PlacementConstraints")),
            requires_compatibilities=properties.get("RequiresCompatibilities"),
            cpu=properties.get("Cpu"),
            memory=properties.get("Memory"),
            task_role_arn=properties.get("TaskRoleArn"),
            execution_role_arn=properties.get("ExecutionRoleArn"),
            proxy_configuration=_camel_tree(properties.get("ProxyConfiguration")),
            runtime_platform=_camel_tree(properties.get("RuntimePlatform")),
            ipc_mode=properties.get("IpcMode"),
            pid_mode=properties.get("PidMode"),
            ephemeral_storage=_camel_tree(properties.get("EphemeralStorage")),
        )

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                        account_id, region_name):
        # a task definition cannot change: AWS registers a new revision and retires the old one
        ecs_backends[account_id][region_name].deregister_task_definition(original_resource.arn)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    return [
        (TaskDefinition, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
        (TaskDefinition, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json)),
    ]


def _patch_ecs_service_from_template():
    """An ECS service declared in a template gets its launch type, platform
    version, network configuration, load balancers, deployment controller
    and configuration (circuit breaker included), health check grace
    period, tag propagation and tags; moto made an EC2 service with none of
    them."""
    from moto.ecs.models import Service, ecs_backends

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        count = properties.get("DesiredCount")
        task = properties.get("TaskDefinition")
        strategy = [{"capacityProvider": item["CapacityProvider"],
                     **{key.lower(): int(item[key]) for key in ("Base", "Weight") if key in item}}
                    for item in properties.get("CapacityProviderStrategy") or []]
        service = ecs_backends[account_id][region_name].create_service(
            getattr(properties["Cluster"], "name", properties["Cluster"]), resource_name,
            None if count is None else int(count),
            task_definition_str=getattr(task, "arn", task),
            load_balancers=_camel_tree(properties.get("LoadBalancers")),
            scheduling_strategy=properties.get("SchedulingStrategy"),
            tags=_ecs_tags(properties.get("Tags")),
            deployment_controller=_camel_tree(properties.get("DeploymentController")),
            # moto's services take a launch type only: one on Fargate capacity providers runs as FARGATE
            launch_type=properties.get("LaunchType") or ("FARGATE" if strategy else None),
            service_registries=_camel_tree(properties.get("ServiceRegistries")),
            platform_version=properties.get("PlatformVersion"),
            propagate_tags=properties.get("PropagateTags") or "NONE",
            network_configuration=_camel_tree(properties.get("NetworkConfiguration")),
            role_arn=properties.get("Role"),
        )
        # what moto's service does not take, kept where DescribeServices reads it
        service.deployment_configuration = _camel_tree(properties.get("DeploymentConfiguration"))
        service.health_check_grace_period_seconds = properties.get("HealthCheckGracePeriodSeconds")
        service.enable_ecs_managed_tags = properties.get("EnableECSManagedTags")
        service.enable_execute_command = properties.get("EnableExecuteCommand")
        if strategy and not properties.get("LaunchType"):  # as AWS describes it: the strategy, no launch type
            service.capacity_provider_strategy = strategy
            service.launch_type = None
        return service

    return [(Service, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _patch_record_set_from_template():
    """A DNS record declared in a template is made as ChangeResourceRecordSets
    makes it (CloudFormation calls it): its name ends with a dot and must lie
    in the zone. moto added it as written, without the dot a record made
    through the API gets, and unchecked."""
    from moto.route53.models import RecordSet, route53_backends
    from moto.utilities.utils import get_partition

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = route53_backends[account_id][get_partition(region_name)]
        zone = backend.get_hosted_zone_by_name(properties["HostedZoneName"]) if properties.get("HostedZoneName") \
            else backend.get_hosted_zone(properties["HostedZoneId"])
        record = {**properties, "Name": resource_name}  # the zone's ID or name stays: deleting the record needs it
        if "ResourceRecords" in record:
            record["ResourceRecords"] = [{"Value": value} for value in record["ResourceRecords"]]
        backend.change_resource_record_sets(zone.id, [{"Action": "CREATE", "ResourceRecordSet": record}])
        return next(r for r in reversed(zone.rrsets) if r.name == record["Name"] and r.type == record["Type"])

    return [(RecordSet, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _if_conditions(value) -> set[str]:
    """The conditions every `Fn::If` in `value` chooses by."""
    if isinstance(value, list):
        return set().union(*map(_if_conditions, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = {value["Fn::If"][0]} if isinstance(value.get("Fn::If"), list) else set()
    return found.union(*map(_if_conditions, value.values()))


def _patch_if_on_a_flipped_condition():
    """An update that flips a condition updates the resources whose
    properties choose by it (`Fn::If`), as their values change; moto
    updated a resource only when its template text or a parameter it names
    changed, so turning CloudFront on left the site's DNS record on the load
    balancer."""
    from moto.cloudformation import parsing

    original = _raw(parsing.ResourceMap, "update")

    def update(self, template, parameters=None):
        before = {name: value for name, value in dict.items(getattr(self, "lazy_condition_map", {}))
                  if isinstance(value, bool)}
        updated_anyway = set(self.build_resource_diff(template, parameters)["Modify"])
        original(self, template, parameters)
        flipped = {name for name in template.get("Conditions", {})
                   if name in before and before[name] != self.lazy_condition_map[name]}
        for logical_id, resource in template["Resources"].items():
            if (logical_id in self._parsed_resources and logical_id not in updated_anyway
                    and flipped & _if_conditions(resource.get("Properties"))):
                self._parsed_resources[logical_id] = parsing.parse_and_update_resource(
                    logical_id, resource, self, self._account_id, self._region_name)

    return [(parsing.ResourceMap, "update", update)]


def _patch_vpc_from_template():
    """A VPC declared in a template gets its DNS settings; moto left DNS
    hostnames off whatever the template said."""
    from moto.ec2.models.vpcs import VPC

    original = _raw(VPC, "create_from_cloudformation_json").__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        vpc = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        vpc.enable_dns_support = _db_value(properties.get("EnableDnsSupport", True), "bool")
        vpc.enable_dns_hostnames = _db_value(properties.get("EnableDnsHostnames", False), "bool")
        return vpc

    return [(VPC, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _patch_fargate_task_memory():
    """A Fargate task whose containers set no memory of their own (the
    task's is theirs, as AWS allows) can be run; moto added up container
    memory only and failed on None (HTTP 500)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = _raw(EC2ContainerServiceBackend, "_calculate_task_resource_requirements").__func__

    def _calculate_task_resource_requirements(task_definition):
        containers = task_definition.container_definitions
        unsized = [c for c in containers if not any(c.get(k) for k in ("Memory", "MemoryReservation", "memory",
                                                                         "memoryReservation"))]
        if not unsized or not task_definition.memory:
            return original(task_definition)
        share = int(task_definition.memory) // len(unsized)
        task_definition.container_definitions = [{**c, "memory": share} if c in unsized else c for c in containers]
        try:
            return original(task_definition)
        finally:
            task_definition.container_definitions = containers

    return [(EC2ContainerServiceBackend, "_calculate_task_resource_requirements",
             staticmethod(_calculate_task_resource_requirements))]


def _patch_all_traffic_rules():
    """An inline security group rule of every protocol (IpProtocol -1, no
    FromPort or ToPort, as AWS allows) gets ports -1, as AWS reports them;
    moto read FromPort and failed the group (KeyError)."""
    from moto.ec2.models.security_groups import SecurityGroup

    original = _raw(SecurityGroup, "create_from_cloudformation_json").__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        for key in ("SecurityGroupIngress", "SecurityGroupEgress"):
            properties[key] = [{"FromPort": -1, "ToPort": -1, **rule} if str(rule.get("IpProtocol")) == "-1" else rule
                               for rule in properties.get(key, [])]
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return [(SecurityGroup, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))]


def _patch_allowed_values_on_create():
    """CreateStack refuses a parameter value outside the template's
    AllowedValues, with CloudFormation's ValidationError (moto created the
    stack with any value). AllowedPattern is not checked: the emulator's own
    hosted zone IDs do not look like AWS's."""
    import json as _json

    import yaml as _yaml
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    original = _raw(CloudFormationBackend, "create_stack")

    def create_stack(self, name, template, parameters, *args, **kwargs):
        try:
            declared = _json.loads(template).get("Parameters", {})
        except ValueError:
            try:
                declared = (_yaml.safe_load(template) or {}).get("Parameters", {})
            except _yaml.YAMLError:
                declared = {}
        for key, value in (parameters or {}).items():
            allowed = declared.get(key, {}).get("AllowedValues") if isinstance(declared.get(key), dict) else None
            if allowed is not None and str(value) not in [str(a) for a in allowed]:
                raise ValidationError(name, message=f"Parameter '{key}' must be one of AllowedValues")
        return original(self, name, template, parameters, *args, **kwargs)

    return [(CloudFormationBackend, "create_stack", create_stack)]


PATCHES = {
    "nested outputs": _patch_nested_outputs,
    "outputs after a change set": _patch_outputs_after_change_set,
    "nested update in place": _patch_nested_update_in_place,
    "placeholders": _patch_placeholders,
    "termination protection": _patch_termination_protection,
    "DB instance from a template": _patch_db_instance_from_template,
    "flow log to an S3 folder": _patch_flow_log_s3_folder,
    "KMS key from a template": _patch_kms_key_from_template,
    "bucket from a template": _patch_bucket_from_template,
    "ECR repository from a template": _patch_ecr_repository_from_template,
    "absent resources": _patch_absent_resources,
    "keep what moto cannot update": _patch_keep_what_cannot_update,
    "conditions on update": _patch_conditions_on_update,
    "resource events": _patch_resource_events,
    "Sub references": _patch_sub_references,
    "deleted stays deleted": _patch_deleted_stays_deleted,
    "change sets on a stack in review": _patch_change_sets_in_review,
    "other change sets go on execution": _patch_other_change_sets_go,
    "template of a change set": _patch_change_set_template,
    "listener on a placeholder certificate": _patch_placeholder_certificate,
    "load balancer from a template": _patch_load_balancer_from_template,
    "target group from a template": _patch_target_group_from_template,
    "ECS cluster from a template": _patch_ecs_cluster_from_template,
    "task definition from a template": _patch_task_definition_from_template,
    "ECS service from a template": _patch_ecs_service_from_template,
    "record set from a template": _patch_record_set_from_template,
    "Fn::If on a flipped condition": _patch_if_on_a_flipped_condition,
    "VPC from a template": _patch_vpc_from_template,
    "Fargate task without container memory": _patch_fargate_task_memory,
    "security group rules on every port": _patch_all_traffic_rules,
    "allowed values on create": _patch_allowed_values_on_create,
}
_installed: dict[str, list[tuple[object, str, object, object]]] = {}  # name -> (owner, attr, original, new)


def _put(owner, attr, value) -> None:
    if value is _MISSING:
        delattr(owner, attr)
    else:
        setattr(owner, attr, value)


def _install(name: str) -> None:
    _installed[name] = [(owner, attr, _raw(owner, attr), new) for owner, attr, new in PATCHES[name]()]
    for owner, attr, _, new in _installed[name]:
        _put(owner, attr, new)


def _uninstall(name: str) -> None:
    for owner, attr, original, _ in reversed(_installed.pop(name)):
        _put(owner, attr, original)


def apply_patches() -> None:
    """Install every patch, once per process, in PATCHES order (a later
    patch may wrap what an earlier one installed)."""
    for name in PATCHES:
        if name not in _installed:
            _install(name)


@contextmanager
def unpatched(name: str):
    """Take one patch out for the duration (to show the gap it fills); the
    patches after it are put back on top of moto's own code meanwhile."""
    apply_patches()
    later = list(PATCHES)[list(PATCHES).index(name):]
    for each in reversed(later):
        _uninstall(each)
    for each in later[1:]:
        _install(each)
    try:
        yield
    finally:
        for each in reversed(later[1:]):
            _uninstall(each)
        for each in later:
            _install(each)


# --- the server -------------------------------------------------------------

@dataclass
class Emulator:
    url: str
    server: object

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=30).close()

    def stop(self) -> None:
        self.server.stop()


def _check_free(port: int) -> None:
    """A port already taken would leave moto's server thread dead and its
    caller waiting: say so at once instead."""
    import socket

    from codemate_cfn.errors import CodemateError, InvalidInput

    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port {port}: a port is a number from 1 to 65535 (0 picks a free one)")
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
    except OSError as exc:
        raise CodemateError(f"port {port} on 127.0.0.1 cannot be used: {exc.strerror or exc}") from None
    finally:
        probe.close()


def start(port: int = 0) -> Emulator:
    """moto's server on 127.0.0.1, on `port` (0: a free one), with the patches applied."""
    _check_free(port)
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        from codemate_cfn.errors import CodemateError

        raise CodemateError(
            "the local emulator needs moto: pip install 'codemate-cfn[emulator]' (moto[server]==5.2.5)"
        ) from None
    apply_patches()
    for noisy in ("werkzeug", "moto"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return Emulator(f"http://{host}:{port}", server)


@contextmanager
def running(port: int = 0):
    emulator = start(port)
    try:
        yield emulator
    finally:
        emulator.stop()
