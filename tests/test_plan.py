"""The offline plan: what a deploy adds, modifies, removes or replaces,
predicted from the templates and the root parameter values."""

import copy
import json

import pytest

from codemate_cfn.errors import CodemateError
from codemate_cfn.params.paramfile import load
from codemate_cfn.compile.discovery import load_catalogue, load_conventions
from codemate_cfn.deploy.plan import Change, merge_aws, predict
from codemate_cfn.deploy.plan_view import format_plan, plan_json
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.render import render

BUCKET = "AWS::S3::Bucket"


def template(resources, parameters=(), conditions=None, outputs=None):
    """A small template; parameters are names of String parameters."""
    t = {"Parameters": {p: {"Type": "String"} for p in parameters}, "Resources": resources}
    if conditions:
        t["Conditions"] = conditions
    if outputs:
        t["Outputs"] = {k: {"Value": v} for k, v in outputs.items()}
    return t


def bucket(**props):
    return {"Type": BUCKET, "Properties": props}


def rows(changes):
    return {(c.stack, c.action, c.logical_id): c for c in changes}


def only(changes):
    assert len(changes) == 1, changes
    return changes[0]


def plan_one(old_resources, new_resources, **kwargs):
    """Predict for a lone root template with the same parameters both sides."""
    params = kwargs.pop("parameters", ())
    values = kwargs.pop("values", {})
    return predict(
        {"root": template(old_resources, params, **kwargs)},
        {"root": template(new_resources, params, **kwargs)},
        values, values,
    )


# -- property changes and the schema ------------------------------------------

def test_changing_a_create_only_property_replaces_the_resource():
    change = only(plan_one({"Files": bucket(BucketName="a")}, {"Files": bucket(BucketName="b")}))
    assert (change.action, change.replacement, change.details) == ("modify", "true", ["property BucketName"])
    assert change.stateful and change.source == "predicted"


def test_changing_a_conditionally_create_only_property_may_replace():
    db = lambda engine: {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": engine, "DBInstanceClass": "db.t4g.micro"}}
    change = only(plan_one({"Db": db("postgres")}, {"Db": db("mysql")}))
    assert (change.action, change.replacement, change.details) == ("modify", "conditional", ["property Engine"])
    assert change.causes == {"Engine": "conditional"}


def test_a_conditional_change_aws_makes_in_place_is_cleared_by_the_table():
    db = lambda multi_az: {"Type": "AWS::RDS::DBInstance", "Properties": {"MultiAZ": multi_az, "DBInstanceClass": "db.t4g.micro"}}
    change = only(plan_one({"Db": db(False)}, {"Db": db(True)}))
    assert (change.action, change.replacement, change.details) == ("modify", "false", ["property MultiAZ"])
    assert change.causes == {} and "in place" in change.in_place["MultiAZ"]


def test_changing_a_plain_property_updates_in_place():
    old = bucket(BucketName="a", VersioningConfiguration={"Status": "Suspended"})
    new = bucket(BucketName="a", VersioningConfiguration={"Status": "Enabled"})
    change = only(plan_one({"Files": old}, {"Files": new}))
    assert (change.action, change.replacement, change.details) == ("modify", "false", ["property VersioningConfiguration"])


def test_identical_templates_and_values_give_no_changes():
    resources = {"Files": bucket(BucketName="a")}
    changes = plan_one(resources, copy.deepcopy(resources))
    assert changes == []
    assert format_plan(changes) == "no changes"


def test_metadata_or_depends_on_alone_is_a_modify_without_replacement():
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}
    old = {"Files": bucket(BucketName="a"), "Queue": queue}
    new = copy.deepcopy(old)
    new["Files"]["Metadata"] = {"Owner": "team"}
    new["Files"]["DependsOn"] = "Queue"
    change = only(plan_one(old, new))
    assert (change.logical_id, change.action, change.replacement) == ("Files", "modify", "false")
    assert change.details == ["metadata", "DependsOn"]


def test_a_deletion_policy_change_is_named():
    new = bucket(BucketName="a")
    new["DeletionPolicy"] = "Retain"
    change = only(plan_one({"Files": bucket(BucketName="a")}, {"Files": new}))
    assert (change.replacement, change.details) == ("false", ["DeletionPolicy"])


def test_a_changed_type_under_the_same_logical_id_is_a_replacement():
    queue = {"Type": "AWS::SQS::Queue", "Properties": {}}
    change = only(plan_one({"Thing": bucket()}, {"Thing": queue}))
    assert (change.action, change.replacement, change.resource_type) == ("modify", "true", "AWS::SQS::Queue")
    assert change.details == ["type (was AWS::S3::Bucket)"]


