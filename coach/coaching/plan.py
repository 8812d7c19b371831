"""`coach plan`: a day-by-day study plan until the interview, from your own history and FSRS.

Each day, within its budget of minutes (hours per day x 60), the plan places in this order:

1. the mock round, on the day MOCK_DAYS_BEFORE days before the interview (or the last day when
   the interview is closer): MOCK_QUESTIONS questions of the weakest round, back to back;
2. re-attempts that FSRS says are due (a question card, or a missed rubric point of that question,
   due on or before the day), earliest due first, then lowest last score;
3. up to NOTES_PER_DAY notes to read for the weakest topics (topics averaging below WEAK_SCORE,
   weakest first);
4. new questions so that every (round, kind) pair of the seed's loop has been practised before
   the interview, weak topics first;
5. other questions never attempted, weak topics first, to fill what is left of the day.

Each planned attempt is assumed to be rated Good, and FSRS schedules its next re-attempt from that,
so practice recurs later in the plan; re-run `coach plan` after practising to re-plan from real
grades. Anything of kinds 1-4 that found no room before the interview is listed as not fitted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from coach.coaching import srs as review
from coach.coaching.progress import (
    ROUND_ORDER,
    Stat,
    graded_attempts,
    question_topics,
    round_label,
    round_stats,
    topic_stats,
)
from coach.corpus.prompts import load_prompt
from coach.errors import CoachError
from coach.llm.structured import LLMError, complete_text
from coach.models import Note, Question

# Time estimates, in minutes.
QUESTION_MINUTES = 12  # one attempt, including reading the feedback
NOTE_MINUTES = 10  # reading one reference note
MOCK_MINUTES = 45  # one mock round
MOCK_QUESTIONS = 4  # questions in the mock round

STRONG_SCORE = 8.5  # an answer this good is re-attempted only when its question card is due
WEAK_SCORE = 6.0  # a topic averaging below this is weak; topics never practised count as this
MAX_WEAK_TOPICS = 5
NOTES_PER_TOPIC = 2
NOTES_PER_DAY = 2
MAX_FOCUS_POINTS = 3  # missed points listed with a re-attempt
MOCK_DAYS_BEFORE = 2  # the mock round is this many days before the interview when there is room
ASSUMED_RATING = review.Rating.Good  # what the plan assumes each planned attempt will be rated
STUDY_TIME = time(12, 0)  # local time of day at which planned attempts are simulated
MAX_HOURS_PER_DAY = 16.0
MAX_PLAN_DAYS = 366
NARRATIVE_LIMIT = 1500  # characters of the LLM's summary kept

DISPLAY_ORDER = {"note": 0, "review": 1, "new": 2, "mock": 3}
KIND_ORDER = {"technical": 0, "system-design": 1, "behavioral": 2}


@dataclass
class PlanItem:
    kind: str  # "review", "note", "new" or "mock"
    minutes: int
    title: str
    reason: str
    question_ids: list[str] = field(default_factory=list)
    note_id: str = ""
    round: str = ""
    topics: list[str] = field(default_factory=list)
    points: list[str] = field(default_factory=list)  # missed rubric points to focus on
    required: bool = True  # False for questions that only fill spare time


@dataclass
class PlanDay:
    day: date
    budget: int  # minutes
    items: list[PlanItem] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return sum(item.minutes for item in self.items)

    def fits(self, minutes: int) -> bool:
        return self.minutes + minutes <= self.budget


@dataclass
class StudyPlan:
    today: date
    interview_date: date
    hours_per_day: float
    days: list[PlanDay]  # every day until the interview
    shown: int  # how many of them to show and export (--days)
    unfitted: list[PlanItem]
    weak_topics: list[Stat]
    rounds: list[Stat]
    coverage: list[
        tuple[str, str, str]
    ]  # (round, kind, planned question id or "" if already practised)
    mock_round: str
    remaining_new: int  # questions never attempted that are not in the plan
    narrative: str = ""
    narrative_error: str = ""

    @property
    def budget(self) -> int:
        return round(self.hours_per_day * 60)

    @property
    def visible(self) -> list[PlanDay]:
        return self.days[: self.shown]

    @property
    def hidden_days(self) -> int:
        return len(self.days) - self.shown


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CoachError(f"--interview-date must be a date like 2025-07-01, not {text!r}") from None


# --- building blocks -------------------------------------------------------------------------


def study_moment(day: date) -> datetime:
    """When a planned attempt on `day` is simulated: STUDY_TIME local time, in UTC for fsrs."""
    return datetime.combine(day, STUDY_TIME).astimezone().astimezone(UTC)


def _simulate(
    scheduler, card: review.Card | None, day: date, key: str, rating: review.Rating = ASSUMED_RATING
) -> review.Card:
    return review.assume_review(scheduler, card, key, rating, study_moment(day))


def assumed_rating(last_score: float | None) -> review.Rating:
    """What a planned re-attempt is assumed to be rated: as well as last time, and at least Good
    (a 9.6 is assumed Easy again, so FSRS spaces it weeks apart instead of days)."""
    if last_score is None:
        return ASSUMED_RATING
    return max(review.rating_for_score(last_score), ASSUMED_RATING)


def _local_day(moment: datetime) -> date:
    return moment.astimezone().date()


class _Weakness:
    """Orders questions and rounds by how weak their topics are."""

    def __init__(self, stats: list[Stat], topics: dict[str, list[str]]):
        self.average = {s.name: s.average for s in stats}
        self.topics = topics

    def of(self, question: Question) -> float:
        known = [self.average[t] for t in self.topics.get(question.id, []) if t in self.average]
        return min(known) if known else WEAK_SCORE

    def key(self, question: Question) -> tuple:
        return (
            self.of(question),
            question.source != "reported",
            question.follows is not None,
            ROUND_ORDER.get(question.round, 9),
            question.id,
        )


def coverage_targets(
    questions: list[Question], practised: set[str], weakness: _Weakness
) -> tuple[list[tuple[str, str, str]], list[Question]]:
    """For every (round, kind) of the seed's loop: a question to practise, unless one already was."""
    seed = [q for q in questions if q.bank == "seed"]
    pairs = sorted(
        {(q.round, q.kind) for q in seed},
        key=lambda p: (ROUND_ORDER.get(p[0], 9), KIND_ORDER[p[1]]),
    )
    rows, picks = [], []
    for round_, kind in pairs:
        pool = [q for q in seed if q.round == round_ and q.kind == kind]
        if any(q.id in practised for q in pool):
            rows.append((round_, kind, ""))
            continue
        openers = [q for q in pool if q.follows is None] or pool
        choice = min(openers, key=weakness.key)
        rows.append((round_, kind, choice.id))
        picks.append(choice)
    return rows, sorted(picks, key=weakness.key)


