"""The stateful guard refuses deletes and replacements of resources that
hold data, unless --allow-replacement names them; routine tuning that AWS
applies in place passes without consent."""

import copy

import pytest

from codemate_cfn.deploy.guard import check_allowances, refusals
from codemate_cfn.deploy.plan import Change, predict
from codemate_cfn.deploy.transitions import IN_PLACE, in_place
from codemate_cfn.errors import InvalidInput
from codemate_cfn.stateful import is_stateful
from layer_values import catalogue, param_file, templates

DB = "AWS::RDS::DBInstance"


def change(action="modify", replacement="true", resource_type="AWS::S3::Bucket", logical_id="FilesBucket",
           stack="storage", details=("property BucketName",), causes=None, policy=None):
    if causes is None:
        causes = {d.removeprefix("property "): replacement for d in details} if replacement != "false" else {}
    return Change(stack, action, logical_id, resource_type, replacement, list(details), is_stateful(resource_type), [],
                  causes=causes, policy=policy)


def test_replacing_a_bucket_is_refused_with_stack_id_cause_fate_and_the_way_out():
    (message,) = refusals([change()], set())
    assert message == (
        "stack storage: FilesBucket (AWS::S3::Bucket) would be replaced (property BucketName); "
        "that loses the bucket and every object in it. To allow it: --allow-replacement FilesBucket"
    )


@pytest.mark.parametrize("policy, fate", [
    ("Retain", "the old one is kept, no longer managed by the stack: its data stays where it is, and the new one "
               "starts empty (UpdateReplacePolicy Retain)"),
    ("Snapshot", "a final snapshot is taken, then the old one is deleted: its data survives only in that snapshot "
                 "(UpdateReplacePolicy Snapshot)"),
    ("Delete", "that loses the bucket and every object in it"),
])
def test_the_message_says_what_happens_to_the_data_under_the_policy(policy, fate):
    (message,) = refusals([change(policy=policy)], set())
    assert f"; {fate}. To allow it" in message


def test_a_removed_resource_is_named_with_its_deletion_policy():
    (message,) = refusals([change(action="remove", replacement="false", resource_type=DB, logical_id="Database",
                                  stack="data", details=["no longer in the template"], policy="Snapshot")], set())
    assert message.startswith("stack data: Database (AWS::RDS::DBInstance) would be deleted (no longer in the template); "
                              "a final snapshot is taken")
    assert "(DeletionPolicy Snapshot)" in message


def test_only_the_properties_that_replace_are_named():
    row = change(resource_type=DB, logical_id="Database", stack="data",
                 details=["property DBName", "property Tags", "property DeletionProtection"],
                 causes={"DBName": "true"})
    (message,) = refusals([row], set())
    assert "(property DBName);" in message and "Tags" not in message and "DeletionProtection" not in message


@pytest.mark.parametrize("row", [
    change(replacement="false", details=["property Tags"]),                 # updated in place
    change(action="add", replacement="false", details=[]),                  # created
    change(resource_type="AWS::EC2::SecurityGroup", logical_id="AlbSg"),    # replaced, holds no data
    change(action="remove", replacement="false", resource_type="AWS::SNS::Topic"),
])
def test_changes_that_keep_the_data_pass(row):
    assert refusals([row], set()) == []


def test_allow_replacement_lets_the_named_resource_through_only():
    rows = [change(), change(logical_id="LogsBucket")]
    assert refusals(rows, {"FilesBucket", "LogsBucket"}) == []
    (left,) = refusals(rows, {"FilesBucket"})
    assert left.startswith("stack storage: LogsBucket")
    assert refusals(rows, {"storage/FilesBucket", "storage/LogsBucket"}) == []


def test_an_allowance_that_matches_nothing_at_risk_is_an_error_listing_what_could_be_allowed():
    rows = [change(), change(logical_id="LogsBucket")]
    check_allowances(rows, {"FilesBucket", "storage/LogsBucket"})
    with pytest.raises(InvalidInput) as raised:
        check_allowances(rows, {"FilesBuckt", "other/FilesBucket"})
    assert str(raised.value) == (
        "--allow-replacement FilesBuckt other/FilesBucket: the plan deletes or replaces no stateful resource of that "
        "name; the ones that could be allowed: FilesBucket (stack storage), LogsBucket (stack storage)")
    with pytest.raises(InvalidInput, match="could be allowed: none: nothing is at risk"):
        check_allowances([], {"Database"})


# -- the table of in-place transitions, a test per row ------------------------------

@pytest.mark.parametrize("old, new, cleared", [("false", "true", True), ("true", "false", True),
                                               ({"Ref": "Unknown"}, "true", False)])
def test_multi_az_switches_in_place(old, new, cleared):
    assert bool(in_place(DB, "MultiAZ", old, new)) is cleared


@pytest.mark.parametrize("old, new, cleared", [("7", "14", True), (3, "35", True), ("7", "0", False),
                                               ("0", "7", False), ({"Ref": "X"}, "7", False)])
