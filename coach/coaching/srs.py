"""Spaced-repetition review state: every question, and every rubric point you missed, is an FSRS card.

Scheduler
    The `fsrs` package's FSRS-6 scheduler with its default parameters (until `optimize` has fitted
    parameters to your own reviews), desired retention 0.9, and two deliberate changes from
    `fsrs.Scheduler()`:

    * ``learning_steps=()`` and ``relearning_steps=()``. The package's defaults are minute-level
      steps (a new card rated Good is due again in 10 minutes), which suit flashcards, not
      interview answers that take 10-15 minutes to write. With no steps every card goes straight to
      the Review state and its interval comes from FSRS's stability: at least one day (a new card
      rated Again or Hard is due the next day, Good in 2 days, Easy in 8 days).
    * ``enable_fuzzing=False``, so the same history always gives the same due dates (the plan and
      the tests are deterministic).

Ratings
    A question card is rated from the attempt's score, rounded half up to a whole point:

    ========  ======
    score     rating
    ========  ======
    0 - 3     Again
    4 - 5     Hard
    6 - 8     Good
    9 - 10    Easy
    ========  ======

    A rubric point becomes a card the first time an answer does not cover it (status missed or
    partial); from then on every graded answer whose rubric contains the point reviews it:
    missed -> Again, partial -> Hard, covered -> Good. Points from a note (``note-id/N``) are
    shared by every question that note serves, so covering the point in another question counts.
    The general quality dimensions (``dim-*``) are not cards: they are not knowledge to recall.
    Follow-up answers (attempts with a parent) are not reviews of the question.

Storage
    Tables ``cards`` (one row per card: key, FSRS card JSON, due, last review) and
    ``card_attempts`` (which graded attempts, with a digest of their grade, the cards reflect)
    live in the history database beside ``attempts``. The review state is derived data: `sync`
    replays graded attempts in time order, applying only new ones when nothing earlier changed and
    rebuilding from scratch when an attempt was deleted, re-graded, or graded out of order. So it
    stays right even when a grade was recorded by a process that never called `record_review`.
    `clear_reviews` empties it (``coach forget --all``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fsrs import Card, Rating, ReviewLog, Scheduler
from fsrs.scheduler import DEFAULT_PARAMETERS

from coach.errors import CoachError
from coach.models import Attempt, Grade

DESIRED_RETENTION = 0.9
LEARNING_STEPS: tuple[timedelta, ...] = ()
RELEARNING_STEPS: tuple[timedelta, ...] = ()
ENABLE_FUZZING = False
# fsrs's Optimizer returns the default parameters below one mini-batch of cross-day reviews.
MIN_REVIEWS_TO_OPTIMIZE = 512

# Lowest whole-point score for each rating (a score is rounded half up first).
HARD_FROM, GOOD_FROM, EASY_FROM = 4, 6, 9
STATUS_RATING = {"missed": Rating.Again, "partial": Rating.Hard, "covered": Rating.Good}

SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    card_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('question', 'criterion')),
    question_id TEXT NOT NULL,
    criterion_id TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    card_json TEXT NOT NULL,
    due TEXT NOT NULL,
    last_review TEXT NOT NULL,
    last_rating INTEGER NOT NULL,
    last_score REAL,
    reviews INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cards_due ON cards(due);
CREATE TABLE IF NOT EXISTS card_attempts (
    attempt_id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fsrs_parameters (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    parameters TEXT NOT NULL,
    reviews INTEGER NOT NULL,
    optimized_at TEXT NOT NULL
);
"""