# -- add, remove, rename --------------------------------------------------------

def test_added_and_removed_resources():
    changes = plan_one({"Old": bucket()}, {"New": {"Type": "AWS::SQS::Queue", "Properties": {}}})
    by = rows(changes)
    assert set(by) == {("root", "add", "New"), ("root", "remove", "Old")}
    assert by["root", "remove", "Old"].stateful
    assert by["root", "remove", "Old"].details == ["no longer in the template"]


def test_a_renamed_logical_id_is_a_remove_plus_an_add():
    changes = plan_one({"LogsBucket": bucket(BucketName="logs")}, {"AuditBucket": bucket(BucketName="logs")})
    by = rows(changes)
    assert set(by) == {("root", "add", "AuditBucket"), ("root", "remove", "LogsBucket")}
    removed = by["root", "remove", "LogsBucket"]
    assert "AWS::S3::Bucket added as AuditBucket: a new logical ID is a new resource" in removed.details


def test_first_deploy_adds_everything_present_for_the_values():
    conditions = {"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
    new = template({"Files": bucket(), "Replica": {**bucket(), "Condition": "Prod"}}, ["Env"], conditions)
    changes = predict(None, {"root": new}, None, {"Env": "dev"})
    assert [(c.action, c.logical_id) for c in changes] == [("add", "Files")]


# -- parameter values, conditions, intrinsic functions ------------------------

CONDITIONAL = {
    "TwoNats": {"Fn::Equals": [{"Ref": "NatCount"}, "2"]},
    "OneNat": {"Fn::Not": [{"Condition": "TwoNats"}]},
}


def nat_template():
    return template(
        {
            "Eip2": {"Type": "AWS::EC2::EIP", "Condition": "TwoNats", "Properties": {"Domain": "vpc"}},
            "Nat1": {"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": "subnet-1", "AllocationId": "a-1"}},
            "Nat2": {"Type": "AWS::EC2::NatGateway", "Condition": "TwoNats",
                     "Properties": {"SubnetId": "subnet-2", "AllocationId": {"Fn::GetAtt": ["Eip2", "AllocationId"]}}},
            "Route2": {"Type": "AWS::EC2::Route", "Properties": {
                "RouteTableId": "rtb-2", "DestinationCidrBlock": "0.0.0.0/0",
                "NatGatewayId": {"Fn::If": ["TwoNats", {"Ref": "Nat2"}, {"Ref": "Nat1"}]}}},
            "Note": {"Type": "AWS::SSM::Parameter", "Condition": "OneNat",
                     "Properties": {"Type": "String", "Value": "one NAT"}},
        },
        ["NatCount"], CONDITIONAL,
    )


def test_a_parameter_value_that_flips_a_condition_adds_and_removes_resources():
    t = nat_template()
    changes = predict({"root": t}, {"root": t}, {"NatCount": "1"}, {"NatCount": "2"})
    by = rows(changes)
    assert set(by) == {
        ("root", "add", "Eip2"), ("root", "add", "Nat2"),
        ("root", "modify", "Route2"), ("root", "remove", "Note"),
    }
    assert by["root", "add", "Nat2"].details == ["condition TwoNats is now true"]
    assert by["root", "remove", "Note"].details == ["condition OneNat is now false"]


def test_an_fn_if_that_flips_modifies_the_property():
    t = nat_template()
    route = rows(predict({"root": t}, {"root": t}, {"NatCount": "1"}, {"NatCount": "2"}))["root", "modify", "Route2"]
    assert (route.replacement, route.details) == ("false", ["property NatGatewayId"])
    back = rows(predict({"root": t}, {"root": t}, {"NatCount": "2"}, {"NatCount": "1"}))
    assert set(back) == {
        ("root", "remove", "Eip2"), ("root", "remove", "Nat2"),
        ("root", "modify", "Route2"), ("root", "add", "Note"),
    }


def test_and_or_conditions_are_evaluated():
    conditions = {
        "Prod": {"Fn::Equals": ["prod", {"Ref": "Env"}]},
        "Big": {"Fn::Or": [{"Fn::Equals": [{"Ref": "Size"}, "large"]}, {"Fn::Equals": [{"Ref": "Size"}, "xlarge"]}]},
        "BigProd": {"Fn::And": [{"Condition": "Prod"}, {"Condition": "Big"}]},
    }
    t = template({"Replica": {**bucket(), "Condition": "BigProd"}}, ["Env", "Size"], conditions)
    plan = lambda old, new: [(c.action, c.logical_id) for c in predict({"root": t}, {"root": t}, old, new)]
    assert plan({"Env": "prod", "Size": "small"}, {"Env": "prod", "Size": "xlarge"}) == [("add", "Replica")]
    assert plan({"Env": "dev", "Size": "small"}, {"Env": "dev", "Size": "xlarge"}) == []
    assert plan({"Env": "prod", "Size": "large"}, {"Env": "dev", "Size": "large"}) == [("remove", "Replica")]


