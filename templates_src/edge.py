"""Edge layer: the way in. The TLS certificate, the application load
balancer with its listeners, target groups and path rules (WebSockets
included), the site's DNS record, and CloudFront in front of the load
balancer and the static bucket when EnableCloudFront is true."""

from awacs import s3 as s3_actions
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Equals, GetAtt, If, NoValue, Ref, Select, Split, Sub
from troposphere.certificatemanager import Certificate, DomainValidationOption
from troposphere.cloudfront import (
    CacheBehavior,
    CacheCookiesConfig,
    CacheHeadersConfig,
    CachePolicy,
    CachePolicyConfig,
    CacheQueryStringsConfig,
    CustomOriginConfig,
    DefaultCacheBehavior,
    Distribution,
    DistributionConfig,
    Logging,
    Origin,
    OriginAccessControl,
    OriginAccessControlConfig,
    ParametersInCacheKeyAndForwardedToOrigin,
    S3OriginConfig,
    ViewerCertificate,
)
from troposphere.elasticloadbalancingv2 import (
    Action,
    Certificate as ListenerCertificate,
    Condition as RuleCondition,
    Listener,
    ListenerRule,
    ListenerRuleAction,
    LoadBalancer,
    LoadBalancerAttributes,
    Matcher,
    PathPatternConfig,
    RedirectConfig,
    TargetGroup,
    TargetGroupAttribute,
)
from troposphere.route53 import AliasTarget, RecordSetType
from troposphere.s3 import BucketPolicy

from codemate_cfn.layer import Layer

from .kit.bucket import deny_insecure_transport
from .kit.images import HEALTH_PATH, PORT, SERVICES
from .kit.scanner import scanner_skip

HTTPS_PORT = 443
HTTP_PORT = 80
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Socket.IO keeps connections open: the ALB's idle timeout is its longest (1 hour).
IDLE_TIMEOUT_SECONDS = 3600
DEREGISTRATION_DELAY_SECONDS = 300  # connection draining
STICKY_SECONDS = 86400

# The services' target groups: (name word, port, health check path).
TARGET_GROUPS = {title: (name, PORT[title], HEALTH_PATH[title]) for title, name in SERVICES.items()}
HEALTH = dict(HealthyThresholdCount=2, UnhealthyThresholdCount=3, HealthCheckIntervalSeconds=30,
              HealthCheckTimeoutSeconds=5)
# Listener rules: priority -> path pattern sent to the backend; the default goes to the frontend.
BACKEND_PATHS = {10: "/api/*", 20: "/socket.io/*"}

# CloudFront
CLOUDFRONT = "CloudFrontEnabled"  # the condition: EnableCloudFront is true
NO_WEB_ACL = "NoCloudFrontWebAcl"  # the condition: CloudFrontWebAclArn is empty
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # the hosted zone of every CloudFront alias record
PRICE_CLASS = "PriceClass_200"
ONE_YEAR = 31536000
ONE_DAY = 86400
# AWS's managed policies: CachingDisabled, and AllViewer (every header, cookie
# and query string goes to the origin: WebSockets and authentication need them).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
ALB_ORIGIN, STATIC_ORIGIN = "alb", "static"
STATIC_PATH = "_next/static/*"
# CloudFront reaches the load balancer by a name its certificate covers:
# origin.<DomainName>, which lies in the hosted zone whatever DomainName is
# (the zone's apex included).
ORIGIN_HOST = "origin.${DomainName}"


def certificate(t):
    """The load balancer's certificate: the parameter file's, or one for
    DomainName and *.HostedZoneName validated through Route 53."""
    create = t.condition("CreateCertificate", Equals(t.input("CertificateArn"), ""))
    zone = t.input("HostedZoneId")
    domain, wildcard, origin = t.input("DomainName"), Sub("*.${HostedZoneName}"), Sub(ORIGIN_HOST)
    t.input("HostedZoneName")
    made = t.add(Certificate(
        "Certificate",
        Condition=create,
        DomainName=domain,
        SubjectAlternativeNames=[wildcard, origin],
        ValidationMethod="DNS",
        DomainValidationOptions=[DomainValidationOption(DomainName=name, HostedZoneId=zone)
                                 for name in (domain, wildcard, origin)],
    ))
    scanner_skip(made, "CKV2_AWS_71", "The design's certificate covers *.<HostedZoneName> (SPEC, section 7); it is "
                 "requested without export, so its private key never leaves ACM.")
    return If(create, Ref(made), t.input("CertificateArn"))


