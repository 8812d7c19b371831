"""Mock interview rounds: K questions from one round, each with up to two follow-up probes, timed,
then a scorecard measured against the round's hiring bar.

A round is a session stored in the history database (tables `mock_sessions` and `mock_items`), so an
interrupted round resumes in another process. Every answer is saved before it is graded. This module
never prints: `run_round` talks to the candidate through a `RoundUI` (the terminal one is in
practice.py; tests script one).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from coach.coaching.probes import CREDIT, covered_by, next_probes, run_probes
from coach.corpus.dimensions import DIMENSION_TEXT
from coach.errors import CoachError
from coach.grading.offline import DIMENSION_ADVICE
from coach.models import Answer, Question
from coach.storage.rounds import MockItem, MockSession

DEFAULT_MINUTES = 45
DEFAULT_QUESTIONS = 4
MINUTES_RANGE = (1, 180)
QUESTIONS_RANGE = (1, 10)
ROUND_PROBES = 2  # follow-up probes per question in a mock round
KIND_ORDER = ("technical", "system-design", "behavioral")  # the order a round moves through


@dataclass(frozen=True)
class Bar:
    """What counts as a hire in a round: the mean question score and the lowest one allowed."""

    mean: float
    floor: float

    def describe(self) -> str:
        return (
            f"Hire: mean score at least {self.mean:g}/10 and no question below {self.floor:g}. "
            f"Lean hire: mean at least {self.mean - 1:g} and no question below {self.floor:g}. "
            f"Lean no hire: mean at least {self.mean - 2.5:g}. No hire: anything lower. "
            "A skipped question scores 0."
        )


@dataclass(frozen=True)
class RoundInfo:
    title: str
    bar: Bar


ROUNDS = {
    "2": RoundInfo("Round 2: ML breadth, applied to real-world problems", Bar(7.0, 4.0)),
    "3": RoundInfo("Round 3: applied ML and leading a team", Bar(7.0, 4.0)),
    # The hiring manager's round decides: a higher bar, and no weak answer.
    "4": RoundInfo("Round 4: hiring manager (system design, culture fit)", Bar(7.5, 5.0)),
    "additional": RoundInfo("Additional questions", Bar(7.0, 4.0)),
}


def round_info(round_: str) -> RoundInfo:
    return ROUNDS.get(round_, RoundInfo(f"Round {round_}", Bar(7.0, 4.0)))


# --- choosing the questions ------------------------------------------------------------------


def check_options(minutes: int, questions: int) -> None:
    lo, hi = MINUTES_RANGE
    if not lo <= minutes <= hi:
        raise CoachError(f"a round lasts {lo} to {hi} minutes, not {minutes}")
    lo, hi = QUESTIONS_RANGE
    if not lo <= questions <= hi:
        raise CoachError(f"a round has {lo} to {hi} questions, not {questions}")


def kind_quotas(counts: dict[str, int], k: int) -> dict[str, int]:
    """K slots shared among kinds in proportion to the round (largest remainder), every kind the round
    has getting a slot while there are slots to give."""
    total = sum(counts.values())
    kinds = sorted(counts, key=lambda kd: (-counts[kd], KIND_ORDER.index(kd)))
    exact = {kd: k * counts[kd] / total for kd in kinds}
    quota = {kd: int(exact[kd]) for kd in kinds}
    for kd in sorted(kinds, key=lambda kd: (-(exact[kd] - quota[kd]), kinds.index(kd)))[
        : k - sum(quota.values())
    ]:
        quota[kd] += 1
    for kd in kinds:  # a kind the round has should appear if K allows it
        if quota[kd] == 0:
            donor = max(kinds, key=lambda d: (quota[d], -kinds.index(d)))
            if quota[donor] > 1:
                quota[donor] -= 1
                quota[kd] = 1
    return {kd: min(q, counts[kd]) for kd, q in quota.items() if q}


def choose_questions(
    questions: list[Question], round_: str, k: int, attempted: set[str], seed: int | None = None
) -> list[Question]:
    """K questions of the round, kinds mixed as the round mixes them. Within a kind: never-attempted
    questions first, then ones asked in the real loop, then random. Follow-up questions are left out
    (probes play their part)."""
    pool = [q for q in questions if q.round == round_ and not q.follows]
    if not pool:
        rounds = sorted({q.round for q in questions})
        raise CoachError(f"no questions in round {round_!r}; rounds are {', '.join(rounds)}")
    if k > len(pool):
        raise CoachError(f"round {round_} has {len(pool)} questions; ask for {len(pool)} or fewer")
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for q in pool:
        counts[q.kind] = counts.get(q.kind, 0) + 1
    bank_order = {q.id: i for i, q in enumerate(questions)}
    chosen: list[Question] = []
    for kind, quota in kind_quotas(counts, k).items():
        of_kind = [q for q in pool if q.kind == kind]
        keys = {q.id: (q.id in attempted, q.source != "reported", rng.random()) for q in of_kind}
        chosen.extend(sorted(of_kind, key=lambda q: keys[q.id])[:quota])
    return sorted(chosen, key=lambda q: (KIND_ORDER.index(q.kind), bank_order[q.id]))


def start_session(
    coach,
    round_: str,
    minutes: int = DEFAULT_MINUTES,
    questions: int = DEFAULT_QUESTIONS,
    grader: str | None = None,
    seed: int | None = None,
) -> MockSession:
    """Choose the questions and store a new round."""
    check_options(minutes, questions)
    round_ = str(round_).strip().lower()
    attempted = {a.question_id for a in coach.history.list()}
    gradable = [q for q in coach.questions if coach.gradable(q.id)]
    chosen = choose_questions(gradable, round_, questions, attempted, seed)
    return coach.storage.rounds.start(round_, minutes, [q.id for q in chosen], grader or "")


def resumable_session(coach) -> MockSession:
    """The newest round that was not finished."""
    session = coach.storage.rounds.latest_unfinished()
    if session is None:
        raise CoachError("no unfinished mock round to resume; start a new one")
    return session


def finished_round(coach, round_id: int | None) -> tuple[MockSession, list[MockSession]]:
    """A finished round (the latest when no number is given) and every finished round."""
    finished = coach.storage.rounds.finished()
    if not finished:
        raise CoachError("no finished mock round yet")
    if round_id is None:
        return finished[0], finished
    for session in finished:
        if session.id == round_id:
            return session, finished
    numbers = ", ".join(str(s.id) for s in finished)
    raise CoachError(f"no finished mock round {round_id}; finished rounds: {numbers}")


def open_round(
    coach,
    round_: str | None,
    minutes: int | None,
    questions: int | None,
    resume: bool,
    grader: str | None = None,
    seed: int | None = None,
) -> MockSession:
    """The round to run: a new one from the options, or the last unfinished one with --resume."""
    if resume:
        if round_ is not None or minutes is not None or questions is not None:
            raise CoachError(
                "resuming continues the last round as it was; a round, length or question count cannot be given"
            )
        return resumable_session(coach)
    if round_ is None:
        raise CoachError("choose a round (2, 3, 4 or additional), or resume the last one")
    return start_session(
        coach,
        round_,
        DEFAULT_MINUTES if minutes is None else minutes,
        DEFAULT_QUESTIONS if questions is None else questions,
        grader,
        seed,
    )


# --- running a round -------------------------------------------------------------------------


@dataclass
class Turn:
    """What the candidate is asked now, with the question's clock."""

    kind: Literal["question", "probe"]
    position: int  # the question's place in the round, 1-based
    total: int
    question: Question
    seconds_allowed: float
    seconds_left: float
    probe: object | None = None  # a coach.coaching.probes.Probe for kind "probe"
    probe_number: int = 0
    probe_total: int = 0