def test_a_parameter_default_is_used_when_no_value_is_given():
    t = template({"Files": bucket(BucketName={"Ref": "Name"})}, [])
    t["Parameters"]["Name"] = {"Type": "String", "Default": "files"}
    assert predict({"root": t}, {"root": t}, {}, {"Name": "files"}) == []
    assert only(predict({"root": t}, {"root": t}, {}, {"Name": "other"})).replacement == "true"


def test_a_parameter_inside_fn_sub_changes_the_property():
    files = bucket(BucketName={"Fn::Sub": "codemate-files-${Env}-${AWS::AccountId}"})
    t = template({"Files": files}, ["Env"])
    change = only(predict({"root": t}, {"root": t}, {"Env": "dev"}, {"Env": "prod"}))
    assert (change.logical_id, change.replacement, change.details) == ("Files", "true", ["property BucketName"])
    assert predict({"root": t}, {"root": t}, {"Env": "dev"}, {"Env": "dev"}) == []


def test_fn_sub_variables_and_escapes():
    files = bucket(BucketName={"Fn::Sub": ["${Prefix}-${!Literal}", {"Prefix": {"Ref": "Env"}}]})
    t = template({"Files": files}, ["Env"])
    assert only(predict({"root": t}, {"root": t}, {"Env": "a"}, {"Env": "b"})).details == ["property BucketName"]
    assert predict({"root": t}, {"root": t}, {"Env": "a"}, {"Env": "a"}) == []


def test_fn_if_with_no_value_drops_the_property():
    conditions = {"Versioned": {"Fn::Equals": [{"Ref": "Versioning"}, "on"]}}
    files = bucket(VersioningConfiguration={"Fn::If": ["Versioned", {"Status": "Enabled"}, {"Ref": "AWS::NoValue"}]})
    t = template({"Files": files}, ["Versioning"], conditions)
    change = only(predict({"root": t}, {"root": t}, {"Versioning": "off"}, {"Versioning": "on"}))
    assert (change.replacement, change.details) == ("false", ["property VersioningConfiguration"])


def test_join_select_and_find_in_map_are_worked_out():
    t = template({"Files": bucket(BucketName={"Fn::Join": ["-", [
        "files", {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Suffix"]},
        {"Fn::Select": ["1", {"Fn::Split": [",", "a,b,c"]}]}]]})}, ["Env"])
    t["Mappings"] = {"Sizes": {"dev": {"Suffix": "small"}, "test": {"Suffix": "small"}, "prod": {"Suffix": "large"}}}
    assert predict({"root": t}, {"root": t}, {"Env": "dev"}, {"Env": "test"}) == []  # same mapped value
    assert only(predict({"root": t}, {"root": t}, {"Env": "dev"}, {"Env": "prod"})).details == ["property BucketName"]
    with pytest.raises(CodemateError, match=r"root: Fn::FindInMap \['Sizes', 'qa', 'Suffix'\] is not in Mappings"):
        predict({"root": t}, {"root": t}, {"Env": "dev"}, {"Env": "qa"})


def test_a_masked_no_echo_value_counts_as_unchanged():
    t = template({"Secret": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "Token"}}}})
    t["Parameters"]["Token"] = {"Type": "String", "NoEcho": True}
    assert predict({"root": t}, {"root": t}, {"Token": "****"}, {"Token": "s3cret"}) == []
    assert only(predict({"root": t}, {"root": t}, {"Token": "old"}, {"Token": "new"})).details == ["property Value"]


def test_a_replaced_resource_changes_what_references_it():
    old = {"Files": bucket(BucketName="a"),
           "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Files"}, "PolicyDocument": {}}},
           "Arn": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Fn::Sub": "${Files.Arn}"}}}}
    new = copy.deepcopy(old)
    new["Files"]["Properties"]["BucketName"] = "b"
    by = rows(plan_one(old, new))
    assert by["root", "modify", "Policy"].replacement == "true"  # BucketPolicy.Bucket is create-only
    assert by["root", "modify", "Arn"].details == ["property Value"]
    assert by["root", "modify", "Arn"].replacement == "false"


