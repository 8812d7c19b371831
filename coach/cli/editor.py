"""Writing (or correcting) an answer in the candidate's $VISUAL / $EDITOR."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from coach.errors import CoachError


def read_with_editor(initial: str = "") -> str:
    """Open the editor on a temporary file holding `initial` (a transcript to correct, or nothing) and
    return what the candidate saved. The file is private to the user and deleted afterwards."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False, encoding="utf-8") as handle:
        handle.write(initial)
        path = handle.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)
        with open(path, encoding="utf-8", errors="strict") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CoachError(f"could not read the answer from the editor ({exc})") from None
    finally:
        os.unlink(path)
