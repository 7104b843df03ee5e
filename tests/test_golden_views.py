"""What people read, pinned as golden snapshots beside the templates: the
plan table for a few deploy situations and `status` for recorded stacks.
Refresh with the command in tests/snapshots.py (UPDATE)."""

from __future__ import annotations

import json


from codemate_cfn.compile.render import to_json
from codemate_cfn.deploy import status
from codemate_cfn.deploy.flow import Options, stack_parameters
from codemate_cfn.deploy.guard import refusals
from codemate_cfn.deploy.plan import predict
from codemate_cfn.deploy.plan_view import format_plan
from deploy_support import Recorder, params_file, renamed_bucket, replay
from layer_values import catalogue, templates
from snapshots import GOLDEN, check

ROOT_ARN = "arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev/5f3c1e20-6b1d-11ef-9a3b-0a1b2c3d4e5f"
NETWORK_ARN = ("arn:aws:cloudformation:ap-northeast-2:111122223333:stack/codemate-dev-NetworkStack-9ZX8C7V6B5N4/"
               "7b2f3a40-6b1d-11ef-a5e6-0a9b8c7d6e5f")


def values(project, env: str, **changes) -> dict[str, str]:
    return stack_parameters(templates()["root"], params_file(project, catalogue(), env, **changes), catalogue())


def plan_text(old, new, old_values, new_values) -> str:
    changes = predict(old, new, old_values, new_values)
    return format_plan(changes, refusals(changes, set())) + "\n"


def as_built() -> dict[str, dict]:
    """The templates as build writes and deploy reads them (keys sorted)."""
    return {name: json.loads(to_json(template)) for name, template in templates().items()}


def test_plans_people_read_match_their_snapshots(project, request):
    current = as_built()
    renamed, _ = renamed_bucket(current)
    dev, prod = values(project, "dev"), values(project, "prod")
    check({
        "first-deploy-dev": plan_text(None, current, None, dev),
        "dev-second-nat-gateway": plan_text(current, current, dev, values(project, "dev", NatGatewayCount="2")),
        "dev-bucket-renamed-refused": plan_text(current, renamed, dev, dev),
        "prod-backup-retention-raised": plan_text(current, current, prod,
                                                  values(project, "prod", DbBackupRetentionDays="14")),
    }, GOLDEN / "plans", request, suffix=".txt")


def status_text(fixture: str, local_root: dict | None = None, follow: bool = False, **answers) -> str:
    aws, calls = replay("cloudformation", fixture)
    for name, body in answers.items():
        calls.answer("GetTemplate", name, {"TemplateBody": body})
    deployed = local_root or aws.cloudformation.get_template(StackName=ROOT_ARN)["TemplateBody"]
    ui = Recorder()
    status.status(aws, "codemate-dev", {"root": deployed}, ui, follow=follow, poll_seconds=0, clock=lambda: 0.0,
                  options=Options("codemate-dev", params_path="params/dev.json"))
    return ui.shown + ("\n" + ui.noted if ui.noted else "")


def test_status_of_recorded_stacks_matches_its_snapshots(request):
    nested_root = {"Resources": {"NetworkStack": {"Type": "AWS::CloudFormation::Stack", "Properties": {
        "TemplateURL": {"Fn::Sub": "https://${TemplatesBucketName}.s3.${AWS::Region}.${AWS::URLSuffix}/"
                                   "${TemplatesKeyPrefix}network.json"}}}}}
    network = {"Resources": {"NatGateway2a": {"Type": "AWS::EC2::NatGateway"}}}
    check({
        "update-followed-to-the-end": status_text("update_in_progress", follow=True),
        "update-rollback-failed": status_text("update_rollback_failed", nested_root,
                                              **{ROOT_ARN: nested_root, NETWORK_ARN: network}),
        "waiting-for-review-followed": status_text("review_in_progress", nested_root, follow=True),
    }, GOLDEN / "status", request, suffix=".txt")
