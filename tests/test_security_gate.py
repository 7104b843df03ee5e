"""The security gate without checkov (tests/security runs checkov itself):
each environment's copy of the templates defaults to its parameter file,
so checkov decides conditions as that environment deploys; a skip that
holds under a condition is dropped where the condition is false (the dev
database's Multi-AZ skip never reaches prod); docs/security.md is current;
the scan reads checkov's report and fails on a failed check; and each
finding fixed in the templates is there, per environment."""

from __future__ import annotations

import configparser
import copy
import json
import tomllib
from functools import lru_cache

import pytest

from codemate_cfn.compile.project import Project
from codemate_cfn.errors import CodemateError
from codemate_cfn.scanner_skips import CHECKOV, CODEMATE, SKIP, SKIP_WHEN, Skip, skips_of, with_skip
from codemate_cfn.security import __main__ as gate
from codemate_cfn.security.environments import context, environment_copy, lift_skips, skips_in
from codemate_cfn.security.page import PAGE, page
from codemate_cfn.security.scan import read_report, summary
from layer_values import ENVIRONMENTS, ROOT, Environment, param_file, templates

LOGGED = {"FilesBucket": "files", "StaticBucket": "static"}  # storage's buckets that log, and their kind
MONITORING_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"}
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/codemate-cloudfront/a1b2c3d4-5678-90ab-cdef-000000000001"
CLOUDFRONT_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


@lru_cache(maxsize=None)
def copy_of(env: str):
    return environment_copy(env, templates(), param_file(env))


def skip_ids(resource: dict) -> list[str]:
    return [entry["id"] for entry in resource.get("Metadata", {}).get(CHECKOV, {}).get(SKIP, [])]


# --- the environments' copies ----------------------------------------------------------------

@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_root_copy_defaults_to_the_parameter_file(env):
    root = copy_of(env).templates["root"]["Parameters"]
    for name, value in param_file(env).items():
        assert root[name]["Default"] == value, name
    # the deployer's own parameters have no value in a parameter file
    assert "Default" not in root["TemplatesBucketName"]


def test_a_parameter_the_file_leaves_out_takes_the_catalogue_default():
    made = environment_copy("dev", templates(), {"EnvironmentName": "dev"})
    assert made.templates["root"]["Parameters"]["DbMultiAz"]["Default"] == "false"
    assert made.templates["data"]["Parameters"]["DbMultiAz"]["Default"] == "false"
    assert "Default" not in made.templates["root"]["Parameters"]["DomainName"]  # required: no default
    assert "Default" not in made.templates["edge"]["Parameters"]["DomainName"]


def test_a_layer_gets_the_roots_value_by_name_and_another_layers_output_stays_unknown():
    data = copy_of("prod").templates["data"]["Parameters"]
    assert data["DbMultiAz"]["Default"] == "true"
    assert data["DbInstanceClass"]["Default"] == "db.t4g.small"
    assert data["EnvironmentName"]["Default"] == "prod"
    assert "Default" not in data["KmsKeyArn"]  # the storage layer's output
    assert "Default" not in data["DbSubnetIds"]  # the network layer's
    # the rendered templates themselves are left as they are
    assert "Default" not in templates()["data"]["Parameters"]["DbMultiAz"]


def test_an_fn_if_on_db_multi_az_resolves_as_each_environment_deploys():
    """What checkov does with a copy: Ref and conditions decided by the Defaults alone."""
    seen = {}
    for env in ENVIRONMENTS:
        data = copy.deepcopy(copy_of(env).templates["data"])
        data["Conditions"]["MultiAzOn"] = {"Fn::Equals": [{"Ref": "DbMultiAz"}, "true"]}
        evaluated = context("data", data)
        seen[env] = (evaluated.resolve({"Fn::If": ["MultiAzOn", "standby in the other AZ", "single AZ"]}),
                     evaluated.resolve(data["Resources"]["Database"]["Properties"]["MultiAZ"]))
    assert seen == {"dev": ("single AZ", "false"), "prod": ("standby in the other AZ", "true")}