class RoundUI(Protocol):
    def show_turn(self, turn: Turn) -> None: ...

    def read_answer(self) -> str | Answer | None:
        """The answer (typed text, or a spoken Answer with its delivery), ':skip', ':quit', or None
        at the end of input."""

    def show_result(
        self, turn: Turn, outcome, seconds_used: float, seconds_left: float
    ) -> None: ...

    def notice(self, message: str) -> None: ...


@dataclass
class RoundResult:
    session: MockSession
    finished: bool
    card: Scorecard | None = None


class _Paused(Exception):
    pass


class _Clock:
    """Time spent reading one answer; what is running is added to the item if Ctrl-C comes."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.started: float | None = None

    def start(self) -> None:
        self.started = self.clock()

    def stop(self) -> float:
        if self.started is None:
            return 0.0
        used, self.started = max(self.clock() - self.started, 0.0), None
        return used


def run_round(
    coach,
    session: MockSession,
    ui: RoundUI,
    clock: Callable[[], float] = time.monotonic,
    grader: str | None = None,
) -> RoundResult:
    """Ask every unfinished question of the round, with its probes; answers are saved as they come.

    ':quit' or the end of input pauses the round; Ctrl-C (KeyboardInterrupt) also pauses it and is
    re-raised. Either way `coach mock --resume` continues where it stopped.
    """
    rounds = coach.storage.rounds
    grader = grader or session.grader or None
    coach.ensure_ingested()
    rounds.set_state(session.id, "active")
    timer = _Clock(clock)
    current: MockItem | None = None
    try:
        for item in session.items:
            if item.status in ("done", "skipped"):
                continue
            current = item
            question = coach.question(item.question_id)
            if item.status == "open":
                _ask_question(coach, session, item, question, ui, timer, grader)
            elif item.attempt_id is not None:
                attempt = coach.history.get(item.attempt_id)
                if attempt.status == "pending":  # interrupted while grading: grade it now
                    coach.grade_attempt(attempt.id, grader)
            if item.status == "answered":
                _probe(coach, session, item, question, ui, timer, grader)
                item.status = "done"
                rounds.save_item(session.id, item)
            current = None
    except _Paused:
        if current is not None:
            if current is session.items[-1] and current.status == "answered":
                # ':quit' during the last question's follow-ups: nothing is left to resume, so finish.
                current.status = "done"
                rounds.save_item(session.id, current)
                rounds.set_state(session.id, "finished")
                return RoundResult(
                    rounds.get(session.id), finished=True, card=scorecard(coach, session.id)
                )
            rounds.save_item(session.id, current)  # the time spent before ':quit' counts
        rounds.set_state(session.id, "interrupted")
        return RoundResult(rounds.get(session.id), finished=False)
    except KeyboardInterrupt:
        if current is not None:
            current.seconds_used += timer.stop()
            rounds.save_item(session.id, current)
        rounds.set_state(session.id, "interrupted")
        raise
    rounds.set_state(session.id, "finished")
    return RoundResult(rounds.get(session.id), finished=True, card=scorecard(coach, session.id))


def _read(item, turn, ui, timer) -> tuple[Answer, float]:
    """One answer (typed, or spoken with its delivery; or ':skip') and the seconds it took; pauses on
    ':quit' or the end of input. The time is charged to the question."""
    ui.show_turn(turn)
    timer.start()
    given = ui.read_answer()
    used = timer.stop()
    item.seconds_used += used
    if given is None or Answer.of(given).text.strip() in (":quit", ":q"):
        raise _Paused
    return Answer.of(given), used


def _ask_question(coach, session, item, question, ui, timer, grader) -> None:
    rounds = coach.storage.rounds
    while True:
        turn = Turn(
            "question",
            item.position,
            len(session.items),
            question,
            session.seconds_allowed,
            session.seconds_allowed - item.seconds_used,
        )
        answer, used = _read(item, turn, ui, timer)
        rounds.save_item(session.id, item)
        if answer.text.strip() == ":skip":
            item.status = "skipped"
            rounds.save_item(session.id, item)
            return
        try:
            item.attempt_id = coach.save_answer(question.id, answer)
        except CoachError as exc:
            ui.notice(f"{exc}; type ':skip' to skip this question")
            continue
        item.status = "answered"
        rounds.save_item(session.id, item)  # linked before grading, so an interrupt cannot lose it
        outcome = coach.grade_attempt(item.attempt_id, grader)
        ui.show_result(turn, outcome, used, session.seconds_allowed - item.seconds_used)
        return


class _RoundProbeUI:
    """The shared probe loop inside a round: each follow-up is a timed turn of its question."""

    def __init__(self, rounds, session, item, question, ui, timer):
        self.rounds, self.session, self.item, self.question = rounds, session, item, question
        self.ui, self.timer = ui, timer
        self.turn: Turn | None = None
        self.used = 0.0

    def ask(self, probe, number: int, total: int) -> Answer | None:
        allowed = self.session.seconds_allowed
        self.turn = Turn(
            "probe",
            self.item.position,
            len(self.session.items),
            self.question,
            allowed,
            allowed - self.item.seconds_used,
            probe,
            number,
            total,
        )
        try:
            answer, self.used = _read(self.item, self.turn, self.ui, self.timer)
        except _Paused:
            return None
        finally:
            self.rounds.save_item(self.session.id, self.item)
        return answer

    def show_result(self, probe, outcome) -> None:
        left = self.session.seconds_allowed - self.item.seconds_used
        self.ui.show_result(self.turn, outcome, self.used, left)

    def notice(self, message: str) -> None:
        self.ui.notice(message)


def _probe(coach, session, item, question, ui, timer, grader) -> None:
    rounds = coach.storage.rounds
    if item.attempt_id is None or coach.history.get(item.attempt_id).grade is None:
        return  # an answer that could not be graded gets no probes
    if session.seconds_allowed - item.seconds_used <= 0:
        ui.notice("time is up for this question: moving on without its follow-ups")
        return
    handled = [
        p
        for p in coach.storage.probes.for_root(item.attempt_id)
        if p.status in ("answered", "skipped")
    ]
    remaining = ROUND_PROBES - len(handled)
    if remaining <= 0:
        return
    try:
        probe_set = next_probes(coach, item.attempt_id, remaining, grader)
    except CoachError as exc:
        ui.notice(f"no follow-up questions for this answer: {exc}")
        return
    if probe_set.notice:
        ui.notice(probe_set.notice)
    probe_ui = _RoundProbeUI(rounds, session, item, question, ui, timer)
    run = run_probes(
        coach, probe_set, probe_ui, grader, len(handled) + 1, len(handled) + len(probe_set.probes)
    )
    if run.stopped:
        raise _Paused


# --- the scorecard ---------------------------------------------------------------------------


class QuestionScore(BaseModel):
    position: int
    question_id: str
    question: str
    kind: str
    status: Literal["graded", "pending", "skipped", "unanswered"]
    score: float | None = None  # the stored grade of the answer; 0 counted for a skipped question
    attempt_id: int | None = None
    grader: str = ""
    probe_scores: list[float | None] = Field(default_factory=list)  # answered probes, in order
    probe_attempt_ids: list[int] = Field(default_factory=list)
    seconds_used: float = 0.0
    seconds_allowed: float = 0.0

    @property
    def overtime(self) -> bool:
        return self.seconds_used > self.seconds_allowed

    @property
    def counted(self) -> float | None:
        """What the question counts in the round's mean: its score, 0 if skipped, None if not graded."""
        if self.status == "skipped":
            return 0.0
        return self.score if self.status == "graded" else None


