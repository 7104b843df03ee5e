"""Helpers the rule modules share for reading template values (not a rule:
cfn-lint skips modules whose names start with "_")."""

NO_VALUE = {"Ref": "AWS::NoValue"}


def branches(value):
    """The values `value` can take: each branch of an Fn::If (nested ones
    too), AWS::NoValue as None (the property left out); else `value` itself."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        arguments = value["Fn::If"]
        if isinstance(arguments, list) and len(arguments) == 3:
            for branch in arguments[1:]:
                yield from branches(branch)
            return
    yield None if value == NO_VALUE else value