def test_a_copy_holds_the_branch_of_each_fn_if_its_file_decides():
    """checkov's resource checks read an Fn::If in a property as written, so
    the copy puts in the branch (and leaves out a property of AWS::NoValue)."""
    dev, prod = (copy_of(env).templates["data"]["Resources"] for env in ENVIRONMENTS)
    assert "MaxAllocatedStorage" not in dev["Database"]["Properties"]  # autoscaling off: AWS::NoValue
    assert prod["Database"]["Properties"]["MaxAllocatedStorage"] == {"Ref": "DbMaxAllocatedStorage"}
    assert (dev["Redis"]["Properties"]["MultiAZEnabled"], prod["Redis"]["Properties"]["MultiAZEnabled"]) == (
        False, True)
    # the skip's own condition stays an Fn::If in Metadata, and the Conditions stay
    assert dev["Database"]["Metadata"]["codemate"]["checkov-skip-when"] == {
        "CKV_AWS_157": {"Fn::If": ["DevEnvironment", True, False]}}
    assert "DbReadReplica" in copy_of("dev").templates["data"]["Conditions"]


def test_conditional_resources_exist_in_a_copy_only_where_the_file_makes_them():
    for env in ENVIRONMENTS:
        data, edge = (context(name, copy_of(env).templates[name]) for name in ("data", "edge"))
        assert not data.present("DatabaseReadReplica")  # DbCreateReadReplica is false in both files
        assert not edge.present("Distribution")  # so is EnableCloudFront
        assert edge.present("Certificate")


# --- skips per environment -------------------------------------------------------------------

def test_the_dev_only_multi_az_skip_is_applied_in_dev_and_not_in_prod():
    dev, prod = copy_of("dev"), copy_of("prod")
    assert "CKV_AWS_157" in skip_ids(dev.templates["data"]["Resources"]["Database"])
    assert "CKV_AWS_157" not in skip_ids(prod.templates["data"]["Resources"]["Database"])
    assert [(at.template, at.logical_id, at.skip.check_id) for at in prod.lifted] == [
        ("data", "Database", "CKV_AWS_157")]
    assert dev.lifted == []


def test_a_skip_without_a_condition_holds_in_every_environment():
    for env in ENVIRONMENTS:
        resources = copy_of(env).templates
        assert skip_ids(resources["security"]["Resources"]["AlbSecurityGroup"]) == ["CKV_AWS_260"]
        assert skip_ids(resources["storage"]["Resources"]["LogsBucket"]) == ["CKV_AWS_18"]
        assert skip_ids(resources["storage"]["Resources"]["StaticBucket"]) == ["CKV_AWS_21"]


def test_the_multi_az_skip_follows_the_environment_not_the_setting():
    """A prod file that turned Multi-AZ off would be scanned without dev's skip (and fail)."""
    single_az_prod = environment_copy("prod", templates(), {**param_file("prod"), "DbMultiAz": "false"})
    assert "CKV_AWS_157" not in skip_ids(single_az_prod.templates["data"]["Resources"]["Database"])


def test_the_web_acl_skip_holds_only_while_no_web_acl_is_given():
    given = {**param_file("prod"), "EnableCloudFront": "true", "CloudFrontCertificateArn": CLOUDFRONT_CERT}
    without = environment_copy("prod", templates(), given)
    with_acl = environment_copy("prod", templates(), {**given, "CloudFrontWebAclArn": WEB_ACL})
    assert skip_ids(without.templates["edge"]["Resources"]["Distribution"]) == ["CKV_AWS_68"]
    assert skip_ids(with_acl.templates["edge"]["Resources"]["Distribution"]) == []


def template_with_skip(when: str | None, condition: dict) -> dict:
    resource = {"Type": "AWS::SNS::Topic", "Metadata": with_skip(
        None, "CKV_AWS_26", "Why it is right as it is.",
        {"Fn::If": [when, True, False]} if when else None, when)}
    return {"Parameters": {"Mode": {"Type": "String", "Default": "a"}, "FromLayer": {"Type": "String"}},
            "Conditions": {"Cond": condition}, "Resources": {"Topic": resource}}


def test_lifting_drops_the_skip_and_its_condition_and_leaves_the_rest():
    template = template_with_skip("Cond", {"Fn::Equals": [{"Ref": "Mode"}, "b"]})
    topic = template["Resources"]["Topic"]
    topic["Metadata"] = with_skip(topic["Metadata"], "CKV_AWS_27", "Always.")
    made, lifted = lift_skips("t", template)
    assert [at.skip.check_id for at in lifted] == ["CKV_AWS_26"]
    metadata = made["Resources"]["Topic"]["Metadata"]
    assert metadata[CHECKOV][SKIP] == [{"id": "CKV_AWS_27", "comment": "Always."}]
    assert metadata[CODEMATE][SKIP_WHEN] == {}
    assert skips_of(made["Resources"]["Topic"]) == [Skip("CKV_AWS_27", "Always.")]
    assert skip_ids(template["Resources"]["Topic"]) == ["CKV_AWS_26", "CKV_AWS_27"]  # the template is left as it is
    kept, lifted = lift_skips("t", template_with_skip("Cond", {"Fn::Equals": [{"Ref": "Mode"}, "a"]}))
    assert lifted == [] and skip_ids(kept["Resources"]["Topic"]) == ["CKV_AWS_26"]


