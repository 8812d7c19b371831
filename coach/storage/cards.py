"""The review cards repository: spaced-repetition cards (`cards`), which graded attempts they
reflect (`card_attempts`), and fitted scheduler parameters (`fsrs_parameters`). The scheduling
itself is coach.coaching.srs; this module only stores what it computes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from coach.storage.db import Database


@dataclass(frozen=True)
class StoredCard:
    """One card as stored; `card_json` is the scheduler's own serialisation of its state."""

    key: str
    kind: str  # "question" or "criterion"
    question_id: str
    criterion_id: str
    text: str
    card_json: str
    due: str  # ISO 8601
    last_review: str  # ISO 8601, or "" before the first review
    last_rating: int
    last_score: float | None
    reviews: int


@dataclass(frozen=True)
class AppliedAttempt:
    """A graded attempt the cards reflect, with a digest of the grade it was applied with."""

    attempt_id: int
    digest: str
    created_at: str  # ISO 8601


class Cards:
    """Review state. Writes that belong together go inside `database.transaction()`."""

    def __init__(self, database: Database):
        self.database = database

    def all(self) -> list[StoredCard]:
        """Every card, by key."""
        return [
            StoredCard(
                key=r["card_key"],
                kind=r["kind"],
                question_id=r["question_id"],
                criterion_id=r["criterion_id"],
                text=r["text"],
                card_json=r["card_json"],
                due=r["due"],
                last_review=r["last_review"],
                last_rating=r["last_rating"],
                last_score=r["last_score"],
                reviews=r["reviews"],
            )
            for r in self.database.read("SELECT * FROM cards ORDER BY card_key")
        ]

    def count(self) -> int:
        return int(self.database.read_one("SELECT COUNT(*) FROM cards")[0])

    def applied(self) -> list[AppliedAttempt]:
        """The attempts the cards reflect, by attempt id."""
        rows = self.database.read(
            "SELECT attempt_id, digest, created_at FROM card_attempts ORDER BY attempt_id"
        )
        return [AppliedAttempt(r[0], r[1], r[2]) for r in rows]

    def save(self, cards: Iterable[StoredCard], applied: Iterable[AppliedAttempt]) -> None:
        """Insert or replace these cards and mark these attempts applied (one transaction)."""
        with self.database.transaction():
            self.database.write_many(
                "INSERT OR REPLACE INTO cards (card_key, kind, question_id, criterion_id, text, card_json, due,"
                " last_review, last_rating, last_score, reviews) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.key,
                        c.kind,
                        c.question_id,
                        c.criterion_id,
                        c.text,
                        c.card_json,
                        c.due,
                        c.last_review,
                        c.last_rating,
                        c.last_score,
                        c.reviews,
                    )
                    for c in cards
                ],
            )
            self.database.write_many(
                "INSERT OR REPLACE INTO card_attempts (attempt_id, digest, created_at) VALUES (?, ?, ?)",
                [(a.attempt_id, a.digest, a.created_at) for a in applied],
            )

    def reset(self) -> None:
        """Forget the cards and which attempts they reflect (the fitted parameters stay)."""
        with self.database.transaction():
            self.database.write("DELETE FROM cards")
            self.database.write("DELETE FROM card_attempts")

    def clear(self) -> int:
        """Delete all review state, fitted parameters included; returns how many cards there were."""
        with self.database.transaction():
            count = self.count()
            self.reset()
            self.database.write("DELETE FROM fsrs_parameters")
        return count

    def parameters(self) -> list[float] | None:
        """The fitted scheduler parameters, or None while the defaults are in use."""
        row = self.database.read_one("SELECT parameters FROM fsrs_parameters WHERE id = 1")
        return json.loads(row[0]) if row else None

    def set_parameters(self, parameters: list[float], reviews: int) -> None:
        """Store fitted parameters (and how many reviews they were fitted on)."""
        self.database.write(
            "INSERT OR REPLACE INTO fsrs_parameters (id, parameters, reviews, optimized_at) VALUES (1, ?, ?, ?)",
            (
                json.dumps(list(parameters)),
                reviews,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
