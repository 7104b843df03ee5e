"""The edge layer as each environment sees it: the certificate, the load
balancer with its WebSocket settings, listeners, target groups and path
rules, the site's DNS record, and CloudFront when it is turned on."""

from __future__ import annotations

import json

import pytest

from codemate_cfn.params import paramfile
from layer_values import ROOT, Environment, catalogue, conventions

CLOUDFRONT_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SEOUL_CERT = "arn:aws:acm:ap-northeast-2:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
DOMAINS = {"dev": "codemate-dev.code1398.io", "prod": "codemate.code1398.io"}


def with_cloudfront(env: str) -> Environment:
    return Environment("edge", env, EnableCloudFront="true", CloudFrontCertificateArn=CLOUDFRONT_CERT)


def attributes(props: dict, key: str) -> dict:
    return {a["Key"]: a["Value"] for a in props[key]}


def test_certificate_covers_the_site_and_the_wildcard_validated_in_the_zone(edge):
    cert = edge.props("Certificate")
    assert cert["DomainName"] == DOMAINS[edge.env]
    assert cert["SubjectAlternativeNames"] == ["*.code1398.io", f"origin.{DOMAINS[edge.env]}"]
    assert cert["ValidationMethod"] == "DNS"
    assert {o["DomainName"] for o in cert["DomainValidationOptions"]} == {DOMAINS[edge.env], "*.code1398.io",
                                                                         f"origin.{DOMAINS[edge.env]}"}
    written = edge.template["Resources"]["Certificate"]["Properties"]["DomainValidationOptions"]
    assert all(o["HostedZoneId"] == {"Ref": "HostedZoneId"} for o in written)
    https = edge.props("HttpsListener")
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "Certificate"}}]


def test_an_existing_certificate_replaces_the_requested_one(edge):
    given = Environment("edge", edge.env, CertificateArn=SEOUL_CERT)
    assert not given.exists("Certificate")
    assert given.props("HttpsListener")["Certificates"] == [{"CertificateArn": SEOUL_CERT}]


def test_load_balancer_is_public_keeps_websockets_open_and_logs_to_the_logs_bucket(edge):
    alb = edge.props("LoadBalancer")
    assert alb["Name"] == f"codemate-alb-{edge.env}"
    assert (alb["Type"], alb["Scheme"]) == ("application", "internet-facing")
    assert alb["Subnets"] == {"Fn::Split": [",", {"Ref": "PublicSubnetIds"}]}
    assert alb["SecurityGroups"] == [{"Ref": "AlbSecurityGroupId"}]
    attrs = attributes(alb, "LoadBalancerAttributes")
    assert attrs["idle_timeout.timeout_seconds"] == "3600"
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == {"Ref": "LogsBucketName"}
    assert attrs["deletion_protection.enabled"] == {"dev": "false", "prod": "true"}[edge.env]


def test_access_log_prefix_is_the_one_the_logs_bucket_accepts(edge):
    # The logs bucket grants the ELB account alb/AWSLogs/<account>/*; the ALB
    # adds the slash itself, so it is told "alb".
    attrs = attributes(edge.props("LoadBalancer"), "LoadBalancerAttributes")
    storage = Environment("storage", edge.env)
    prefix = storage.output("AlbLogPrefix")
    assert attrs["access_logs.s3.prefix"] == {"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "AlbLogPrefix"}]}]}
    assert prefix.split("/")[0] == "alb" and prefix == "alb/"


def test_http_only_redirects_to_https(edge):
    http = edge.props("HttpListener")
    assert (http["Port"], http["Protocol"]) == (80, "HTTP")
    assert http["DefaultActions"] == [{"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]


def test_https_uses_tls_1_3_policy_and_sends_everything_else_to_the_frontend(edge):
    https = edge.props("HttpsListener")
    assert (https["Port"], https["Protocol"]) == (443, "HTTPS")
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "FrontendTargetGroup"}}]


def test_api_and_socket_io_go_to_the_backend(edge):
    rules = edge.of_type("AWS::ElasticLoadBalancingV2::ListenerRule")
    routed = {}
    for rule in rules.values():
        props = rule["Properties"]
        assert props["ListenerArn"] == {"Ref": "HttpsListener"}
        (condition,) = props["Conditions"]
        assert condition["Field"] == "path-pattern"
        (path,) = condition["PathPatternConfig"]["Values"]
        (action,) = props["Actions"]
        routed[path] = (action["Type"], action["TargetGroupArn"])
    assert routed == {"/api/*": ("forward", {"Ref": "BackendTargetGroup"}),
                      "/socket.io/*": ("forward", {"Ref": "BackendTargetGroup"})}
    assert len({r["Properties"]["Priority"] for r in rules.values()}) == len(rules)