class Area(BaseModel):
    name: str
    credit: float  # 0..1: weighted share of the area's points covered (partial counts half)
    points: int


class Scorecard(BaseModel):
    session_id: int
    round: str
    title: str
    minutes: int
    finished: bool
    questions: list[QuestionScore]
    mean: float | None
    lowest: float | None
    bar_mean: float
    bar_floor: float
    bar: str
    verdict: Literal["Hire", "Lean hire", "Lean no hire", "No hire", "Incomplete"]
    reasons: list[str]
    strongest: list[Area]
    weakest: list[Area]
    fix_first: list[str]
    graders: list[str]


def mean_text(value: float | None) -> str:
    """A mean to two decimals with at most one trailing zero dropped: 7.0, 6.5, 0.25."""
    if value is None:
        return "—"
    text = f"{value:.2f}"
    return text.removesuffix("0")


def verdict_for(mean: float | None, lowest: float | None, bar: Bar) -> str:
    if mean is None or lowest is None:
        return "Incomplete"
    if mean >= bar.mean and lowest >= bar.floor:
        return "Hire"
    if mean >= bar.mean - 1 and lowest >= bar.floor:
        return "Lean hire"
    if mean >= bar.mean - 2.5:
        return "Lean no hire"
    return "No hire"


def _area_name(criterion_id: str, notes: dict) -> str:
    if criterion_id.startswith("dim-"):
        key = criterion_id.removeprefix("dim-")
        return DIMENSION_TEXT[key].split(":")[0] if key in DIMENSION_TEXT else key
    note_id = criterion_id.split("/")[0]
    return notes[note_id].title if note_id in notes else note_id


