"""The diagram as plain data: nodes (one per main resource, grouped by the
layer whose template makes it), and the edges that matter, all read from
the built templates.

Two views of the templates:
- every part (no parameter file): each resource the templates can make,
  those behind a template condition marked with it, figures shown as the
  `${Parameter}` they come from;
- one environment (a parameter file): the conditions decided and each
  Fn::If's branch taken as that file decides them, so counts and optional
  parts are that environment's, and the figures are its values.

Edges:
- traffic: the internet to the site's DNS record, to CloudFront (where on),
  to the load balancer, its listeners' paths to the target groups, to the
  services that register with them;
- uses: what a service's task definition and roles reach (database, cache,
  buckets, secrets), images from the repositories, alarms to the topic;
- allows: each security-group ingress rule (source group or CIDR, ports);
- egress: each subnet's default route to a NAT or the internet gateway;
- delivery: GitHub to the pipeline, to the builds, to the repositories they
  push, and the pipeline's deploy of the services."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from codemate_cfn.compile.layout import ROOT
from codemate_cfn.deploy.conditions import Context, parameter_values, show
from codemate_cfn.diagram.labels import AGGREGATED, LABELS, label
from codemate_cfn.diagram.links import Key, Wiring
from codemate_cfn.environments import environment_templates, steady_state

INTERNET = "internet"
GITHUB = "github"
EXTERNAL = {INTERNET: "Internet", GITHUB: "GitHub"}
EDGE_KINDS = ("traffic", "uses", "allows", "egress", "delivery")

# Resources a reference passes through on its way to the nodes it reaches,
# and the properties it passes through: a service reaches what its
# containers are given (image, environment, secrets) and what its task role
# allows, not what ECS's execution role needs to start any task.
PASS_THROUGH = {
    "AWS::ECS::TaskDefinition": ("ContainerDefinitions", "TaskRoleArn"),
    "AWS::IAM::Role": ("Policies", "ManagedPolicyArns"),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::RDS::DBSubnetGroup": ("SubnetIds",),
    "AWS::ElastiCache::SubnetGroup": ("SubnetIds",),
}

# type -> the property naming the subnets a resource is placed in, said in
# its label ("in 2 app subnets") rather than drawn as more edges
PLACEMENT = {
    "AWS::ECS::Service": "NetworkConfiguration",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Subnets",
    "AWS::RDS::DBInstance": "DBSubnetGroupName",
    "AWS::ElastiCache::ReplicationGroup": "CacheSubnetGroupName",
    "AWS::EC2::VPCEndpoint": "SubnetIds",
}

# source type, property it is read from (None: all), target type, direction, label, kind
FOLLOW = (
    ("AWS::ECS::Service", "LoadBalancers", "AWS::ElasticLoadBalancingV2::TargetGroup", "in", "", "traffic"),
    ("AWS::ECS::Service", "TaskDefinition", "AWS::RDS::DBInstance", "out", "PostgreSQL", "uses"),
    ("AWS::ECS::Service", "TaskDefinition", "AWS::ElastiCache::ReplicationGroup", "out", "Redis", "uses"),
    ("AWS::ECS::Service", "TaskDefinition", "AWS::S3::Bucket", "out", "S3", "uses"),
    ("AWS::ECS::Service", "TaskDefinition", "AWS::SecretsManager::Secret", "out", "secrets", "uses"),
    ("AWS::ECS::Service", "TaskDefinition", "AWS::ECR::Repository", "in", "image", "delivery"),
    ("AWS::ECS::TaskDefinition", "ContainerDefinitions", "AWS::RDS::DBInstance", "out", "PostgreSQL", "uses"),
    ("AWS::ECS::TaskDefinition", "ContainerDefinitions", "AWS::SecretsManager::Secret", "out", "secrets", "uses"),
    ("AWS::ECS::TaskDefinition", "ContainerDefinitions", "AWS::ECR::Repository", "in", "image", "delivery"),
    ("AWS::RDS::DBInstance", "SourceDBInstanceIdentifier", "AWS::RDS::DBInstance", "in", "replication", "uses"),
    ("AWS::Route53::RecordSet", "AliasTarget", "AWS::ElasticLoadBalancingV2::LoadBalancer", "out", "alias",
     "traffic"),
    ("AWS::Route53::RecordSet", "AliasTarget", "AWS::CloudFront::Distribution", "out", "alias", "traffic"),
    ("AWS::CloudFront::Distribution", "DistributionConfig.Origins", "AWS::S3::Bucket", "out", "static files", "traffic"),
    ("AWS::EC2::NatGateway", "SubnetId", "AWS::EC2::Subnet", "out", "in", "egress"),
    ("AWS::EC2::Instance", "SubnetId", "AWS::EC2::Subnet", "out", "in", "egress"),
    ("AWS::CodePipeline::Pipeline", "Stages", "AWS::CodeStarConnections::Connection", "in", "source", "delivery"),
    ("AWS::CodePipeline::Pipeline", "Stages", "AWS::CodeBuild::Project", "out", "build", "delivery"),
    ("AWS::CodePipeline::Pipeline", "Stages", "AWS::ECS::Service", "out", "deploy", "delivery"),
    ("AWS::CodeBuild::Project", None, "AWS::ECR::Repository", "out", "push", "delivery"),
    ("AWS::CloudWatch::Alarm", "AlarmActions", "AWS::SNS::Topic", "out", "notify", "uses"),
    ("AWS::Budgets::Budget", None, "AWS::SNS::Topic", "out", "notify", "uses"),
    ("AWS::CloudTrail::Trail", "S3BucketName", "AWS::S3::Bucket", "out", "logs", "uses"),
)


@dataclass(frozen=True)
class Node:
    id: str
    layer: str  # "" outside the account
    title: str
    details: tuple[str, ...] = ()
    group: str = ""  # a box inside the layer's (subnets by tier)
    condition: str = ""  # every-part view: the template condition it hangs on
    kind: str = ""  # the resource type ("" outside the account)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str
    conditional: bool = False


@dataclass
class Diagram:
    title: str
    layers: list[str]
    nodes: list[Node]
    edges: list[Edge]
    notes: list[str] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def of_type(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]


@dataclass
class View:
    """The templates as one view reads them, each evaluated."""

    templates: dict[str, dict]
    decided: bool  # conditions decided (an environment), or every part drawn

    def __post_init__(self):
        self.contexts = {name: Context(f"{name}.json", t, parameter_values(t, {})) for name, t in self.templates.items()}
        self.wiring = Wiring(self.templates)

    def resource(self, key: Key) -> dict:
        return self.wiring.resources(key[0]).get(key[1], {})

    def present(self, key: Key) -> bool:
        if key[1] not in self.wiring.resources(key[0]):
            return False
        stack = self.wiring.stack_of.get(key[0])
        in_root = stack is None or self.contexts[ROOT].present(stack)
        return not self.decided or (in_root and self.contexts[key[0]].present(key[1]))

    def condition(self, key: Key) -> str:
        return "" if self.decided else self.resource(key).get("Condition", "")

    def props(self, key: Key) -> dict:
        return self.contexts[key[0]].resolve(self.resource(key).get("Properties", {}))

    def keys(self, name: str) -> list[Key]:
        return [(name, logical_id) for logical_id in self.wiring.resources(name) if self.present((name, logical_id))]

    def of_type(self, kind: str) -> list[Key]:
        return [key for name in self.templates for key in self.keys(name) if self.resource(key).get("Type") == kind]


def every_part(templates: dict[str, dict]) -> View:
    return View(templates, decided=False)


def environment(templates: dict[str, dict], given: dict[str, str]) -> View:
    """The view of one parameter file whose values (over the catalogue's
    defaults) are `given`."""
    return View(environment_templates(templates, given), decided=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


class _Builder:
    def __init__(self, view: View, region: str):
        self.view, self.region = view, region
        self.nodes: dict[str, Node] = {}
        self.node_of: dict[Key, str] = {}
        self.members: dict[str, list[Key]] = {}
        self.edges: dict[tuple[str, str, str], Edge] = {}

    # -- nodes ------------------------------------------------------------

    def type_of(self, key: Key) -> str:
        return self.view.resource(key).get("Type", "")

    def add_nodes(self) -> None:
        view = self.view
        run_by_services = {t for s in view.of_type("AWS::ECS::Service")
                           for t in view.wiring.targets(s[0], view.resource(s).get("Properties", {}).get("TaskDefinition"))}
        for name in view.templates:
            if name == ROOT:
                continue
            for key in view.keys(name):
                kind = self.type_of(key)
                if kind not in LABELS or key in run_by_services:
                    continue
                if kind in AGGREGATED:
                    node_id = f"{name}_{_slug(AGGREGATED[kind][0])}"
                    self.members.setdefault(node_id, []).append(key)
                else:
                    node_id = f"{name}_{key[1]}"
                    title, details = label(kind, view.props(key), self.extra(key), self.region)
                    self.nodes[node_id] = Node(node_id, name, title, details,
                                               group=f"{title}s" if kind == "AWS::EC2::Subnet" else "",
                                               condition=view.condition(key), kind=kind)
                self.node_of[key] = node_id
        for node_id, keys in self.members.items():
            kind = self.type_of(keys[0])
            title, noun = AGGREGATED[kind]
            conditions = {self.view.condition(k) for k in keys}
            self.nodes[node_id] = Node(node_id, keys[0][0], title,
                                       (f"{len(keys)} {noun}" + ("" if len(keys) == 1 else "s"),),
                                       condition="" if "" in conditions else " or ".join(sorted(conditions)), kind=kind)

    def undrawn_layers(self) -> None:
        """A layer none of whose resources is of a type drawn here still gets
        its box, with one node saying what it holds."""
        for name in self.view.templates:
            if name == ROOT or any(n.layer == name for n in self.nodes.values()):
                continue
            kinds = sorted({self.type_of(key) for key in self.view.keys(name)})
            if kinds:
                count = len(self.view.keys(name))
                self.nodes[f"{name}_resources"] = Node(
                    f"{name}_resources", name, f"{count} resource" + ("" if count == 1 else "s"),
                    tuple(kinds[:3]) + ((f"and {len(kinds) - 3} more types",) if len(kinds) > 3 else ()))

    def placements(self) -> None:
        """Each placed node's subnets, by their box ("in 2 app subnets")."""
        for kind, prop in PLACEMENT.items():
            for key in self.view.of_type(kind):
                if key not in self.node_of:
                    continue
                value = self.view.resource(key).get("Properties", {}).get(prop)
                subnets = [self.nodes[self.node_of[s]] for s in self.reach(key[0], value)
                           if self.type_of(s) == "AWS::EC2::Subnet"]
                groups = {}
                for subnet in subnets:
                    groups[subnet.group] = groups.get(subnet.group, 0) + 1
                node = self.nodes[self.node_of[key]]
                placed = tuple(f"in {count} {group}" for group, count in sorted(groups.items()))
                self.nodes[node.id] = replace(node, details=node.details + placed)

    def extra(self, key: Key) -> dict:
        """What a service's label reads besides its own properties: its task
        definition and its scalable target."""
        if self.type_of(key) != "AWS::ECS::Service":
            return {}
        view = self.view
        tasks = view.wiring.targets(key[0], view.resource(key).get("Properties", {}).get("TaskDefinition"))
        scale = [t for t in view.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
                 if key in view.wiring.targets(t[0], view.resource(t).get("Properties", {}).get("ResourceId"))]
        return {"task": view.props(sorted(tasks)[0]) if tasks else {},
                "scale": view.props(scale[0]) if scale else {}}

    # -- edges ------------------------------------------------------------

    def add(self, source: str, target: str, text: str, kind: str, *, also_conditional: bool = False) -> None:
        if source == target:
            return
        conditional = also_conditional or any(
            self.nodes[n].condition for n in (source, target) if n in self.nodes)
        key = (source, target, kind)
        if key in self.edges:
            old = self.edges[key]
            labels = [x for x in old.label.split("; ") if x]
            if text and text not in labels:
                labels.append(text)
            self.edges[key] = replace(old, label="; ".join(labels), conditional=old.conditional and conditional)
        else:
            self.edges[key] = Edge(source, target, text, kind, conditional)

    def reach(self, name: str, value) -> set[Key]:
        """The nodes' resources `value` reaches, through PASS_THROUGH resources."""
        found, seen = set(), set()
        frontier = set(self.view.wiring.targets(name, value))
        while frontier:
            key = frontier.pop()
            if key in seen or not self.view.present(key):
                continue
            seen.add(key)
            if key in self.node_of:
                found.add(key)
            elif self.type_of(key) in PASS_THROUGH:
                props = self.view.resource(key).get("Properties", {})
                frontier |= self.view.wiring.targets(key[0], [props.get(p) for p in PASS_THROUGH[self.type_of(key)]])
        return found

    def follow(self) -> None:
        for source_type, prop, target_type, direction, text, kind in FOLLOW:
            for key in self.view.of_type(source_type):
                if key not in self.node_of:
                    continue
                value = self.view.resource(key).get("Properties", {})
                for step in prop.split(".") if prop else ():
                    value = value.get(step) if isinstance(value, dict) else None
                for target in sorted(self.reach(key[0], value)):
                    if self.type_of(target) != target_type:
                        continue
                    a, b = self.node_of[key], self.node_of[target]
                    self.add(*((a, b) if direction == "out" else (b, a)), text, kind)

    def listeners(self) -> None:
        """The load balancer to each target group, labelled with the
        listener's protocol and port and the paths its rules forward."""
        view = self.view
        forwards: dict[tuple[str, str], dict[str, list[str]]] = {}
        conditional: dict[tuple[str, str], bool] = {}

        def forward(key: Key, listener: Key, actions, what: str) -> None:
            raw, props = view.resource(listener).get("Properties", {}), view.props(listener)
            where = f"{show(props.get('Protocol'))} {show(props.get('Port'))}"
            for lb in sorted(self.reach(listener[0], raw.get("LoadBalancerArn"))):
                for tg in sorted(self.reach(key[0], actions)):
                    pair = (self.node_of[lb], self.node_of[tg])
                    forwards.setdefault(pair, {}).setdefault(where, []).append(what)
                    conditional[pair] = conditional.get(pair, True) and bool(view.condition(key))

        for key in view.of_type("AWS::ElasticLoadBalancingV2::Listener"):
            forward(key, key, view.resource(key).get("Properties", {}).get("DefaultActions"), "default")
        for key in view.of_type("AWS::ElasticLoadBalancingV2::ListenerRule"):
            raw = view.resource(key).get("Properties", {})
            paths = [show(v) for c in view.props(key).get("Conditions", [])
                     for v in c.get("PathPatternConfig", {}).get("Values", [])]
            for listener in sorted(view.wiring.targets(key[0], raw.get("ListenerArn"))):
                forward(key, listener, raw.get("Actions"), ", ".join(paths) or "rule")
        for (lb, tg), by_listener in forwards.items():
            text = "; ".join(f"{where} {', '.join(whats)}" for where, whats in by_listener.items())
            self.add(lb, tg, text, "traffic", also_conditional=conditional[(lb, tg)])

    def routes(self) -> None:
        """Each subnet's default route to a NAT or the internet gateway."""
        view = self.view
        associations = [view.resource(k).get("Properties", {}) for k in view.of_type(
            "AWS::EC2::SubnetRouteTableAssociation")]
        for key in view.of_type("AWS::EC2::Route"):
            raw = view.resource(key).get("Properties", {})
            tables = view.wiring.targets(key[0], raw.get("RouteTableId"))
            subnets = {s for a in associations if view.wiring.targets(key[0], a.get("RouteTableId")) & tables
                       for s in self.reach(key[0], a.get("SubnetId"))}
            hops = self.reach(key[0], {k: v for k, v in raw.items() if k not in ("RouteTableId",)})
            for subnet in sorted(subnets):
                for hop in sorted(hops):
                    self.add(self.node_of[subnet], self.node_of[hop], show(view.props(key).get("DestinationCidrBlock")),
                             "egress", also_conditional=bool(view.condition(key)))
        for gateway in view.of_type("AWS::EC2::InternetGateway"):
            if gateway in self.node_of:
                self.add(self.node_of[gateway], INTERNET, "", "egress")

    def allowances(self) -> None:
        """Security-group ingress: inline rules and SecurityGroupIngress resources."""
        view = self.view
        vpc_cidrs = {show(view.props(k).get("CidrBlock")): self.node_of[k] for k in view.of_type("AWS::EC2::VPC")
                     if k in self.node_of}
        for key in view.of_type("AWS::EC2::SecurityGroup"):
            raw_rules = view.resource(key).get("Properties", {}).get("SecurityGroupIngress", [])
            rules = view.props(key).get("SecurityGroupIngress", [])
            if isinstance(raw_rules, list) and isinstance(rules, list):
                for raw, rule in zip(raw_rules, rules):
                    self._allow(key, {key}, raw, rule, vpc_cidrs)
        for key in view.of_type("AWS::EC2::SecurityGroupIngress"):
            raw = view.resource(key).get("Properties", {})
            self._allow(key, self.reach(key[0], raw.get("GroupId")), raw, view.props(key), vpc_cidrs)

    def _allow(self, key: Key, groups: set[Key], raw: dict, rule: dict, vpc_cidrs: dict[str, str]) -> None:
        low, high = show(rule.get("FromPort")), show(rule.get("ToPort"))
        protocol = show(rule.get("IpProtocol"))
        ports = "all traffic" if protocol == "-1" else f"{protocol} {low}" + ("" if low == high else f"-{high}")
        cidr = show(rule.get("CidrIp", ""))
        sources = [self.node_of[s] for s in sorted(self.reach(key[0], raw.get("SourceSecurityGroupId")))]
        if cidr == "0.0.0.0/0":
            sources.append(INTERNET)
        elif cidr in vpc_cidrs:
            sources.append(vpc_cidrs[cidr])
        for group in sorted(groups):
            if group in self.node_of:
                for source in sources:
                    self.add(source, self.node_of[group], ports, "allows",
                             also_conditional=bool(self.view.condition(key)))

    def entries(self) -> None:
        """The internet to each DNS record that is not an origin, CloudFront
        to the record its custom origin names, and GitHub to the pipeline's
        source."""
        view = self.view
        records = {show(view.props(k).get("Name")).rstrip("."): k for k in view.of_type("AWS::Route53::RecordSet")}
        origins = set()
        for key in view.of_type("AWS::CloudFront::Distribution"):
            for origin in view.props(key).get("DistributionConfig", {}).get("Origins", []):
                record = records.get(show(origin.get("DomainName")).rstrip("."))
                if record and "CustomOriginConfig" in origin and record in self.node_of:
                    origins.add(record)
                    self.add(self.node_of[key], self.node_of[record], "origin (https)", "traffic")
        for record in sorted(set(records.values()) - origins):
            if record in self.node_of:
                self.add(INTERNET, self.node_of[record], "https", "traffic")
        sources = [k for k in view.of_type("AWS::CodeStarConnections::Connection") if k in self.node_of] or [
            k for k in view.of_type("AWS::CodePipeline::Pipeline") if k in self.node_of]
        for key in sources:
            self.add(GITHUB, self.node_of[key], "push", "delivery")

    def external(self) -> list[Node]:
        used = {e.source for e in self.edges.values()} | {e.target for e in self.edges.values()}
        return [Node(node_id, "", title) for node_id, title in EXTERNAL.items() if node_id in used]