@pytest.mark.parametrize("service, port, path", [("frontend", 3000, "/api/health"), ("backend", 3001, "/health")])
def test_target_groups_check_health_as_the_design_says(edge, service, port, path):
    group = edge.props(f"{service.capitalize()}TargetGroup")
    assert group["Name"] == f"codemate-{service}-tg-{edge.env}"
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", port)
    assert group["VpcId"] == {"Ref": "VpcId"}
    assert group["HealthCheckPath"] == path
    assert (group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (2, 3)
    assert group["HealthCheckIntervalSeconds"] == 30
    attrs = attributes(group, "TargetGroupAttributes")
    assert attrs["deregistration_delay.timeout_seconds"] == "300"


def test_only_the_backend_is_sticky_for_socket_io(edge):
    backend = attributes(edge.props("BackendTargetGroup"), "TargetGroupAttributes")
    frontend = attributes(edge.props("FrontendTargetGroup"), "TargetGroupAttributes")
    assert backend["stickiness.enabled"] == "true" and backend["stickiness.type"] == "lb_cookie"
    assert "stickiness.enabled" not in frontend


def test_without_cloudfront_the_site_points_at_the_load_balancer(edge):
    assert edge.values["EnableCloudFront"] == "false"
    for absent in ("Distribution", "OriginRecord", "StaticOriginAccessControl"):
        assert not edge.exists(absent)
    record = edge.props("SiteRecord")
    assert (record["Name"], record["Type"]) == (DOMAINS[edge.env], "A")
    assert record["AliasTarget"] == {"DNSName": {"Fn::GetAtt": ["LoadBalancer", "DNSName"]},
                                     "HostedZoneId": {"Fn::GetAtt": ["LoadBalancer", "CanonicalHostedZoneID"]},
                                     "EvaluateTargetHealth": False}
    assert edge.output("CloudFrontDistributionId") == ""


def test_with_cloudfront_the_site_points_at_the_distribution(edge):
    on = with_cloudfront(edge.env)
    record = on.props("SiteRecord")
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["Distribution", "DomainName"]}
    assert record["AliasTarget"]["HostedZoneId"] == "Z2FDTNDATAQYW2"
    origin = on.props("OriginRecord")
    assert origin["Name"] == f"origin.{DOMAINS[edge.env]}"
    assert origin["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}


def distribution(env: str) -> dict:
    return with_cloudfront(env).props("Distribution")["DistributionConfig"]


def behaviour(config: dict, path: str) -> dict:
    (found,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == path]
    return found


def test_cloudfront_serves_the_site_with_its_us_east_1_certificate(edge):
    config = distribution(edge.env)
    assert config["Aliases"] == [DOMAINS[edge.env]]
    assert config["PriceClass"] == "PriceClass_200"
    assert config["ViewerCertificate"]["AcmCertificateArn"] == CLOUDFRONT_CERT
    assert config["ViewerCertificate"]["SslSupportMethod"] == "sni-only"
    origins = {o["Id"]: o for o in config["Origins"]}
    assert origins["alb"]["DomainName"] == f"origin.{DOMAINS[edge.env]}"
    assert origins["alb"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origins["static"]["DomainName"] == {"Ref": "StaticBucketRegionalDomainName"}
    assert origins["static"]["OriginAccessControlId"] == {"Fn::GetAtt": ["StaticOriginAccessControl", "Id"]}
    assert config["Logging"]["Bucket"] == {"Ref": "LogsBucketDomainName"}


def test_next_static_assets_are_cached_for_a_year_from_the_bucket(edge):
    on = with_cloudfront(edge.env)
    static = behaviour(distribution(edge.env), "_next/static/*")
    assert static["TargetOriginId"] == "static"
    policy = on.props(static["CachePolicyId"]["Ref"])["CachePolicyConfig"]
    assert policy["DefaultTTL"] == 365 * 24 * 3600


@pytest.mark.parametrize("path", ["/api/*", "/socket.io/*"])
def test_api_and_websockets_are_not_cached_and_get_every_header_cookie_and_query(edge, path):
    found = behaviour(distribution(edge.env), path)
    assert found["TargetOriginId"] == "alb"
    assert found["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed: CachingDisabled
    assert found["OriginRequestPolicyId"] == "216adef6-5c7f-47e4-b989-5492eafa07d3"  # AWS managed: AllViewer
    assert set(found["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


def test_pages_are_cached_for_a_day_per_user(edge):
    on = with_cloudfront(edge.env)
    default = distribution(edge.env)["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "alb"
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    policy = on.props(default["CachePolicyId"]["Ref"])["CachePolicyConfig"]
    assert policy["DefaultTTL"] == 24 * 3600
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"]["CookieBehavior"] == "all"  # one user's page is never another's


def static_policy(view: Environment) -> list[dict]:
    props = view.props("StaticBucketPolicy")
    assert props["Bucket"] == {"Ref": "StaticBucketName"}
    return props["PolicyDocument"]["Statement"]


def test_static_bucket_is_read_by_this_distribution_only(edge):
    statements = static_policy(with_cloudfront(edge.env))
    (read,) = [s for s in statements if s["Effect"] == "Allow"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == ["s3:GetObject"]
    assert read["Condition"] == {"StringEquals": {"aws:SourceArn": {"Fn::Sub":
        "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}}}


def test_without_cloudfront_nobody_reads_the_static_bucket_and_tls_is_required(edge):
    statements = static_policy(edge)
    assert [s["Effect"] for s in statements] == ["Deny"]
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    assert statements[0]["Resource"] == [{"Ref": "StaticBucketArn"},
                                         {"Fn::Sub": "${StaticBucketArn}/*"}]


def test_outputs_for_the_services_and_for_people(edge):
    assert edge.output("FrontendTargetGroupArn") == {"Ref": "FrontendTargetGroup"}
    assert edge.output("BackendTargetGroupArn") == {"Ref": "BackendTargetGroup"}
    assert edge.output("SiteUrl") == f"https://{DOMAINS[edge.env]}"
    root = Environment("root", edge.env).template["Outputs"]
    assert root["AlbDnsName"]["Description"] == "alb_dns_name"
    assert root["SiteUrl"]["Description"] == "site_url"


def problems_with(tmp_path, **changes) -> list[str]:
    source = json.loads((ROOT / "params" / "dev.json").read_text())
    source["Parameters"].update(changes)
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(source))
    _, problems = paramfile.check(path, catalogue(), conventions())
    return [p.removeprefix(f"{path}: ") for p in problems]


def test_cloudfront_needs_a_certificate_in_us_east_1(tmp_path):
    assert problems_with(tmp_path, EnableCloudFront="true") == [
        "Parameters.CloudFrontCertificateArn: required when EnableCloudFront is true: an ACM certificate in "
        "us-east-1 for DomainName (README: CloudFront's certificate)"]
    assert problems_with(tmp_path, EnableCloudFront="true", CloudFrontCertificateArn=SEOUL_CERT) == [
        f"Parameters.CloudFrontCertificateArn: {SEOUL_CERT} is a certificate in ap-northeast-2; "
        f"CloudFront takes one in us-east-1"]
    assert problems_with(tmp_path, EnableCloudFront="true", CloudFrontCertificateArn=CLOUDFRONT_CERT) == []


def test_the_load_balancer_certificate_must_be_in_the_stacks_region(tmp_path):
    (problem,) = problems_with(tmp_path, CertificateArn=CLOUDFRONT_CERT)
    assert problem == (f"Parameters.CertificateArn: {CLOUDFRONT_CERT} is a certificate in us-east-1; "
                       f"the load balancer takes one in ap-northeast-2")


def test_the_site_must_be_in_its_hosted_zone(tmp_path):
    (problem,) = problems_with(tmp_path, DomainName="codemate.example.com")
    assert problem == ("Parameters.DomainName: codemate.example.com is not in the hosted zone code1398.io "
                       "(HostedZoneName): its record and certificate live there")


def test_a_file_without_the_domain_says_only_that(tmp_path):
    # DomainName's relation to HostedZoneName is not checked without it.
    source = json.loads((ROOT / "params" / "dev.json").read_text())
    del source["Parameters"]["DomainName"]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(source))
    _, problems = paramfile.check(path, catalogue(), conventions())
    assert problems == [f"{path}: Parameters.DomainName: missing required key"]


def test_the_zones_apex_can_be_the_site_and_every_name_stays_in_the_zone():
    apex = Environment("edge", "prod", DomainName="code1398.io", EnableCloudFront="true",
                       CloudFrontCertificateArn=CLOUDFRONT_CERT)
    cert = apex.props("Certificate")
    names = [cert["DomainName"], *cert["SubjectAlternativeNames"]]
    assert names == ["code1398.io", "*.code1398.io", "origin.code1398.io"]
    records = [apex.props(r)["Name"] for r in ("SiteRecord", "OriginRecord")]
    assert all(n == "code1398.io" or n.endswith(".code1398.io") for n in names + records)