def test_backup_retention_between_non_zero_values_updates_in_place(old, new, cleared):
    assert bool(in_place(DB, "BackupRetentionPeriod", old, new)) is cleared


@pytest.mark.parametrize("prop, old, new", [("AutoMinorVersionUpgrade", True, False),
                                            ("PreferredMaintenanceWindow", "sun:19:30-sun:20:30", "mon:19:30-mon:20:30")])
def test_minor_upgrades_and_maintenance_windows_update_in_place(prop, old, new):
    assert in_place(DB, prop, old, new)


def test_every_row_of_the_table_is_tested_above():
    assert set(IN_PLACE) == {(DB, "MultiAZ"), (DB, "BackupRetentionPeriod"), (DB, "AutoMinorVersionUpgrade"),
                             (DB, "PreferredMaintenanceWindow")}


def test_a_property_the_table_does_not_know_is_not_cleared():
    assert in_place(DB, "Engine", "postgres", "mysql") is None
    assert in_place("AWS::S3::Bucket", "MultiAZ", "false", "true") is None


# -- with the real templates -----------------------------------------------------

def prod_values(**changes) -> dict:
    given = {**{n: p.default for n, p in catalogue().items() if p.default is not None}, **param_file("prod")}
    return {name: given[name] for name in templates()["root"]["Parameters"] if name in given} | changes


@pytest.mark.parametrize("change_to, cleared", [
    ({"DbBackupRetentionDays": "14"}, {"BackupRetentionPeriod"}),
    ({"DbMultiAz": "false"}, {"MultiAZ"}),
    ({"DbBackupRetentionDays": "14", "DbMultiAz": "false"}, {"BackupRetentionPeriod", "MultiAZ"}),
])
def test_routine_database_tuning_in_prod_passes_without_consent(change_to, cleared):
    changes = predict(templates(), templates(), prod_values(), prod_values(**change_to))
    (database,) = [c for c in changes if c.logical_id == "Database"]
    assert database.replacement == "false" and database.causes == {}
    assert set(database.in_place) == cleared
    assert refusals(changes, set()) == []


def test_turning_backups_off_is_still_refused():
    changes = predict(templates(), templates(), prod_values(), prod_values(DbBackupRetentionDays="0"))
    (message,) = refusals(changes, set())
    assert "Database (AWS::RDS::DBInstance) may be replaced (property BackupRetentionPeriod)" in message


def test_the_real_templates_refuse_a_renamed_environment_naming_the_cause():
    dev = prod_values(EnvironmentName="dev")
    changes = predict(templates(), templates(), dev, {**dev, "EnvironmentName": "prod"})
    logs = [m for m in refusals(changes, set()) if m.startswith("stack storage: LogsBucket ")]
    assert logs and "would be replaced (property BucketName);" in logs[0]
    assert "the old one is kept" in logs[0]  # the logs bucket is Retain
    assert not any(m.startswith("stack storage: LogsBucket ") for m in refusals(changes, {"LogsBucket"}))


def test_a_database_whose_name_changes_is_refused_for_that_property_only():
    changed = copy.deepcopy(templates())
    changed["data"]["Resources"]["Database"]["Properties"]["DBName"] = "other"
    changes = predict(templates(), changed, prod_values(), prod_values())
    (message,) = [m for m in refusals(changes, set()) if "Database " in m]
    assert "would be replaced (property DBName); a final snapshot is taken" in message


def test_the_stack_policy_lets_stateful_resources_update_in_place_and_never_be_replaced_or_deleted():
    from codemate_cfn.stateful import stack_policy

    allow, deny = stack_policy(["Database", "FilesBucket"])["Statement"]
    assert (allow["Effect"], allow["Action"], allow["Resource"]) == ("Allow", "Update:*", "*")
    assert deny["Effect"] == "Deny" and sorted(deny["Action"]) == ["Update:Delete", "Update:Replace"]
    assert "Update:Modify" not in deny["Action"]  # routine tuning goes through
    assert deny["Resource"] == ["LogicalResourceId/Database", "LogicalResourceId/FilesBucket"]


def test_removing_the_read_replica_says_rds_takes_no_final_snapshot_of_it():
    with_replica = prod_values(DbCreateReadReplica="true")
    changes = predict(templates(), templates(), with_replica, prod_values(DbCreateReadReplica="false"))
    (message,) = [m for m in refusals(changes, set()) if "DatabaseReadReplica " in m]
    assert message.startswith("stack data: DatabaseReadReplica (AWS::RDS::DBInstance) would be deleted")
    assert "it is deleted without a final snapshot, as RDS deletes every read replica: its data is the primary's " \
           "(DeletionPolicy Snapshot)" in message
    assert "a final snapshot is taken" not in message


def test_a_removed_retained_resource_is_kept_and_no_new_one_is_promised():
    (message,) = refusals([change(action="remove", replacement="false", details=["no longer in the template"],
                                  policy="Retain")], set())
    assert "would be deleted (no longer in the template); it is kept, no longer managed by the stack: its data " \
           "stays where it is (DeletionPolicy Retain)." in message
    assert "new one" not in message