def scorecard(coach, session_id: int) -> Scorecard:
    """The round's scorecard, computed only from what history stores (grades, probes, times)."""

    rounds = coach.storage.rounds
    session = rounds.get(session_id)
    info = round_info(session.round)
    rows: list[QuestionScore] = []
    area_sum: dict[str, list[float]] = {}
    fixes: list[tuple[float, int, str]] = []
    graders: set[str] = set()
    for item in session.items:
        question = coach.question(item.question_id)
        row = QuestionScore(
            position=item.position,
            question_id=item.question_id,
            question=question.prompt,
            kind=question.kind,
            status="unanswered",
            seconds_used=round(item.seconds_used, 1),
            seconds_allowed=round(session.seconds_allowed, 1),
        )
        if item.status == "skipped":
            row.status = "skipped"
            fixes.append(
                (3.0, item.position, f"Prepare an answer to {item.question_id}: you skipped it.")
            )
        elif item.attempt_id is not None:
            attempt = coach.history.get(item.attempt_id)
            row.attempt_id = attempt.id
            probe_attempts = []
            for probe in coach.storage.probes.for_root(attempt.id):
                if probe.attempt_id is not None:
                    answered = coach.history.get(probe.attempt_id)
                    probe_attempts.append(answered)
                    row.probe_attempt_ids.append(answered.id)
                    row.probe_scores.append(answered.grade.score if answered.grade else None)
            if attempt.grade is None:
                row.status = "pending"
            else:
                row.status, row.score, row.grader = (
                    "graded",
                    attempt.grade.score,
                    attempt.grade.grader,
                )
                graders.add(attempt.grade.grader)
                covered_later = covered_by(probe_attempts)
                urgency = 1 + (10 - attempt.grade.score) / 10
                for r in attempt.grade.criteria:
                    if r.status == "covered" or r.criterion_id in covered_later:
                        continue
                    gap = r.weight * (1 - CREDIT[r.status]) * urgency
                    if r.criterion_id.startswith("dim-"):
                        advice = DIMENSION_ADVICE.get(r.criterion_id, r.text)
                        fixes.append((gap, item.position, advice))
                    else:
                        fixes.append((gap, item.position, f"{r.text} ({item.question_id})"))
            for a in [attempt] + probe_attempts:
                if a.grade is None:
                    continue
                graders.add(a.grade.grader)
                # Areas are the topics of the content points (the notes they come from). The general
                # dimensions are surface signals that can fire on an off-topic answer, so they count
                # only where a rubric has no content point at all.
                content = [r for r in a.grade.criteria if not r.criterion_id.startswith("dim-")]
                for r in content or a.grade.criteria:
                    name = _area_name(r.criterion_id, coach.notes)
                    area_sum.setdefault(name, [0.0, 0.0, 0])
                    area_sum[name][0] += r.weight * CREDIT[r.status]
                    area_sum[name][1] += r.weight
                    area_sum[name][2] += 1
        rows.append(row)

    counted = [r.counted for r in rows if r.counted is not None]
    mean = round(sum(counted) / len(counted), 2) if counted else None
    lowest = min(counted) if counted else None
    pending = [r for r in rows if r.status in ("pending", "unanswered")]
    verdict = verdict_for(mean, lowest, info.bar)
    reasons = []
    if mean is not None:
        reasons.append(f"mean {mean_text(mean)}/10 against the bar's {info.bar.mean:g}")
        weakest_row = min(
            (r for r in rows if r.counted is not None), key=lambda r: (r.counted, r.position)
        )
        reasons.append(
            f"lowest {lowest:.1f} ({weakest_row.question_id}) against the floor of {info.bar.floor:g}"
        )
    if pending:
        reasons.append(
            f"{len(pending)} question(s) not graded yet ({', '.join(r.question_id for r in pending)}), left out of the mean"
        )
    over = [r for r in rows if r.overtime]
    if over:
        reasons.append(
            f"{len(over)} question(s) ran over their time ({', '.join(r.question_id for r in over)})"
        )

    areas = sorted(
        (
            Area(name=n, credit=round(s / w, 3) if w else 0.0, points=int(k))
            for n, (s, w, k) in area_sum.items()
        ),
        key=lambda a: (-a.credit, a.name),
    )
    # Strongest: the better half, at most 3, and only areas with some credit; weakest: the rest, worst first.
    strongest = [a for a in areas[: math.ceil(len(areas) / 2)] if a.credit > 0][:3]
    weakest = sorted((a for a in areas if a not in strongest), key=lambda a: (a.credit, a.name))[:3]
    fix_first: list[str] = []
    for _, _, text in sorted(fixes, key=lambda f: (-f[0], f[1], f[2])):
        if text not in fix_first:
            fix_first.append(text)
        if len(fix_first) == 3:
            break
    return Scorecard(
        session_id=session.id,
        round=session.round,
        title=info.title,
        minutes=session.minutes,
        finished=session.state == "finished",
        questions=rows,
        mean=mean,
        lowest=lowest,
        bar_mean=info.bar.mean,
        bar_floor=info.bar.floor,
        bar=info.bar.describe(),
        verdict=verdict,
        reasons=reasons,
        strongest=strongest,
        weakest=weakest,
        fix_first=fix_first,
        graders=sorted(graders),
    )
