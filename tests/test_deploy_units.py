"""The deploy's small pieces, mostly without AWS: names, parameters,
hashes, provenance, stack policies, change set names, uploads, the
bootstrap template, AWS targets and their errors."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError

from codemate_cfn.deploy import bootstrap
from codemate_cfn.deploy import changeset
from codemate_cfn.deploy import flow as deploy
from codemate_cfn.deploy import upload
from codemate_cfn.deploy.aws import Aws, Target, translated_errors
from codemate_cfn.console import Console
from codemate_cfn.errors import CodemateError
from codemate_cfn.params.parameter import DEPLOYER_PARAMS
from codemate_cfn.deploy import provenance
from codemate_cfn.deploy import protection
from codemate_cfn.compile import layout
from deploy_support import client_for, params_file

pytest_plugins = ["emulator_fixtures"]


def test_nested_names_come_from_the_template_urls(templates):
    names = layout.nested_names(templates["root"])
    assert sorted(names.values()) == sorted(set(templates) - {"root"})
    assert all(logical_id == name.capitalize() + "Stack" for logical_id, name in names.items())
    plain = {"Resources": {"Net": {"Type": "AWS::CloudFormation::Stack",
                                   "Properties": {"TemplateURL": "https://b.s3.amazonaws.com/p/network.json"}}}}
    assert layout.nested_names(plain) == {"Net": "network"}


def test_stack_parameters_are_the_file_values_and_catalogue_defaults(project, catalogue, templates):
    dev = params_file(project, catalogue, "dev")
    values = deploy.stack_parameters(templates["root"], dev, catalogue)
    assert set(values) == set(templates["root"]["Parameters"]) - {p.name for p in DEPLOYER_PARAMS}
    for name, value in values.items():
        assert value == dev.parameters.get(name, catalogue[name].default)


def test_the_parameter_hash_follows_values_and_tags_not_their_order():
    a = provenance.params_hash({"A": "1", "B": "2"}, {"Environment": "dev"})
    assert a == provenance.params_hash({"B": "2", "A": "1"}, {"Environment": "dev"})
    assert a != provenance.params_hash({"A": "1", "B": "3"}, {"Environment": "dev"})
    assert a != provenance.params_hash({"A": "1", "B": "2"}, {"Environment": "prod"})


def test_provenance_keeps_the_deployed_commit_while_nothing_changed():
    tags = [{"Key": k, "Value": v} for k, v in {
        provenance.TAGS["commit"]: "aaaaaaaaaaaa", provenance.TAGS["templates"]: "t1", provenance.TAGS["params"]: "p1"}.items()]
    stack = {"Tags": tags}
    assert provenance.provenance(stack, "t1", "p1", "bbbbbbbbbbbb")[provenance.TAGS["commit"]] == "aaaaaaaaaaaa"
    assert provenance.provenance(stack, "t2", "p1", "bbbbbbbbbbbb")[provenance.TAGS["commit"]] == "bbbbbbbbbbbb"
    assert provenance.provenance(None, "t1", "p1", "cccccccccccc") == {
        provenance.TAGS["commit"]: "cccccccccccc", provenance.TAGS["templates"]: "t1", provenance.TAGS["params"]: "p1"}


def test_stack_policies_protect_stateful_resources_when_the_file_asks(project, catalogue, templates):
    labels = layout.nested_names(templates["root"])
    assert protection.desired_policies(templates, params_file(project, catalogue, "dev"), labels) == {}
    prod = params_file(project, catalogue, "prod")
    policies = protection.desired_policies(templates, prod, labels)
    assert set(policies) == {"root", "storage", "data", "services", "pipeline"}  # services, pipeline: log groups
    deny = policies["data"]["Statement"][1]
    assert deny["Effect"] == "Deny" and deny["Action"] == ["Update:Replace", "Update:Delete"]
    assert "LogicalResourceId/Database" in deny["Resource"]
    assert policies["root"]["Statement"][1]["Resource"] == ["LogicalResourceId/DataStack", "LogicalResourceId/PipelineStack",
                                                            "LogicalResourceId/ServicesStack", "LogicalResourceId/StorageStack"]
    prod.stack_policy = {"Statement": [{"Effect": "Deny", "Action": "Update:*", "Principal": "*",
                                        "Resource": "LogicalResourceId/NetworkStack"}]}
    merged = protection.desired_policies(templates, prod, labels)["root"]["Statement"]
    assert merged[-1]["Resource"] == "LogicalResourceId/NetworkStack" and len(merged) == 3


def test_a_policy_lifted_for_allowed_replacements_keeps_the_other_denials():
    policy = {"Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
         "Resource": ["LogicalResourceId/FilesBucket", "LogicalResourceId/LogsBucket"]}]}
    relaxed = protection.without(policy, {"FilesBucket"})
    assert relaxed["Statement"][1]["Resource"] == ["LogicalResourceId/LogsBucket"]
    assert len(protection.without(policy, {"FilesBucket", "LogsBucket"})["Statement"]) == 1
    assert policy["Statement"][1]["Resource"] == ["LogicalResourceId/FilesBucket", "LogicalResourceId/LogsBucket"]


def test_change_set_names_are_valid_and_unique():
    first, second = changeset.new_name(), changeset.new_name()
    assert first != second
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", first)


def test_the_upload_prefix_follows_the_content():
    bodies = upload.texts({"root": {"Resources": {}}, "network": {"Resources": {"A": {}}}})
    assert upload.key_prefix(bodies) == upload.key_prefix(dict(reversed(bodies.items())))
    changed = {**bodies, "network": b"{}\n"}
    assert upload.key_prefix(changed) != upload.key_prefix(bodies)
    assert re.fullmatch(r"templates/[0-9a-f]{16}/", upload.key_prefix(bodies))
    place = upload.Upload("bucket", "templates/abc/", "ap-northeast-2")
    assert place.url("root") == "https://bucket.s3.ap-northeast-2.amazonaws.com/templates/abc/root.json"


def test_upload_skips_what_is_already_there(fresh_emulator, templates):
    aws = client_for(fresh_emulator.url)
    aws.s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    bodies = upload.texts(templates)
    first = upload.upload(aws.s3, "artifacts", bodies, "ap-northeast-2")
    assert sorted(first.uploaded) == sorted(templates) and first.skipped == []
    again = upload.upload(aws.s3, "artifacts", bodies, "ap-northeast-2")
    assert again.uploaded == [] and sorted(again.skipped) == sorted(templates)
    stored = aws.s3.get_object(Bucket="artifacts", Key=f"{first.prefix}root.json")["Body"].read()
    assert stored == bodies["root"]


def test_the_bootstrap_template_is_private_versioned_encrypted_tls_only_and_lints_clean(tmp_path):
    from codemate_cfn.compile.lint import failing, lint_templates
    from codemate_cfn.compile.build import RULES_DIRS
    from codemate_cfn.compile.lint import Setup
    from codemate_cfn.compile.render import to_json

    template = bootstrap.template()
    bucket = template["Resources"]["ArtifactBucket"]
    props = bucket["Properties"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    rule = props["LifecycleConfiguration"]["Rules"][0]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": bootstrap.OLD_VERSION_DAYS}
    statement = template["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    path = tmp_path / "bootstrap.json"
    path.write_text(to_json(template))
    # cfn-lint and the project's policies; the artifact bucket serves every
    # environment, so it carries the project's fixed tags, not Environment
    settings = {"E9002": {"tags": [f"{k}={v}" for k, v in bootstrap.tags().items()]}}
    setup = Setup(regions=("ap-northeast-2",), rules_dirs=tuple(map(str, RULES_DIRS)), configure=settings)
    assert failing(lint_templates([path], setup=setup).findings) == []


def test_the_endpoint_comes_from_the_option_else_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert Target("ap-northeast-2").endpoint == "http://127.0.0.1:4566"
    assert Target("ap-northeast-2", endpoint_url="http://127.0.0.1:5001").endpoint == "http://127.0.0.1:5001"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert Target("ap-northeast-2").endpoint is None
    assert Target("ap-northeast-2").describe() == "AWS (ap-northeast-2)"


def test_clients_retry_as_asked_and_count_their_calls(fresh_emulator):
    aws = client_for(fresh_emulator.url, retry_mode="standard", max_attempts=3)
    assert aws.cloudformation.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    aws.cloudformation.list_stacks()
    aws.s3.list_buckets()
    assert dict(aws.calls) == {"cloudformation:ListStacks": 1, "s3:ListBuckets": 1} and aws.total_calls == 2


def test_bad_aws_settings_are_one_clear_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with pytest.raises(CodemateError, match=r"^AWS profile 'nosuch' not found in the AWS config files$"):
        Aws(Target("ap-northeast-2", profile="nosuch"))
    with pytest.raises(CodemateError, match=r"^retry mode 'legacy' is not one of: adaptive, standard$"):
        Aws(Target("ap-northeast-2", retry_mode="legacy"))
    target = Target("ap-northeast-2", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(CodemateError, match=r"^no AWS credentials: set AWS_PROFILE or pass --profile"):
        with translated_errors(target):
            raise NoCredentialsError()
    with pytest.raises(CodemateError, match=r"^cannot reach http://127.0.0.1:9 \(ap-northeast-2\)"):
        with translated_errors(target):
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")


@pytest.mark.subprocess
def test_git_commit_names_head_and_outside_git_says_unknown(project, tmp_path):
    assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", provenance.git_commit(project.root))
    assert provenance.git_commit(tmp_path) == "unknown"


def test_without_a_terminal_nothing_is_confirmed(monkeypatch):
    monkeypatch.setattr("builtins.input", lambda: pytest.fail("asked without a terminal"))
    assert Console(interactive=False).confirm("Execute?") is False


def test_the_plan_json_carries_the_stack_and_rows(project, catalogue, templates):
    from codemate_cfn.deploy.plan import predict
    from codemate_cfn.deploy.plan_view import plan_json

    changes = predict(None, templates, None, deploy.stack_parameters(templates["root"], params_file(project, catalogue), catalogue))
    shown = json.loads(json.dumps(plan_json(changes, [])))
    assert shown["status"] == "changes" and shown["counts"]["add"] == len(changes)
