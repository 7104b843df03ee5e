"""The errors codemate-cfn reports to people (one sentence, no traceback),
and the exit statuses of every command (docs/deploy.md lists them)."""

EXIT_OK = 0
EXIT_ERROR = 1  # a problem the user can fix, or a failed deploy
EXIT_INVALID = 2  # an invalid parameter file or command-line value
EXIT_CHANGES = 3  # a plan with changes, not executed
EXIT_BLOCKED = 4  # changes the stateful guard refuses
EXIT_USAGE = 64  # the command line itself is wrong (unknown option, missing argument)
EXIT_INTERRUPTED = 130  # Ctrl-C


class CodemateError(Exception):
    """A problem the user can fix; the CLI prints it as one line."""

    exit_code = EXIT_ERROR


class InvalidInput(CodemateError):
    """A parameter file or command-line value that fails its checks."""

    exit_code = EXIT_INVALID

    def __init__(self, problems):
        self.problems = list(problems) if not isinstance(problems, str) else [problems]
        super().__init__("\n".join(self.problems))


class BuildError(CodemateError):
    """The layer sources cannot be turned into valid templates."""


class UsageError(CodemateError):
    """Options that cannot go together on the command line."""

    exit_code = EXIT_USAGE
