"""Moving the database's master password from RDS's own secret
(`ManageMasterUserPassword: true`, as the data layer had it up to commit
8cafcd7) to our generated secret codemate/<env>/database modifies the
instance in place: the offline plan and a deploy on the local emulator both
show `Database` modified, never replaced, with the secret and its
attachment added, and the stateful guard lets it through without
--allow-replacement. With our own password, the read replica RDS refuses
for managed passwords can be created (docs/stateful-resources.md)."""

from __future__ import annotations

import copy
import re

import pytest

from codemate_cfn.compile import layout
from codemate_cfn.deploy import guard
from codemate_cfn.deploy import stack as stack_reads
from codemate_cfn.deploy.conditions import references
from codemate_cfn.deploy.plan import predict
from codemate_cfn.emulator import is_placeholder
import layer_values
from deploy_support import REGION, Recorder, params_file, run_deploy

pytest_plugins = ["emulator_fixtures"]

# The layers the root nested before the edge and services layers came, in
# the same commit as the password's move.
LAYERS_BEFORE = ("storage", "network", "security", "data")
# What the switch does in the data stack: logical ID -> (action, replacement)
SWITCH = {"Database": ("modify", "false"), "DatabaseSecret": ("add", "false"),
          "DatabaseSecretAttachment": ("add", "false")}


def layers_only(templates: dict, names=LAYERS_BEFORE) -> dict:
    """The templates with the root nesting only the named layers: their
    stacks, the root outputs that come from them and the root parameters
    they use."""
    kept = copy.deepcopy({name: t for name, t in templates.items() if name in ("root", *names)})
    root = kept["root"]
    gone = {lid for lid, name in layout.nested_names(root).items() if name not in names}
    for lid in gone:
        del root["Resources"][lid]
    root["Outputs"] = {name: output for name, output in root.get("Outputs", {}).items()
                       if not references(output["Value"]) & gone}
    used = references([root["Resources"], root["Outputs"], root.get("Conditions", {})])
    root["Parameters"] = {name: spec for name, spec in root["Parameters"].items() if name in used}
    return kept


def with_managed_password(templates: dict) -> dict:
    """The templates with the data layer as it was up to 8cafcd7: RDS
    manages the master password in a secret of its own (encrypted with the
    project key, ARN output as DbMasterSecretArn); no codemate/<env>/database
    secret, no attachment."""
    old = copy.deepcopy(templates)
    data = old["data"]
    props = data["Resources"]["Database"]["Properties"]
    del props["MasterUserPassword"]
    props["ManageMasterUserPassword"] = True
    props["MasterUserSecret"] = {"KmsKeyId": {"Ref": "KmsKeyArn"}}
    for logical_id in ("DatabaseSecret", "DatabaseSecretAttachment"):
        del data["Resources"][logical_id]
    del data["Outputs"]["DatabaseSecretArn"]
    data["Outputs"]["DbMasterSecretArn"] = {
        "Description": "ARN of the RDS-managed master secret, JSON with username and password "
                       "(DATABASE_USER, DATABASE_PASSWORD).",
        "Value": {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]},
    }
    return old


def data_rows(changes) -> dict[str, tuple[str, str]]:
    """The data layer's rows: logical ID -> (action, replacement)."""
    return {c.logical_id: (c.action, c.replacement) for c in changes if c.stack == "data"}


# --- the offline plan ----------------------------------------------------------------------

def switch_plan(env: str, new: dict | None = None):
    """The offline plan of deploying `new` (today's templates) with
    params/<env>.json over the same environment before the switch."""
    values = {**{n: p.default for n, p in layer_values.catalogue().items() if p.default is not None},
              **layer_values.param_file(env)}
    today = layer_values.templates()
    return predict(with_managed_password(layers_only(today)), new or today, values, values, region=REGION)


