"""E9005: no secret written into a template. Anywhere: AWS access key IDs
and private key blocks. In resources: literal values of the properties that
hold secrets (SECRET_PROPERTIES) and of environment variables named like
secrets. In parameters: a Default on a parameter named like a secret.
A secure dynamic reference ({{resolve:secretsmanager:...}},
{{resolve:ssm-secure:...}}) or an intrinsic function (Ref, GetAtt, Sub with
variables, ...) is fine: the secret then lives elsewhere. Messages never
repeat the value."""

import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from codemate_cfn.compile.rules._values import branches

ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
SECURE_REFERENCE = re.compile(r"\{\{resolve:(?:secretsmanager|ssm-secure):[^}]+\}\}")
# String properties that hold a secret, exactly as the resource schemas name
# them (names merely ending in Token or Secret are often not: ClientToken,
# ServiceToken, TokenValidityUnits' AccessToken, secret ARNs).
SECRET_PROPERTIES = frozenset({
    "Password", "MasterUserPassword", "AdminPassword", "AdminUserPassword", "AuthPassword",
    "ADDomainJoinPassword", "CrossRealmTrustPrincipalPassword", "KdcAdminPassword", "DbPassword",
    "AuthToken", "SecretString", "ClientSecret", "ApiKey", "ApiKeyValue", "Token", "OauthToken",
    "SecretToken", "SecretAccessKey", "HECToken", "RepositoryAccessToken", "DomainSigningPrivateKey",
})
# Names people choose (environment variables, parameters) that say secret:
# their last words, e.g. DATABASE_PASSWORD, NextAuthSecret, GITHUB_TOKEN, ApiKey.
SECRET_ENDINGS = (("password",), ("secret",), ("token",), ("api", "key"), ("apikey",), ("private", "key"))
WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def named_secret(name) -> bool:
    words = tuple(w.lower() for w in WORDS.findall(name)) if isinstance(name, str) else ()
    return any(words[-len(ending):] == ending for ending in SECRET_ENDINGS)


def literal(value) -> str | None:
    """How `value` writes a secret into the template, or None if it does not."""
    if isinstance(value, str):
        if not value.strip() or SECURE_REFERENCE.search(value):
            return None
        return "a plain {{resolve:ssm:...}} reference (not encrypted)" if "{{resolve:ssm:" in value else "a literal"
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    (function, argument), = value.items()
    if function == "Fn::If":
        return next(filter(None, (literal(v) for v in branches(value))), None)
    if function == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) and argument else argument
        has_variables = isinstance(text, str) and "${" in text.replace("${!", "")
        return None if has_variables else literal(text)
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        parts = argument[1]
        if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
            return literal("".join(parts))
    if function == "Fn::Base64":
        return literal(argument)
    if function == "Fn::FindInMap":
        return "a mapping value (a literal in the template)"
    return None


def _strings(node, path):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, path + [key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, path + [index])
    elif isinstance(node, str):
        yield node, path


def _secret_values(node, path):
    """(what, value, path) for each value under `node` that must not be a literal."""
    if isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_values(value, path + [index])
        return
    if not isinstance(node, dict):
        return
    # An environment variable: ECS {Name, Value}, CodeBuild {Name, Value, Type}.
    if named_secret(node.get("Name")) and "Value" in node and node.get("Type", "PLAINTEXT") == "PLAINTEXT":
        yield f"environment variable {node['Name']}", node["Value"], path + ["Value"]
    for key, value in node.items():
        if key in SECRET_PROPERTIES:
            yield key, value, path + [key]
        elif key == "Variables" and isinstance(value, dict):  # Lambda's environment
            yield from ((f"environment variable {k}", v, path + [key, k]) for k, v in value.items() if named_secret(k))
        else:
            yield from _secret_values(value, path + [key])


class SecretLiterals(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "No secrets in templates"
    description = (
        "No AWS access key ID or private key anywhere; secret-holding properties, secret-named environment "
        "variables and parameter defaults use a secure dynamic reference or an intrinsic function, never a literal."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/security-best-practices.html#creds"
    tags = ["resources", "parameters", "secrets", "codemate"]

    def match(self, cfn):
        matches = []
        for text, path in _strings(cfn.template, []):
            if ACCESS_KEY_ID.search(text):
                matches.append(RuleMatch(path, f"{_where(path)} holds an AWS access key ID ({text[:4]}...)"))
            if PRIVATE_KEY.search(text):
                matches.append(RuleMatch(path, f"{_where(path)} holds a private key"))
        for logical_id, resource in cfn.get_resources().items():
            base = ["Resources", logical_id, "Properties"]
            for what, value, path in _secret_values(resource.get("Properties"), base):
                how = literal(value)
                if how:
                    matches.append(RuleMatch(path, (
                        f"{logical_id} ({resource['Type']}) {what} is {how}; use {{{{resolve:secretsmanager:...}}}} "
                        "or let AWS generate it (GenerateSecretString, ManageMasterUserPassword)")))
        for name, parameter in cfn.get_parameters_valid().items():
            default = parameter.get("Default")
            if named_secret(name) and literal(default) and not parameter["Type"].startswith("AWS::SSM::Parameter"):
                echo = "" if str(parameter.get("NoEcho")).lower() == "true" else " and no NoEcho"
                matches.append(RuleMatch(["Parameters", name, "Default"], (
                    f"{name} is named like a secret and has a Default{echo}: the value sits in the template; "
                    "drop the Default (and set NoEcho) or read it with a dynamic reference")))
        return matches


def _where(path: list) -> str:
    return "/".join(map(str, path))