def _db_errors(func):
    """sqlite errors (locked, read-only, damaged file) become one-line CoachErrors."""

    @functools.wraps(func)
    def wrapper(db, *args, **kwargs):
        try:
            return func(db, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise CoachError(
                f"cannot read or update the review state in the history database ({exc})"
            ) from None

    return wrapper


# --- ratings and the scheduler ---------------------------------------------------------------


def rating_for_score(score: float) -> Rating:
    """0-3 Again, 4-5 Hard, 6-8 Good, 9-10 Easy, after rounding the score half up."""
    points = min(10, max(0, math.floor(score + 0.5)))
    if points >= EASY_FROM:
        return Rating.Easy
    if points >= GOOD_FROM:
        return Rating.Good
    if points >= HARD_FROM:
        return Rating.Hard
    return Rating.Again


def rating_for_status(status: str) -> Rating:
    return STATUS_RATING[status]


def make_scheduler(parameters=None) -> Scheduler:
    """FSRS-6 with day-level scheduling and no fuzz (see the module docstring)."""
    return Scheduler(
        parameters=tuple(parameters) if parameters else DEFAULT_PARAMETERS,
        desired_retention=DESIRED_RETENTION,
        learning_steps=LEARNING_STEPS,
        relearning_steps=RELEARNING_STEPS,
        enable_fuzzing=ENABLE_FUZZING,
    )


@_db_errors
def scheduler_for(db: sqlite3.Connection) -> Scheduler:
    """The scheduler with this history's optimized parameters, or the defaults."""
    ensure_schema(db)
    row = db.execute("SELECT parameters FROM fsrs_parameters WHERE id = 1").fetchone()
    return make_scheduler(json.loads(row[0]) if row else None)


# --- cards -----------------------------------------------------------------------------------


def question_key(question_id: str) -> str:
    return f"q:{question_id}"


def criterion_key(question_id: str, criterion_id: str) -> str | None:
    """The card of a rubric point, or None for the general dimensions (not cards)."""
    if criterion_id.startswith("dim-"):
        return None
    if criterion_id.startswith("ref/"):  # reference-answer points belong to their question
        return f"c:{question_id}/{criterion_id}"
    return f"c:{criterion_id}"


def card_id_for(key: str) -> int:
    """A stable integer id for fsrs (which otherwise uses the creation time and sleeps 1 ms)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=6).digest(), "big")


@dataclass
class ReviewCard:
    """One card and what the coach knows about it."""

    key: str
    kind: str  # "question" or "criterion"
    question_id: str  # for a rubric point: the question it was last reviewed in
    criterion_id: str
    text: str  # the rubric point's text (empty for a question card)
    card: Card
    last_rating: Rating
    last_score: float | None  # the last attempt's score (question cards)
    reviews: int

    @property
    def due(self) -> datetime:
        return self.card.due

    @property
    def due_date(self) -> date:
        """The local calendar day the card falls due."""
        return self.card.due.astimezone().date()

    def is_due(self, day: date) -> bool:
        return self.due_date <= day


def _row_to_card(row) -> ReviewCard:
    return ReviewCard(
        key=row["card_key"],
        kind=row["kind"],
        question_id=row["question_id"],
        criterion_id=row["criterion_id"],
        text=row["text"],
        card=Card.from_json(row["card_json"]),
        last_rating=Rating(row["last_rating"]),
        last_score=row["last_score"],
        reviews=row["reviews"],
    )


# --- the database ----------------------------------------------------------------------------


def ensure_schema(db: sqlite3.Connection) -> None:
    try:
        db.executescript(SCHEMA)
    except sqlite3.OperationalError as exc:
        raise CoachError(
            f"cannot create the review tables in the history database ({exc})"
        ) from None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection, ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise CoachError(f"cannot update review state ({exc})") from None
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _digest(grade_json: str) -> str:
    return hashlib.sha1(grade_json.encode("utf-8")).hexdigest()[:16]


@dataclass
class _Graded:
    attempt_id: int
    question_id: str
    created_at: datetime
    grade_json: str
    digest: str

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.created_at, self.attempt_id)


def _graded_attempts(db: sqlite3.Connection) -> dict[int, _Graded]:
    rows = db.execute(
        "SELECT id, question_id, created_at, grade_json FROM attempts "
        "WHERE status = 'graded' AND grade_json IS NOT NULL AND parent_id IS NULL"
    )
    return {r[0]: _Graded(r[0], r[1], _utc(r[2]), r[3], _digest(r[3])) for r in rows}


@dataclass
class SyncReport:
    applied: int  # attempts replayed into the cards
    rebuilt: bool  # True when the state was rebuilt from scratch


@_db_errors
def sync(db: sqlite3.Connection) -> SyncReport:
    """Bring the cards up to date with the graded attempts (incrementally when possible)."""
    ensure_schema(db)
    with _Transaction(db):
        current = _graded_attempts(db)
        applied = {
            r[0]: (r[1], _utc(r[2]), r[0])
            for r in db.execute("SELECT attempt_id, digest, created_at FROM card_attempts")
        }
        stale = any(
            attempt_id not in current or current[attempt_id].digest != digest
            for attempt_id, (digest, _, _) in applied.items()
        )
        new = sorted((g for i, g in current.items() if i not in applied), key=lambda g: g.order)
        if not stale and new and applied:
            last_applied = max((created, i) for _, created, i in applied.values())
            stale = new[0].order < last_applied
        if stale:
            db.execute("DELETE FROM cards")
            db.execute("DELETE FROM card_attempts")
            new = sorted(current.values(), key=lambda g: g.order)
        if not new:
            return SyncReport(0, stale)
        scheduler = _scheduler_in_transaction(db)
        cards = {} if stale else {c.key: c for c in _load(db)}
        changed: set[str] = set()
        for graded in new:
            changed |= _apply(scheduler, cards, graded)
        db.executemany(
            "INSERT OR REPLACE INTO cards (card_key, kind, question_id, criterion_id, text, card_json, due,"
            " last_review, last_rating, last_score, reviews) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.key,
                    c.kind,
                    c.question_id,
                    c.criterion_id,
                    c.text,
                    c.card.to_json(),
                    c.card.due.isoformat(),
                    c.card.last_review.isoformat() if c.card.last_review else "",
                    int(c.last_rating),
                    c.last_score,
                    c.reviews,
                )
                for key, c in cards.items()
                if key in changed
            ],
        )
        db.executemany(
            "INSERT OR REPLACE INTO card_attempts (attempt_id, digest, created_at) VALUES (?, ?, ?)",
            [(g.attempt_id, g.digest, g.created_at.isoformat()) for g in new],
        )
        return SyncReport(len(new), stale)


def record_review(db: sqlite3.Connection, attempt: Attempt | None = None) -> SyncReport:
    """Review the cards of a newly graded attempt (and of any graded attempt not yet applied).

    Safe to call more than once, or never: `sync` is idempotent and every reader calls it.
    """
    return sync(db)


@_db_errors
def rebuild(db: sqlite3.Connection) -> SyncReport:
    """Forget the cards and replay every graded attempt in time order."""
    ensure_schema(db)
    with _Transaction(db):
        db.execute("DELETE FROM cards")
        db.execute("DELETE FROM card_attempts")
    return sync(db)


@_db_errors
def clear_reviews(db: sqlite3.Connection) -> int:
    """Delete all review state (cards, applied attempts, fitted parameters); returns cards deleted."""
    ensure_schema(db)
    with _Transaction(db):
        count = db.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
        db.execute("DELETE FROM cards")
        db.execute("DELETE FROM card_attempts")
        db.execute("DELETE FROM fsrs_parameters")
    return int(count)


def _scheduler_in_transaction(db: sqlite3.Connection) -> Scheduler:
    row = db.execute("SELECT parameters FROM fsrs_parameters WHERE id = 1").fetchone()
    return make_scheduler(json.loads(row[0]) if row else None)


def _load(db: sqlite3.Connection) -> list[ReviewCard]:
    previous = db.row_factory
    db.row_factory = sqlite3.Row
    try:
        return [_row_to_card(r) for r in db.execute("SELECT * FROM cards ORDER BY card_key")]
    finally:
        db.row_factory = previous


@_db_errors
def load_cards(db: sqlite3.Connection, synced: bool = True) -> list[ReviewCard]:
    """Every card, after bringing the state up to date (unless `synced` is False)."""
    if synced:
        sync(db)
    else:
        ensure_schema(db)
    return _load(db)


def due_cards(db: sqlite3.Connection, day: date | None = None) -> list[ReviewCard]:
    """Cards due on or before the local calendar `day` (default today), earliest first."""
    day = day or date.today()
    return sorted((c for c in load_cards(db) if c.is_due(day)), key=lambda c: (c.due, c.key))


# --- replay ----------------------------------------------------------------------------------


def _review(
    scheduler: Scheduler, existing: ReviewCard | None, rating: Rating, when: datetime
) -> Card:
    card = existing.card if existing else None
    if card is None:
        return scheduler.review_card(Card(card_id=0, due=when), rating, when)[0]
    if card.last_review and when < card.last_review:  # clock skew: never review into the past
        when = card.last_review
    return scheduler.review_card(card, rating, when)[0]


def _apply(scheduler: Scheduler, cards: dict[str, ReviewCard], graded: _Graded) -> set[str]:
    """Review the question card and the rubric-point cards of one graded attempt."""
    try:
        grade = Grade.model_validate_json(graded.grade_json)
    except ValueError:
        return set()  # an unreadable grade reviews nothing (it stays recorded as applied)
    when = graded.created_at
    changed = set()
    reviews: list[tuple[str, str, str, str, Rating, float | None]] = [
        (
            question_key(graded.question_id),
            "question",
            "",
            "",
            rating_for_score(grade.score),
            grade.score,
        )
    ]
    for result in grade.criteria:
        key = criterion_key(graded.question_id, result.criterion_id)
        if key is None or key in {r[0] for r in reviews}:
            continue
        if key not in cards and result.status == "covered":
            continue  # a point becomes a card only once it has been missed
        reviews.append(
            (
                key,
                "criterion",
                result.criterion_id,
                result.text,
                rating_for_status(result.status),
                None,
            )
        )
    for key, kind, criterion_id, text, rating, score in reviews:
        existing = cards.get(key)
        card = _review(scheduler, existing, rating, when)
        card.card_id = card_id_for(key)
        cards[key] = ReviewCard(
            key=key,
            kind=kind,
            question_id=graded.question_id,
            criterion_id=criterion_id,
            text=text or (existing.text if existing else ""),
            card=card,
            last_rating=rating,
            last_score=score,
            reviews=(existing.reviews if existing else 0) + 1,
        )
        changed.add(key)
    return changed


def review_logs(db: sqlite3.Connection) -> list[ReviewLog]:
    """Every review the cards went through, rebuilt by replay (what `optimize` fits on)."""
    attempts = sorted(_graded_attempts(db).values(), key=lambda g: g.order)
    scheduler = make_scheduler()
    cards: dict[str, ReviewCard] = {}
    logs: list[ReviewLog] = []
    for graded in attempts:
        for key in sorted(_apply(scheduler, cards, graded)):
            c = cards[key]
            logs.append(
                ReviewLog(
                    card_id=card_id_for(key),
                    rating=c.last_rating,
                    review_datetime=c.card.last_review,
                    review_duration=None,
                )
            )
    return logs


def cross_day_reviews(logs: list[ReviewLog]) -> int:
    """Reviews at least a day after the same card's previous review (what the optimizer learns from)."""
    last: dict[int, datetime] = {}
    count = 0
    for log in sorted(logs, key=lambda entry: entry.review_datetime):
        previous = last.get(log.card_id)
        if previous is not None and (log.review_datetime - previous).days > 0:
            count += 1
        last[log.card_id] = log.review_datetime
    return count


def optimize(db: sqlite3.Connection) -> list[float]:
    """Fit FSRS parameters to this history (needs `fsrs[optimizer]` and enough reviews), then replay."""
    ensure_schema(db)
    logs = review_logs(db)
    usable = cross_day_reviews(logs)
    if usable < MIN_REVIEWS_TO_OPTIMIZE:
        raise CoachError(
            f"{usable} reviews a day or more apart; fitting FSRS needs {MIN_REVIEWS_TO_OPTIMIZE}, "
            "so the default parameters stay in use"
        )
    try:
        from fsrs.optimizer import Optimizer

        parameters = list(Optimizer(logs).compute_optimal_parameters())
    except ImportError:
        raise CoachError(
            "fitting FSRS parameters needs the optimizer: pip install 'fsrs[optimizer]'"
        ) from None
    store_parameters(db, parameters, usable)
    return parameters


@_db_errors
def store_parameters(db: sqlite3.Connection, parameters: list[float], reviews: int) -> None:
    """Use these FSRS parameters from now on and reschedule every card with them."""
    make_scheduler(parameters)  # validates the bounds
    ensure_schema(db)
    with _Transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO fsrs_parameters (id, parameters, reviews, optimized_at) VALUES (1, ?, ?, ?)",
            (
                json.dumps(list(parameters)),
                reviews,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
    rebuild(db)