def test_a_skip_condition_the_parameter_file_cannot_decide_is_refused():
    undecided = template_with_skip("Cond", {"Fn::Equals": [{"Ref": "FromLayer"}, ""]})
    with pytest.raises(CodemateError, match="Topic: the skip of CKV_AWS_26 holds when Cond, which the parameter "
                                            "file alone does not decide"):
        lift_skips("t", undecided)


# --- the skip format and the kit ---------------------------------------------------------------

def test_a_skip_is_written_in_checkovs_format_beside_metadata_the_resource_has():
    metadata = with_skip({"cfn-lint": {"config": {"ignore_checks": ["I3011"]}}}, "CKV_AWS_18", "One line.",
                         {"Fn::If": ["C", True, False]}, "C")
    assert metadata == {
        "cfn-lint": {"config": {"ignore_checks": ["I3011"]}},
        "checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "One line."}]},
        "codemate": {"checkov-skip-when": {"CKV_AWS_18": {"Fn::If": ["C", True, False]}}},
    }
    assert skips_of({"Metadata": metadata}) == [Skip("CKV_AWS_18", "One line.", "C")]


@pytest.mark.parametrize("check_id, reason, message", [
    ("CKV_AWS_18", "", "give one line of reason"),
    ("CKV_AWS_18", "two\nlines", "give one line of reason"),
    ("S3_LOGGING", "One line.", "not a checkov check ID"),
])
def test_a_skip_without_a_one_line_reason_or_a_check_id_is_refused(check_id, reason, message):
    with pytest.raises(ValueError, match=message):
        with_skip(None, check_id, reason)


def test_a_check_skipped_twice_or_a_condition_without_its_skip_is_refused():
    once = with_skip(None, "CKV_AWS_18", "One line.")
    with pytest.raises(ValueError, match="skipped twice"):
        with_skip(once, "CKV_AWS_18", "Again.")
    stray = {**once, "codemate": {"checkov-skip-when": {"CKV_AWS_21": {"Fn::If": ["C", True, False]}}}}
    with pytest.raises(ValueError, match="names CKV_AWS_21, which the resource does not skip"):
        skips_of({"Metadata": stray})


def test_every_skip_in_the_templates_has_its_reason_and_names_a_condition_of_its_template():
    found = [at for name, template in templates().items() for at in skips_in(name, template)]
    assert len(found) >= 8
    for at in found:
        assert at.skip.reason.endswith(".") and len(at.skip.reason) < 200, at
        if at.skip.when:
            assert at.skip.when in templates()[at.template]["Conditions"], at


def test_the_kits_scanner_skip_writes_the_condition_as_an_fn_if_cloudformation_resolves():
    from troposphere import Template
    from troposphere.sns import Topic

    from templates_src.kit.scanner import scanner_skip

    topic = Topic("Topic", Metadata={"cfn-lint": {"config": {"ignore_checks": ["I3011"]}}})
    assert scanner_skip(topic, "CKV_AWS_26", "One line.", when="Cond") is topic
    scanner_skip(topic, "CKV_AWS_27", "Another line.")
    template = Template()
    template.add_resource(topic)
    metadata = template.to_dict()["Resources"]["Topic"]["Metadata"]
    assert metadata["cfn-lint"] == {"config": {"ignore_checks": ["I3011"]}}
    assert skips_of({"Metadata": metadata}) == [Skip("CKV_AWS_26", "One line.", "Cond"),
                                                Skip("CKV_AWS_27", "Another line.")]
    assert metadata["codemate"]["checkov-skip-when"] == {"CKV_AWS_26": {"Fn::If": ["Cond", True, False]}}


def test_the_kit_sends_access_logs_only_for_buckets_the_logs_bucket_lets_write():
    from templates_src.kit.bucket import access_logs

    with pytest.raises(ValueError, match="name it in LOGGED_BUCKETS"):
        access_logs("codemate-logs", "uploads")


def test_a_kit_role_without_statements_has_no_inline_policy():
    from templates_src.kit.iam import role

    made = role("Monitor", "monitoring.rds.amazonaws.com", [], ManagedPolicyArns=["arn:aws:iam::aws:policy/P"])
    assert "Policies" not in made.to_dict()["Properties"]


# --- the page of skips -------------------------------------------------------------------------

