"""Mock rounds: choosing the questions, the timed loop with probes, pausing and resuming in a new
process, the scorecard (its figures are the stored grades), the hiring bar and the exported report.
The `test_cli_*` tests need the lead's paste of /tmp/integration/probes.py."""

from __future__ import annotations

import itertools
from collections import Counter
from types import SimpleNamespace

import pytest
from fakes import FakeChatModel, grade_args, tool_reply
from typer.testing import CliRunner

from coach.app import Coach
from coach.cli import interactive as practice_module
from coach.cli.app import app
from coach.coaching.mock import (
    Bar,
    QuestionScore,
    Scorecard,
    check_options,
    choose_questions,
    kind_quotas,
    open_round,
    round_info,
    run_round,
    scorecard,
    start_session,
    verdict_for,
)
from coach.errors import CoachError
from coach.export.scorecard import mean_text, to_markdown, write_report
from coach.llm import client as llm
from coach.models import Criterion
from coach.storage import Storage

runner = CliRunner()

ANSWER = (
    "I would start by defining the objective and the metric we care about, such as orders per user. "
    "Then I would log impressions, clicks and orders, train a two-tower retrieval model and a "
    "gradient boosted ranker, and compare them against the current baseline offline. "
    "Finally I would run an A/B test with guardrail metrics and monitor drift after launch."
)
PROBE_ANSWER = (
    "I would check it on a held-out time window first, then confirm online with an A/B test, "
    "because offline gains often do not transfer when the logged data is biased."
)


