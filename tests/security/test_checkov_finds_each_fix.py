"""With checkov (the security environment, `tox -e security`): every
finding fixed in the templates comes back when its fix is taken out of an
environment's copy of the template, and every skip is needed: taken out,
its check fails. Each case scans one small template twice in one checkov
run, as it is ("fixed") and without the fix or the skip ("unfixed").

Cases on resources the parameter files do not make (the read replica,
CloudFront) scan the environment with them turned on."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import pytest

from codemate_cfn.scanner_skips import CHECKOV, SKIP
from codemate_cfn.security.environments import environment_copy, skips_in
from layer_values import ENVIRONMENTS, param_file, templates

CLOUDFRONT_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/codemate-cloudfront/a1b2c3d4-5678-90ab-cdef-000000000001"
REPLICA = {"DbCreateReadReplica": "true"}
CLOUDFRONT = {"EnableCloudFront": "true", "CloudFrontCertificateArn": CLOUDFRONT_CERT}
EVERYTHING_ON = {**REPLICA, **CLOUDFRONT}


def drop(*path: str) -> Callable[[dict, str], None]:
    """Takes Properties.<path> out of the resource."""
    def undo(template: dict, logical_id: str) -> None:
        node = template["Resources"][logical_id]["Properties"]
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return undo


def single_az(template: dict, logical_id: str) -> None:
    template["Parameters"]["DbMultiAz"]["Default"] = "false"


@dataclass(frozen=True)
class Fix:
    what: str
    template: str
    resource: str
    check: str
    undo: Callable[[dict, str], None]
    overrides: dict = field(default_factory=dict)
    envs: tuple[str, ...] = ENVIRONMENTS


FIXES = [
    Fix("user files bucket logs its access", "storage", "FilesBucket", "CKV_AWS_18", drop("LoggingConfiguration")),
    Fix("static bucket logs its access", "storage", "StaticBucket", "CKV_AWS_18", drop("LoggingConfiguration")),
    Fix("artifact bucket logs its access", "pipeline", "ArtifactBucket", "CKV_AWS_18", drop("LoggingConfiguration")),
    Fix("artifact bucket is versioned", "pipeline", "ArtifactBucket", "CKV_AWS_21", drop("VersioningConfiguration")),
    Fix("database has enhanced monitoring", "data", "Database", "CKV_AWS_118", drop("MonitoringInterval")),
    Fix("database takes IAM authentication", "data", "Database", "CKV_AWS_161",
        drop("EnableIAMDatabaseAuthentication")),
    # prod has Multi-AZ and no skip for it: prod's file turning it off fails the scan
    Fix("prod database is Multi-AZ", "data", "Database", "CKV_AWS_157", single_az, envs=("prod",)),
    Fix("replica has enhanced monitoring", "data", "DatabaseReadReplica", "CKV_AWS_118", drop("MonitoringInterval"),
        REPLICA),
    Fix("replica takes IAM authentication", "data", "DatabaseReadReplica", "CKV_AWS_161",
        drop("EnableIAMDatabaseAuthentication"), REPLICA),
    Fix("CloudFront uses the web ACL named", "edge", "Distribution", "CKV_AWS_68",
        drop("DistributionConfig", "WebACLId"), {**CLOUDFRONT, "CloudFrontWebAclArn": WEB_ACL}),
]


def copy_for(env: str, template: str, overrides: dict) -> dict:
    return environment_copy(env, templates(), {**param_file(env), **overrides}).templates[template]


@pytest.mark.parametrize("env, fix", [pytest.param(env, fix, id=f"{env}: {fix.what}")
                                      for fix in FIXES for env in fix.envs])
def test_taking_a_fix_out_makes_the_environments_scan_fail_on_its_check(env, fix, checkov):
    fixed = copy_for(env, fix.template, fix.overrides)
    unfixed = copy.deepcopy(fixed)
    fix.undo(unfixed, fix.resource)

    found = checkov({"fixed": fixed, "unfixed": unfixed})

    assert (fix.resource, fix.check) in found["fixed"]["passed"]
    assert (fix.resource, fix.check) in found["unfixed"]["failed"]


def skips_applied() -> list:
    """Every skip each environment's copy keeps, with the optional resources on."""
    cases = []
    for env in ENVIRONMENTS:
        made = environment_copy(env, templates(), {**param_file(env), **EVERYTHING_ON})
        for name, template in made.templates.items():
            for at in skips_in(name, template):
                cases.append(pytest.param(env, at, id=f"{env}: {name} {at.logical_id} {at.skip.check_id}"))
    return cases


@pytest.mark.parametrize("env, at", skips_applied())
def test_every_skip_is_needed_taken_out_its_check_fails(env, at, checkov):
    skipped = copy_for(env, at.template, EVERYTHING_ON)
    unskipped = copy.deepcopy(skipped)
    metadata = unskipped["Resources"][at.logical_id]["Metadata"][CHECKOV]
    metadata[SKIP] = [entry for entry in metadata[SKIP] if entry["id"] != at.skip.check_id]

    found = checkov({"skipped": skipped, "unskipped": unskipped})

    assert (at.logical_id, at.skip.check_id) in found["skipped"]["skipped"]
    assert (at.logical_id, at.skip.check_id) in found["unskipped"]["failed"]


def test_both_environments_keep_every_unconditional_skip_and_only_dev_the_multi_az_one():
    kept = {env: {(p.values[1].logical_id, p.values[1].skip.check_id) for p in skips_applied()
                  if p.values[0] == env} for env in ENVIRONMENTS}
    assert kept["dev"] - kept["prod"] == {("Database", "CKV_AWS_157")}
    assert kept["prod"] <= kept["dev"]


@pytest.mark.subprocess
def test_the_gate_reads_checkovs_own_report_of_a_fix_taken_out(tmp_path):
    """The gate's path: checkov as a process, its JSON report read."""
    import json

    from codemate_cfn.security.scan import read_report, run_checkov

    unfixed = copy_for("prod", "data", {})
    drop("MonitoringInterval")(unfixed, "Database")
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "data.json").write_text(json.dumps(unfixed))

    results = read_report(run_checkov(tmp_path), tmp_path, {"prod": ["data"]})

    assert ("prod", "data", "Database", "CKV_AWS_118") in [(f.env, f.template, f.resource, f.check_id)
                                                          for f in results.failed]
    assert results.counts[("prod", "data")]["passed"] > 20
