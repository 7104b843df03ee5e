"""Rollback triggers: the application's own CloudWatch alarms, which
CloudFormation watches during a deploy (and for the parameter file's
`Deployment.RollbackMonitoringMinutes` after its resources are deployed),
rolling the deploy back when one goes into ALARM.

The alarms are the application's, made by its templates, so they are read
from the deployed root stack's output `RollbackAlarmArns` (ARNs, comma
separated): a first deploy, a stack without that output or with it empty
runs without triggers. Every change set states its rollback configuration
in full (an empty list included), because CloudFormation otherwise keeps
whatever triggers an earlier operation gave the stack. A change set carries
its configuration to its execution: ExecuteChangeSet takes none."""

from __future__ import annotations

from dataclasses import dataclass

from codemate_cfn.deploy.stack import as_dict

OUTPUT = "RollbackAlarmArns"
ALARM_TYPE = "AWS::CloudWatch::Alarm"
MAX_TRIGGERS = 5  # CloudFormation's limit (RollbackConfiguration.RollbackTriggers)
MONITORING_KEY = "RollbackMonitoringMinutes"  # the parameter file's Deployment key


def alarm_name(arn: str) -> str:
    """`arn:aws:cloudwatch:<region>:<account>:alarm:<name>` -> <name>."""
    return arn.split(":alarm:", 1)[1] if ":alarm:" in arn else arn


@dataclass(frozen=True)
class Rollback:
    """The rollback configuration of one change set."""

    arns: tuple[str, ...] = ()
    minutes: int = 0  # MonitoringTimeInMinutes as sent (0 without triggers: there is nothing to watch)
    why_none: str = ""  # without triggers: why, as people read it
    left_out: tuple[str, ...] = ()  # ARNs past CloudFormation's limit of MAX_TRIGGERS

    @property
    def names(self) -> list[str]:
        return [alarm_name(arn) for arn in self.arns]

    def configuration(self) -> dict:
        """CreateChangeSet's RollbackConfiguration."""
        return {"RollbackTriggers": [{"Arn": arn, "Type": ALARM_TYPE} for arn in self.arns],
                "MonitoringTimeInMinutes": self.minutes}

    def watch(self) -> str:
        """When CloudFormation watches the alarms, in words."""
        if self.minutes:
            return f"during the deploy and for {self.minutes} minute(s) after its resources are deployed"
        return "during the deploy only (monitoring time 0: the watch ends when the resources are deployed)"

    def describe(self, what: str = "rollback triggers") -> str:
        """The progress line (without its "- ")."""
        if not self.arns:
            return f"{what}: {self.why_none}"
        return (f"{what}: {', '.join(self.names)}; CloudFormation rolls the deploy back if one "
                f"goes into ALARM {self.watch()}")

    def summary(self) -> str:
        """The alarms and when they are watched, or why there are none."""
        return f"{', '.join(self.names)}, watched {self.watch()}" if self.arns else self.why_none

    def plan_line(self) -> str:
        """The line the plan shows."""
        return f"Rollback triggers: {self.summary()}"

    def as_json(self) -> dict:
        return {"alarms": [{"name": alarm_name(arn), "arn": arn} for arn in self.arns],
                "monitoring_minutes": self.minutes, "note": self.why_none or None}


def _listed(value: str) -> list[str]:
    """The ARNs of a comma-separated list, blanks and repeats dropped."""
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def from_stack(deployed: dict | None, root_template: dict, minutes: int) -> Rollback:
    """The triggers for a deploy over `deployed` (None: no stack running
    templates yet), from its root output OUTPUT, with the parameter file's
    monitoring time. `root_template` is the one being deployed: whether it
    makes the output tells a deploy that creates the alarms from one that
    never will."""
    makes_them = OUTPUT in root_template.get("Outputs", {})
    later = "the alarms are created by this deploy" if makes_them else f"the templates have no {OUTPUT} output"
    if deployed is None:
        return Rollback(why_none=f"none yet ({later})" if makes_them else f"none ({later})")
    name = deployed["StackName"]
    outputs = as_dict(deployed.get("Outputs"), "OutputKey", "OutputValue")
    if OUTPUT not in outputs:
        return Rollback(why_none=f"none {'yet ' if makes_them else ''}(stack {name} has no {OUTPUT} output; {later})")
    arns = _listed(outputs[OUTPUT] or "")
    if not arns:
        return Rollback(why_none=f"none (the {OUTPUT} output of stack {name} is empty)")
    return Rollback(tuple(arns[:MAX_TRIGGERS]), minutes, left_out=tuple(arns[MAX_TRIGGERS:]))


def from_change_set(found: dict) -> Rollback:
    """The configuration a change set was created with (DescribeChangeSet)."""
    configuration = found.get("RollbackConfiguration") or {}
    arns = tuple(t["Arn"] for t in configuration.get("RollbackTriggers") or [])
    minutes = configuration.get("MonitoringTimeInMinutes") or 0
    return Rollback(arns, minutes, why_none="" if arns else "none")


def differs(kept: Rollback, now: Rollback) -> bool:
    """Whether a change set's triggers are not those a deploy would give it now."""
    return (sorted(kept.arns), kept.minutes) != (sorted(now.arns), now.minutes)


def left_out_note(rollback: Rollback, stack_name: str) -> str | None:
    """What is said when the output lists more alarms than CloudFormation takes."""
    if not rollback.left_out:
        return None
    return (f"warning: the {OUTPUT} output of stack {stack_name} lists "
            f"{len(rollback.arns) + len(rollback.left_out)} alarms and CloudFormation takes at most {MAX_TRIGGERS} "
            f"rollback triggers: these are not watched: {', '.join(alarm_name(a) for a in rollback.left_out)}")