class ScriptedUI:
    """A RoundUI that answers from a list; an exception instance in the list is raised instead."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.turns = []
        self.results = []
        self.notices = []

    def show_turn(self, turn):
        self.turns.append(turn)

    def read_answer(self):
        if not self.answers:
            return None
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def show_result(self, turn, outcome, seconds_used, seconds_left):
        self.results.append((turn, outcome, seconds_used, seconds_left))

    def notice(self, message):
        self.notices.append(message)

    def asked(self):
        return [(t.kind, t.question.id, t.probe.text if t.probe else None) for t in self.turns]


def ticking(step: float):
    """A clock that moves `step` seconds per reading: each answer takes exactly `step` seconds."""
    counter = itertools.count(0.0, step)
    return lambda: next(counter)


@pytest.fixture
def coach(ingested):
    c = Coach()
    yield c
    llm.set_chat_model_factory(None)
    c.close()


# --- choosing the questions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts, k, expected",
    [
        (
            {"technical": 13, "system-design": 5, "behavioral": 1},
            4,
            {"technical": 2, "system-design": 1, "behavioral": 1},
        ),
        ({"technical": 13, "system-design": 5, "behavioral": 1}, 1, {"technical": 1}),
        (
            {"behavioral": 8, "system-design": 7, "technical": 2},
            3,
            {"behavioral": 1, "system-design": 1, "technical": 1},
        ),
        (
            {"behavioral": 8, "system-design": 7, "technical": 2},
            10,
            {"behavioral": 5, "system-design": 4, "technical": 1},
        ),
        ({"technical": 6, "behavioral": 2}, 8, {"technical": 6, "behavioral": 2}),
    ],
)
def test_kind_quotas_follow_the_round(counts, k, expected):
    quotas = kind_quotas(counts, k)
    assert quotas == expected
    assert sum(quotas.values()) == k


def test_questions_mix_kinds_skip_follow_ups_and_prefer_new_ones(home):
    questions = Coach().questions

    chosen = choose_questions(questions, "3", 4, attempted=set(), seed=7)

    assert Counter(q.kind for q in chosen) == {"behavioral": 2, "technical": 1, "system-design": 1}
    assert [q.kind for q in chosen] == ["technical", "system-design", "behavioral", "behavioral"]
    assert all(q.round == "3" and q.follows is None for q in chosen)
    # The question asked in the real loop comes first among new ones; once tried, others come first.
    assert chosen[0].id == "r3-scalability-design-user-embeddings-useful"
    retried = choose_questions(questions, "3", 4, attempted={chosen[0].id}, seed=7)
    assert retried[0].kind == "technical" and retried[0].id != chosen[0].id
    assert choose_questions(questions, "3", 4, attempted=set(), seed=7) == chosen


@pytest.mark.parametrize(
    "minutes, questions, message",
    [
        (0, 4, "a round lasts 1 to 180 minutes, not 0"),
        (181, 4, "a round lasts 1 to 180 minutes, not 181"),
        (45, 0, "a round has 1 to 10 questions, not 0"),
        (45, 11, "a round has 1 to 10 questions, not 11"),
    ],
)
def test_options_are_checked(minutes, questions, message):
    with pytest.raises(CoachError) as info:
        check_options(minutes, questions)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "args, message",
    [
        (("2", None, None, True), "resuming continues the last round as it was"),
        (
            (None, None, None, False),
            "choose a round (2, 3, 4 or additional), or resume the last one",
        ),
        ((None, None, None, True), "no unfinished mock round to resume"),
        (("9", None, None, False), "no questions in round '9'; rounds are 2, 3, 4, additional"),
        (
            ("additional", 30, 9, False),
            "round additional has 8 questions; ask for 8 or fewer",
        ),
    ],
)
def test_round_choice_errors(home, args, message):
    c = Coach()
    with pytest.raises(CoachError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_round(c, *args)
    c.close()


# --- a whole round, offline ------------------------------------------------------------------------


def test_round_scorecard_figures_are_the_stored_grades(coach, tmp_path):
    session = start_session(coach, "2", minutes=10, questions=2, seed=3)
    ui = ScriptedUI(ANSWER, PROBE_ANSWER, PROBE_ANSWER, ANSWER, PROBE_ANSWER, PROBE_ANSWER)

    result = run_round(coach, session, ui, clock=ticking(60))

    assert result.finished and result.session.state == "finished"
    assert [t.kind for t in ui.turns] == ["question", "probe", "probe"] * 2
    assert [t.seconds_left for t in ui.turns] == [300.0, 240.0, 180.0] * 2
    card = result.card
    assert [q.question_id for q in card.questions] == [i.question_id for i in session.items]
    scores = []
    for row, item in zip(card.questions, result.session.items, strict=True):
        root = coach.history.get(item.attempt_id)
        assert (row.status, row.attempt_id, row.score) == ("graded", root.id, root.grade.score)
        children = coach.history.thread(root.id)[1:]
        assert row.probe_attempt_ids == [a.id for a in children]
        assert row.probe_scores == [a.grade.score for a in children]
        assert len(children) == 2 and {a.parent_id for a in children} == {root.id}
        assert (row.seconds_used, row.seconds_allowed, row.overtime) == (180.0, 300.0, False)
        scores.append(root.grade.score)
    assert card.mean == round(sum(scores) / 2, 2)
    assert card.lowest == min(scores)
    assert card.verdict == verdict_for(card.mean, card.lowest, round_info("2").bar)
    assert (card.bar_mean, card.bar_floor) == (7.0, 4.0)
    assert len(card.fix_first) == 3
    assert {a.name for a in card.strongest}.isdisjoint({a.name for a in card.weakest})
    # The same card from storage alone, and in the exported report.
    other = Coach()
    assert scorecard(other, session.id) == card
    other.close()
    markdown = to_markdown(card)
    for row in card.questions:
        probes = ", ".join(f"{s:.1f}" for s in row.probe_scores)
        assert (
            f"| {row.position} | {row.question_id} | {row.kind} | {row.score:.1f} | {probes} | 3:00 / 5:00 |"
            in markdown
        )
    assert f"**Verdict: {card.verdict}.**" in markdown
    assert f"Mean score: {mean_text(card.mean)}/10. Lowest: {card.lowest:.1f}." in markdown


def test_skipped_questions_score_zero_and_overtime_is_marked(coach):
    session = start_session(coach, "2", minutes=1, questions=2, seed=3)
    ui = ScriptedUI(":skip", ANSWER)

    card = run_round(coach, session, ui, clock=ticking(45)).card

    first, second = card.questions
    assert (first.status, first.score, first.counted, first.attempt_id) == (
        "skipped",
        None,
        0.0,
        None,
    )
    assert (second.status, second.probe_scores) == ("graded", [])
    # Its time was up when it was answered, so the round moved on without its follow-ups.
    assert coach.storage.probes.for_root(second.attempt_id) == []
    assert "time is up for this question: moving on without its follow-ups" in ui.notices
    assert card.mean == round(second.score / 2, 2) and card.lowest == 0.0
    assert card.verdict == verdict_for(card.mean, 0.0, Bar(7.0, 4.0))
    assert (first.seconds_used, second.seconds_used, first.seconds_allowed) == (45.0, 45.0, 30.0)
    assert first.overtime and second.overtime
    assert (
        f"2 question(s) ran over their time ({first.question_id}, {second.question_id})"
        in card.reasons
    )
    assert card.fix_first[0] == f"Prepare an answer to {first.question_id}: you skipped it."
    assert ui.results[0][2:] == (45.0, 30.0 - 45.0)  # time left is negative when over time


# --- pausing and resuming ---------------------------------------------------------------------------


def test_ctrl_c_during_a_probe_then_resume_in_a_new_process(coach):
    session = start_session(coach, "4", minutes=30, questions=2, seed=1)
    first_ui = ScriptedUI(ANSWER, PROBE_ANSWER, KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):
        run_round(coach, session, first_ui, clock=ticking(10))

    saved = coach.storage.rounds.get(session.id)
    assert saved.state == "interrupted"
    assert [(i.status, i.seconds_used) for i in saved.items] == [("answered", 30.0), ("open", 0.0)]
    interrupted_probe = first_ui.turns[-1].probe.text

    other = Coach()  # a new process: its own connection to the same history
    resumed = open_round(other, None, None, None, resume=True)
    second_ui = ScriptedUI(PROBE_ANSWER, ANSWER, PROBE_ANSWER, PROBE_ANSWER)
    result = run_round(other, resumed, second_ui, clock=ticking(10))

    assert result.finished
    first_id, second_id = (i.question_id for i in session.items)
    assert second_ui.asked()[0] == ("probe", first_id, interrupted_probe)
    assert [k for k, _, _ in second_ui.asked()] == ["probe", "question", "probe", "probe"]
    questions_asked = [
        q for ui in (first_ui, second_ui) for k, q, _ in ui.asked() if k == "question"
    ]
    assert questions_asked == [first_id, second_id]
    card = result.card
    assert [len(q.probe_scores) for q in card.questions] == [2, 2]
    assert card.questions[0].seconds_used == 40.0
    assert len(other.history.list()) == 6
    with pytest.raises(CoachError, match="no unfinished mock round"):
        open_round(other, None, None, None, resume=True)
    other.close()


def test_ctrl_c_before_an_answer_is_saved_asks_the_question_again(coach):
    session = start_session(coach, "4", minutes=30, questions=2, seed=1)
    with pytest.raises(KeyboardInterrupt):
        run_round(coach, session, ScriptedUI(KeyboardInterrupt()), clock=ticking(10))
    assert coach.history.list() == []

    ui = ScriptedUI(ANSWER, ":skip", ":skip", ":skip")
    result = run_round(coach, open_round(coach, None, None, None, True), ui, clock=ticking(10))

    assert ui.asked()[0] == ("question", session.items[0].question_id, None)
    assert [q.status for q in result.card.questions] == ["graded", "skipped"]
    assert result.card.questions[0].seconds_used == 40.0


@pytest.mark.parametrize("stop", [":quit", None])
def test_quit_or_end_of_input_pauses_the_round(coach, stop):
    session = start_session(coach, "2", minutes=20, questions=2, seed=5)
    answers = [ANSWER, ":skip", ":skip"] + ([stop] if stop else [])

    result = run_round(coach, session, ScriptedUI(*answers), clock=ticking(10))

    assert not result.finished and result.card is None
    assert result.session.state == "interrupted"
    assert [i.status for i in result.session.items] == ["done", "open"]
    assert [i.seconds_used for i in result.session.items] == [30.0, 10.0]
    assert result.session.answered == 1


# --- with the fake chat model: exact figures ------------------------------------------------------


def test_llm_round_scorecard_has_the_exact_stored_scores(coach):
    session = start_session(coach, "2", minutes=20, questions=2, grader="llm", seed=3)
    fake = FakeChatModel()
    plan = [(8.0, 7.0, 5.0), (6.0, 9.0, 3.0)]  # each question: its score, then its two probes'
    for item, (score, p1, p2) in zip(session.items, plan, strict=True):
        rubric = coach.rubric(item.question_id)
        gap = next(c for c in rubric.criteria if not c.dimension)
        fake.queue(
            tool_reply(grade_args(rubric, score, "covered", evidence_from=ANSWER)),
            tool_reply(
                {
                    "probes": [
                        {
                            "question": f"How would you test {item.question_id} online?",
                            "targets": [gap.id],
                        },
                        {
                            "question": f"What breaks first in {item.question_id}?",
                            "targets": [gap.id],
                        },
                    ]
                },
                name="submit_probes",
            ),
        )
        sub = SimpleNamespace(
            criteria=[Criterion(id=gap.id, text=gap.text, weight=1.0, source="x")]
        )
        for probe_score in (p1, p2):
            fake.queue(
                tool_reply(grade_args(sub, probe_score, "covered", evidence_from=PROBE_ANSWER))
            )
    llm.set_chat_model_factory(lambda settings: fake)
    ui = ScriptedUI(ANSWER, PROBE_ANSWER, PROBE_ANSWER, ANSWER, PROBE_ANSWER, PROBE_ANSWER)

    card = run_round(coach, session, ui, clock=ticking(30)).card

    assert fake.remaining == 0
    assert [(q.score, q.probe_scores, q.grader) for q in card.questions] == [
        (8.0, [7.0, 5.0], "llm"),
        (6.0, [9.0, 3.0], "llm"),
    ]
    assert (card.mean, card.lowest, card.verdict, card.graders) == (7.0, 6.0, "Hire", ["llm"])
    assert card.reasons[:2] == [
        "mean 7.0/10 against the bar's 7",
        f"lowest 6.0 ({session.items[1].question_id}) against the floor of 4",
    ]
    assert ui.asked()[1][2] == f"How would you test {session.items[0].question_id} online?"


# --- the bar and the report ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mean, lowest, verdict",
    [
        (7.0, 4.0, "Hire"),
        (9.0, 3.9, "Lean no hire"),
        (6.0, 4.0, "Lean hire"),
        (5.9, 5.0, "Lean no hire"),
        (4.5, 0.0, "Lean no hire"),
        (4.4, 9.0, "No hire"),
        (None, None, "Incomplete"),
    ],
)
def test_verdict_against_the_bar(mean, lowest, verdict):
    assert verdict_for(mean, lowest, Bar(7.0, 4.0)) == verdict


def test_round_four_has_a_higher_bar():
    assert (round_info("4").bar, round_info("2").bar) == (Bar(7.5, 5.0), Bar(7.0, 4.0))
    assert round_info("acme").title == "Round acme"


@pytest.mark.parametrize(
    "value, text", [(7.0, "7.0"), (6.5, "6.5"), (0.25, "0.25"), (6.67, "6.67"), (None, "—")]
)
def test_mean_text(value, text):
    assert mean_text(value) == text


def handmade_card() -> Scorecard:
    return Scorecard(
        session_id=1,
        round="2",
        title="Round 2: <b>breadth</b>",
        minutes=20,
        finished=True,
        questions=[
            QuestionScore(
                position=1,
                question_id="r2-position-bias",
                question="Position bias <script>alert(1)</script>?",
                kind="technical",
                status="graded",
                score=6.5,
                attempt_id=1,
                probe_scores=[4.0, 7.5],
                probe_attempt_ids=[2, 3],
                seconds_used=700,
                seconds_allowed=600,
            ),
            QuestionScore(
                position=2,
                question_id="r2-popularity-bias",
                question="Popularity bias?",
                kind="technical",
                status="skipped",
                seconds_used=5,
                seconds_allowed=600,
            ),
        ],
        mean=3.25,
        lowest=0.0,
        bar_mean=7.0,
        bar_floor=4.0,
        bar=Bar(7.0, 4.0).describe(),
        verdict="No hire",
        reasons=["mean 3.2/10 against the bar's 7"],
        strongest=[],
        weakest=[],
        fix_first=["Prepare an answer to r2-popularity-bias: you skipped it."],
        graders=["offline"],
    )


def test_report_markdown_and_html(tmp_path):
    card = handmade_card()
    md = write_report(card, tmp_path / "card.md").read_text(encoding="utf-8")
    page = write_report(card, tmp_path / "card.html").read_text(encoding="utf-8")

    assert "| 1 | r2-position-bias | technical | 6.5 | 4.0, 7.5 | 11:40 / 10:00 over time |" in md
    assert "| 2 | r2-popularity-bias | technical | skipped (0) | — | 0:05 / 10:00 |" in md
    assert "**Verdict: No hire.** mean 3.2/10 against the bar's 7." in md
    assert "1. Prepare an answer to r2-popularity-bias: you skipped it." in md
    assert "Mean score: 3.25/10. Lowest: 0.0." in md
    assert "- none yet" in md
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Round 2: &lt;b&gt;breadth&lt;/b&gt;" in page
    assert '<tr class="over"><td>1</td><td>r2-position-bias</td>' in page


@pytest.mark.parametrize(
    "name, message",
    [("card.txt", "export to a .md or .html file"), ("missing/card.md", "does not exist")],
)
def test_report_path_errors(tmp_path, name, message):
    with pytest.raises(CoachError, match=message):
        write_report(handmade_card(), tmp_path / name)


# --- the CLI (needs the lead's paste of /tmp/integration/probes.py) ------------------------------


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_cli_mock_round_and_export(ingested, tmp_path, suffix):
    target = tmp_path / f"card.{suffix}"
    script = "".join(f"{text}\n.\n" for text in (ANSWER, PROBE_ANSWER, PROBE_ANSWER))

    result = runner.invoke(
        app,
        ["mock", "--round", "2", "--questions", "1", "--minutes", "5", "--export", str(target)],
        input=script,
    )

    assert result.exit_code == 0, result.output
    history = Storage.open(ingested / "history.sqlite")
    root = history.attempts.get(1)
    probe_scores = [history.attempts.get(i).grade.score for i in (2, 3)]
    history.close()
    out = result.output
    assert "Question 1/1" in out and "Follow-up 1/2:" in out and "Follow-up 2/2:" in out
    assert "5:00 for this question and its follow-ups" in out
    assert f"{root.grade.score:.1f}" in out and "Fix these first" in out
    text = target.read_text(encoding="utf-8")
    assert f"{root.grade.score:.1f}" in text
    assert ", ".join(f"{s:.1f}" for s in probe_scores) in text
    assert "Wrote the scorecard to" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["mock"], "give --round (2, 3, 4 or additional), or --resume"),
        (["mock", "--resume"], "no unfinished mock round to resume"),
        (["mock", "--round", "2", "--export", "card.txt"], "export to a .md or .html file"),
    ],
)
def test_cli_mock_errors_are_one_line(ingested, args, message):
    result = runner.invoke(app, args)

    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert Storage.open(ingested / "history.sqlite").attempts.list() == []


def test_cli_ctrl_c_saves_and_resume_finishes(ingested, monkeypatch):
    real_read = practice_module.read_answer
    calls = {"n": 0}

    def interrupt_second_read(eof_none=False):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_read(eof_none=eof_none)

    monkeypatch.setattr(practice_module, "read_answer", interrupt_second_read)
    first = runner.invoke(app, ["mock", "--round", "2", "--questions", "1"], input=f"{ANSWER}\n.\n")

    assert first.exit_code == 130
    assert "coach mock --resume" in first.output
    history = Storage.open(ingested / "history.sqlite")
    assert [(a.id, a.status) for a in history.attempts.list()] == [(1, "graded")]

    monkeypatch.setattr(practice_module, "read_answer", real_read)
    second = runner.invoke(
        app, ["mock", "--resume"], input=f"{PROBE_ANSWER}\n.\n{PROBE_ANSWER}\n.\n"
    )

    assert second.exit_code == 0, second.output
    assert "Resumed: 1 of 1 questions answered already." in second.output
    assert "Question 1/1" not in second.output  # the answered question is not asked again
    assert sorted((a.id, a.parent_id) for a in history.attempts.list()) == [
        (1, None),
        (2, 1),
        (3, 1),
    ]
    history.close()


def test_quit_during_the_last_follow_up_finishes_the_round(coach):
    session = start_session(coach, "2", minutes=10, questions=1, seed=3)
    result = run_round(coach, session, ScriptedUI(ANSWER, ":quit"), clock=ticking(30))

    assert result.finished and result.card is not None
    assert [q.status for q in result.card.questions] == ["graded"]
    assert coach.storage.rounds.get(session.id).state == "finished"


def test_export_given_at_the_start_survives_a_pause_and_mock_show_shows_it_again(
    ingested, tmp_path
):
    card = tmp_path / "card.md"
    first = runner.invoke(
        app,
        ["mock", "--round", "2", "--questions", "2", "--minutes", "60", "--export", str(card)],
        input=f"{ANSWER}\n.\n:quit\n",
    )
    assert first.exit_code == 0, first.output
    flat = " ".join(first.output.split())
    assert (
        f"Round 2 mock paused with 1 of 2 questions answered. Resume with `coach mock --resume`; the scorecard will go to {card}"
        in flat
    )
    assert not card.exists()

    second = runner.invoke(
        app, ["mock", "--resume"], input=f":skip\n:skip\n{ANSWER}\n.\n:skip\n:skip\n"
    )
    assert second.exit_code == 0, second.output
    assert f"Wrote the scorecard to {card}." in " ".join(second.output.split())
    written = card.read_text(encoding="utf-8")
    assert written.startswith("# Mock ") and "2 questions in 60 minutes" in written

    shown = runner.invoke(app, ["mock", "show", "--export", str(tmp_path / "again.html")])
    assert shown.exit_code == 0, shown.output
    assert "round #1:" in shown.output and "round 2, 2 questions" in shown.output
    assert (tmp_path / "again.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    missing = runner.invoke(app, ["mock", "show", "9"])
    assert missing.exit_code == 1
    assert "no finished mock round 9; finished rounds: 1" in missing.output
