"""The root template wires every layer input by name to exactly one source:
a root parameter from the catalogue or another layer's output. These layers
are built in memory, so each wiring mistake can be made on purpose."""

from __future__ import annotations

import pytest
from troposphere import Ref
from troposphere.cloudformation import WaitConditionHandle
from troposphere.s3 import Bucket

from codemate_cfn.errors import BuildError
from codemate_cfn.layer import Conventions, Layer
from codemate_cfn.params.parameter import Param
from codemate_cfn.compile.render import render_layers
from codemate_cfn.compile.wiring import Source, resolve_sources, root_template

ENVIRONMENT = Param("EnvironmentName", "dev or prod", allowed_values=("dev", "prod"))
VPC_CIDR = Param("VpcCidr", "CIDR of the VPC", default="10.0.0.0/16", kind="cidr")
CONVENTIONS = Conventions(name_prefix="codemate", environment_param="EnvironmentName",
                          tags={"Environment": Ref("EnvironmentName")}, regions=("ap-northeast-2",))


def catalogue(*params: Param) -> dict[str, Param]:
    return {p.name: p for p in (ENVIRONMENT, *params)}


def layer(name: str, needs=(), gives=(), root_outputs=None) -> Layer:
    """A layer that needs `needs`, and gives `gives` (each the ID of its one
    resource); root_outputs maps an output to its description in the root."""
    root_outputs = root_outputs or {}

    def build(t):
        for input_name in needs:
            t.input(input_name)
        t.add(WaitConditionHandle("Handle"))
        for output in gives:
            t.output(output, Ref("Handle"), f"{output} from {name}", root=root_outputs.get(output))

    return Layer(name, f"the {name} layer", build)


def wire(layers: list[Layer], params: dict[str, Param]):
    built = {x.name: x.render(params, CONVENTIONS) for x in layers}
    return root_template({x.name: x for x in layers}, built, params, "test root")


def test_an_input_with_no_source_names_the_layer_and_the_input():
    with pytest.raises(BuildError, match=r"^layer security: input VpcId has no source "):
        wire([layer("security", needs=["VpcId"])], catalogue())


def test_an_input_with_two_sources_names_both():
    layers = [layer("network", gives=["VpcId"]), layer("security", needs=["VpcId"])]
    params = catalogue(Param("VpcId", "an existing VPC"))

    with pytest.raises(BuildError) as raised:
        wire(layers, params)

    assert str(raised.value) == (
        "layer security: input VpcId has two sources: root parameter VpcId and output VpcId of layer network"
    )


def test_an_input_offered_by_two_layers_is_refused_naming_both():
    layers = [layer("network", gives=["VpcId"]), layer("legacy", gives=["VpcId"]), layer("security", needs=["VpcId"])]

    with pytest.raises(BuildError, match=r"^output VpcId is declared by more than one layer: legacy, network$"):
        wire(layers, catalogue())


def test_a_dependency_cycle_is_named_as_the_path_round_it():
    layers = [
        layer("apps", needs=["DbHost"], gives=["AppSecurityGroup"]),
        layer("data", needs=["AppSecurityGroup"], gives=["DbHost"]),
        layer("edge", needs=["AppSecurityGroup"]),  # waits on the cycle, is not part of it
    ]

    with pytest.raises(BuildError) as raised:
        wire(layers, catalogue())

    assert str(raised.value) == (
        "layers depend on each other in a cycle: apps -> data -> apps (each needs an output of the next)"
    )


def test_a_catalogue_parameter_no_layer_uses_is_refused():
    with pytest.raises(BuildError, match=r"^templates_src/catalogue.py: parameter\(s\) used by no layer: VpcCidr$"):
        wire([layer("network")], catalogue(VPC_CIDR))


def test_the_catalogue_cannot_declare_the_deployers_parameters():
    params = catalogue(Param("TemplatesBucketName", "where templates live"))

    with pytest.raises(BuildError, match=r"^templates_src/catalogue.py: TemplatesBucketName is the deployer's own parameter"):
        wire([layer("network", needs=["TemplatesBucketName"])], params)


def test_an_output_declared_twice_in_one_layer_names_the_layer():
    def build(t):
        t.output("VpcId", "vpc-1", "first")
        t.output("VpcId", "vpc-2", "second")

    with pytest.raises(BuildError, match=r"^layer network: output VpcId declared twice$"):
        render_layers([Layer("network", "twice", build)], catalogue(), CONVENTIONS)


@pytest.mark.parametrize("name", ["root", "Network", "edge_cache", "2nd", ""])
def test_a_layer_name_must_make_a_file_name_and_a_logical_id(name):
    with pytest.raises(ValueError, match="lower-case letters and digits"):
        Layer(name, "badly named", lambda t: None)


def test_resolve_sources_tells_where_each_input_comes_from():
    params = catalogue(VPC_CIDR)
    built = {
        x.name: x.render(params, CONVENTIONS)
        for x in (layer("network", needs=["VpcCidr"], gives=["VpcId"]), layer("security", needs=["VpcId"]))
    }

    assert resolve_sources(built, params) == {
        "network": {"EnvironmentName": Source(None, "EnvironmentName"), "VpcCidr": Source(None, "VpcCidr")},
        "security": {"EnvironmentName": Source(None, "EnvironmentName"), "VpcId": Source("network", "VpcId")},
    }


@pytest.fixture(scope="module")
def wired():
    """network <- security <- apps, named so alphabetical order is wrong."""
    layers = [
        layer("apps", needs=["AlbSecurityGroup", "VpcId"], gives=["AlbDnsName"], root_outputs={"AlbDnsName": "alb_dns_name"}),
        layer("security", needs=["VpcId"], gives=["AlbSecurityGroup"]),
        layer("network", needs=["VpcCidr"], gives=["VpcId"]),
    ]
    root, order = wire(layers, catalogue(VPC_CIDR))
    return root.to_dict(), order