def weak_notes(
    weak: list[Stat], notes: dict[str, Note], scores: dict[str, list[float]]
) -> list[PlanItem]:
    """Notes to read for each weak topic: first those serving your lowest-scored answers."""
    chosen: list[PlanItem] = []
    seen: set[str] = set()

    def note_key(note: Note) -> tuple:
        answered = [sum(scores[q]) / len(scores[q]) for q in note.questions if scores.get(q)]
        return (min(answered) if answered else WEAK_SCORE + 1, note.id)

    for stat in weak:
        candidates = sorted(
            (n for n in notes.values() if stat.name in n.topics and n.id not in seen), key=note_key
        )
        for note in candidates[:NOTES_PER_TOPIC]:
            seen.add(note.id)
            chosen.append(
                PlanItem(
                    kind="note",
                    minutes=NOTE_MINUTES,
                    title=f"Read the note '{note.title}'",
                    reason=f"weak topic {stat.name}: average {stat.average:.1f} over {stat.attempts} answers",
                    note_id=note.id,
                    topics=list(note.topics),
                )
            )
    return chosen


def mock_round_questions(
    questions: list[Question], rounds: list[Stat], weakness: _Weakness
) -> tuple[str, list[Question]]:
    """The weakest round of the seed's loop (never practised counts as WEAK_SCORE) and its questions."""
    seed = [q for q in questions if q.bank == "seed"] or questions
    averages = {s.name: s.average for s in rounds}
    candidates = sorted(
        {q.round for q in seed},
        key=lambda r: (averages.get(round_label(r), WEAK_SCORE), ROUND_ORDER.get(r, 9), r),
    )
    if not candidates:
        return "", []
    round_ = candidates[0]
    by_kind: dict[str, list[Question]] = defaultdict(list)
    for q in sorted((q for q in seed if q.round == round_ and q.follows is None), key=weakness.key):
        by_kind[q.kind].append(q)
    picked: list[Question] = []
    kinds = sorted(by_kind, key=lambda k: KIND_ORDER[k])
    while len(picked) < MOCK_QUESTIONS and any(by_kind.values()):
        for kind in kinds:
            if by_kind[kind] and len(picked) < MOCK_QUESTIONS:
                picked.append(by_kind[kind].pop(0))
    return round_, picked


