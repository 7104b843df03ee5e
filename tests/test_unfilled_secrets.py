"""A deploy that starts tasks warns of the secrets they would find empty:
those the stack holds with no current version (checked on the emulator's
Secrets Manager), and none when the deploy starts no task."""

from __future__ import annotations

from codemate_cfn.deploy import unfilled
from codemate_cfn.deploy.plan import Change
from deploy_support import client_for

pytest_plugins = ["emulator_fixtures"]


def row(arn: str, logical_id: str) -> dict:
    return {"ResourceType": unfilled.SECRET, "PhysicalResourceId": arn, "Label": "data", "LogicalResourceId": logical_id}


def change(action: str, resource_type: str, logical_id: str, stack: str = "services") -> Change:
    return Change(stack, action, logical_id, resource_type, "false", [], False)


def test_only_the_stacks_secrets_with_no_current_value_are_named(empty_emulator, monkeypatch):
    aws = client_for(empty_emulator.url)
    secrets = aws.client("secretsmanager")
    empty = secrets.create_secret(Name="codemate/dev/anthropic")["ARN"]
    filled = secrets.create_secret(Name="codemate/dev/nextauth", SecretString="s3cret-value")["ARN"]
    rows = [row(empty, "AnthropicSecret"), row(filled, "NextAuthSecret"),
            row("arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:codemate/dev/gone-AbCdEf", "GoneSecret"),
            {"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "b", "Label": "storage", "LogicalResourceId": "B"}]
    monkeypatch.setattr(unfilled, "all_resources", lambda cfn, stack_id, labels: rows)

    starts = [change("modify", "AWS::ECS::TaskDefinition", "BackendTaskDefinition")]
    assert unfilled.warnings(aws, "stack-id", starts, {}, {}) == [
        "secret codemate/dev/anthropic (data/AnthropicSecret) has no value yet, and this deploy starts tasks, which "
        "read their secrets as they start: they will fail until it has one. Fill it first: aws secretsmanager "
        "put-secret-value --secret-id codemate/dev/anthropic --secret-string file://VALUE_FILE "
        "(docs/first-deployment.md, The secrets)"]

    secrets.put_secret_value(SecretId=empty, SecretString="sk-ant-filled")
    assert unfilled.warnings(aws, "stack-id", starts, {}, {}) == []


def test_a_deploy_that_starts_no_task_warns_of_nothing(empty_emulator, monkeypatch):
    aws = client_for(empty_emulator.url)
    aws.client("secretsmanager").create_secret(Name="codemate/dev/github-oauth")
    monkeypatch.setattr(unfilled, "all_resources", lambda *a: pytest_fail("no task starts: nothing is read"))
    tuning = [change("modify", "AWS::RDS::DBInstance", "Database", "data"),
              change("remove", "AWS::ECS::Service", "FrontendService")]
    assert unfilled.warnings(aws, "stack-id", tuning, {}, {}) == []


def pytest_fail(why: str):
    raise AssertionError(why)


def test_secrets_added_with_a_value_or_generated_are_not_named():
    templates = {"data": {"Resources": {
        "Typed": {"Type": unfilled.SECRET, "Properties": {"Name": "a", "SecretString": "{}"}},
        "Generated": {"Type": unfilled.SECRET, "Properties": {"Name": "b", "GenerateSecretString": {}}},
        "Empty": {"Type": unfilled.SECRET, "Properties": {"Name": "c"}},
    }}}
    added = [change("add", unfilled.SECRET, lid, "data") for lid in ("Typed", "Generated", "Empty")]
    assert unfilled.created_empty(added, templates) == ["data/Empty"]