def load_balancer(t):
    public = Split(",", t.input("PublicSubnetIds"))
    log_prefix = Select(0, Split("/", t.input("AlbLogPrefix")))  # "alb/" -> "alb": the ALB adds the slash
    attributes = {
        "idle_timeout.timeout_seconds": str(IDLE_TIMEOUT_SECONDS),
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": t.input("LogsBucketName"),
        "access_logs.s3.prefix": log_prefix,
        "deletion_protection.enabled": t.input("AlbDeletionProtection"),
    }
    return t.add(LoadBalancer(
        "LoadBalancer",
        Name=t.name_of("alb"),
        Type="application",
        Scheme="internet-facing",
        IpAddressType="ipv4",
        Subnets=public,
        SecurityGroups=[t.input("AlbSecurityGroupId")],
        LoadBalancerAttributes=[LoadBalancerAttributes(Key=k, Value=v) for k, v in attributes.items()],
    ))


def target_group(t, title: str) -> TargetGroup:
    name, port, path = TARGET_GROUPS[title]
    attributes = {"deregistration_delay.timeout_seconds": str(DEREGISTRATION_DELAY_SECONDS)}
    if title == "Backend":  # Socket.IO's polling fallback must reach the same task
        attributes.update({"stickiness.enabled": "true", "stickiness.type": "lb_cookie",
                           "stickiness.lb_cookie.duration_seconds": str(STICKY_SECONDS)})
    return t.add(TargetGroup(
        f"{title}TargetGroup",
        Name=t.name_of(name, "tg"),
        TargetType="ip",
        Protocol="HTTP",
        Port=port,
        VpcId=t.input("VpcId"),
        HealthCheckEnabled=True,
        HealthCheckProtocol="HTTP",
        HealthCheckPath=path,
        Matcher=Matcher(HttpCode="200"),
        TargetGroupAttributes=[TargetGroupAttribute(Key=k, Value=v) for k, v in attributes.items()],
        **HEALTH,
    ))


def listeners(t, alb, groups: dict, cert) -> Listener:
    t.add(Listener(
        "HttpListener",
        LoadBalancerArn=Ref(alb),
        Port=HTTP_PORT,
        Protocol="HTTP",
        DefaultActions=[Action(Type="redirect", RedirectConfig=RedirectConfig(
            Protocol="HTTPS", Port=str(HTTPS_PORT), StatusCode="HTTP_301"))],
    ))
    https = t.add(Listener(
        "HttpsListener",
        LoadBalancerArn=Ref(alb),
        Port=HTTPS_PORT,
        Protocol="HTTPS",
        SslPolicy=TLS_POLICY,
        Certificates=[ListenerCertificate(CertificateArn=cert)],
        DefaultActions=[Action(Type="forward", TargetGroupArn=Ref(groups["Frontend"]))],
    ))
    for priority, path in BACKEND_PATHS.items():
        t.add(ListenerRule(
            f"BackendRule{priority}",
            ListenerArn=Ref(https),
            Priority=priority,
            Conditions=[RuleCondition(Field="path-pattern", PathPatternConfig=PathPatternConfig(Values=[path]))],
            Actions=[ListenerRuleAction(Type="forward", TargetGroupArn=Ref(groups["Backend"]))],
        ))
    return https


def cache_policy(t, logical_id: str, comment: str, default_ttl: int, viewer_values: bool) -> CachePolicy:
    """A cache policy; with viewer_values, every cookie and query string is
    part of the key (pages differ per user), else none is."""
    behaviour = "all" if viewer_values else "none"
    return t.add(CachePolicy(
        logical_id,
        Condition=CLOUDFRONT,
        CachePolicyConfig=CachePolicyConfig(
            Name=t.name_of(logical_id.removesuffix("CachePolicy").lower()),
            Comment=comment,
            DefaultTTL=default_ttl,
            MinTTL=0,
            MaxTTL=ONE_YEAR,
            ParametersInCacheKeyAndForwardedToOrigin=ParametersInCacheKeyAndForwardedToOrigin(
                CookiesConfig=CacheCookiesConfig(CookieBehavior=behaviour),
                QueryStringsConfig=CacheQueryStringsConfig(QueryStringBehavior=behaviour),
                HeadersConfig=CacheHeadersConfig(HeaderBehavior="none"),
                EnableAcceptEncodingGzip=True,
                EnableAcceptEncodingBrotli=True,
            ),
        ),
    ))


