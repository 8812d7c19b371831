"""Reading a user's text file (an answer, a question bank, an eval CSV) with one-line errors.

At most `limit` bytes (plus one) are read, so a device such as /dev/zero or an endless pipe cannot
hang the coach, and every way a file can be unusable becomes a CoachError naming it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from coach.errors import CoachError


def read_bounded(path: str | Path, limit: int, what: str, stream: BinaryIO | None = None) -> bytes:
    """The bytes of `path` (or of `stream`, e.g. stdin), refusing directories, missing files and
    anything over `limit` bytes; `what` names the kind of file in the messages ("an answer file")."""
    size = 0
    try:
        if stream is not None:
            raw = stream.read(limit + 1)
        else:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                raw = handle.read(limit + 1)
    except IsADirectoryError:
        raise CoachError(f"{path}: is a directory, not {what}") from None
    except FileNotFoundError:
        raise CoachError(f"{path}: no such file") from None
    except OSError as exc:
        raise CoachError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        shown = f"{size // 1000} KB" if size > limit else f"more than {limit // 1000} KB"
        raise CoachError(f"{path}: {shown}; the limit is {_limit_text(limit)}")
    return raw


def read_text(
    path: str | Path, limit: int, what: str, stream: BinaryIO | None = None, encoding: str = "utf-8"
) -> str:
    """`read_bounded`, decoded: a file that is not UTF-8 text is refused with the offset of the bad byte."""
    raw = read_bounded(path, limit, what, stream)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CoachError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def _limit_text(limit: int) -> str:
    return f"{limit // 1_000_000} MB" if limit >= 1_000_000 else f"{limit // 1000} KB"
