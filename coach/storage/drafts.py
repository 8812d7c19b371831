"""Drafts: an answer typed halfway when the candidate pressed Ctrl-C, kept per question until it is
answered (files under COACH_HOME/drafts, private to the user)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from coach.storage.db import StorageError


@dataclass
class Draft:
    question_id: str
    text: str
    saved_at: datetime

    @property
    def words(self) -> int:
        return len(self.text.split())


class Drafts:
    """One draft per question: saving replaces it, answering the question discards it."""

    def __init__(self, home: Path):
        self.directory = home / "drafts"

    def _path(self, question_id: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', question_id)}.md"

    def save(self, question_id: str, text: str) -> Draft | None:
        """Keep the text (nothing is kept for an empty one)."""
        if not text.strip():
            return None
        path = self._path(question_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(
                f"cannot keep the draft in {self.directory} ({exc.strerror})"
            ) from None
        return self.get(question_id)

    def get(self, question_id: str) -> Draft | None:
        path = self._path(question_id)
        try:
            text = path.read_text(encoding="utf-8")
            saved = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except (OSError, UnicodeDecodeError):
            return None
        return Draft(question_id, text, saved) if text.strip() else None

    def discard(self, question_id: str) -> None:
        try:
            self._path(question_id).unlink(missing_ok=True)
        except OSError:
            pass
