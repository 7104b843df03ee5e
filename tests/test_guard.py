"""The stateful guard refuses deletes and replacements of resources that
hold data, unless --allow-replacement names them."""

import pytest

from codemate_cfn.compile.discovery import load_catalogue, load_conventions
from codemate_cfn.deploy.guard import refusals
from codemate_cfn.params.paramfile import load
from codemate_cfn.deploy.plan import Change, predict
from codemate_cfn.compile.project import Project
from codemate_cfn.compile.render import render
from codemate_cfn.stateful import is_stateful


def change(action="modify", replacement="true", resource_type="AWS::S3::Bucket", logical_id="FilesBucket",
           stack="storage", details=("property BucketName",)):
    return Change(stack, action, logical_id, resource_type, replacement, list(details), is_stateful(resource_type), [])


def test_replacing_a_bucket_is_refused_with_stack_id_reason_and_the_way_out():
    (message,) = refusals([change()], set())
    assert message == (
        "stack storage: FilesBucket (AWS::S3::Bucket) would be replaced (property BucketName); "
        "that loses the bucket and every object in it. To allow it: --allow-replacement FilesBucket"
    )


def test_deleting_or_maybe_replacing_stateful_resources_is_refused():
    found = refusals([
        change(action="remove", replacement="false", resource_type="AWS::RDS::DBInstance", logical_id="Database",
               stack="data", details=["no longer in the template"]),
        change(replacement="conditional", resource_type="AWS::ElastiCache::ReplicationGroup", logical_id="Redis",
               stack="data", details=["property Engine"]),
    ], set())
    assert len(found) == 2
    assert found[0].startswith("stack data: Database (AWS::RDS::DBInstance) would be deleted")
    assert "the database and its automated backups" in found[0]
    assert found[1].startswith("stack data: Redis (AWS::ElastiCache::ReplicationGroup) may be replaced (property Engine)")
    assert found[1].endswith("--allow-replacement Redis")


@pytest.mark.parametrize("row", [
    change(replacement="false", details=["property Tags"]),                 # updated in place
    change(action="add", replacement="false", details=[]),                  # created
    change(resource_type="AWS::EC2::SecurityGroup", logical_id="AlbSg"),    # replaced, holds no data
    change(action="remove", replacement="false", resource_type="AWS::SNS::Topic"),
])
def test_changes_that_keep_the_data_pass(row):
    assert refusals([row], set()) == []


def test_allow_replacement_lets_the_named_resource_through_only():
    rows = [change(), change(logical_id="LogsBucket")]
    assert refusals(rows, {"FilesBucket", "LogsBucket"}) == []
    (left,) = refusals(rows, {"FilesBucket"})
    assert left.startswith("stack storage: LogsBucket")
    assert refusals(rows, {"storage/FilesBucket", "storage/LogsBucket"}) == []
    assert len(refusals(rows, {"other/FilesBucket"})) == 2


def test_the_real_templates_refuse_a_renamed_environment():
    project = Project.find()
    templates = render(project).templates
    catalogue = load_catalogue(project.root)
    dev = load(project.params_dir / "dev.json", catalogue, load_conventions(project.root)).parameters
    # the environment name is part of the logs bucket's name: renaming it replaces the bucket
    changes = predict(templates, templates, dev, {**dev, "EnvironmentName": "prod"})
    logs = [m for m in refusals(changes, set()) if m.startswith("stack storage: LogsBucket ")]
    assert logs and "would be replaced (property BucketName" in logs[0]
    assert not any(m.startswith("stack storage: LogsBucket ") for m in refusals(changes, {"LogsBucket"}))
