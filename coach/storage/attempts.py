"""The attempts repository: every answer of one candidate, committed before it is graded."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from coach.models import Attempt, Grade
from coach.storage.db import Database, NotFound, StorageError

MAX_ERROR_CHARS = 500  # a stored grading error is cut to this length


@dataclass(frozen=True)
class GradedAnswer:
    """A graded answer to a question (not a follow-up), as stored: what review cards replay."""

    attempt_id: int
    question_id: str
    created_at: str  # ISO 8601, as stored
    grade_json: str


class Attempts:
    """All attempts of one candidate. Every method commits on its own (unless called inside
    `database.transaction()`), so a saved answer survives a crash during grading."""

    def __init__(self, database: Database):
        self.database = database

    def add(
        self,
        question_id: str,
        answer: str,
        parent_id: int | None = None,
        created_at: datetime | None = None,
        delivery: dict | None = None,
    ) -> int:
        """Store an answer as pending; returns the attempt id. Committed immediately.

        `created_at` (default now) is for answers given earlier, such as an imported history;
        `delivery` is a spoken answer's delivery measures (coach.voice.delivery), stored as JSON."""
        when = (created_at or datetime.now(UTC)).isoformat(timespec="seconds")
        cursor = self.database.write(
            "INSERT INTO attempts (question_id, answer, created_at, status, parent_id, delivery_json)"
            " VALUES (?, ?, ?, 'pending', ?, ?)",
            (question_id, answer, when, parent_id, json.dumps(delivery) if delivery else None),
        )
        return int(cursor.lastrowid)

    def record_grade(self, attempt_id: int, grade: Grade) -> None:
        self.database.write(
            "UPDATE attempts SET status = 'graded', grader = ?, grade_json = ?, error = '' WHERE id = ?",
            (grade.grader, grade.model_dump_json(), attempt_id),
        )

    def record_failure(self, attempt_id: int, error: str) -> None:
        """Keep the attempt pending with the reason (a later regrade can finish it)."""
        self.database.write(
            "UPDATE attempts SET status = 'pending', error = ? WHERE id = ?",
            (error[:MAX_ERROR_CHARS], attempt_id),
        )

    def get(self, attempt_id: int) -> Attempt:
        row = self.database.read_one("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
        if row is None:
            # The command name in this message is pinned by tests/test_compare.py.
            raise NotFound(f"no attempt {attempt_id}; list them with `coach history`")
        return _attempt(row)

    def list(self, question_id: str | None = None, limit: int | None = None) -> list[Attempt]:
        """Attempts (of one question, if given), newest first, at most `limit` of them."""
        sql, params = "SELECT * FROM attempts", []
        if question_id:
            sql += " WHERE question_id = ?"
            params.append(question_id)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_attempt(r) for r in self.database.read(sql, params)]

    def pending(self) -> list[Attempt]:
        """Attempts not graded yet, oldest first."""
        return [
            _attempt(r)
            for r in self.database.read(
                "SELECT * FROM attempts WHERE status = 'pending' ORDER BY id"
            )
        ]

    def thread(self, attempt_id: int) -> list[Attempt]:
        """An attempt and its follow-up answers, in order."""
        root = self.get(attempt_id)
        rows = self.database.read(
            "SELECT * FROM attempts WHERE parent_id = ? ORDER BY id", (root.id,)
        )
        return [root] + [_attempt(r) for r in rows]

    def graded_answers(self) -> list[GradedAnswer]:
        """Every graded answer to a question (follow-up answers left out), in id order."""
        rows = self.database.read(
            "SELECT id, question_id, created_at, grade_json FROM attempts "
            "WHERE status = 'graded' AND grade_json IS NOT NULL AND parent_id IS NULL ORDER BY id"
        )
        return [GradedAnswer(r[0], r[1], r[2], r[3]) for r in rows]

    def delete(self, attempt_id: int) -> None:
        """Delete an attempt (and its follow-up answers and probes); its text is overwritten on disk."""
        self.get(attempt_id)
        self.database.write("DELETE FROM attempts WHERE id = ?", (attempt_id,))
        self.database.checkpoint()

    def delete_all(self) -> int:
        """Forget everything: attempts and every other table kept beside them (review state,
        probes, mock rounds). Returns how many attempts there were. Deleted content is overwritten
        in the file and the write-ahead log is emptied, so no answer text is left behind on disk."""
        count = self.database.read_one("SELECT COUNT(*) FROM attempts")[0]
        self.database.clear()
        return int(count)

    def export_jsonl(self, path: Path, question_id: str | None = None) -> int:
        """Write the attempts (of one question, if given) to a JSON Lines file, oldest first."""
        attempts = sorted(self.list(question_id), key=lambda a: a.id)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(descriptor, "w", encoding="utf-8") as out:
                out.writelines(a.model_dump_json() + "\n" for a in attempts)
            _private(tmp)
            os.replace(tmp, path)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise StorageError(f"cannot write {path} ({exc.strerror})") from None
        return len(attempts)


def _private(path: Path) -> None:
    """Owner-only permissions: answers are personal (best effort on file systems without modes)."""
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


def _attempt(row: sqlite3.Row) -> Attempt:
    grade, error = None, row["error"]
    if row["grade_json"]:
        try:
            grade = Grade.model_validate(json.loads(row["grade_json"]))
        except ValueError:  # json and pydantic errors: one bad row must not hide the others
            error = error or "the stored grade is unreadable; `coach regrade` grades it again"
    try:
        delivery = json.loads(row["delivery_json"]) if row["delivery_json"] else None
    except ValueError:
        delivery = None  # unreadable delivery measures never hide the answer itself
    return Attempt(
        id=row["id"],
        question_id=row["question_id"],
        answer=row["answer"],
        created_at=_when(row["created_at"]),
        status=row["status"],
        grader=row["grader"],
        grade=grade,
        error=error,
        parent_id=row["parent_id"],
        delivery=delivery if isinstance(delivery, dict) else None,
    )


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)