@pytest.mark.parametrize("env", layer_values.ENVIRONMENTS)
def test_the_offline_plan_modifies_the_database_in_place_and_adds_the_secret(env):
    changes = switch_plan(env)
    assert data_rows(changes) == SWITCH
    database = next(c for c in changes if c.logical_id == "Database")
    assert database.details == ["property ManageMasterUserPassword", "property MasterUserSecret",
                                "property MasterUserPassword"]
    assert database.causes == {} and database.in_place == {}  # no property that may replace, nothing to clear
    assert guard.refusals(changes, set()) == []


def test_renaming_the_master_user_in_the_same_move_would_replace_the_database():
    # why MasterUsername stays codemate: it is create-only, and the guard would refuse the switch
    renamed = copy.deepcopy(layer_values.templates())
    renamed["data"]["Resources"]["Database"]["Properties"]["MasterUsername"] = "app"
    changes = switch_plan("prod", renamed)
    assert data_rows(changes)["Database"] == ("modify", "true")
    assert [c.logical_id for c in guard.at_risk(changes)] == ["Database"]


# --- on the emulator -----------------------------------------------------------------------

def rds_instance(aws, params, templates, logical_id: str) -> dict:
    names = {layer: lid for lid, layer in layout.nested_names(templates["root"]).items()}
    data_stack = stack_reads.nested_stacks(aws.cloudformation, f"codemate-{params.path.stem}")[names["data"]]
    physical = aws.cloudformation.describe_stack_resource(StackName=data_stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]
    return aws.client("rds").describe_db_instances(DBInstanceIdentifier=physical)["DBInstances"][0]


def test_switching_a_deployed_database_to_our_secret_is_an_update_in_place(
        fresh_emulator, aws, templates, project, catalogue):
    prod = params_file(project, catalogue, "prod")
    today = layers_only(templates)
    before = with_managed_password(today)
    assert run_deploy(aws, before, prod, catalogue).outcome == "deployed"
    created = rds_instance(aws, prod, before, "Database")
    assert created["MasterUserSecret"]["SecretArn"]  # RDS-managed, as before the switch

    ui = Recorder()
    switched = run_deploy(aws, today, prod, catalogue, ui)
    assert switched.outcome == "deployed" and switched.refused == []
    assert data_rows(switched.changes) == SWITCH
    assert re.search(r"^modify +false +Database +AWS::RDS::DBInstance +yes ", ui.shown, re.M)
    assert "0 replaced, 0 may be replaced" in ui.shown
    assert "stateful guard: no stateful resource is replaced or deleted" in ui.noted
    # moto cannot update a DB instance: the emulator keeps the one it had (same identity), and shows
    # that the update went through without replacing it, not what RDS then does with the password
    kept = rds_instance(aws, prod, today, "Database")
    assert (kept["DBInstanceIdentifier"], kept["InstanceCreateTime"]) == (
        created["DBInstanceIdentifier"], created["InstanceCreateTime"])
    # Secrets Manager's CloudFormation types have no model in the emulator: placeholders, never created
    resources = stack_reads.all_resources(aws.cloudformation, "codemate-prod", layout.nested_names(today["root"]))
    placeholders = {r["LogicalResourceId"] for r in resources if r["Label"] == "data"
                    and is_placeholder(r.get("PhysicalResourceId"))}
    assert {"DatabaseSecret", "DatabaseSecretAttachment"} <= placeholders


def test_the_read_replica_is_created_as_a_replica_of_the_database(fresh_emulator, aws, templates, project, catalogue):
    prod = params_file(project, catalogue, "prod", DbCreateReadReplica="true")
    today = layers_only(templates)
    assert run_deploy(aws, today, prod, catalogue).outcome == "deployed"
    primary = rds_instance(aws, prod, today, "Database")
    replica = rds_instance(aws, prod, today, "DatabaseReadReplica")
    assert replica["DBInstanceIdentifier"] == "codemate-db-replica-prod"
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == primary["DBInstanceIdentifier"] == "codemate-db-prod"
    assert primary["ReadReplicaDBInstanceIdentifiers"] == ["codemate-db-replica-prod"]
    assert "MasterUserSecret" not in primary
