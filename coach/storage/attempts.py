"""Attempt history in SQLite (WAL): the answer is committed before it is graded."""

from __future__ import annotations

import json
import os
import sqlite3
import time
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
BUSY_SECONDS = 30.0  # how long a write waits for another coach process before giving up


def write(db: sqlite3.Connection, sql: str, params: tuple, what: str) -> sqlite3.Cursor:
    """Execute one write; a locked or read-only database becomes a one-line CoachError naming `what`."""
    try:
        return db.execute(sql, params)
    except sqlite3.OperationalError as exc:
        raise CoachError(f"cannot write {what} ({exc})") from None


class History:
    """All attempts of one candidate, in COACH_HOME/history.sqlite.

    WAL mode with a busy timeout, so several `coach` processes can write at once; every statement
    commits on its own (the answer is on disk before grading starts). Deleted rows are overwritten
    (secure_delete) and the file is private to the user (0600).
    """

    def __init__(self, path: Path):
        self.path = path
        directory = path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CoachError(
                f"cannot create COACH_HOME {directory} ({exc.strerror}); set COACH_HOME to a writable directory"
            ) from None
        if not directory.is_dir():
            raise CoachError(f"COACH_HOME {directory} is not a directory; set COACH_HOME to a writable directory")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CoachError(
                f"COACH_HOME {directory} is read-only; make it writable or set COACH_HOME to another directory"
            )
        if path.is_dir():
            raise CoachError(f"history database {path} is a directory; move it aside to start afresh")
        created = not path.exists()
        try:
            self.db, mode = _open(path)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise CoachError(
                    f"history database {path} stayed locked by another process for {BUSY_SECONDS:g} s; retry"
                ) from None
            raise CoachError(
                f"history database {path} is unreadable ({exc}); move it aside to start afresh"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise CoachError(
                f"history database {path} is unreadable ({exc}); move it aside to start afresh"
            ) from None
        except OSError as exc:
            raise CoachError(f"cannot open history at {path} ({exc.strerror})") from None
        if str(mode).lower() != "wal":
            raise CoachError(
                f"history database {path} cannot use WAL mode ({mode}); is COACH_HOME on a network drive?"
            )
        if created:
            _private(path)

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
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _read(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> CoachError:
        return CoachError(f"history database {self.path} is damaged ({exc}); move it aside to start afresh")

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
        rows = self._read("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
        if not rows:
            raise CoachError(f"no attempt {attempt_id}; list them with `coach history`")
        return _attempt(rows[0])

    def list(self, question_id: str | None = None, limit: int | None = None) -> list[Attempt]:
        sql, params = "SELECT * FROM attempts", []
        if question_id:
            sql += " WHERE question_id = ?"
            params.append(question_id)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_attempt(r) for r in self._read(sql, params)]

    def pending(self) -> list[Attempt]:
        return [_attempt(r) for r in self._read("SELECT * FROM attempts WHERE status = 'pending' ORDER BY id")]

    def thread(self, attempt_id: int) -> list[Attempt]:
        """An attempt and its follow-up answers, in order."""
        root = self.get(attempt_id)
        rows = self._read("SELECT * FROM attempts WHERE parent_id = ? ORDER BY id", (root.id,))
        return [root] + [_attempt(r) for r in rows]

    def delete(self, attempt_id: int) -> None:
        self.get(attempt_id)
        self._write("DELETE FROM attempts WHERE id = ?", (attempt_id,))
        self._checkpoint()

    def delete_all(self) -> int:
        """Forget everything: attempts and every other table kept beside them (review state, ...).

        Returns how many attempts there were. Deleted content is overwritten in the file and the
        write-ahead log is emptied, so no answer text is left behind on disk.
        """
        count = self._read("SELECT COUNT(*) FROM attempts")[0][0]
        tables = [
            r[0]
            for r in self._read("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        self._write("PRAGMA foreign_keys = OFF", ())
        try:
            self._write("BEGIN IMMEDIATE", ())
            try:
                for table in tables:
                    self._write(f'DELETE FROM "{table.replace(chr(34), chr(34) * 2)}"', ())
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self._write("COMMIT", ())
        finally:
            self._write("PRAGMA foreign_keys = ON", ())
        self._checkpoint()
        return int(count)

    def _checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (best effort)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.DatabaseError:
            pass

    def export_jsonl(self, path: Path, question_id: str | None = None) -> int:
        """Write the attempts (of one question, if given) to a JSON Lines file, oldest first."""
        attempts = sorted(self.list(question_id), key=lambda a: a.id)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as out:
                for a in attempts:
                    out.write(a.model_dump_json() + "\n")
            _private(tmp)
            os.replace(tmp, path)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise CoachError(f"cannot write {path} ({exc.strerror})") from None
        return len(attempts)


def _open(path: Path, wait: float = BUSY_SECONDS) -> tuple[sqlite3.Connection, str]:
    """Connect in WAL mode and create the schema. Two processes creating the file at the same moment
    can see "database is locked" while one switches the new file to WAL (SQLite does not always call
    the busy handler there), so that is retried until `wait` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        db = sqlite3.connect(path, timeout=wait, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA secure_delete = ON")
            db.executescript(SCHEMA)
            return db, mode
        except sqlite3.OperationalError as exc:
            db.close()
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
        except BaseException:
            db.close()
            raise


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
    )


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)
