"""Attempt history in SQLite (WAL): the answer is committed before it is graded."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from coach.errors import CoachError
from coach.models import Attempt, Grade

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'graded', 'failed')),
    grader TEXT NOT NULL DEFAULT '',
    grade_json TEXT,
    error TEXT NOT NULL DEFAULT '',
    parent_id INTEGER REFERENCES attempts(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS attempts_question ON attempts(question_id);
CREATE INDEX IF NOT EXISTS attempts_status ON attempts(status);
"""


class History:
    """All attempts of one candidate, in COACH_HOME/history.sqlite."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CoachError(f"history database {path} is unreadable ({exc}); move it aside to start afresh") from None
        except OSError as exc:
            raise CoachError(f"cannot open history at {path} ({exc.strerror})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, sql: str, params: tuple) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise CoachError(f"cannot write history at {self.path} ({exc})") from None

    def add(self, question_id: str, answer: str, parent_id: int | None = None) -> int:
        """Store an answer as pending; returns the attempt id. Committed immediately."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        cursor = self._write(
            "INSERT INTO attempts (question_id, answer, created_at, status, parent_id) VALUES (?, ?, ?, 'pending', ?)",
            (question_id, answer, now, parent_id),
        )
        return int(cursor.lastrowid)

    def record_grade(self, attempt_id: int, grade: Grade) -> None:
        self._write(
            "UPDATE attempts SET status = 'graded', grader = ?, grade_json = ?, error = '' WHERE id = ?",
            (grade.grader, grade.model_dump_json(), attempt_id),
        )

    def record_failure(self, attempt_id: int, error: str) -> None:
        # Stays pending: the answer is kept and `coach regrade --pending` can finish it.
        self._write("UPDATE attempts SET status = 'pending', error = ? WHERE id = ?", (error[:500], attempt_id))

    def get(self, attempt_id: int) -> Attempt:
        row = self.db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            raise CoachError(f"no attempt {attempt_id}; list them with `coach history`")
        return _attempt(row)

    def list(self, question_id: str | None = None, limit: int | None = None) -> list[Attempt]:
        sql, params = "SELECT * FROM attempts", []
        if question_id:
            sql += " WHERE question_id = ?"
            params.append(question_id)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_attempt(r) for r in self.db.execute(sql, params)]

    def pending(self) -> list[Attempt]:
        return [_attempt(r) for r in self.db.execute("SELECT * FROM attempts WHERE status = 'pending' ORDER BY id")]

    def thread(self, attempt_id: int) -> list[Attempt]:
        """An attempt and its follow-up answers, in order."""
        root = self.get(attempt_id)
        rows = self.db.execute("SELECT * FROM attempts WHERE parent_id = ? ORDER BY id", (root.id,))
        return [root] + [_attempt(r) for r in rows]

    def delete(self, attempt_id: int) -> None:
        self.get(attempt_id)
        self._write("DELETE FROM attempts WHERE id = ?", (attempt_id,))

    def delete_all(self) -> int:
        count = self.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        self._write("DELETE FROM attempts", ())
        return int(count)

    def export_jsonl(self, path: Path) -> int:
        attempts = sorted(self.list(), key=lambda a: a.id)
        try:
            with path.open("w", encoding="utf-8") as out:
                for a in attempts:
                    out.write(a.model_dump_json() + "\n")
        except OSError as exc:
            raise CoachError(f"cannot write {path} ({exc.strerror})") from None
        return len(attempts)


def _attempt(row: sqlite3.Row) -> Attempt:
    grade = Grade.model_validate(json.loads(row["grade_json"])) if row["grade_json"] else None
    return Attempt(
        id=row["id"],
        question_id=row["question_id"],
        answer=row["answer"],
        created_at=datetime.fromisoformat(row["created_at"]),
        status=row["status"],
        grader=row["grader"],
        grade=grade,
        error=row["error"],
        parent_id=row["parent_id"],
    )