def build(view: View, title: str, region: str, notes: list[str] | None = None) -> Diagram:
    made = _Builder(view, region)
    made.add_nodes()
    made.undrawn_layers()
    made.placements()
    made.follow()
    made.listeners()
    made.routes()
    made.allowances()
    made.entries()
    layers = [name for name in view.templates if name != ROOT and any(n.layer == name for n in made.nodes.values())]
    nodes = made.external() + sorted(made.nodes.values(), key=lambda n: (layers.index(n.layer), n.group, n.id))
    edges = sorted(made.edges.values(), key=lambda e: (EDGE_KINDS.index(e.kind), e.source, e.target))
    return Diagram(title, layers, nodes, edges, list(notes or []))


def of_parameter_file(templates: dict[str, dict], env: str, label: str, given: dict[str, str],
                      region: str) -> Diagram:
    """One environment's diagram: `given` is its parameter file's values over
    the catalogue's defaults, `label` how the file is named in the title.
    An image tag the file leaves empty is drawn as once its image is
    deployed (its service and what hangs on it), and the diagram says so."""
    values, empty = steady_state(given)
    notes = [f"{name} is empty in {label}: its service is drawn as once its image is deployed" for name in empty]
    return build(environment(templates, values), f"CodeMate on AWS: {env} ({label})", region, notes)


def of_every_part(templates: dict[str, dict], region: str) -> Diagram:
    return build(every_part(templates), "CodeMate on AWS: every part the templates can make", region)
