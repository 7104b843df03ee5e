"""The deploy plan: what a deploy adds, modifies, removes or replaces in the
root stack and in every nested stack.

predict() works offline from the old and new templates and the root
parameter values; merge_aws() lets AWS's change sets correct it where they
say more. plan_view shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from codemate_cfn.deploy import widening
from codemate_cfn.deploy.transitions import in_place
from codemate_cfn.deploy.conditions import Context, parameter_values, references, without_uncertain
from codemate_cfn.compile.layout import ROOT, STACK_TYPE, layer_of_url
from codemate_cfn.errors import CodemateError
from codemate_cfn.params.parameter import DEPLOYER_PARAMS
from codemate_cfn.schemas import DEFAULT_REGION, replacement, strongest, weakest
from codemate_cfn.stateful import is_stateful

# Resource attributes besides Properties whose change updates the stack.
ATTRIBUTES = {
    "Metadata": "metadata",
    "DependsOn": "DependsOn",
    "DeletionPolicy": "DeletionPolicy",
    "UpdateReplacePolicy": "UpdateReplacePolicy",
    "UpdatePolicy": "UpdatePolicy",
    "CreationPolicy": "CreationPolicy",
}
ACTIONS = ("add", "modify", "remove")
MISSING = object()
NO_ECHO_MASK = "****"  # how describe_stacks shows a NoEcho parameter's value


@dataclass
class Change:
    stack: str            # "root" or the layer name ("network", "storage", ...)
    action: str           # "add" | "modify" | "remove"
    logical_id: str
    resource_type: str
    replacement: str      # "true" | "conditional" | "false"
    details: list[str]    # what changed, e.g. ["property BucketName", "parameter NatGatewayCount"]
    stateful: bool
    widens_access: list[str] = field(default_factory=list)  # notes when IAM or SG access widens
    source: str = "predicted"  # or "aws" when AWS's change set lists the row
    # property -> "true" / "conditional": the changed properties that replace
    # (or may replace) the resource, after the table of in-place transitions
    causes: dict[str, str] = field(default_factory=dict)
    in_place: dict[str, str] = field(default_factory=dict)  # property -> why the table clears it
    # UpdateReplacePolicy of a replaced resource, DeletionPolicy of a removed one
    policy: str | None = None
    # an RDS read replica (SourceDBInstanceIdentifier): RDS takes no final
    # snapshot of one, whatever its policy says
    replica: bool = False


# -- comparing resolved values ----------------------------------------------

def _plain(value) -> bool:
    """A dict to look inside (not a symbol like {"Ref": ...}), or nothing."""
    if value is MISSING:
        return True
    return isinstance(value, dict) and not any(k == "Ref" or k.startswith("Fn::") for k in value)


def changed_paths(old, new, path: tuple = ()) -> list[tuple[tuple, bool]]:
    """(path, certain) for every leaf where `old` and `new` differ; certain
    is False when the difference is only something that may be replaced."""
    if old == new:
        return []
    if _plain(old) and _plain(new):
        old, new = ({} if v is MISSING else v for v in (old, new))
        return [
            found
            for key in dict.fromkeys([*old, *new])
            for found in changed_paths(old.get(key, MISSING), new.get(key, MISSING), path + (key,))
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [found for i, (o, n) in enumerate(zip(old, new)) for found in changed_paths(o, n, path + (i,))]
    return [(path, without_uncertain(old) != without_uncertain(new))]


def _level(old, new) -> str | None:
    """None when equal, else how sure it is that the value changes."""
    if old == new:
        return None
    return "true" if without_uncertain(old) != without_uncertain(new) else "conditional"


def _depends_on(value) -> list:
    return sorted(value if isinstance(value, list) else [] if value is None else [value])


# -- one stack ----------------------------------------------------------------

def _dependency_order(resources: dict) -> list[str]:
    """Logical IDs with every resource after those it references (template
    order otherwise); a cycle, which CloudFormation rejects, keeps template order."""
    needs = {
        lid: (references(r) | set(_depends_on(r.get("DependsOn")))) & set(resources) - {lid}
        for lid, r in resources.items()
    }
    ordered: dict[str, None] = {}
    while len(ordered) < len(resources):
        ready = next((lid for lid in resources if lid not in ordered and needs[lid] <= ordered.keys()), None)
        if ready is None:
            return [*ordered, *(lid for lid in resources if lid not in ordered)]
        ordered[ready] = None
    return list(ordered)


def _detail(resource_type: str, path: tuple) -> str:
    if resource_type == STACK_TYPE and path[0] == "Parameters" and len(path) > 1:
        return f"parameter {path[1]}"
    return f"property {path[0]}"


def _properties(context: Context, logical_id: str) -> dict:
    return context.resolve(context.resources[logical_id].get("Properties", {}))


class _StackDiff:
    """The changes of one stack between two evaluated templates."""

    def __init__(self, stack: str, old: Context, new: Context, region: str, nested=None):
        self.stack, self.old, self.new, self.region = stack, old, new, region
        self.nested = nested or (lambda logical_id: [])  # called before each resource; extra details

    def changes(self) -> list[Change]:
        old_ids = [lid for lid in self.old.resources if self.old.present(lid)]
        new_ids = [lid for lid in _dependency_order(self.new.resources) if self.new.present(lid)]
        rows = []
        for lid in new_ids:
            extra = self.nested(lid)
            if lid in old_ids:
                row = self._modified(lid, extra)
            else:
                row = self._added(lid)
            if row is not None:
                rows.append(row)
                if row.replacement != "false" or row.action == "add":
                    self.new.renewed[lid] = "true" if row.action == "add" else row.replacement
        for lid in old_ids:
            if lid not in new_ids:
                self.nested(lid)
                rows.append(self._removed(lid, rows))
        return rows

    def changed_outputs(self) -> dict[str, str]:
        """Output name -> "true" / "conditional" for outputs whose value changes."""
        found = {}
        for name in dict.fromkeys([*self.old.template.get("Outputs", {}), *self.new.template.get("Outputs", {})]):
            values = [
                c.resolve(c.template["Outputs"][name].get("Value")) if c.present(name, "Outputs") else MISSING
                for c in (self.old, self.new)
            ]
            level = _level(*values)
            if level:
                found[name] = level
        return found

    def _row(self, action, lid, context, replacement_level, details, old_props, new_props, **more) -> Change:
        resource = context.resources[lid]
        rtype = resource.get("Type", "")
        policy = resource.get("DeletionPolicy" if action == "remove" else "UpdateReplacePolicy")
        replica = rtype == "AWS::RDS::DBInstance" and bool((old_props or {}).get("SourceDBInstanceIdentifier"))
        return Change(
            self.stack, action, lid, rtype, replacement_level, details, is_stateful(rtype),
            widening.notes(rtype, old_props, new_props), policy=context.resolve(policy) if policy else None,
            replica=replica, **more,
        )

    def _condition_note(self, context: Context, lid: str, now: str) -> list[str]:
        name = context.resources.get(lid, {}).get("Condition")
        return [f"condition {name} is now {now}"] if name else []

    def _added(self, lid: str) -> Change:
        details = self._condition_note(self.new, lid, "true") if lid in self.old.resources else []
        return self._row("add", lid, self.new, "false", details, None, _properties(self.new, lid))

    def _removed(self, lid: str, rows: list[Change]) -> Change:
        rtype = self.old.resources[lid].get("Type")
        if lid in self.new.resources:
            details = self._condition_note(self.new, lid, "false")
        else:
            details = ["no longer in the template"]
            twins = [r.logical_id for r in rows if r.action == "add" and r.resource_type == rtype]
            if twins:
                details.append(f"{rtype} added as {', '.join(twins)}: a new logical ID is a new resource")
        return self._row("remove", lid, self.old, "false", details, _properties(self.old, lid), None)

    def _modified(self, lid: str, extra: list[str]) -> Change | None:
        old_resource, new_resource = self.old.resources[lid], self.new.resources[lid]
        rtype = new_resource.get("Type", "")
        old_props, new_props = _properties(self.old, lid), _properties(self.new, lid)
        causes, cleared, details = self._property_changes(rtype, old_props, new_props)
        if old_resource.get("Type") != rtype:
            causes, details = {"Type": "true", **causes}, [f"type (was {old_resource.get('Type')})", *details]
        details += self._condition_doubt(old_resource, new_resource) + self._attribute_changes(old_resource, new_resource)
        details = list(dict.fromkeys(details + extra))
        if not details:
            return None
        return self._row("modify", lid, self.new, strongest(*causes.values()), details, old_props, new_props,
                         causes=causes, in_place=cleared)

    def _property_changes(self, rtype: str, old_props: dict, new_props: dict) -> tuple[dict, dict, list[str]]:
        """The properties that replace or may replace the resource (name ->
        level), those the table of in-place transitions clears (name -> why),
        and the details of every changed property."""
        causes: dict[str, str] = {}
        details = []
        for path, certain in changed_paths(old_props, new_props):
            path_level = replacement(rtype, path, self.region)
            level = path_level if certain else weakest(path_level, "conditional")
            if level != "false":
                causes[path[0]] = strongest(causes.get(path[0], "false"), level)
            details.append(_detail(rtype, path))
        cleared = {}
        for name, level in list(causes.items()):
            why = in_place(rtype, name, old_props.get(name, MISSING), new_props.get(name, MISSING))
            if level == "conditional" and why:
                cleared[name] = why
                del causes[name]
        return causes, cleared, details

    def _condition_doubt(self, old_resource: dict, new_resource: dict) -> list[str]:
        """A note when the resource's condition hangs on values only AWS
        knows and those may differ now, so it may come or go."""
        name = new_resource.get("Condition")
        if not name or isinstance(self.new.condition(name), bool):
            return []
        if old_resource.get("Condition") == name and self.old.condition(name) == self.new.condition(name):
            return []
        return [f"condition {name} may change (it depends on values only AWS knows)"]

    def _attribute_changes(self, old_resource: dict, new_resource: dict) -> list[str]:
        found = []
        for attribute, label in ATTRIBUTES.items():
            old_value = self.old.resolve(old_resource.get(attribute))
            new_value = self.new.resolve(new_resource.get(attribute))
            if attribute == "DependsOn":
                old_value, new_value = _depends_on(old_value), _depends_on(new_value)
            if old_value != new_value:
                found.append(label)
        return found


# -- the root and its nested stacks -------------------------------------------

def _layer_name(stack: str, logical_id: str, resource: dict, templates: dict) -> str:
    """The template a nested stack resource points at (its TemplateURL's file)."""
    name = layer_of_url(resource.get("Properties", {}).get("TemplateURL"))
    if name in templates:
        return name
    raise CodemateError(
        f"{stack}: nested stack {logical_id} points at {name + '.json' if name else 'no template file'}, "
        f"which is not among the templates ({', '.join(sorted(templates))})"
    )


def _stack_inputs(context: Context, resource: dict | None) -> dict:
    if resource is None:
        return {}
    return context.resolve(resource.get("Properties", {}).get("Parameters", {}))


def _evaluate(name: str, template: dict | None, given: dict) -> Context:
    template = template or {}
    return Context(name, template, parameter_values(template, given))


def _unmasked(old_params: dict, new_params: dict, root: dict) -> dict:
    """Old values with NoEcho parameters that AWS shows as "****" taken as
    unchanged: nobody can tell offline."""
    specs = root.get("Parameters", {})
    return {
        name: new_params.get(name, specs[name].get("Default", value))
        if value == NO_ECHO_MASK and specs.get(name, {}).get("NoEcho") else value
        for name, value in old_params.items()
    }


def predict(
    old: dict[str, dict] | None,
    new: dict[str, dict],
    old_params: dict[str, str] | None,
    new_params: dict[str, str],
    region: str = DEFAULT_REGION,
) -> list[Change]:
    """The changes a deploy of `new` makes over `old` (None: first deploy).

    old/new map template names to template dicts: "root" and one per layer,
    the root nesting each layer as resource <Name>Stack. *_params are the
    root stack's parameter values; TemplatesBucketName and TemplatesKeyPrefix
    are ignored (they move with every upload, the templates do not); old
    NoEcho values shown as "****" count as unchanged."""
    if ROOT not in new:
        raise CodemateError(f"plan: no {ROOT} template among the new templates ({', '.join(sorted(new)) or 'none'})")
    old = old or {}
    deployer = {p.name for p in DEPLOYER_PARAMS}
    old_params = _unmasked(old_params or {}, new_params, new[ROOT])
    old_root = Context(ROOT, old.get(ROOT, {}), parameter_values(old.get(ROOT, {}), old_params, deployer))
    new_root = Context(ROOT, new[ROOT], parameter_values(new[ROOT], new_params, deployer))
    by_stack: dict[str, list[Change]] = {ROOT: []}
    stack_ids: dict[str, str] = {}

    def nested(logical_id: str) -> list[str]:
        old_resource = old_root.resources.get(logical_id) if old_root.present(logical_id) else None
        new_resource = new_root.resources.get(logical_id) if new_root.present(logical_id) else None
        resource = new_resource or old_resource
        if resource.get("Type") != STACK_TYPE:
            return []
        name = _layer_name(ROOT, logical_id, resource, new if new_resource else old)
        old_template = old[_layer_name(ROOT, logical_id, old_resource, old)] if old_resource else None
        new_template = new[name] if new_resource else None
        diff = _StackDiff(
            name,
            _evaluate(name, old_template, _stack_inputs(old_root, old_resource)),
            _evaluate(name, new_template, _stack_inputs(new_root, new_resource)),
            region,
        )
        by_stack[name] = diff.changes()
        stack_ids[name] = logical_id
        for output, level in diff.changed_outputs().items():
            new_root.renewed[f"{logical_id}.Outputs.{output}"] = level
        changed = old_template is not None and new_template is not None and old_template != new_template
        return ["template"] if changed else []

    by_stack[ROOT] = _StackDiff(ROOT, old_root, new_root, region, nested).changes()
    listed = {c.logical_id for c in by_stack[ROOT]}
    for name, rows in by_stack.items():
        if rows and name != ROOT and stack_ids[name] not in listed:
            by_stack[ROOT].append(Change(ROOT, "modify", stack_ids[name], STACK_TYPE, "false", ["nested changes"], False))
    return [c for rows in by_stack.values() for c in rows]


# -- AWS's change sets ----------------------------------------------------------

AWS_LEVELS = {"True": "true", "Conditional": "conditional", "False": "false",
              "Always": "true", "Conditionally": "conditional", "Never": "false"}


def _aws_details(change: dict) -> list[str]:
    details = []
    for item in change.get("Details", []):
        target = item.get("Target", {})
        attribute, name = target.get("Attribute"), target.get("Name")
        causing = item.get("CausingEntity")
        if item.get("ChangeSource") == "ParameterReference" and causing:
            details.append(f"parameter {causing}")
            if change.get("ResourceType") == STACK_TYPE and name == "Parameters":
                continue
        if item.get("ChangeSource") == "Automatic":
            details.append("nested changes")
        elif attribute in ("Properties", "Tags"):
            details.append(f"property {name or attribute}")
        elif attribute:
            details.append(ATTRIBUTES.get(attribute, attribute))
    if not details:
        details = [ATTRIBUTES.get(s, s.lower()) for s in change.get("Scope", [])]
    return list(dict.fromkeys(details))


def _aws_causes(change: dict) -> dict[str, str]:
    """Property -> level for each property AWS says replaces or may replace the resource."""
    causes: dict[str, str] = {}
    for item in change.get("Details", []):
        target = item.get("Target", {})
        level = AWS_LEVELS.get(target.get("RequiresRecreation"))
        if level and level != "false" and target.get("Attribute") == "Properties" and target.get("Name"):
            causes[target["Name"]] = strongest(causes.get(target["Name"], "false"), level)
    return causes


def _merged_causes(row: Change, change: dict) -> dict[str, str]:
    """AWS's word per property, except that a conditional one the table of
    in-place transitions cleared stays cleared; AWS's own Replacement True
    with no property named keeps the predicted causes, certain."""
    said = AWS_LEVELS.get(change.get("Replacement"))
    if said == "false":
        return {}
    causes = {**row.causes}
    for name, level in _aws_causes(change).items():
        if level == "conditional" and name in row.in_place:
            continue
        causes[name] = level
    if said == "true" and "true" not in causes.values():
        causes = {name: "true" for name in causes} or {"(as AWS says)": "true"}
    elif said == "conditional" and not causes and not row.in_place:
        causes = {"(as AWS says)": "conditional"}
    return causes


def merge_aws(predicted: list[Change], aws: dict[str, list[dict]]) -> list[Change]:
    """The prediction corrected by AWS's change sets.

    aws: stack name ("root" or a layer name) -> the ResourceChange dicts of
    that stack's change set. A row AWS lists takes AWS's action, replacement
    and details where AWS gives them (keeping predicted details AWS does not
    name) and source "aws"; rows only AWS knows are added."""
    merged = [replace(c, details=list(c.details), widens_access=list(c.widens_access)) for c in predicted]
    rows = {(c.stack, c.logical_id): c for c in merged}
    for stack, changes in aws.items():
        for change in changes:
            change = change.get("ResourceChange", change)
            action = change.get("Action", "")
            action = action.lower() if action else ""
            details = _aws_details(change)
            row = rows.get((stack, change.get("LogicalResourceId")))
            if row is None:
                rtype = change.get("ResourceType", "")
                row = Change(stack, action or "modify", change.get("LogicalResourceId", ""), rtype,
                             "false", details, is_stateful(rtype), [], source="aws")
                predicted_causes = {d.split(" ", 1)[1]: replacement(rtype, (d.split(" ", 1)[1],))
                                    for d in details if d.startswith("property ")}
                row.causes = {n: level for n, level in predicted_causes.items() if level != "false"}
                rows[(stack, row.logical_id)] = row
                merged.append(row)
            else:
                row.action = action or row.action
                row.details = list(dict.fromkeys(row.details + details))
                row.source = "aws"
            if row.action == "modify":
                row.causes = _merged_causes(row, change)
                row.replacement = strongest(*row.causes.values())
    order = list(dict.fromkeys([ROOT, *(c.stack for c in merged)]))
    return sorted(merged, key=lambda c: order.index(c.stack))