def distribution(t):
    """CloudFront: _next/static/* from the static bucket for a year, the
    API and Socket.IO uncached with everything forwarded, pages 24 hours."""
    t.condition(CLOUDFRONT, Equals(t.input("EnableCloudFront"), "true"))
    access = t.add(OriginAccessControl(
        "StaticOriginAccessControl",
        Condition=CLOUDFRONT,
        OriginAccessControlConfig=OriginAccessControlConfig(
            Name=t.name_of("static-oac"),
            Description="CodeMate static assets: CloudFront signs its requests to the bucket",
            OriginAccessControlOriginType="s3",
            SigningBehavior="always",
            SigningProtocol="sigv4",
        ),
    ))
    static = cache_policy(t, "StaticCachePolicy", "Next.js _next/static assets: one year", ONE_YEAR, False)
    pages = cache_policy(t, "PagesCachePolicy", "Pages: 24 hours unless the origin says otherwise", ONE_DAY, True)
    uncached = dict(TargetOriginId=ALB_ORIGIN, ViewerProtocolPolicy="redirect-to-https", AllowedMethods=ALL_METHODS,
                    CachedMethods=["GET", "HEAD"], CachePolicyId=CACHING_DISABLED, OriginRequestPolicyId=ALL_VIEWER,
                    Compress=True)
    t.input("CloudFrontLogPrefix")
    # A web ACL for CloudFront lives in us-east-1, outside this stack: the
    # operator makes one there and names it (README, CloudFront). Set here,
    # it survives every update; associated by hand, a later update of the
    # distribution may drop it.
    t.condition(NO_WEB_ACL, Equals(t.input("CloudFrontWebAclArn"), ""))
    made = t.add(Distribution(
        "Distribution",
        Condition=CLOUDFRONT,
        DistributionConfig=DistributionConfig(
            Enabled=True,
            Comment=Sub("CodeMate ${EnvironmentName}"),
            Aliases=[t.input("DomainName")],
            PriceClass=PRICE_CLASS,
            HttpVersion="http2and3",
            WebACLId=If(NO_WEB_ACL, NoValue, Ref("CloudFrontWebAclArn")),
            IPV6Enabled=False,  # the site's record is IPv4 (A) only, as the load balancer is
            ViewerCertificate=ViewerCertificate(AcmCertificateArn=t.input("CloudFrontCertificateArn"),
                                                SslSupportMethod="sni-only", MinimumProtocolVersion="TLSv1.2_2021"),
            Logging=Logging(Bucket=t.input("LogsBucketDomainName"), Prefix=Ref("CloudFrontLogPrefix"),
                            IncludeCookies=False),
            Origins=[
                Origin(Id=ALB_ORIGIN, DomainName=Sub(ORIGIN_HOST), CustomOriginConfig=CustomOriginConfig(
                    OriginProtocolPolicy="https-only", HTTPSPort=HTTPS_PORT, OriginSSLProtocols=["TLSv1.2"],
                    OriginReadTimeout=60, OriginKeepaliveTimeout=60)),
                Origin(Id=STATIC_ORIGIN, DomainName=t.input("StaticBucketRegionalDomainName"),
                       S3OriginConfig=S3OriginConfig(OriginAccessIdentity=""),
                       OriginAccessControlId=GetAtt(access, "Id")),
            ],
            CacheBehaviors=[
                CacheBehavior(PathPattern=STATIC_PATH, TargetOriginId=STATIC_ORIGIN,
                              ViewerProtocolPolicy="redirect-to-https", AllowedMethods=["GET", "HEAD"],
                              CachedMethods=["GET", "HEAD"], CachePolicyId=Ref(static), Compress=True),
                *(CacheBehavior(PathPattern=path, **uncached) for path in BACKEND_PATHS.values()),
            ],
            DefaultCacheBehavior=DefaultCacheBehavior(**{**uncached, "CachePolicyId": Ref(pages)}),
        ),
    ))
    scanner_skip(made, "CKV_AWS_68", "No web ACL given: WAF for CloudFront lives in us-east-1, outside this stack; "
                 "the operator makes one there and sets CloudFrontWebAclArn (README, CloudFront).", when=NO_WEB_ACL)
    return made