def test_a_resource_that_may_be_replaced_makes_its_dependents_uncertain():
    db = {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres"}}
    alarm_props = {"Type": "String", "Value": {"Ref": "Db"}}
    old = {"Db": db, "Name": {"Type": "AWS::SSM::Parameter", "Properties": alarm_props}}
    new = copy.deepcopy(old)
    new["Db"]["Properties"]["Engine"] = "mysql"
    policy = {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Db"}}}
    old["Pol"], new["Pol"] = policy, copy.deepcopy(policy)
    by = rows(plan_one(old, new))
    assert by["root", "modify", "Db"].replacement == "conditional"
    assert by["root", "modify", "Name"].replacement == "false"
    assert by["root", "modify", "Pol"].replacement == "conditional"  # create-only, but only maybe changed


def test_an_undefined_condition_is_a_clear_error():
    t = template({"Files": {**bucket(), "Condition": "Missing"}})
    with pytest.raises(CodemateError, match="root: condition Missing is used but not defined"):
        predict({"root": t}, {"root": t}, {}, {})


def test_no_root_template_is_a_clear_error():
    with pytest.raises(CodemateError, match="no root template among the new templates"):
        predict(None, {"network": template({})}, None, {})


# -- nested stacks ----------------------------------------------------------------

def nested_stack(name, parameters):
    return {"Type": "AWS::CloudFormation::Stack", "Properties": {
        "TemplateURL": {"Fn::Sub": "https://${TemplatesBucketName}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesKeyPrefix}%s.json" % name},
        "Parameters": parameters,
    }}


def two_layers(bucket_name="files", queue_name="q"):
    root = template(
        {
            "StorageStack": nested_stack("storage", {"Env": {"Ref": "Env"}}),
            "AppStack": nested_stack("app", {"Env": {"Ref": "Env"},
                                             "FilesArn": {"Fn::GetAtt": ["StorageStack", "Outputs.FilesArn"]}}),
        },
        ["Env", "TemplatesBucketName", "TemplatesKeyPrefix"],
    )
    storage = template(
        {"Files": bucket(BucketName={"Fn::Sub": bucket_name + "-${Env}"})},
        ["Env"], outputs={"FilesArn": {"Fn::GetAtt": ["Files", "Arn"]}},
    )
    app = template(
        {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": queue_name}},
         "FilesArnParam": {"Type": "AWS::SSM::Parameter",
                           "Properties": {"Type": "String", "Value": {"Ref": "FilesArn"}}}},
        ["Env", "FilesArn"],
    )
    return {"root": root, "storage": storage, "app": app}


def test_a_root_parameter_reaches_the_layer_that_uses_it():
    t = two_layers()
    by = rows(predict(t, t, {"Env": "dev"}, {"Env": "prod"}))
    assert by["root", "modify", "StorageStack"].details == ["parameter Env"]
    assert by["storage", "modify", "Files"].replacement == "true"
    # the bucket is replaced, so its ARN output changes and reaches the app layer
    assert by["root", "modify", "AppStack"].details == ["parameter Env", "parameter FilesArn"]
    assert by["app", "modify", "FilesArnParam"].details == ["property Value"]
    assert ("app", "modify", "Queue") not in by


def test_the_templates_bucket_and_prefix_are_not_changes():
    t = two_layers()
    old = {"Env": "dev", "TemplatesBucketName": "b1", "TemplatesKeyPrefix": "abc/"}
    new = {"Env": "dev", "TemplatesBucketName": "b2", "TemplatesKeyPrefix": "def/"}
    assert predict(t, t, old, new) == []


def test_an_output_of_another_layer_counts_as_unchanged_while_its_source_stays():
    old, new = two_layers(queue_name="q"), two_layers(queue_name="q2")
    by = rows(predict(old, new, {"Env": "dev"}, {"Env": "dev"}))
    assert set(by) == {("root", "modify", "AppStack"), ("app", "modify", "Queue")}
    assert by["root", "modify", "AppStack"].details == ["template"]
    assert by["app", "modify", "Queue"].replacement == "true"


def test_a_changed_output_definition_reaches_the_consumer():
    old, new = two_layers(), two_layers()
    new["storage"]["Outputs"]["FilesArn"]["Value"] = {"Fn::Sub": "${Files.Arn}/data"}
    by = rows(predict(old, new, {"Env": "dev"}, {"Env": "dev"}))
    assert by["root", "modify", "StorageStack"].details == ["template"]
    assert by["root", "modify", "AppStack"].details == ["parameter FilesArn"]
    assert by["app", "modify", "FilesArnParam"].details == ["property Value"]


def test_an_output_that_may_change_makes_the_consumer_uncertain():
    def layers(engine):
        t = two_layers()
        t["storage"]["Resources"]["Db"] = {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": engine}}
        t["storage"]["Outputs"]["FilesArn"]["Value"] = {"Fn::GetAtt": ["Db", "DBInstanceArn"]}
        # BucketPolicy.Bucket is create-only: a certain change would replace the policy
        t["app"]["Resources"]["Policy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "FilesArn"}}}
        return t

    by = rows(predict(layers("postgres"), layers("mysql"), {"Env": "dev"}, {"Env": "dev"}))
    assert by["storage", "modify", "Db"].replacement == "conditional"
    assert by["app", "modify", "Policy"].replacement == "conditional"


def test_a_condition_on_another_layers_output_is_kept_and_flagged_when_it_may_flip():
    def layers(bucket_name):
        t = two_layers(bucket_name=bucket_name)
        t["app"]["Conditions"] = {"Shared": {"Fn::Equals": [{"Ref": "FilesArn"}, "arn:aws:s3:::shared"]}}
        t["app"]["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic", "Condition": "Shared", "Properties": {}}
        return t

    assert predict(layers("files"), layers("files"), {"Env": "dev"}, {"Env": "dev"}) == []
    by = rows(predict(layers("files"), layers("data"), {"Env": "dev"}, {"Env": "dev"}))
    topic = by["app", "modify", "Topic"]
    assert topic.details == ["condition Shared may change (it depends on values only AWS knows)"]
    assert topic.replacement == "false"


def with_cache_layer():
    t = two_layers()
    t["root"]["Resources"]["CacheStack"] = nested_stack("cache", {})
    t["cache"] = template({"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}})
    return t


def test_a_new_layer_adds_its_stack_and_every_resource():
    by = rows(predict(two_layers(), with_cache_layer(), {"Env": "dev"}, {"Env": "dev"}))
    assert set(by) == {("root", "add", "CacheStack"), ("cache", "add", "Topic")}


def test_a_removed_layer_removes_its_stack_and_every_resource():
    by = rows(predict(with_cache_layer(), two_layers(), {"Env": "dev"}, {"Env": "dev"}))
    assert set(by) == {("root", "remove", "CacheStack"), ("cache", "remove", "Topic")}


def test_a_nested_stack_without_its_template_is_a_clear_error():
    t = two_layers()
    del t["app"]
    with pytest.raises(CodemateError, match="root: nested stack AppStack points at app.json, which is not among"):
        predict(None, t, None, {"Env": "dev"})


# -- the real templates ----------------------------------------------------------

@pytest.fixture(scope="module")
def real():
    project = Project.find()
    templates = render(project).templates
    catalogue = load_catalogue(project.root)
    dev = load(project.params_dir / "dev.json", catalogue, load_conventions(project.root)).parameters
    values = {n: p.default for n, p in catalogue.items() if p.default is not None}
    return templates, {**values, **dev}


def test_two_nat_gateways_instead_of_one(real):
    templates, dev = real
    dev = {**dev, "NatType": "gateway"}
    changes = predict(templates, templates, dev, {**dev, "NatGatewayCount": "2"})
    assert {(c.stack, c.action, c.logical_id) for c in changes} == {
        ("root", "modify", "NetworkStack"),
        ("network", "add", "NatEip2c"),
        ("network", "add", "NatGateway2c"),
        ("network", "modify", "AppDefaultRoute2c"),
    }
    by = rows(changes)
    assert by["root", "modify", "NetworkStack"].details == ["parameter NatGatewayCount"]
    assert by["network", "modify", "AppDefaultRoute2c"].details == ["property NatGatewayId"]
    assert all(c.replacement == "false" for c in changes)


def test_nat_instances_instead_of_gateways_change_the_routes_in_place(real):
    """NatType gateway -> instance: the gateways and their Elastic IPs go,
    the instance and its group, Elastic IP and recovery alarm come, and the
    app routes point at the instance without being replaced."""
    templates, dev = real
    gateway = {**dev, "NatType": "gateway"}
    changes = predict(templates, templates, gateway, {**gateway, "NatType": "instance"})
    assert {(c.stack, c.action, c.logical_id) for c in changes} == {
        ("root", "modify", "NetworkStack"),
        ("network", "remove", "NatEip2a"),
        ("network", "remove", "NatGateway2a"),
        ("network", "add", "NatInstanceSecurityGroup"),
        ("network", "add", "NatInstance2a"),
        ("network", "add", "NatInstanceEip2a"),
        ("network", "add", "NatInstanceRecoveryAlarm2a"),
        ("network", "modify", "AppDefaultRoute2a"),
        ("network", "modify", "AppDefaultRoute2c"),
    }
    by = rows(changes)
    assert by["network", "modify", "AppDefaultRoute2a"].replacement == "false"


def test_a_running_service_moved_from_its_launch_type_to_capacity_providers_may_be_replaced(real):
    """Services deployed with LaunchType FARGATE (before the Spot lever):
    LaunchType is conditionally create-only in the ECS Service schema, so
    the plan says the service may be replaced; the strategy itself is
    updated in place."""
    templates, dev = real
    running = {**dev, "FrontendImageTag": "3f2a9c1", "BackendImageTag": "3f2a9c1"}
    before = copy.deepcopy(templates)
    for title in ("Frontend", "Backend"):
        props = before["services"]["Resources"][f"{title}Service"]["Properties"]
        del props["CapacityProviderStrategy"]
        props["LaunchType"] = "FARGATE"
    by = rows(predict(before, templates, running, running))
    for title in ("Frontend", "Backend"):
        change = by["services", "modify", f"{title}Service"]
        assert change.replacement == "conditional"
    by = rows(predict(templates, templates, running, {**running, "BackendSpotPercent": "50"}))
    assert by["services", "modify", "BackendService"].replacement == "false"


def test_the_same_build_and_values_change_nothing(real):
    templates, dev = real
    assert predict(templates, copy.deepcopy(templates), dev, dict(dev)) == []


def test_first_deploy_of_the_real_templates(real):
    templates, dev = real
    changes = predict(None, templates, None, dev)
    assert {c.action for c in changes} == {"add"}
    assert ("network", "NatGateway2c") not in {(c.stack, c.logical_id) for c in changes}  # one NAT in dev
    nested = [c.logical_id for c in changes if c.stack == "root"]
    assert nested == [r for r in templates["root"]["Resources"]]
    alb = rows(changes)["security", "add", "AlbSecurityGroup"]
    assert "ingress tcp 443 from 0.0.0.0/0 (anywhere: open to the internet) (new rule)" in alb.widens_access


# -- access that widens ---------------------------------------------------------

def security_group(*ingress):
    return {"Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "web", "VpcId": "vpc-1", "SecurityGroupIngress": list(ingress)}}


def rule(port, cidr, to_port=None):
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": to_port or port, "CidrIp": cidr}


def test_a_new_rule_open_to_the_internet_is_called_out():
    old = security_group(rule(443, "10.0.0.0/16"))
    new = security_group(rule(443, "10.0.0.0/16"), rule(22, "0.0.0.0/0"))
    change = only(plan_one({"Web": old}, {"Web": new}))
    assert change.replacement == "false"
    assert change.widens_access == ["ingress tcp 22 from 0.0.0.0/0 (anywhere: open to the internet) (new rule)"]


def test_a_wider_port_range_or_source_is_called_out():
    old = security_group(rule(443, "10.0.1.0/24"))
    wider_ports = security_group(rule(443, "10.0.1.0/24", to_port=8443))
    wider_source = security_group(rule(443, "10.0.0.0/16"))
    narrower = security_group(rule(443, "10.0.1.0/25"))
    assert only(plan_one({"Web": old}, {"Web": wider_ports})).widens_access == [
        "ingress tcp 443-8443 from 10.0.1.0/24 (new rule, was tcp 443)"]
    assert only(plan_one({"Web": old}, {"Web": wider_source})).widens_access == [
        "ingress tcp 443 from 10.0.0.0/16 (new rule)"]
    assert only(plan_one({"Web": old}, {"Web": narrower})).widens_access == []


def test_dropping_every_egress_rule_is_called_out():
    # with no egress rules AWS puts back its allow-all rule
    old = security_group()
    old["Properties"]["SecurityGroupEgress"] = [{"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86,
                                                 "CidrIp": "255.255.255.255/32"}]
    change = only(plan_one({"Db": old}, {"Db": security_group()}))
    assert change.widens_access == ["egress rules removed: AWS then allows all outbound traffic"]



NO_EGRESS = {"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "255.255.255.255/32",
             "Description": "No outbound traffic (replaces the default allow-all rule)"}


def test_the_no_egress_placeholder_rule_is_never_called_widened_access():
    old = security_group(rule(5432, "10.0.0.0/16"))
    old["Properties"]["SecurityGroupEgress"] = [{"IpProtocol": "-1", "CidrIp": "10.0.0.0/16"}]
    new = security_group(rule(5432, "10.0.0.0/16"))
    new["Properties"].update(GroupName="db-sg-2", SecurityGroupEgress=[NO_EGRESS])  # replaces the group
    change = only(plan_one({"Db": old}, {"Db": new}))
    assert change.replacement == "true" and change.widens_access == []
    first = only(plan_one({}, {"Db": new}))
    assert first.widens_access == ["ingress tcp 5432 from 10.0.0.0/16 (new rule)"]
    standalone = {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {"GroupId": "sg-1", **NO_EGRESS}}
    assert only(plan_one({}, {"Out": standalone})).widens_access == []
    # the same ICMP type and code to a real peer is a rule like any other
    real = {**standalone, "Properties": {**standalone["Properties"], "CidrIp": "10.0.0.0/16"}}
    assert only(plan_one({}, {"Out": real})).widens_access == ["egress icmp type 252 code 86 to 10.0.0.0/16 (new rule)"]

def test_a_standalone_ingress_resource_is_a_rule_too():
    ingress = lambda cidr: {"Type": "AWS::EC2::SecurityGroupIngress",
                            "Properties": {"GroupId": "sg-1", "IpProtocol": "-1", "CidrIp": cidr}}
    change = only(plan_one({"In": ingress("10.0.0.0/16")}, {"In": ingress("0.0.0.0/0")}))
    assert change.widens_access == ["ingress all traffic from 0.0.0.0/0 (anywhere: open to the internet) (new rule)"]


def role(*statements, managed=()):
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]},
        "Policies": [{"PolicyName": "app", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}],
        "ManagedPolicyArns": list(managed),
    }}


READ = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::files/*"}


def test_an_iam_wildcard_is_called_out():
    new = role(READ, {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    change = only(plan_one({"TaskRole": role(READ)}, {"TaskRole": new}))
    assert change.widens_access == ["wildcard: policy allows s3:* on * (statement Everything)"]


def test_new_actions_resources_and_managed_policies_are_called_out():
    new = role({**READ, "Action": ["s3:GetObject", "s3:PutObject"]},
               managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    change = only(plan_one({"TaskRole": role(READ)}, {"TaskRole": new}))
    assert change.widens_access == [
        "policy allows s3:PutObject on arn:aws:s3:::files/*",
        "attaches managed policy arn:aws:iam::aws:policy/AdministratorAccess",
    ]


def test_a_narrower_policy_widens_nothing():
    old = role({**READ, "Action": ["s3:GetObject", "s3:PutObject"]})
    assert only(plan_one({"TaskRole": old}, {"TaskRole": role(READ)})).widens_access == []


def test_a_removed_deny_statement_is_called_out():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::files/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    policy = lambda *s: {"Type": "AWS::S3::BucketPolicy",
                         "Properties": {"Bucket": "files", "PolicyDocument": {"Statement": list(s)}}}
    change = only(plan_one({"Policy": policy(deny, READ)}, {"Policy": policy(READ)}))
    assert change.widens_access == ["policy no longer denies s3:*"]


# -- AWS's change sets ------------------------------------------------------------

def predicted_row(**kw):
    base = dict(stack="storage", action="modify", logical_id="Files", resource_type=BUCKET,
                replacement="false", details=["property Tags"], stateful=True, widens_access=[])
    return Change(**{**base, **kw})


def test_aws_replacement_and_details_win_over_the_prediction():
    aws = {"storage": [{
        "Action": "Modify", "LogicalResourceId": "Files", "ResourceType": BUCKET, "Replacement": "True",
        "Scope": ["Properties"],
        "Details": [{"Target": {"Attribute": "Properties", "Name": "BucketName", "RequiresRecreation": "Always"},
                     "Evaluation": "Static", "ChangeSource": "DirectModification"}],
    }]}
    predicted = [predicted_row()]
    merged = only(merge_aws(predicted, aws))
    assert (merged.replacement, merged.source) == ("true", "aws")
    assert merged.details == ["property Tags", "property BucketName"]
    assert predicted[0].replacement == "false"  # the input is left as it was


def test_rows_only_aws_knows_are_added():
    aws = {
        "root": [{"ResourceChange": {"Action": "Modify", "LogicalResourceId": "StorageStack",
                                     "ResourceType": "AWS::CloudFormation::Stack", "Replacement": "False",
                                     "Details": [{"Target": {"Attribute": "Properties", "Name": "Parameters",
                                                             "RequiresRecreation": "Never"},
                                                  "ChangeSource": "ParameterReference", "CausingEntity": "Env"}]}}],
        "storage": [
            {"Action": "Add", "LogicalResourceId": "Archive", "ResourceType": BUCKET},
            {"Action": "Remove", "LogicalResourceId": "OldKey", "ResourceType": "AWS::KMS::Key"},
            {"Action": "Modify", "LogicalResourceId": "Db", "ResourceType": "AWS::RDS::DBInstance",
             "Details": [{"Target": {"Attribute": "Properties", "Name": "MultiAZ", "RequiresRecreation": "Conditionally"},
                          "ChangeSource": "DirectModification"}]},
        ],
    }
    merged = merge_aws([predicted_row()], aws)
    by = rows(merged)
    assert [c.stack for c in merged] == ["root", "storage", "storage", "storage", "storage"]
    stack_row = by["root", "modify", "StorageStack"]
    assert (stack_row.details, stack_row.replacement, stack_row.source) == (["parameter Env"], "false", "aws")
    assert by["storage", "add", "Archive"].stateful and by["storage", "add", "Archive"].source == "aws"
    assert by["storage", "remove", "OldKey"].stateful
    assert by["storage", "modify", "Db"].replacement == "conditional"
    assert by["storage", "modify", "Files"].source == "predicted"


def test_aws_conditionally_does_not_undo_what_the_table_cleared_but_always_does():
    cleared = predicted_row(resource_type="AWS::RDS::DBInstance", details=["property MultiAZ"],
                            in_place={"MultiAZ": "Multi-AZ on or off is applied in place"})
    detail = lambda requires: {"storage": [{"Action": "Modify", "LogicalResourceId": "Files",
                                            "ResourceType": "AWS::RDS::DBInstance", "Replacement": "Conditional",
                                            "Details": [{"Target": {"Attribute": "Properties", "Name": "MultiAZ",
                                                                    "RequiresRecreation": requires}}]}]}
    assert only(merge_aws([cleared], detail("Conditionally"))).replacement == "false"
    merged = only(merge_aws([cleared], detail("Always")))
    assert (merged.replacement, merged.causes) == ("true", {"MultiAZ": "true"})


def test_aws_replacement_false_wins_over_a_predicted_cause():
    predicted = [predicted_row(replacement="true", details=["property BucketName"], causes={"BucketName": "true"})]
    aws = {"storage": [{"Action": "Modify", "LogicalResourceId": "Files", "ResourceType": BUCKET, "Replacement": "False"}]}
    assert only(merge_aws(predicted, aws)).replacement == "false"


def test_an_aws_row_without_replacement_is_looked_up_in_the_schema():
    aws = {"root": [{"Action": "Modify", "LogicalResourceId": "Files", "ResourceType": BUCKET,
                     "Details": [{"Target": {"Attribute": "Properties", "Name": "BucketName"}}]}]}
    assert only(merge_aws([], aws)).replacement == "true"


def test_the_prediction_stands_where_aws_says_nothing_more():
    predicted = [predicted_row(replacement="true", details=["property BucketName"], causes={"BucketName": "true"})]
    aws = {"storage": [{"Action": "Modify", "LogicalResourceId": "Files", "ResourceType": BUCKET, "Scope": []}]}
    merged = only(merge_aws(predicted, aws))
    assert (merged.replacement, merged.details) == ("true", ["property BucketName"])


# -- showing the plan -------------------------------------------------------------

def test_format_plan_shows_every_stack_the_notes_and_a_summary():
    changes = [
        Change("root", "modify", "StorageStack", "AWS::CloudFormation::Stack", "false", ["parameter Env"], False, []),
        Change("storage", "modify", "Files", BUCKET, "true", ["property BucketName"], True, []),
        Change("security", "modify", "Web", "AWS::EC2::SecurityGroup", "false", ["property SecurityGroupIngress"],
               False, ["ingress tcp 22 from 0.0.0.0/0 (anywhere: open to the internet) (new rule)"]),
        Change("security", "add", "Extra", "AWS::EC2::SecurityGroup", "false", [], False, []),
    ]
    text = format_plan(changes, ["stack storage: Files ... --allow-replacement Files"])
    lines = text.splitlines()
    assert [l for l in lines if l.startswith("Stack ")] == ["Stack root", "Stack storage", "Stack security"]
    files_line = next(l for l in lines if " Files " in l)
    assert files_line.split() == ["modify", "true", "Files", BUCKET, "yes", "property", "BucketName"]
    assert next(l for l in lines if " Extra " in l).split()[:2] == ["add", "-"]
    assert "Access widened:" in lines
    assert "  security/Web: ingress tcp 22 from 0.0.0.0/0 (anywhere: open to the internet) (new rule)" in lines
    assert "Refused by the stateful guard:" in lines
    assert lines[-1] == "Plan: 1 to add, 3 to modify, 0 to remove, 1 replaced, 0 may be replaced."


def test_plan_json_is_serialisable_with_counts_and_refusals():
    changes = [Change("storage", "modify", "Files", BUCKET, "conditional", ["property X"], True, [])]
    data = json.loads(json.dumps(plan_json(changes, ["refused"])))
    assert data["status"] == "blocked"
    assert data["refused"] == ["refused"]
    assert data["counts"] == {"add": 0, "modify": 1, "remove": 0, "replace": 0, "conditional": 1}
    assert data["changes"][0]["logical_id"] == "Files" and data["changes"][0]["source"] == "predicted"
    assert plan_json([], [])["status"] == "no changes"
    assert plan_json(changes, [])["status"] == "changes"
