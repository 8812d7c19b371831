"""`coach progress`: per-topic and per-round scores, trends, what is due today, and a chart.

A question's topics are the topics of the notes that serve it (Note.questions / Note.topics); a
question no note serves falls back to its category. Only graded answers count; follow-up answers
(attempts with a parent) are not answers to the question and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from coach.coaching import srs as review
from coach.models import Attempt, Note, Question

TREND_WINDOW = 5
ROUND_ORDER = {"2": 0, "3": 1, "4": 2, "additional": 3}


def round_label(round_: str) -> str:
    return "additional" if round_ == "additional" else f"round {round_}"


@dataclass
class Stat:
    """Scores of one group (a topic or a round), oldest first."""

    name: str
    scores: list[float]

    @property
    def attempts(self) -> int:
        return len(self.scores)

    @property
    def average(self) -> float:
        return round(sum(self.scores) / len(self.scores), 2)

    @property
    def best(self) -> float:
        return max(self.scores)

    @property
    def last(self) -> list[float]:
        """The last TREND_WINDOW scores, oldest first."""
        return self.scores[-TREND_WINDOW:]

    @property
    def trend(self) -> float:
        """Change from the first to the last of the recent scores (0 with fewer than two)."""
        recent = self.last
        return round(recent[-1] - recent[0], 2) if len(recent) >= 2 else 0.0


@dataclass
class Point:
    attempt_id: int
    when: datetime
    score: float
    question_id: str
    round: str


@dataclass
class DueItem:
    """A card due today: a question to re-attempt, or a missed rubric point to revisit."""

    kind: str  # "question" or "criterion"
    question_id: str
    text: str
    due: date
    last_score: float | None = None


@dataclass
class Progress:
    today: date
    topics: list[Stat]  # weakest first
    rounds: list[Stat]  # in loop order
    series: list[Point]  # every graded answer, oldest first
    due_questions: list[DueItem] = field(default_factory=list)
    due_points: list[DueItem] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return len(self.series)

    @property
    def average(self) -> float | None:
        return (
            round(sum(p.score for p in self.series) / len(self.series), 2) if self.series else None
        )


# --- shared with the plan ---------------------------------------------------------------------


def graded_attempts(attempts: list[Attempt]) -> list[Attempt]:
    """Graded answers to a question (no follow-ups), oldest first."""
    graded = [
        a for a in attempts if a.status == "graded" and a.grade is not None and a.parent_id is None
    ]
    return sorted(graded, key=lambda a: (a.created_at, a.id))


def question_topics(questions: list[Question], notes: dict[str, Note]) -> dict[str, list[str]]:
    """question id -> its topics, from the notes that serve it (else its category)."""
    serving: dict[str, list[str]] = defaultdict(list)
    for note in sorted(notes.values(), key=lambda n: n.id):
        for question_id in note.questions:
            for topic in note.topics:
                if topic not in serving[question_id]:
                    serving[question_id].append(topic)
    return {q.id: serving.get(q.id) or [q.category.lower()] for q in questions}


def topic_stats(attempts: list[Attempt], topics: dict[str, list[str]]) -> list[Stat]:
    """Per topic, weakest (lowest average) first; attempts at unknown questions are skipped."""
    groups: dict[str, list[float]] = defaultdict(list)
    for attempt in graded_attempts(attempts):
        for topic in topics.get(attempt.question_id, []):
            groups[topic].append(attempt.grade.score)
    return sorted(
        (Stat(name, scores) for name, scores in groups.items()), key=lambda s: (s.average, s.name)
    )


def round_stats(attempts: list[Attempt], questions: dict[str, Question]) -> list[Stat]:
    groups: dict[str, list[float]] = defaultdict(list)
    for attempt in graded_attempts(attempts):
        question = questions.get(attempt.question_id)
        if question is not None:
            groups[question.round].append(attempt.grade.score)
    ordered = sorted(groups, key=lambda r: (ROUND_ORDER.get(r, len(ROUND_ORDER)), r))
    return [Stat(round_label(r), groups[r]) for r in ordered]


# --- the report -------------------------------------------------------------------------------


def build_progress(coach, today: date | None = None) -> Progress:
    """Everything `coach progress` shows, from the history and the FSRS review state."""
    today = today or date.today()
    by_id = {q.id: q for q in coach.questions}
    attempts = coach.history.list()
    graded = graded_attempts(attempts)
    topics = question_topics(coach.questions, coach.notes)
    series = [
        Point(
            a.id,
            a.created_at,
            a.grade.score,
            a.question_id,
            by_id[a.question_id].round if a.question_id in by_id else "",
        )
        for a in graded
    ]
    due_questions, due_points = [], []
    # The repositories on the database the attempts live in (coach.storage once Coach has one).
    for card in review.due_cards(coach.storage, today):
        if card.question_id not in by_id:
            continue
        if card.kind == "question":
            due_questions.append(
                DueItem(
                    "question",
                    card.question_id,
                    by_id[card.question_id].text,
                    card.due_date,
                    card.last_score,
                )
            )
        else:
            due_points.append(DueItem("criterion", card.question_id, card.text, card.due_date))
    return Progress(
        today=today,
        topics=topic_stats(attempts, topics),
        rounds=round_stats(attempts, by_id),
        series=series,
        due_questions=due_questions,
        due_points=due_points,
    )