def static_bucket_policy(t, cloudfront):
    """The static bucket's one policy: TLS only, and reads by this
    distribution alone (origin access control) when CloudFront is on."""
    arn = t.input("StaticBucketArn")
    tls_only = deny_insecure_transport(arn)
    read = Statement(
        Sid="CloudFrontOriginAccessControlRead",
        Effect=Allow,
        Principal=Principal("Service", "cloudfront.amazonaws.com"),
        Action=[s3_actions.GetObject],
        Resource=[Sub("${StaticBucketArn}/*")],
        Condition=Condition(StringEquals({"aws:SourceArn": Sub(
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${%s}" % cloudfront.title)})),
    )
    t.add(BucketPolicy(
        "StaticBucketPolicy",
        Bucket=t.input("StaticBucketName"),
        PolicyDocument=If(CLOUDFRONT, PolicyDocument(Version="2012-10-17", Statement=[tls_only, read]),
                          PolicyDocument(Version="2012-10-17", Statement=[tls_only])),
    ))


def dns(t, alb, cloudfront) -> None:
    """DomainName points at CloudFront when it is on, else at the load
    balancer; CloudFront's origin name points at the load balancer."""
    zone = t.input("HostedZoneId")
    to_alb = AliasTarget(DNSName=GetAtt(alb, "DNSName"), HostedZoneId=GetAtt(alb, "CanonicalHostedZoneID"),
                         EvaluateTargetHealth=False)
    to_cloudfront = AliasTarget(DNSName=GetAtt(cloudfront, "DomainName"), HostedZoneId=CLOUDFRONT_ZONE_ID,
                                EvaluateTargetHealth=False)
    t.add(RecordSetType("SiteRecord", HostedZoneId=zone, Name=t.input("DomainName"), Type="A",
                        AliasTarget=If(CLOUDFRONT, to_cloudfront, to_alb)))
    t.add(RecordSetType("OriginRecord", Condition=CLOUDFRONT, HostedZoneId=zone, Name=Sub(ORIGIN_HOST), Type="A",
                        AliasTarget=to_alb))


def outputs(t, alb, groups: dict, https, cloudfront) -> None:
    t.output("AlbDnsName", GetAtt(alb, "DNSName"), "DNS name of the load balancer.", root="alb_dns_name")
    t.output("AlbFullName", GetAtt(alb, "LoadBalancerFullName"), "Load balancer name in CloudWatch metrics.")
    t.output("HttpsListenerArn", Ref(https), "ARN of the HTTPS listener.")
    for title, group in groups.items():
        t.output(f"{title}TargetGroupArn", Ref(group), f"ARN of the {title.lower()} target group.")
        t.output(f"{title}TargetGroupFullName", GetAtt(group, "TargetGroupFullName"),
                 f"{title} target group name in CloudWatch metrics.")
    t.output("SiteUrl", Sub("https://${DomainName}"), "The site's URL.", root="site_url")
    t.output("CloudFrontDistributionId", If(CLOUDFRONT, Ref(cloudfront), ""),
             "ID of the CloudFront distribution; empty when CloudFront is off.")


def build(t):
    cert = certificate(t)
    alb = load_balancer(t)
    groups = {title: target_group(t, title) for title in TARGET_GROUPS}
    https = listeners(t, alb, groups, cert)
    cloudfront = distribution(t)
    static_bucket_policy(t, cloudfront)
    dns(t, alb, cloudfront)
    outputs(t, alb, groups, https, cloudfront)


LAYER = Layer("edge", "TLS certificate, load balancer, listeners and rules, DNS record and optional CloudFront", build)
