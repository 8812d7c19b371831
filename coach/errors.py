"""The one error type the CLI catches and turns into a one-line message, and the exit codes."""

EXIT_OK = 0
EXIT_ERROR = 1  # a user error: one line on stderr, never a traceback; nothing saved was changed
EXIT_USAGE = 2  # the command line itself is wrong (unknown option, missing argument, bad number)
EXIT_PENDING = 3  # the answer was saved but not graded; it stays pending for `coach regrade --pending`
EXIT_INTERRUPTED = 130  # Ctrl-C; everything answered so far is saved


class CoachError(Exception):
    """A user-facing failure: the message is shown on one line, exit code is `exit_code`."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
