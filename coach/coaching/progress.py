"""`coach progress`: per-topic and per-round scores, trends, what is due today, and a chart.

A question's topics are the topics of the notes that serve it (Note.questions / Note.topics); a
question no note serves falls back to its category. Only graded answers count; follow-up answers
(attempts with a parent) are not answers to the question and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from coach.coaching import srs as review
from coach.models import Attempt, Note, Question
from coach.voice.delivery import Delivery

TREND_WINDOW = 5
ROUND_ORDER = {"2": 0, "3": 1, "4": 2, "additional": 3}


def round_label(round_: str) -> str:
    return "additional" if round_ == "additional" else f"round {round_}"


@dataclass
class Stat:
    """Scores of one group (a topic or a round), oldest first."""

    name: str
    scores: list[float]
    questions: list[str] = field(default_factory=list)  # the question of each score, same order

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
    def trend(self) -> float | None:
        """Progress on the same questions: the mean change from the first to the latest score of each
        question answered more than once (None when no question was repeated). Comparing answers to
        different questions would call a harder question a decline."""
        per_question: dict[str, list[float]] = defaultdict(list)
        for question_id, score in zip(self.questions, self.scores):
            per_question[question_id].append(score)
        changes = [s[-1] - s[0] for s in per_question.values() if len(s) >= 2]
        return round(sum(changes) / len(changes), 2) if changes else None


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
class Spoken:
    """One spoken answer's delivery (a question or a follow-up), for the speaking trend."""

    attempt_id: int
    when: datetime
    question_id: str
    delivery: Delivery


@dataclass
class Speaking:
    """How spoken answers were delivered over time, oldest first: the first and the latest
    SPEAKING_WINDOW answers are compared so one unusual answer does not read as a trend."""

    answers: list[Spoken]

    def mean(self, measure: Callable[[Delivery], float], first: bool) -> float:
        """The mean of a measure over the first (or the latest) SPEAKING_WINDOW spoken answers."""
        chosen = self.answers[:SPEAKING_WINDOW] if first else self.answers[-SPEAKING_WINDOW:]
        return round(sum(float(measure(s.delivery)) for s in chosen) / len(chosen), 1)


SPEAKING_WINDOW = 3


def spoken_answers(attempts: list[Attempt]) -> list[Spoken]:
    """Every answer given out loud (graded or not: delivery does not depend on the grade), oldest first."""
    spoken = [a for a in attempts if a.delivery]
    return [
        Spoken(a.id, a.created_at, a.question_id, Delivery.from_dict(a.delivery))
        for a in sorted(spoken, key=lambda a: (a.created_at, a.id))
    ]


@dataclass
class Progress:
    today: date
    topics: list[Stat]  # weakest first
    rounds: list[Stat]  # in loop order
    series: list[Point]  # every graded answer, oldest first
    due_questions: list[DueItem] = field(default_factory=list)
    due_points: list[DueItem] = field(default_factory=list)
    speaking: Speaking = field(default_factory=lambda: Speaking([]))

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
    groups: dict[str, Stat] = {}
    for attempt in graded_attempts(attempts):
        for topic in topics.get(attempt.question_id, []):
            stat = groups.setdefault(topic, Stat(topic, []))
            stat.scores.append(attempt.grade.score)
            stat.questions.append(attempt.question_id)
    return sorted(groups.values(), key=lambda s: (s.average, s.name))


def round_stats(attempts: list[Attempt], questions: dict[str, Question]) -> list[Stat]:
    groups: dict[str, Stat] = {}
    for attempt in graded_attempts(attempts):
        question = questions.get(attempt.question_id)
        if question is not None:
            stat = groups.setdefault(question.round, Stat(round_label(question.round), []))
            stat.scores.append(attempt.grade.score)
            stat.questions.append(attempt.question_id)
    ordered = sorted(groups, key=lambda r: (ROUND_ORDER.get(r, len(ROUND_ORDER)), r))
    return [groups[r] for r in ordered]


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
        speaking=Speaking(spoken_answers(attempts)),
    )