def test_the_page_of_skips_is_current():
    project = Project(ROOT)
    copies = gate.copies_for(templates(), project.param_files())
    assert (ROOT / PAGE).read_text(encoding="utf-8") == page(templates(), copies), (
        f"{PAGE} is out of date: run `python -m codemate_cfn.security docs`")


def test_the_page_says_where_each_skip_applies():
    text = (ROOT / PAGE).read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "Database (AWS::RDS::DBInstance) | CKV_AWS_157" in line)
    assert "| DevEnvironment | dev |" in row
    row = next(line for line in text.splitlines() if "AlbSecurityGroup" in line)
    assert "| always | dev, prod |" in row
    row = next(line for line in text.splitlines() if "Distribution" in line)
    assert "none: the resource exists only when CloudFrontEnabled, false in dev, prod" in row


# --- the scan, checkov's report read -----------------------------------------------------------

def record(directory, env, template, resource, check_id, name="A check"):
    return {"file_abs_path": str(directory / env / f"{template}.json"), "file_path": f"/{env}/{template}.json",
            "resource": resource, "check_id": check_id, "check_name": name}


def report(directory, failed=(), passed=(), skipped=()):
    return {"check_type": "cloudformation", "results": {
        "passed_checks": [record(directory, *p) for p in passed],
        "failed_checks": [record(directory, *f) for f in failed],
        "skipped_checks": [record(directory, *s) for s in skipped],
        "parsing_errors": []}, "summary": {}}


def test_the_report_is_counted_per_environment_and_template(tmp_path):
    found = report(tmp_path, failed=[("prod", "data", "AWS::RDS::DBInstance.Database", "CKV_AWS_157",
                                      "Ensure that RDS instances have Multi-AZ enabled")],
                   passed=[("dev", "storage", "AWS::S3::Bucket.FilesBucket", "CKV_AWS_18")] * 2,
                   skipped=[("dev", "data", "AWS::RDS::DBInstance.Database", "CKV_AWS_157")])
    results = read_report([found], tmp_path, {"dev": ["root", "storage", "data"], "prod": ["data"]})
    assert results.counts == {("dev", "root"): {"passed": 0, "failed": 0, "skipped": 0},
                              ("dev", "storage"): {"passed": 2, "failed": 0, "skipped": 0},
                              ("dev", "data"): {"passed": 0, "failed": 0, "skipped": 1},
                              ("prod", "data"): {"passed": 0, "failed": 1, "skipped": 0}}
    assert [f.line() for f in results.failed] == [
        "prod data.json Database CKV_AWS_157 Ensure that RDS instances have Multi-AZ enabled"]
    assert summary(results).splitlines()[-1].split() == ["all", "2", "1", "1"]


@pytest.fixture
def scanned(built, monkeypatch, capsys):
    """The gate's scan of the session build with checkov's report given:
    scanned(failed=[...]) -> (exit status, stdout, stderr)."""
    project, _ = built

    def run(**outcomes):
        monkeypatch.setattr(gate, "run_checkov", lambda directory: report(directory, **outcomes))
        status = gate.scan(project, project.param_files(), None)
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_the_scan_fails_on_a_failed_check_and_names_it_on_one_line(scanned):
    status, out, err = scanned(failed=[("dev", "storage", "AWS::S3::Bucket.LogsBucket", "CKV_AWS_18",
                                        "Ensure the S3 bucket has access logging enabled")])
    assert status == 1
    assert "error: dev storage.json LogsBucket CKV_AWS_18 Ensure the S3 bucket has access logging enabled" in err
    assert "1 failed check(s) in 2 environment(s)" in out
    assert "- prod: data.json Database: CKV_AWS_157 is checked here (DevEnvironment is false)" in err


def test_the_scan_passes_with_no_failed_check_and_shows_every_template_per_environment(scanned):
    status, out, _ = scanned(passed=[("prod", "data", "AWS::RDS::DBInstance.Database", "CKV_AWS_157")])
    assert status == 0
    rows = [line.split()[:2] for line in out.splitlines()[2:] if line and line.split()[0] in ENVIRONMENTS]
    names = list(templates())
    assert rows == [[env, name] for env in ENVIRONMENTS for name in names]
    assert "no failed check in 2 environment(s): 1 passed, 0 skipped" in out


def test_the_scan_without_a_build_says_to_build_first(tmp_path, capsys):
    assert gate.main(["--project-dir", str(ROOT), "scan", "--build-dir", str(tmp_path)]) == 1
    assert "root.json is missing: build first (python -m codemate_cfn build)" in capsys.readouterr().err