def test_layers_are_ordered_producers_first(wired):
    _, order = wired
    assert order == ["network", "security", "apps"]


def test_root_parameters_are_passed_by_ref_and_outputs_by_getatt(wired):
    root, _ = wired
    stacks = root["Resources"]

    assert stacks["NetworkStack"]["Properties"]["Parameters"] == {
        "EnvironmentName": {"Ref": "EnvironmentName"},
        "VpcCidr": {"Ref": "VpcCidr"},
    }
    assert stacks["AppsStack"]["Properties"]["Parameters"] == {
        "AlbSecurityGroup": {"Fn::GetAtt": ["SecurityStack", "Outputs.AlbSecurityGroup"]},
        "EnvironmentName": {"Ref": "EnvironmentName"},
        "VpcId": {"Fn::GetAtt": ["NetworkStack", "Outputs.VpcId"]},
    }
    assert {r["Type"] for r in stacks.values()} == {"AWS::CloudFormation::Stack"}


def test_nested_stacks_say_a_delete_or_replacement_deletes_them(wired):
    """Explicit (cfn-lint's I3011): Delete, since the stateful resources a
    nested stack holds keep their data by their own policies."""
    root, _ = wired

    assert {lid: (r["DeletionPolicy"], r["UpdateReplacePolicy"]) for lid, r in root["Resources"].items()} == {
        "NetworkStack": ("Delete", "Delete"), "SecurityStack": ("Delete", "Delete"), "AppsStack": ("Delete", "Delete"),
    }


def test_template_urls_come_from_the_templates_bucket_and_prefix(wired):
    root, _ = wired

    assert root["Resources"]["SecurityStack"]["Properties"]["TemplateURL"] == {
        "Fn::Sub": "https://${TemplatesBucketName}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesKeyPrefix}security.json"
    }
    assert root["Parameters"]["TemplatesKeyPrefix"]["Default"] == ""
    assert "Default" not in root["Parameters"]["TemplatesBucketName"]


def test_the_root_declares_the_used_catalogue_and_the_deployer_parameters(wired):
    root, _ = wired

    assert list(root["Parameters"]) == ["EnvironmentName", "VpcCidr", "TemplatesBucketName", "TemplatesKeyPrefix"]
    assert root["Parameters"]["VpcCidr"] == {"Type": "String", "Description": "CIDR of the VPC", "Default": "10.0.0.0/16"}


def test_root_outputs_are_re_exported_from_their_layer(wired):
    root, _ = wired

    assert root["Outputs"] == {
        "AlbDnsName": {"Description": "alb_dns_name", "Value": {"Fn::GetAtt": ["AppsStack", "Outputs.AlbDnsName"]}}
    }


def test_a_layer_input_from_the_catalogue_keeps_its_checks_but_not_its_default():
    params = catalogue(VPC_CIDR, Param("NatGatewayCount", "NATs", default="1", allowed_values=("1", "2")))
    network = layer("network", needs=["VpcCidr", "NatGatewayCount"]).render(params, CONVENTIONS).to_dict()

    assert network["Parameters"]["NatGatewayCount"] == {"Type": "String", "Description": "NATs", "AllowedValues": ["1", "2"]}
    assert network["Parameters"]["EnvironmentName"]["AllowedValues"] == ["dev", "prod"]


# -- the project's conventions: the compiler applies whatever it is given ---------

def test_names_tags_and_the_environment_input_come_from_the_conventions():
    other = Conventions(name_prefix="acme", environment_param="Stage",
                        tags={"Stage": Ref("Stage"), "Owner": "platform"}, regions=("eu-west-1",))

    def build(t):
        t.add(Bucket("Files", BucketName=t.name_of("files", account=True)))
        t.output("Stage", t.env, "the stage")

    rendered = render_layers([Layer("storage", "files", build)], {"Stage": Param("Stage", "the stage")}, other)
    storage = rendered.templates["storage"]

    assert list(storage["Parameters"]) == ["Stage"]
    assert storage["Resources"]["Files"]["Properties"] == {
        "BucketName": {"Fn::Sub": "acme-files-${Stage}-${AWS::AccountId}"},
        "Tags": [{"Key": "Owner", "Value": "platform"}, {"Key": "Stage", "Value": {"Ref": "Stage"}}],
    }
    assert storage["Outputs"]["Stage"]["Value"] == {"Ref": "Stage"}


def test_conventions_tell_fixed_tags_from_the_environment_tag():
    assert CONVENTIONS.fixed_tags == {}
    assert CONVENTIONS.environment_tags == ("Environment",)
    both = Conventions("codemate", "EnvironmentName", {"Environment": Ref("EnvironmentName"), "Project": "codemate"},
                       ("ap-northeast-2",))
    assert both.fixed_tags == {"Project": "codemate"}


@pytest.mark.parametrize("value", [Ref("VpcId"), 42])
def test_a_standard_tag_is_a_string_or_the_environment(value):
    with pytest.raises(ValueError, match=r"^Conventions: tag Team must be a string or Ref\('EnvironmentName'\)"):
        Conventions("codemate", "EnvironmentName", {"Team": value}, ("ap-northeast-2",))


def test_conventions_name_at_least_one_region():
    with pytest.raises(ValueError, match="at least one region"):
        Conventions("codemate", "EnvironmentName", {"Environment": Ref("EnvironmentName")}, ())
