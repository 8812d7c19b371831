"""The one error type the library raises for anything a user can fix, and the CLI's exit codes."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What `coach` exits with (documented in the README)."""

    OK = 0
    ERROR = 1  # a user error: one line on stderr, never a traceback; nothing saved was changed
    USAGE = 2  # the command line itself is wrong (unknown option, value out of range, bad choice)
    PENDING = (
        3  # the answer was saved but not graded; it stays pending for `coach regrade --pending`
    )
    INTERRUPTED = 130  # Ctrl-C; everything answered so far is saved


class CoachError(Exception):
    """A failure the user can act on, in words that do not assume a command line."""
