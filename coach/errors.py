"""The one error type the CLI catches and turns into a one-line message."""


class CoachError(Exception):
    """A user-facing failure: the message is shown on one line, exit code is `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
