"""Rendering turns troposphere's own validation errors into one-line build
errors that name the layer."""

import pytest
from troposphere import Ref
from troposphere.rds import DBInstance

from codemate_cfn.errors import BuildError
from codemate_cfn.layer import Conventions, Layer
from codemate_cfn.params.parameter import Param
from codemate_cfn.compile.render import render_layers


CATALOGUE = {"EnvironmentName": Param("EnvironmentName", "dev or prod", allowed_values=("dev", "prod"))}
CONVENTIONS = Conventions(name_prefix="codemate", environment_param="EnvironmentName",
                          tags={"Environment": Ref("EnvironmentName")}, regions=("ap-northeast-2",))


def test_a_missing_required_property_names_the_layer():
    def build(t):
        t.add(DBInstance("Database", DBInstanceClass="db.t4g.micro"))  # no Engine

    with pytest.raises(BuildError, match=r"^layer data: Resource Engine is required in type AWS::RDS::DBInstance"):
        render_layers([Layer("data", "a database without an engine", build)], CATALOGUE, CONVENTIONS)


def test_a_wrong_property_type_names_the_layer():
    def build(t):
        t.add(DBInstance("Database", Engine="postgres", AllocatedStorage=["twenty"]))

    with pytest.raises(BuildError, match=r"^layer data: "):
        render_layers([Layer("data", "a database with bad storage", build)], CATALOGUE, CONVENTIONS)


def test_every_form_of_tags_gets_the_standard_tags():
    from troposphere.route53 import HostedZone
    from troposphere.ssm import Parameter as SsmParameter

    from troposphere.budgets import Budget, BudgetData, ResourceTag

    def build(t):
        t.add(HostedZone("Zone", Name="codemate.example.com"))
        t.add(SsmParameter("Setting", Type="String", Value="on", Tags={"Owner": "team", "Project": "other"}))
        t.add(Budget("Monthly", Budget=BudgetData(BudgetType="COST", TimeUnit="MONTHLY"),
                     ResourceTags=[ResourceTag(Key="Owner", Value="team")]))

    conventions = Conventions(name_prefix="codemate", environment_param="EnvironmentName", regions=("ap-northeast-2",),
                              tags={"Environment": Ref("EnvironmentName"), "Project": "codemate",
                                    "ManagedBy": "cloudformation"})
    rendered = render_layers([Layer("edge", "tags in every form", build)], CATALOGUE, conventions)
    resources = rendered.templates["edge"]["Resources"]
    assert resources["Zone"]["Properties"]["HostedZoneTags"] == [
        {"Key": "Environment", "Value": {"Ref": "EnvironmentName"}},
        {"Key": "ManagedBy", "Value": "cloudformation"},
        {"Key": "Project", "Value": "codemate"},
    ]
    assert resources["Setting"]["Properties"]["Tags"] == {
        "Environment": {"Ref": "EnvironmentName"}, "Project": "codemate", "ManagedBy": "cloudformation",
        "Owner": "team",
    }
    assert resources["Monthly"]["Properties"]["ResourceTags"] == [  # a Key/Value type of its own
        {"Key": "Environment", "Value": {"Ref": "EnvironmentName"}},
        {"Key": "Project", "Value": "codemate"},
        {"Key": "ManagedBy", "Value": "cloudformation"},
        {"Key": "Owner", "Value": "team"},
    ]
