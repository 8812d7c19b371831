"""The mock rounds repository: a round's settings and state (`mock_sessions`) and its questions
(`mock_items`), so an interrupted round can resume in another process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from coach.storage.db import Database, NotFound

ItemStatus = Literal["open", "answered", "done", "skipped"]
SessionState = Literal["active", "interrupted", "finished"]


class MockItem(BaseModel):
    """One question of a round: where the candidate is with it, and the time spent on it."""

    position: int  # 1-based
    question_id: str
    status: ItemStatus = "open"
    attempt_id: int | None = None
    seconds_used: float = 0.0


class MockSession(BaseModel):
    """A stored mock round and its questions, in order."""

    id: int
    round: str
    minutes: int
    grader: str = ""
    state: SessionState
    created_at: datetime
    items: list[MockItem]
    export_path: str = ""  # where the scorecard goes when the round finishes ('' for nowhere)

    @property
    def seconds_allowed(self) -> float:
        """Each question's share of the round, its probes included."""
        return self.minutes * 60.0 / max(len(self.items), 1)

    @property
    def answered(self) -> int:
        return sum(i.status in ("answered", "done") for i in self.items)


class Rounds:
    """Mock rounds and their items."""

    def __init__(self, database: Database):
        self.database = database

    def start(
        self,
        round_: str,
        minutes: int,
        question_ids: list[str],
        grader: str = "",
        export_path: str = "",
    ) -> MockSession:
        """Store a new active round with its questions, all open (one transaction)."""
        now = _now()
        with self.database.transaction():
            cursor = self.database.write(
                "INSERT INTO mock_sessions"
                " (round, minutes, question_ids, grader, state, created_at, updated_at, export_path)"
                " VALUES (?, ?, ?, ?, 'active', ?, ?, ?)",
                (round_, minutes, json.dumps(question_ids), grader, now, now, export_path),
            )
            session_id = int(cursor.lastrowid)
            self.database.write_many(
                "INSERT INTO mock_items (session_id, position, question_id, status) VALUES (?, ?, ?, 'open')",
                [(session_id, position, qid) for position, qid in enumerate(question_ids, 1)],
            )
        return self.get(session_id)

    def get(self, session_id: int) -> MockSession:
        row = self.database.read_one("SELECT * FROM mock_sessions WHERE id = ?", (session_id,))
        if row is None:
            raise NotFound(f"no mock round {session_id}")
        items = [
            MockItem(
                position=r["position"],
                question_id=r["question_id"],
                status=r["status"],
                attempt_id=r["attempt_id"],
                seconds_used=r["seconds_used"],
            )
            for r in self.database.read(
                "SELECT * FROM mock_items WHERE session_id = ? ORDER BY position", (session_id,)
            )
        ]
        return MockSession(
            id=row["id"],
            round=row["round"],
            minutes=row["minutes"],
            grader=row["grader"],
            state=row["state"],
            created_at=datetime.fromisoformat(row["created_at"]),
            items=items,
            export_path=row["export_path"],
        )

    def latest_unfinished(self) -> MockSession | None:
        """The newest round that was not finished, if any."""
        row = self.database.read_one(
            "SELECT id FROM mock_sessions WHERE state != 'finished' ORDER BY id DESC LIMIT 1"
        )
        return self.get(row["id"]) if row else None

    def finished(self) -> list[MockSession]:
        """Every finished round, newest first."""
        rows = self.database.read(
            "SELECT id FROM mock_sessions WHERE state = 'finished' ORDER BY id DESC"
        )
        return [self.get(row["id"]) for row in rows]

    def set_export(self, session_id: int, export_path: str) -> None:
        self.database.write(
            "UPDATE mock_sessions SET export_path = ? WHERE id = ?", (export_path, session_id)
        )

    def save_item(self, session_id: int, item: MockItem) -> None:
        self.database.write(
            "UPDATE mock_items SET status = ?, attempt_id = ?, seconds_used = ? WHERE session_id = ? AND position = ?",
            (item.status, item.attempt_id, item.seconds_used, session_id, item.position),
        )

    def set_state(self, session_id: int, state: SessionState) -> None:
        self.database.write(
            "UPDATE mock_sessions SET state = ?, updated_at = ? WHERE id = ?",
            (state, _now(), session_id),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
