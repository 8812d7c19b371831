"""The probes repository: the follow-up questions of each root attempt and what became of them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from coach.models import Criterion, Probe, ProbeStatus
from coach.storage.db import Database, StorageError


class Probes:
    """Probe rows (table `probes`): root attempt, answering attempt, text, targeted points, status."""

    def __init__(self, database: Database):
        self.database = database

    def add(self, probe: Probe) -> Probe:
        """Save a new probe; returns it with its id."""
        cursor = self.database.write(
            "INSERT INTO probes (root_id, attempt_id, question, kind, quote, source, targets_json, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                probe.root_id,
                probe.attempt_id,
                probe.text,
                probe.kind,
                probe.quote,
                probe.source,
                json.dumps([c.model_dump() for c in probe.targets]),
                probe.status,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        return probe.model_copy(update={"id": int(cursor.lastrowid)})

    def for_root(self, root_id: int) -> list[Probe]:
        """The probes of one root attempt, in the order they were written."""
        rows = self.database.read("SELECT * FROM probes WHERE root_id = ? ORDER BY id", (root_id,))
        return [_probe(r) for r in rows]

    def for_attempt(self, attempt_id: int) -> Probe | None:
        """The probe an attempt answers, if it answers one."""
        row = self.database.read_one("SELECT * FROM probes WHERE attempt_id = ?", (attempt_id,))
        return _probe(row) if row else None

    def set_status(self, probe: Probe, status: ProbeStatus, attempt_id: int | None = None) -> Probe:
        """Record a probe's new status (and the attempt answering it); returns the updated probe."""
        if probe.id is None:
            raise StorageError("this probe was never saved")
        self.database.write(
            "UPDATE probes SET status = ?, attempt_id = COALESCE(?, attempt_id) WHERE id = ?",
            (status, attempt_id, probe.id),
        )
        return probe.model_copy(
            update={"status": status, "attempt_id": attempt_id or probe.attempt_id}
        )


def _probe(row: sqlite3.Row) -> Probe:
    return Probe(
        id=row["id"],
        root_id=row["root_id"],
        text=row["question"],
        kind=row["kind"],
        targets=[Criterion.model_validate(c) for c in json.loads(row["targets_json"])],
        quote=row["quote"],
        source=row["source"],
        status=row["status"],
        attempt_id=row["attempt_id"],
    )