# --- the plan --------------------------------------------------------------------------------


def build_plan(
    coach,
    interview_date: date,
    hours_per_day: float = 2.0,
    days: int | None = None,
    today: date | None = None,
    narrative: bool = True,
) -> StudyPlan:
    """The study plan from today until the day before the interview (one library call for the CLI)."""
    today = today or date.today()
    period = (interview_date - today).days
    if period < 1:
        raise CoachError(f"the interview date {interview_date} must be after today ({today})")
    if period > MAX_PLAN_DAYS:
        raise CoachError(
            f"the interview date is {period} days away; plans cover at most {MAX_PLAN_DAYS} days"
        )
    if not 0 < hours_per_day <= MAX_HOURS_PER_DAY:
        raise CoachError(
            f"--hours-per-day must be more than 0 and at most {MAX_HOURS_PER_DAY:g}, not {hours_per_day:g}"
        )
    if days is not None and days < 1:
        raise CoachError(f"--days must be at least 1, not {days}")
    budget = round(hours_per_day * 60)
    if budget < QUESTION_MINUTES:
        raise CoachError(
            f"{budget} minutes a day is less than one question ({QUESTION_MINUTES} min); raise --hours-per-day"
        )

    questions = coach.questions
    by_id = {q.id: q for q in questions}
    attempts = coach.history.list()
    graded = graded_attempts(attempts)
    topics = question_topics(questions, coach.notes)
    stats = topic_stats(attempts, topics)
    rounds = round_stats(attempts, by_id)
    weakness = _Weakness(stats, topics)
    weak = [s for s in stats if s.average < WEAK_SCORE][:MAX_WEAK_TOPICS]
    scores: dict[str, list[float]] = defaultdict(list)
    for attempt in graded:
        scores[attempt.question_id].append(attempt.grade.score)
    practised = {a.question_id for a in attempts if a.parent_id is None}

    # FSRS state: question cards, and missed-point cards grouped by the question they were reviewed in.
    # The repositories on the database the attempts live in (coach.storage once Coach has one).
    storage = coach.storage
    scheduler = review.scheduler_for(storage)
    question_cards: dict[str, review.Card] = {}
    last_score: dict[str, float | None] = {}
    point_cards: dict[str, list[review.ReviewCard]] = defaultdict(list)
    for card in review.load_cards(storage):
        if card.question_id not in by_id:
            continue
        if card.kind == "question":
            question_cards[card.question_id] = card.card
            last_score[card.question_id] = card.last_score
        else:
            point_cards[card.question_id].append(card)

    def strong(question_id: str) -> bool:
        score = last_score.get(question_id)
        return score is not None and score >= STRONG_SCORE

    def due_day(question_id: str) -> date:
        dues = [question_cards[question_id].due] if question_id in question_cards else []
        # A strong answer is re-attempted when its question is due, not for a point it only missed
        # in passing: those points are listed as its focus when it does come round.
        if not strong(question_id) or not dues:
            dues += [p.card.due for p in point_cards.get(question_id, [])]
        return _local_day(min(dues))

    def practise(question_id: str, day: date) -> None:
        rating = assumed_rating(last_score.get(question_id))
        question_cards[question_id] = _simulate(
            scheduler,
            question_cards.get(question_id),
            day,
            review.question_key(question_id),
            rating,
        )
        for point in point_cards.get(question_id, []):
            point.card = _simulate(scheduler, point.card, day, point.key)

    coverage, coverage_queue = coverage_targets(questions, practised, weakness)
    planned_new = {q.id for q in coverage_queue}
    fill_queue = sorted(
        (q for q in questions if q.id not in practised and q.id not in planned_new),
        key=weakness.key,
    )
    notes_queue = weak_notes(weak, coach.notes, scores)
    mock_round, mock_questions = mock_round_questions(questions, rounds, weakness)
    mock_index = max(0, period - MOCK_DAYS_BEFORE)
    mock_item = PlanItem(
        kind="mock",
        minutes=MOCK_MINUTES,
        title=f"Mock {round_label(mock_round)}: {len(mock_questions)} questions back to back, timed",
        reason=f"your weakest round ({round_label(mock_round)}), rehearsed just before the interview",
        question_ids=[q.id for q in mock_questions],
        round=mock_round,
    )

    plan_days: list[PlanDay] = []
    unfitted: list[PlanItem] = []
    planned_openers = set(practised)
    last_day = today + timedelta(days=period - 1)
    for index in range(period):
        day = today + timedelta(days=index)
        plan_day = PlanDay(day, budget)
        plan_days.append(plan_day)

        if index == mock_index and mock_questions:
            if plan_day.fits(MOCK_MINUTES):
                plan_day.items.append(mock_item)
            else:
                unfitted.append(mock_item)

        due = sorted(
            (qid for qid in question_cards if due_day(qid) <= day),
            key=lambda qid: (
                due_day(qid),
                last_score.get(qid) if last_score.get(qid) is not None else 10.0,
                qid,
            ),
        )

        def review_due(qids: list[str], plan_day: PlanDay, day: date) -> None:
            for qid in qids:
                if not plan_day.fits(QUESTION_MINUTES):
                    break
                plan_day.items.append(
                    _review_item(
                        by_id[qid],
                        due_day(qid),
                        last_score.get(qid),
                        point_cards.get(qid, []),
                        day,
                        topics,
                    )
                )
                practise(qid, day)

        # Answers that are not strong yet come first; strong ones only after the day's new questions.
        review_due([qid for qid in due if not strong(qid)], plan_day, day)

        read = 0
        while notes_queue and read < NOTES_PER_DAY and plan_day.fits(NOTE_MINUTES):
            plan_day.items.append(notes_queue.pop(0))
            read += 1

        # New questions are spread evenly over the days left (coverage of every round and kind first),
        # so no day is crammed and none left empty.
        quota = math.ceil((len(coverage_queue) + len(fill_queue)) / (period - index))
        for question in list(coverage_queue):
            if quota <= 0 or not plan_day.fits(QUESTION_MINUTES):
                break
            quota -= 1
            coverage_queue.remove(question)
            plan_day.items.append(
                _new_item(
                    question,
                    f"covers {round_label(question.round)} · {question.kind} before the interview",
                    topics,
                    weakness,
                )
            )
            planned_openers.add(question.id)
            practise(question.id, day)

        for question in list(fill_queue):
            if quota <= 0 or not plan_day.fits(QUESTION_MINUTES):
                break
            if question.follows and question.follows not in planned_openers:
                continue
            quota -= 1
            fill_queue.remove(question)
            item = _new_item(question, "not practised yet", topics, weakness)
            item.required = False
            plan_day.items.append(item)
            planned_openers.add(question.id)
            practise(question.id, day)

        review_due([qid for qid in due if strong(qid)], plan_day, day)
        plan_day.items.sort(key=lambda item: DISPLAY_ORDER[item.kind])

    for qid in sorted(question_cards, key=lambda q: (due_day(q), q)):
        if due_day(qid) <= last_day:
            unfitted.append(
                _review_item(
                    by_id[qid],
                    due_day(qid),
                    last_score.get(qid),
                    point_cards.get(qid, []),
                    last_day,
                    topics,
                )
            )
    unfitted += notes_queue
    unfitted += [
        _new_item(
            q, f"covers {round_label(q.round)} · {q.kind} before the interview", topics, weakness
        )
        for q in coverage_queue
    ]

    plan = StudyPlan(
        today=today,
        interview_date=interview_date,
        hours_per_day=hours_per_day,
        days=plan_days,
        shown=min(days or period, period),
        unfitted=unfitted,
        weak_topics=weak,
        rounds=rounds,
        coverage=coverage,
        mock_round=mock_round,
        remaining_new=len(fill_queue),
    )
    if narrative and coach.settings.grader == "llm":
        plan.narrative, plan.narrative_error = write_narrative(coach.settings, plan)
    return plan


