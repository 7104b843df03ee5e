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
