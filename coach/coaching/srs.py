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
    A ``contradicted`` point (the answer made a wrong claim about it) is rated Again, like a missed one.

Storage
    The cards repository (coach.storage.cards) keeps one row per card (key, FSRS card JSON, due,
    last review), which graded attempts the cards reflect (with a digest of their grade) and the
    fitted parameters, in the history database beside the attempts. The review state is derived
    data: `sync` replays graded attempts in time order, applying only new ones when nothing earlier
    changed and rebuilding from scratch when an attempt was deleted, re-graded, or graded out of
    order. So it stays right whichever process recorded a grade, and every reader calls it.
    `clear_reviews` empties it (``coach forget --all``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fsrs import Card, Rating, ReviewLog, Scheduler
from fsrs.scheduler import DEFAULT_PARAMETERS

from coach.errors import CoachError
from coach.models import Grade
from coach.storage import Storage
from coach.storage.cards import AppliedAttempt, StoredCard

DESIRED_RETENTION = 0.9
LEARNING_STEPS: tuple[timedelta, ...] = ()
RELEARNING_STEPS: tuple[timedelta, ...] = ()
ENABLE_FUZZING = False
# fsrs's Optimizer returns the default parameters below one mini-batch of cross-day reviews.
MIN_REVIEWS_TO_OPTIMIZE = 512

# Lowest whole-point score for each rating (a score is rounded half up first).
HARD_FROM, GOOD_FROM, EASY_FROM = 4, 6, 9
STATUS_RATING = {
    "missed": Rating.Again,
    "contradicted": Rating.Again,
    "partial": Rating.Hard,
    "covered": Rating.Good,
}


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


def scheduler_for(storage: Storage) -> Scheduler:
    """The scheduler with this history's fitted parameters, or the defaults."""
    return make_scheduler(storage.cards.parameters())


def assume_review(
    scheduler: Scheduler, card: Card | None, key: str, rating: Rating, when: datetime
) -> Card:
    """The card after a review rated `rating` at `when` (a new card if None), never reviewed before
    its last review: what the plan simulates for the practice it schedules."""
    if card is None:
        return scheduler.review_card(Card(card_id=card_id_for(key), due=when), rating, when)[0]
    if card.last_review and when <= card.last_review:
        when = card.last_review + timedelta(minutes=1)
    return scheduler.review_card(card, rating, when)[0]


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


def _from_stored(stored: StoredCard) -> ReviewCard:
    return ReviewCard(
        key=stored.key,
        kind=stored.kind,
        question_id=stored.question_id,
        criterion_id=stored.criterion_id,
        text=stored.text,
        card=Card.from_json(stored.card_json),
        last_rating=Rating(stored.last_rating),
        last_score=stored.last_score,
        reviews=stored.reviews,
    )


def _to_stored(c: ReviewCard) -> StoredCard:
    return StoredCard(
        key=c.key,
        kind=c.kind,
        question_id=c.question_id,
        criterion_id=c.criterion_id,
        text=c.text,
        card_json=c.card.to_json(),
        due=c.card.due.isoformat(),
        last_review=c.card.last_review.isoformat() if c.card.last_review else "",
        last_rating=int(c.last_rating),
        last_score=c.last_score,
        reviews=c.reviews,
    )


# --- bringing the cards up to date -----------------------------------------------------------


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


def _graded_attempts(storage: Storage) -> dict[int, _Graded]:
    return {
        g.attempt_id: _Graded(
            g.attempt_id, g.question_id, _utc(g.created_at), g.grade_json, _digest(g.grade_json)
        )
        for g in storage.attempts.graded_answers()
    }


@dataclass
class SyncReport:
    applied: int  # attempts replayed into the cards
    rebuilt: bool  # True when the state was rebuilt from scratch


def sync(storage: Storage) -> SyncReport:
    """Bring the cards up to date with the graded attempts (incrementally when possible)."""
    with storage.database.transaction():
        current = _graded_attempts(storage)
        applied = {
            a.attempt_id: (a.digest, _utc(a.created_at), a.attempt_id)
            for a in storage.cards.applied()
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
            storage.cards.reset()
            new = sorted(current.values(), key=lambda g: g.order)
        if not new:
            return SyncReport(0, stale)
        scheduler = scheduler_for(storage)
        cards = {} if stale else {c.key: c for c in _load(storage)}
        changed: set[str] = set()
        for graded in new:
            changed |= _apply(scheduler, cards, graded)
        storage.cards.save(
            [_to_stored(c) for key, c in cards.items() if key in changed],
            [AppliedAttempt(g.attempt_id, g.digest, g.created_at.isoformat()) for g in new],
        )
        return SyncReport(len(new), stale)


def rebuild(storage: Storage) -> SyncReport:
    """Forget the cards and replay every graded attempt in time order (one transaction)."""
    with storage.database.transaction():
        storage.cards.reset()
        return sync(storage)


def clear_reviews(storage: Storage) -> int:
    """Delete all review state (cards, applied attempts, fitted parameters); returns cards deleted."""
    return storage.cards.clear()


def _load(storage: Storage) -> list[ReviewCard]:
    return [_from_stored(c) for c in storage.cards.all()]


def load_cards(storage: Storage, synced: bool = True) -> list[ReviewCard]:
    """Every card, after bringing the state up to date (unless `synced` is False)."""
    if synced:
        sync(storage)
    return _load(storage)


def due_cards(storage: Storage, day: date | None = None) -> list[ReviewCard]:
    """Cards due on or before the local calendar `day` (default today), earliest first."""
    day = day or date.today()
    return sorted((c for c in load_cards(storage) if c.is_due(day)), key=lambda c: (c.due, c.key))


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


def review_logs(storage: Storage) -> list[ReviewLog]:
    """Every review the cards went through, rebuilt by replay (what `optimize` fits on)."""
    attempts = sorted(_graded_attempts(storage).values(), key=lambda g: g.order)
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


def optimize(storage: Storage) -> list[float]:
    """Fit FSRS parameters to this history (needs `fsrs[optimizer]` and enough reviews), then replay."""
    logs = review_logs(storage)
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
    store_parameters(storage, parameters, usable)
    return parameters


def store_parameters(storage: Storage, parameters: list[float], reviews: int) -> None:
    """Use these FSRS parameters from now on and reschedule every card with them (one transaction)."""
    make_scheduler(parameters)  # validates the bounds
    with storage.database.transaction():
        storage.cards.set_parameters(parameters, reviews)
        rebuild(storage)