def _review_item(
    question: Question, due: date, score: float | None, points, day: date, topics
) -> PlanItem:
    when = "overdue since" if due < day else "due"
    last = f"; last score {score:.1f}/10" if score is not None else ""
    focus = [
        p.text
        for p in sorted(points, key=lambda p: (p.card.due, p.key))
        if p.due_date <= day and p.text
    ]
    return PlanItem(
        kind="review",
        minutes=QUESTION_MINUTES,
        title=f"Re-attempt {question.id}",
        reason=f"{when} {due.isoformat()} (FSRS){last}",
        question_ids=[question.id],
        round=question.round,
        topics=topics.get(question.id, []),
        points=focus[:MAX_FOCUS_POINTS],
    )


def _new_item(question: Question, reason: str, topics, weakness: _Weakness) -> PlanItem:
    weak = weakness.of(question)
    if weak < WEAK_SCORE:
        reason += f"; weak topic (average {weak:.1f})"
    return PlanItem(
        kind="new",
        minutes=QUESTION_MINUTES,
        title=f"New question {question.id}",
        reason=reason,
        question_ids=[question.id],
        round=question.round,
        topics=topics.get(question.id, []),
    )


# --- the narrative (one LLM call) ------------------------------------------------------------


def plan_summary(plan: StudyPlan, max_days: int = 14) -> str:
    """The plan as plain text lines (for the LLM prompt)."""
    lines = []
    for plan_day in plan.visible[:max_days]:
        parts = "; ".join(f"{item.title} ({item.minutes} min)" for item in plan_day.items) or "rest"
        lines.append(f"{plan_day.day.isoformat()}: {parts}")
    if plan.shown > max_days:
        lines.append(f"... and {plan.shown - max_days} more days")
    return "\n".join(lines)


def write_narrative(settings, plan: StudyPlan) -> tuple[str, str]:
    """(summary, "") from one LLM call, or ("", reason) when the call fails; the plan stands either way."""
    prompt = load_prompt("plan", "v1")
    system, user = prompt.render(
        interview_date=plan.interview_date.isoformat(),
        days_left=str(len(plan.days)),
        hours_per_day=f"{plan.hours_per_day:g}",
        weak_topics=", ".join(
            f"{s.name} ({s.average:.1f}/10 over {s.attempts})" for s in plan.weak_topics
        )
        or "none yet",
        rounds=", ".join(f"{s.name}: {s.average:.1f}/10 over {s.attempts}" for s in plan.rounds)
        or "no graded answers yet",
        plan=plan_summary(plan),
        unfitted="; ".join(item.title for item in plan.unfitted) or "nothing",
    )
    try:
        content = complete_text(settings, [("system", system), ("user", user)], max_tokens=400)
    except LLMError as exc:  # an endpoint failure only costs the summary; the plan stands
        return "", str(exc)
    text = " ".join(content.split())
    if not text:
        return "", "the model returned an empty summary"
    return text[:NARRATIVE_LIMIT], ""
