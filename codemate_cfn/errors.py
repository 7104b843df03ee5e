"""The errors codemate-cfn reports to people (one sentence, no traceback),
how values are quoted in them, and the exit statuses of every command
(docs/deploy.md lists them)."""

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


SHOWN_LIMIT = 60  # characters of a value quoted in a message


def shown(text: str, limit: int = SHOWN_LIMIT) -> str:
    """`text` as it goes into a one-line message: printable text as it is,
    anything else (empty, control characters, lone surrogates) as its
    escaped repr; cut to `limit` characters, the last one "…"."""
    if not (isinstance(text, str) and text and text.isprintable()):
        text = repr(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def quoted(value, limit: int = SHOWN_LIMIT) -> str:
    """A value in a message: its repr (quoted, escaped), a long string cut
    to `limit` characters ("…" last) before it is quoted."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit - 1] + "…"
    return shown(repr(value), limit + 2 if isinstance(value, str) else limit)