# --- the fixes, per environment ----------------------------------------------------------------

def test_the_files_and_static_buckets_log_access_to_the_logs_bucket(storage):
    for bucket, kind in LOGGED.items():
        assert storage.props(bucket)["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": "LogsBucket"}, "LogFilePrefix": f"s3-access/{kind}/"}
        assert storage.resource(bucket)["DependsOn"] == "LogsBucketPolicy"


def test_the_artifact_bucket_logs_access_and_keeps_versions_for_a_week(pipeline):
    props = pipeline.props("ArtifactBucket")
    assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": "LogsBucketName"},
                                             "LogFilePrefix": "s3-access/artifacts/"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule, = props["LifecycleConfiguration"]["Rules"]
    assert (rule["ExpirationInDays"], rule["NoncurrentVersionExpirationInDays"]) == (30, 7)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_logs_bucket_lets_s3_logging_write_for_exactly_the_logged_buckets_of_this_account(env):
    storage, pipeline = Environment("storage", env), Environment("pipeline", env)
    names = {kind: storage.props(bucket)["BucketName"] for bucket, kind in LOGGED.items()}
    names["artifacts"] = pipeline.props("ArtifactBucket")["BucketName"]
    policy, = [p["Properties"]["PolicyDocument"]["Statement"] for p in storage.of_type("AWS::S3::BucketPolicy").values()
               if p["Properties"]["Bucket"] == {"Ref": "LogsBucket"}]
    grants = [s for s in policy if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert len(grants) == len(names)
    for grant, (kind, name) in zip(grants, names.items()):
        text = name["Fn::Sub"] if isinstance(name, dict) else name
        assert grant["Action"] == ["s3:PutObject"] and grant["Effect"] == "Allow"
        assert grant["Resource"] == [{"Fn::Sub": "${LogsBucket.Arn}/s3-access/%s/*" % kind}]
        assert grant["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + text}},
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_database_and_its_replica_have_enhanced_monitoring_and_iam_authentication(env):
    data = Environment("data", env, DbCreateReadReplica="true")
    for instance in ("Database", "DatabaseReadReplica"):
        props = data.props(instance)
        assert props["MonitoringInterval"] == 60
        assert props["MonitoringRoleArn"] == {"Fn::GetAtt": ["DbMonitoringRole", "Arn"]}
        assert props["EnableIAMDatabaseAuthentication"] is True
    role = data.props("DbMonitoringRole")
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"}}]
    assert role["ManagedPolicyArns"] == [MONITORING_POLICY]
    assert "Policies" not in role  # AWS's policy for it and nothing else
    assert role["RoleName"] == f"codemate-rds-monitoring-{env}"


def test_cloudfront_uses_the_web_acl_the_file_names_and_none_without_one():
    on = {"EnableCloudFront": "true", "CloudFrontCertificateArn": CLOUDFRONT_CERT}
    with_acl = Environment("edge", "prod", **on, CloudFrontWebAclArn=WEB_ACL)
    without = Environment("edge", "prod", **on)
    assert with_acl.props("Distribution")["DistributionConfig"]["WebACLId"] == WEB_ACL
    assert "WebACLId" not in without.props("Distribution")["DistributionConfig"]


def test_the_catalogue_takes_only_a_cloudfront_web_acl_of_us_east_1(tmp_path):
    from codemate_cfn.params import paramfile
    from layer_values import catalogue, conventions

    def problems(value):
        values = json.loads((ROOT / "params" / "prod.json").read_text())
        values["Parameters"]["CloudFrontWebAclArn"] = value
        path = tmp_path / "prod.json"
        path.write_text(json.dumps(values))
        return paramfile.check(path, catalogue(), conventions())[1]

    assert problems(WEB_ACL) == []
    regional = WEB_ACL.replace("us-east-1", "ap-northeast-2").replace(":global/", ":regional/")
    assert [p for p in problems(regional) if "CloudFrontWebAclArn" in p]


# --- the security environment ------------------------------------------------------------------

def test_the_security_environment_installs_the_builds_own_pins_beside_checkov():
    """checkov's pins conflict with the project's boto3, so tox.ini lists what
    the build needs itself: the same pins as pyproject.toml, boto3 aside."""
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    deps = {line.strip() for line in tox["testenv:security"]["deps"].splitlines() if line.strip()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {pin for pin in project if not pin.startswith("boto3")} <= deps
    assert "checkov==3.3.30" in deps
    assert not any(dep.startswith(("boto3", "moto")) for dep in deps)
