"""E9006: every check a resource ignores carries its reason next to it
(codemate_cfn/ignores.py): a rule id in Metadata.cfn-lint.config.ignore_checks
needs a non-empty Metadata.codemate.cfn-lint-reasons.<id>, and a reason needs its
ignore. cfn-lint settings for a whole template (Metadata.cfn-lint.config at
the top) are refused: they would ignore a check everywhere, with no resource
to say why. The build makes this rule mandatory (cfn-lint's
mandatory_checks), so no ignore turns it off."""

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.ignores import IGNORES, REASONS, ignored, reasons

RULE_ID = "E9006"
WHERE_REASONS = "Metadata." + ".".join(REASONS)
WHERE_IGNORES = "Metadata." + ".".join(IGNORES)


class IgnoreReasons(CloudFormationLintRule):
    id = RULE_ID
    shortdesc = "Every ignored check has its reason next to it"
    description = (
        f"A rule id a resource ignores ({WHERE_IGNORES}) has a reason beside it ({WHERE_REASONS}.<id>), "
        "a reason has its ignore, and no template sets cfn-lint's settings for all its resources."
    )
    source_url = "https://github.com/aws-cloudformation/cfn-lint#metadata"
    tags = ["metadata", "codemate"]

    def match(self, cfn):
        matches = []
        top = cfn.template.get("Metadata")
        if isinstance(top, dict) and isinstance(top.get(IGNORES[0]), dict) and IGNORES[1] in top[IGNORES[0]]:
            matches.append(RuleMatch(["Metadata", IGNORES[0], IGNORES[1]], (
                "cfn-lint settings for the whole template: ignore a check on the resource it is about, "
                f"with its reason ({WHERE_IGNORES} and {WHERE_REASONS})"
            )))
        for logical_id, resource in cfn.get_resources().items():
            metadata = resource.get("Metadata") if isinstance(resource, dict) else None
            if isinstance(metadata, dict):
                matches += self._resource(logical_id, metadata)
        return matches

    def _resource(self, logical_id: str, metadata: dict) -> list[RuleMatch]:
        path = ["Resources", logical_id, "Metadata"]
        rules, given = ignored(metadata), reasons(metadata)
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            return [RuleMatch(path + list(IGNORES), f"{logical_id}: {WHERE_IGNORES} is not a list of rule ids")]
        if not isinstance(given, dict):
            return [RuleMatch(path + list(REASONS), f"{logical_id}: {WHERE_REASONS} is not a map of rule id to reason")]
        matches = []
        for rule in rules:
            reason = given.get(rule)
            if rule == RULE_ID:
                matches.append(RuleMatch(path + list(IGNORES), f"{logical_id} ignores {RULE_ID}, which cannot be "
                                                               "ignored"))
            elif not isinstance(reason, str) or not reason.strip():
                matches.append(RuleMatch(path + list(IGNORES), (
                    f"{logical_id} ignores {rule} without a reason: say why in {WHERE_REASONS}.{rule}"
                )))
        for rule in given:
            if rule not in rules:
                matches.append(RuleMatch(path + list(REASONS), (
                    f"{logical_id} gives a reason for {rule} but does not ignore it ({WHERE_IGNORES})"
                )))
        return matches
