"""Values a deploy looks up when the parameter file leaves them empty
(codemate_cfn/deploy/lookups.py): HostedZoneId, the ID of the public
hosted zone named HostedZoneName. Zones are made on the local emulator;
what it cannot answer (AWS errors, pages) comes from botocore's Stubber."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from codemate_cfn.deploy import flow
from codemate_cfn.deploy import lookups
from codemate_cfn.deploy.aws import Aws, Target
from codemate_cfn.errors import EXIT_ERROR, EXIT_INVALID, CodemateError, InvalidInput
from deploy_support import KEYS, REGION, Recorder, params_file, run_deploy
from run_cli import ROOT, assert_one_line_errors

pytest_plugins = ["emulator_fixtures"]

ZONE = "code1398.io"  # HostedZoneName in params/dev.json
EMULATOR_ACCOUNT = "123456789012"


@pytest.fixture
def dev(project, catalogue):
    return params_file(project, catalogue, "dev")


def public_zone(aws, name: str = ZONE, reference: str = "public") -> str:
    zone = aws.route53.create_hosted_zone(Name=name, CallerReference=reference)["HostedZone"]
    return lookups.zone_id(zone)


def private_zone(aws, name: str = ZONE) -> str:
    vpc = aws.client("ec2").create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    zone = aws.route53.create_hosted_zone(Name=name, CallerReference="private",
                                          HostedZoneConfig={"PrivateZone": True},
                                          VPC={"VPCRegion": REGION, "VPCId": vpc})["HostedZone"]
    return lookups.zone_id(zone)


def offline() -> Aws:
    """An Aws whose endpoint answers nothing, for clients a Stubber answers."""
    return Aws(Target(REGION, endpoint_url="http://127.0.0.1:9", credentials=KEYS, max_attempts=1))


def zone_entry(zone_id: str, name: str = ZONE, private: bool = False) -> dict:
    return {"Id": f"/hostedzone/{zone_id}", "Name": f"{name}.", "CallerReference": zone_id,
            "Config": {"PrivateZone": private}}


def parameters(templates, params, catalogue, aws, ui=None) -> dict[str, str]:
    return flow.stack_parameters(templates["root"], params, catalogue, aws, ui or Recorder())


def test_the_lookup_finds_the_public_zone_among_a_private_one_and_an_unrelated_one(
        empty_emulator, aws, templates, dev, catalogue):
    private, other = private_zone(aws), public_zone(aws, "other.io", "other")
    public = public_zone(aws)
    assert len({private, other, public}) == 3
    assert dev.parameters["HostedZoneId"] == ""
    ui = Recorder()
    values = parameters(templates, dev, catalogue, aws, ui)
    assert values["HostedZoneId"] == public
    assert f"- HostedZoneId: {public} (public hosted zone {ZONE})\n" in ui.noted
    assert values == {**flow.stack_parameters(templates["root"], dev, catalogue), "HostedZoneId": public}
    assert aws.calls["route53:ListHostedZonesByName"] == 1


def test_no_public_zone_of_that_name_is_one_line_naming_the_file_key_and_account(
        empty_emulator, aws, templates, dev, catalogue):
    private = private_zone(aws)
    public_zone(aws, "other.io", "other")
    with pytest.raises(InvalidInput) as raised:
        parameters(templates, dev, catalogue, aws)
    assert raised.value.exit_code == EXIT_INVALID
    assert raised.value.problems == [
        f"{dev.path}: Parameters.HostedZoneId is empty and no public hosted zone named {ZONE} exists in account "
        f"{EMULATOR_ACCOUNT} (only private ones: {private}); create it or set HostedZoneId"]


def test_two_public_zones_of_that_name_are_an_error_naming_both(empty_emulator, aws, templates, dev, catalogue):
    first, second = public_zone(aws, reference="first"), public_zone(aws, reference="second")
    with pytest.raises(InvalidInput) as raised:
        parameters(templates, dev, catalogue, aws)
    ids = ", ".join(sorted([first, second]))
    assert raised.value.problems == [
        f"{dev.path}: Parameters.HostedZoneId is empty and 2 public hosted zones are named {ZONE} ({ids}); "
        f"set HostedZoneId to the one to use"]


def test_a_value_in_the_file_is_used_as_it_is_without_a_lookup(project, templates, catalogue):
    given = params_file(project, catalogue, "dev", HostedZoneId="Z0123456789ABC")
    aws, ui = offline(), Recorder()  # any call would fail: nothing answers there
    values = parameters(templates, given, catalogue, aws, ui)
    assert values["HostedZoneId"] == "Z0123456789ABC"
    assert aws.total_calls == 0 and "HostedZoneId" not in ui.noted


def test_access_denied_is_one_line_naming_the_file_key_and_aws_error(templates, dev, catalogue):
    aws = offline()
    with Stubber(aws.route53) as route53:
        route53.add_client_error(
            "list_hosted_zones_by_name", service_error_code="AccessDenied", http_status_code=403,
            service_message="User: arn:aws:iam::111122223333:user/ci is not authorized to perform: "
                            "route53:ListHostedZonesByName",
            expected_params={"DNSName": f"{ZONE}."})
        with pytest.raises(CodemateError) as raised:
            parameters(templates, dev, catalogue, aws)
    assert not isinstance(raised.value, InvalidInput) and raised.value.exit_code == EXIT_ERROR
    assert str(raised.value) == (
        f"{dev.path}: Parameters.HostedZoneId is empty and looking it up failed: ListHostedZonesByName failed: "
        "AccessDenied: User: arn:aws:iam::111122223333:user/ci is not authorized to perform: "
        "route53:ListHostedZonesByName; set HostedZoneId to skip the lookup")


def test_an_endpoint_that_cannot_be_reached_is_said_as_other_aws_errors_are(templates, dev, catalogue):
    with pytest.raises(CodemateError) as raised:
        parameters(templates, dev, catalogue, offline())
    assert str(raised.value).startswith(
        f"{dev.path}: Parameters.HostedZoneId is empty and looking it up failed: "
        f"cannot reach http://127.0.0.1:9 ({REGION}): ")
    assert "\n" not in str(raised.value)


def test_the_lookup_reads_the_next_page_while_it_holds_zones_of_that_name(templates, dev, catalogue):
    aws = offline()
    with Stubber(aws.route53) as route53:
        route53.add_response(
            "list_hosted_zones_by_name",
            {"HostedZones": [zone_entry("ZPRIVATE1", private=True)], "IsTruncated": True, "MaxItems": "1",
             "DNSName": f"{ZONE}.", "NextDNSName": f"{ZONE}.", "NextHostedZoneId": "ZPUBLIC1"},
            {"DNSName": f"{ZONE}."})
        route53.add_response(
            "list_hosted_zones_by_name",
            {"HostedZones": [zone_entry("ZPUBLIC1"), zone_entry("ZSUB1", f"sub.{ZONE}")], "IsTruncated": True,
             "MaxItems": "2", "DNSName": f"{ZONE}.", "NextDNSName": "zzz.io.", "NextHostedZoneId": "ZZZ1"},
            {"DNSName": f"{ZONE}.", "HostedZoneId": "ZPUBLIC1"})
        # A third call (the next zone has another name) would find nothing
        # queued and fail the lookup; sub.code1398.io is another zone.
        values = parameters(templates, dev, catalogue, aws)
        route53.assert_no_pending_responses()
    assert values["HostedZoneId"] == "ZPUBLIC1"


def test_the_looked_up_id_reaches_the_change_sets_parameters(empty_emulator, aws, templates, dev, catalogue):
    # A change set left for review: executing one of the whole application
    # is beyond what the emulator does today (no ACM certificate).
    zone = public_zone(aws)
    ui = Recorder()
    left = run_deploy(aws, templates, dev, catalogue, ui, execute=False)
    assert left.outcome == "left for review"
    found = aws.cloudformation.describe_change_set(ChangeSetName=left.change_set.id)
    sent = {p["ParameterKey"]: p["ParameterValue"] for p in found["Parameters"]}
    assert sent["HostedZoneId"] == zone and sent["HostedZoneName"] == ZONE
    assert f"- HostedZoneId: {zone} (public hosted zone {ZONE})" in ui.noted


def test_a_deploy_stops_before_touching_anything_when_the_lookup_fails(empty_emulator, aws, templates, dev,
                                                                       catalogue):
    with pytest.raises(InvalidInput, match=r"Parameters\.HostedZoneId is empty and no public hosted zone"):
        run_deploy(aws, templates, dev, catalogue)
    assert aws.cloudformation.list_stacks()["StackSummaries"] == []  # not even the artifact bucket's
    assert aws.calls["s3:PutObject"] == 0


def test_validate_takes_an_empty_hosted_zone_id_without_calling_aws(run_main, monkeypatch, dev):
    monkeypatch.setattr("botocore.client.BaseClient._make_api_call",
                        lambda *args, **kwargs: pytest.fail("validate called AWS"))
    assert dev.parameters["HostedZoneId"] == ""
    done = run_main("--project-dir", ROOT, "validate", dev.path)
    assert done.returncode == 0, done.stderr


def test_the_cli_says_a_failed_lookup_in_one_line_and_exits_2(empty_emulator, build_copy, run_main, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEYS[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEYS[1])
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.chdir(ROOT)
    done = run_main("--project-dir", ROOT, "--build-dir", build_copy.build_dir, "plan", "params/dev.json",
                    "--endpoint-url", empty_emulator.url)
    assert done.returncode == EXIT_INVALID
    assert assert_one_line_errors(done) == [
        f"params/dev.json: Parameters.HostedZoneId is empty and no public hosted zone named {ZONE} exists in "
        f"account {EMULATOR_ACCOUNT}; create it or set HostedZoneId"]


def test_route53_is_made_like_the_other_clients_and_goes_to_its_global_endpoint():
    aws = Aws(Target(REGION, credentials=KEYS))
    route53, cfn = aws.route53.meta, aws.cloudformation.meta
    assert route53.endpoint_url == "https://route53.amazonaws.com"
    for setting in ("connect_timeout", "read_timeout", "retries", "user_agent_extra"):
        assert getattr(route53.config, setting) == getattr(cfn.config, setting)
    local = Aws(Target(REGION, endpoint_url="http://127.0.0.1:9", credentials=KEYS))
    assert local.route53.meta.endpoint_url == "http://127.0.0.1:9"
