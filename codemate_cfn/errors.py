"""The errors codemate-cfn reports to people: one sentence, no traceback."""


class CodemateError(Exception):
    """A problem the user can fix; the CLI prints it as one line."""

    exit_code = 1


class InvalidInput(CodemateError):
    """A parameter file or command-line value that fails its checks."""

    exit_code = 2

    def __init__(self, problems):
        self.problems = list(problems) if not isinstance(problems, str) else [problems]
        super().__init__("\n".join(self.problems))


class BuildError(CodemateError):
    """The layer sources cannot be turned into valid templates."""
