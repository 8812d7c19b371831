"""FSRS review state (coach.coaching.srs) and the study plan (coach.coaching.plan) on a synthetic history.

Due dates are checked against the `fsrs` package used directly; the plan is checked for the hours
budget, round/kind coverage, weak topics first, the mock round, what did not fit, the LLM summary
(fake chat model) and the Markdown / iCalendar exports (parsed with `icalendar`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import fsrs
import httpx
import icalendar
import openai
import pytest
from fakes import FakeChatModel, text_reply
from history_builders import add_attempt as synthetic_add
from typer.testing import CliRunner

from coach.app import Coach
from coach.cli.app import app
from coach.coaching import srs as review
from coach.coaching.plan import MOCK_MINUTES, NOTE_MINUTES, QUESTION_MINUTES, build_plan
from coach.corpus.prompts import load_prompt
from coach.errors import CoachError
from coach.export.plan import _fold, export_plan, to_ics, to_markdown
from coach.llm import client as llm
from coach.models import Grade
from coach.storage import Storage, StorageError

TODAY = date(2025, 6, 10)
INTERVIEW = date(2025, 6, 20)
T0 = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
WEAK_WHEN = datetime(2025, 5, 31, 12, 0, tzinfo=UTC)  # ten days before TODAY
PB, MENTOR, DIFFUSION = "r2-position-bias", "r3-mentorship-growth", "r2-diffusion-models-gans"
Again, Hard, Good, Easy = fsrs.Rating.Again, fsrs.Rating.Hard, fsrs.Rating.Good, fsrs.Rating.Easy

runner = CliRunner()


@pytest.fixture
def coach(home):
    c = Coach()
    yield c
    llm.set_chat_model_factory(None)
    c.close()


@pytest.fixture
def storage(coach):
    """The repositories on the coach's history database."""
    return coach.storage


def add_attempt(history, question_id, score, when, statuses=None, parent_id=None):
    return synthetic_add(
        history,
        question_id,
        score,
        when,
        statuses,
        parent_id,
        answer="An answer. With two sentences.",
    )


def direct_fsrs(reviews):
    """Replay (rating, when) pairs with the fsrs package itself, configured as the module docstring says."""
    scheduler = fsrs.Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)
    card = fsrs.Card(card_id=1, due=reviews[0][1])
    for rating, when in reviews:
        card, _ = scheduler.review_card(card, rating, when)
    return card


def snapshot(storage):
    return {
        c.key: (c.card.to_dict(), c.reviews, int(c.last_rating), c.question_id)
        for c in review.load_cards(storage, synced=False)
    }


def fresh_snapshot(storage):
    review.clear_reviews(storage)
    review.sync(storage)
    return snapshot(storage)


# --- ratings and the scheduler -------------------------------------------------------------------


@pytest.mark.parametrize(
    "score, rating",
    [
        (0, Again),
        (3.0, Again),
        (3.49, Again),
        (3.5, Hard),
        (4, Hard),
        (5.49, Hard),
        (5.5, Good),
        (6, Good),
        (8.49, Good),
        (8.5, Easy),
        (9, Easy),
        (10, Easy),
    ],
)
def test_score_to_rating(score, rating):
    assert review.rating_for_score(score) == rating


@pytest.mark.parametrize(
    "status, rating",
    [("missed", Again), ("contradicted", Again), ("partial", Hard), ("covered", Good)],
)
def test_status_to_rating(status, rating):
    assert review.rating_for_status(status) == rating


@pytest.mark.parametrize("rating, days", [(Again, 1), (Hard, 1), (Good, 2), (Easy, 8)])
def test_scheduler_works_in_days_not_minutes(rating, days):
    scheduler = review.make_scheduler()
    assert (scheduler.learning_steps, scheduler.relearning_steps, scheduler.enable_fuzzing) == (
        (),
        (),
        False,
    )
    card, _ = scheduler.review_card(fsrs.Card(card_id=1, due=T0), rating, T0)
    assert card.due - T0 == timedelta(days=days)
    # fsrs's own default would bring a new card rated Good back 10 minutes later:
    default, _ = fsrs.Scheduler(enable_fuzzing=False).review_card(
        fsrs.Card(card_id=1, due=T0), Good, T0
    )
    assert default.due - T0 == timedelta(minutes=10)


# --- review state --------------------------------------------------------------------------------


def synthetic_history(history):
    t = [T0, T0 + timedelta(days=1), T0 + timedelta(days=4), T0 + timedelta(days=12)]
    add_attempt(
        history,
        PB,
        2.0,
        t[0],
        {"position-bias/1": "missed", "position-bias/2": "covered", "dim-depth": "missed"},
    )
    add_attempt(history, PB, 4.6, t[1], {"position-bias/1": "partial", "position-bias/2": "missed"})
    add_attempt(
        history, PB, 6.0, t[2], {"position-bias/1": "covered", "position-bias/2": "partial"}
    )
    add_attempt(
        history, PB, 9.0, t[3], {"position-bias/1": "covered", "position-bias/2": "covered"}
    )
    first = add_attempt(history, MENTOR, 8.4, t[1] + timedelta(hours=3), {"mentoring/1": "covered"})
    add_attempt(
        history, MENTOR, 1.0, t[2], {"mentoring/1": "missed"}, parent_id=first
    )  # a follow-up: not a review
    history.add(MENTOR, "pending answer")  # not graded: not a review
    return t


def test_due_dates_follow_fsrs(coach, storage):
    t = synthetic_history(coach.history)
    report = review.sync(storage)
    assert (report.applied, report.rebuilt) == (5, False)
    cards = {c.key: c for c in review.load_cards(storage)}
    expected = {
        f"q:{PB}": [(Again, t[0]), (Hard, t[1]), (Good, t[2]), (Easy, t[3])],
        "c:position-bias/1": [(Again, t[0]), (Hard, t[1]), (Good, t[2]), (Good, t[3])],
        "c:position-bias/2": [(Again, t[1]), (Hard, t[2]), (Good, t[3])],
        f"q:{MENTOR}": [(Good, t[1] + timedelta(hours=3))],
    }
    assert set(cards) == set(expected)  # no card for dim-* points or for never-missed points
    for key, reviews in expected.items():
        want = direct_fsrs(reviews)
        got = cards[key].card
        assert (got.due, got.stability, got.difficulty, got.state) == (
            want.due,
            want.stability,
            want.difficulty,
            want.state,
        ), key
        assert cards[key].reviews == len(reviews)
    assert cards[f"q:{PB}"].last_score == 9.0
    assert cards["c:position-bias/2"].text == "point position-bias/2"


def test_sync_applies_grades_recorded_elsewhere_incrementally(coach, storage):
    synthetic_history(coach.history)
    review.sync(storage)
    assert review.sync(storage) == review.SyncReport(0, False)
    # Another process grades an answer; the next reader brings the cards up to date:
    add_attempt(coach.history, MENTOR, 3.0, T0 + timedelta(days=20), {"mentoring/1": "missed"})
    assert review.sync(storage) == review.SyncReport(1, False)
    assert snapshot(storage)[f"q:{MENTOR}"][1] == 2
    assert snapshot(storage) == fresh_snapshot(storage)


@pytest.mark.parametrize("change", ["regrade", "delete", "earlier"])
def test_sync_rebuilds_when_history_changed_underneath(coach, storage, change):
    synthetic_history(coach.history)
    review.sync(storage)
    before = snapshot(storage)
    if change == "regrade":
        coach.history.record_grade(1, Grade(score=9.5, verdict="v", criteria=[], grader="llm"))
    elif change == "delete":
        coach.history.delete(2)
    else:  # an attempt stamped before ones already applied (clock change, import)
        add_attempt(coach.history, PB, 0.0, T0 + timedelta(hours=1), {"position-bias/1": "missed"})
    report = review.sync(storage)
    assert report.rebuilt is True
    after = snapshot(storage)
    assert after != before
    assert after == fresh_snapshot(storage)


def test_database_errors_are_one_line_and_roll_back(coach, storage, home):
    synthetic_history(coach.history)
    connection = storage.database.connection
    # Damage the file's schema on purpose: the table has the right name but not our columns.
    connection.execute("DROP TABLE card_attempts")
    connection.execute("CREATE TABLE card_attempts (something_else TEXT)")
    with pytest.raises(StorageError) as raised:
        review.sync(storage)
    assert str(raised.value) == (
        f"history database {home / 'history.sqlite'} is damaged (no such column: attempt_id); "
        "move it aside to start afresh"
    )
    assert not connection.in_transaction
    assert storage.cards.count() == 0


def test_a_failed_sync_leaves_the_cards_as_they_were(coach, storage, monkeypatch):
    synthetic_history(coach.history)
    review.sync(storage)
    before = snapshot(storage)
    add_attempt(coach.history, MENTOR, 3.0, T0 + timedelta(days=20), {"mentoring/1": "missed"})

    def broken_save(cards, applied):
        raise StorageError("disk full")

    monkeypatch.setattr(storage.cards, "save", broken_save)
    with pytest.raises(StorageError, match="^disk full$"):
        review.sync(storage)
    monkeypatch.undo()
    assert not storage.database.connection.in_transaction
    assert snapshot(storage) == before
    assert [a.attempt_id for a in storage.cards.applied()] == [1, 2, 3, 4, 5]


def test_clear_reviews_empties_cards_and_parameters(coach, storage):
    synthetic_history(coach.history)
    review.sync(storage)
    review.store_parameters(storage, list(fsrs.scheduler.DEFAULT_PARAMETERS), 600)
    assert storage.cards.parameters() == list(fsrs.scheduler.DEFAULT_PARAMETERS)
    assert review.clear_reviews(storage) == 4
    assert review.load_cards(storage, synced=False) == []
    assert storage.cards.applied() == []
    assert storage.cards.parameters() is None


def test_stored_parameters_reschedule_every_card(coach, storage):
    t = synthetic_history(coach.history)
    params = list(fsrs.scheduler.DEFAULT_PARAMETERS)
    params[2] = 5.0  # initial stability after Good
    review.store_parameters(storage, params, 600)
    assert review.scheduler_for(storage).parameters == tuple(params)
    mentor = {c.key: c for c in review.load_cards(storage)}[f"q:{MENTOR}"]
    scheduler = fsrs.Scheduler(
        parameters=params, learning_steps=(), relearning_steps=(), enable_fuzzing=False
    )
    when = t[1] + timedelta(hours=3)
    want, _ = scheduler.review_card(fsrs.Card(card_id=1, due=when), Good, when)
    assert mentor.card.due == want.due == when + timedelta(days=5)


def test_optimize_needs_enough_reviews(coach, storage):
    synthetic_history(coach.history)
    with pytest.raises(CoachError, match="^8 reviews a day or more apart; fitting FSRS needs 512"):
        review.optimize(storage)


# --- the plan ------------------------------------------------------------------------------------


def weak_history(history):
    """Three answers ten days ago: weak (2.0), middling (5.0) and strong (9.0)."""
    add_attempt(history, PB, 2.0, WEAK_WHEN, {"position-bias/1": "missed"})
    add_attempt(history, MENTOR, 5.0, WEAK_WHEN, {"mentoring/1": "partial"})
    add_attempt(history, DIFFUSION, 9.0, WEAK_WHEN, {"diffusion-gan-vae/1": "covered"})


def test_a_strong_answer_is_not_re_attempted_again_and_again(coach):
    """A 9.6 with one missed point: its question is Easy, so it comes round once in three weeks,
    not every few days for the point; never-attempted questions are named before it."""
    add_attempt(coach.history, PB, 9.6, WEAK_WHEN, {"position-bias/1": "missed"})
    plan = build_plan(coach, TODAY + timedelta(days=21), 2.0, today=TODAY)
    reviews = [
        d.day for d in plan.days for i in d.items if i.kind == "review" and i.question_ids == [PB]
    ]
    assert len(reviews) <= 1
    first_new = next(i for i in plan.days[0].items if i.kind == "new")
    assert first_new.title.startswith("New question ")
    # New questions are spread evenly: one more or less per day, none piled on the first days.
    new_per_day = [sum(i.kind == "new" for i in d.items) for d in plan.days[:-2]]
    assert max(new_per_day) - min(new_per_day) <= 1 and min(new_per_day) >= 1


@pytest.mark.parametrize("hours", [0.25, 0.5, 1.0, 2.5])
def test_plan_respects_the_hours_budget(coach, hours):
    weak_history(coach.history)
    plan = build_plan(coach, INTERVIEW, hours, today=TODAY)
    assert [d.day for d in plan.days] == [TODAY + timedelta(days=i) for i in range(10)]
    for day in plan.days:
        assert day.budget == int(hours * 60)
        assert day.minutes <= day.budget
        assert day.minutes == sum(
            {
                "review": QUESTION_MINUTES,
                "new": QUESTION_MINUTES,
                "note": NOTE_MINUTES,
                "mock": MOCK_MINUTES,
            }[i.kind]
            for i in day.items
        )
    kinds = Counter(i.kind for d in plan.days for i in d.items)
    assert kinds["mock"] == (1 if hours * 60 >= MOCK_MINUTES else 0)
    assert Counter(i.kind for i in plan.unfitted)["mock"] == (
        0 if hours * 60 >= MOCK_MINUTES else 1
    )


def test_plan_covers_every_round_and_kind_of_the_seed_loop(coach):
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)
    seed_pairs = {(q.round, q.kind) for q in coach.questions if q.bank == "seed"}
    by_id = {q.id: q for q in coach.questions}
    new = [i for d in plan.days for i in d.items if i.kind == "new" and i.required]
    assert {
        (by_id[i.question_ids[0]].round, by_id[i.question_ids[0]].kind) for i in new
    } == seed_pairs
    assert len(new) == len(seed_pairs) == 11
    assert {(r, k) for r, k, _ in plan.coverage} == seed_pairs
    assert plan.unfitted == []
    # Every planned new question is re-attempted later, when FSRS (assuming Good) brings it back.
    first_new = {i.question_ids[0]: d.day for d in plan.days for i in d.items if i.kind == "new"}
    for qid, day in first_new.items():
        if day + timedelta(days=2) < INTERVIEW:
            assert any(
                i.kind == "review" and i.question_ids == [qid]
                for d in plan.days
                if d.day > day
                for i in d.items
            ), qid


def test_practised_pairs_are_not_planned_again_as_new(coach):
    weak_history(coach.history)
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)
    already = {(r, k) for r, k, qid in plan.coverage if qid == ""}
    assert already == {("2", "technical"), ("3", "behavioral")}


def test_plan_puts_weak_topics_first(coach):
    weak_history(coach.history)
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)
    assert [s.name for s in plan.weak_topics] == [
        "bias",
        "counterfactual-evaluation",
        "ranking",
        "recsys",
        "unbiased-learning-to-rank",
    ]
    day0 = plan.days[0]
    # All three answers are due; the 2.0 (Again) and 5.0 (Hard) come first, lowest score first; the
    # strong 9.0 waits until the day's new questions are placed (the day is full, so not today).
    assert [i.question_ids[0] for i in day0.items if i.kind == "review"] == [PB, MENTOR]
    strong = [
        d.day
        for d in plan.days
        for i in d.items
        if i.kind == "review" and i.question_ids == [DIFFUSION]
    ]
    assert len(strong) <= 1
    notes = [i.note_id for d in plan.days for i in d.items if i.kind == "note"]
    assert notes[0] == "position-bias"  # the note that serves the weakest answer
    assert (
        "mentoring" not in notes and "diffusion-gan-vae" not in notes
    )  # 5.0 is not in the top 5 weak topics
    new = [i for d in plan.days for i in d.items if i.kind == "new" and i.required]
    weak_flags = ["weak topic" in i.reason for i in new]
    assert weak_flags[0] is True and weak_flags == sorted(weak_flags, reverse=True)
    # The mock rehearses the weakest round: round 3 (5.0) below round 2 (5.5) and unpractised ones (6.0).
    (mock,) = [i for d in plan.days for i in d.items if i.kind == "mock"]
    assert (plan.mock_round, mock.round, len(mock.question_ids)) == ("3", "3", 4)
    assert plan.days.index(next(d for d in plan.days if mock in d.items)) == len(plan.days) - 2


def test_re_attempts_are_planned_on_the_fsrs_due_day(coach):
    when = datetime.combine(TODAY, datetime.min.time(), UTC) - timedelta(hours=12)
    add_attempt(coach.history, MENTOR, 7.0, when)  # Good
    due_day = direct_fsrs([(Good, when)]).due.astimezone().date()
    plan = build_plan(coach, INTERVIEW, 3.0, today=TODAY)
    days = [
        d.day
        for d in plan.days
        for i in d.items
        if i.kind == "review" and i.question_ids == [MENTOR]
    ]
    assert days[0] == due_day
    assert all(i.question_ids != [MENTOR] for d in plan.days if d.day < due_day for i in d.items)


def test_what_does_not_fit_is_reported(coach):
    # 12 minutes a day for 3 days: one question a day, no room for the 45-minute mock.
    plan = build_plan(coach, TODAY + timedelta(days=3), 0.2, today=TODAY)
    placed = [(d.day - TODAY).days for d in plan.days for i in d.items]
    kinds = [i.kind for d in plan.days for i in d.items]
    assert (placed, kinds) == ([0, 1, 2], ["new", "new", "review"])
    assert Counter(i.kind for i in plan.unfitted) == {"mock": 1, "new": 9}
    assert "Did not fit" in to_markdown(plan)


@pytest.mark.parametrize(
    "interview, hours, days, message",
    [
        (TODAY, 2.0, None, "the interview date 2025-06-10 must be after today"),
        (TODAY - timedelta(days=3), 2.0, None, "must be after today"),
        (INTERVIEW, 0, None, "--hours-per-day must be more than 0"),
        (INTERVIEW, 17, None, "at most 16"),
        (INTERVIEW, 0.1, None, "6 minutes a day is less than one question"),
        (INTERVIEW, 2.0, 0, "--days must be at least 1"),
        (TODAY + timedelta(days=400), 2.0, None, "plans cover at most 366 days"),
    ],
)
def test_bad_plan_inputs(coach, interview, hours, days, message):
    with pytest.raises(CoachError, match=message):
        build_plan(coach, interview, hours, days, today=TODAY)


def test_days_shows_only_the_next_days(coach):
    plan = build_plan(coach, INTERVIEW, 2.0, days=3, today=TODAY)
    assert (len(plan.days), len(plan.visible), plan.hidden_days) == (10, 3, 7)
    assert "7 more days until the interview are not shown" in to_markdown(plan)
    events = icalendar.Calendar.from_ical(to_ics(plan)).walk("VEVENT")
    assert [e["DTSTART"].dt for e in events] == [
        TODAY,
        TODAY + timedelta(days=1),
        TODAY + timedelta(days=2),
    ]


# --- exports -------------------------------------------------------------------------------------


def test_ics_is_valid_rfc5545(coach, tmp_path):
    weak_history(coach.history)
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)
    path = export_plan(plan, tmp_path / "plan.ics")
    data = path.read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
    calendar = icalendar.Calendar.from_ical(data)
    assert (str(calendar["VERSION"]), str(calendar["PRODID"])) == (
        "2.0",
        "-//coach//interview study plan//EN",
    )
    events = calendar.walk("VEVENT")
    days = [d for d in plan.days if d.items]
    assert len(events) == len(days) == 10
    for event, day in zip(events, days):
        assert event["DTSTART"].dt == day.day
        assert event["DTEND"].dt == day.day + timedelta(days=1)
        assert event["DTSTAMP"].dt.tzinfo is not None
        assert str(event["SUMMARY"]).endswith(f"({day.minutes} min)")
        assert str(event["DESCRIPTION"]).splitlines()[0].startswith(f"- {day.items[0].title} (")
    assert len({str(e["UID"]) for e in events}) == 10
    first = str(events[0]["SUMMARY"])
    assert first == "Interview prep: 2 re-attempts, 6 new questions, 2 notes (116 min)"


def test_ics_uids_are_stable_across_runs(coach):
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)

    def uids(data):
        return [str(e["UID"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")]

    assert uids(to_ics(plan, now=datetime(2025, 1, 1, tzinfo=UTC))) == uids(to_ics(plan))


@pytest.mark.parametrize("text", ["ascii " * 40, "é" * 100, "見" * 60, "a" * 74 + "😀" + "b" * 80])
def test_fold_keeps_lines_within_75_octets_and_unfolds_to_the_original(text):
    folded = _fold("DESCRIPTION:" + text)
    lines = folded.encode("utf-8").split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert all(line.startswith(b" ") for line in lines[1:])
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + text


def test_markdown_export(coach, tmp_path):
    weak_history(coach.history)
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)
    text = export_plan(plan, tmp_path / "plan.md").read_text(encoding="utf-8")
    assert text.startswith("# Study plan until the interview on 2025-06-20\n")
    assert "## Tue 2025-06-10 (116 of 120 min)" in text
    overdue = (WEAK_WHEN + timedelta(days=1)).astimezone().date()  # Again: a day later (local day)
    assert (
        f"- [ ] Re-attempt r2-position-bias (12 min): overdue since {overdue} (FSRS); "
        "last score 2.0/10; focus on: point position-bias/1"
    ) in text
    assert "- bias: average 2.0/10 over 1 answers" in text
    assert text.count("\n## ") == 10 + 2  # weakest topics, 10 days, did not fit


@pytest.mark.parametrize("name", ["plan.txt", "plan"])
def test_export_refuses_other_formats(coach, tmp_path, name):
    plan = build_plan(coach, INTERVIEW, 2.0, days=1, today=TODAY)
    with pytest.raises(CoachError, match=r"export to a \.md or \.ics file"):
        export_plan(plan, tmp_path / name)


# --- the LLM summary -----------------------------------------------------------------------------


def test_plan_prompt_variables():
    assert load_prompt("plan", "v1").variables == {
        "interview_date",
        "days_left",
        "hours_per_day",
        "weak_topics",
        "rounds",
        "plan",
        "unfitted",
    }


def test_narrative_is_one_llm_call(coach, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-plan1234")
    weak_history(coach.history)
    fake = FakeChatModel(text_reply("Start with position bias.\n\nThen rehearse round 3."))
    llm.set_chat_model_factory(lambda settings: fake)
    plan = build_plan(Coach(), INTERVIEW, 2.0, today=TODAY)
    assert (plan.narrative, plan.narrative_error) == (
        "Start with position bias. Then rehearse round 3.",
        "",
    )
    (call,) = fake.calls
    assert call.roles() == ["system", "user"]
    (user,) = call.content("user")
    assert "Interview date: 2025-06-20 (10 days of study left, 2 hours a day)." in user
    assert "bias (2.0/10 over 1)" in user
    assert (
        "2025-06-10: Read the note 'Position bias in ranking and recommendation' (10 min);" in user
    )
    assert "PLANTED" not in user
    assert plan.narrative in to_markdown(plan)


def test_offline_plan_has_no_narrative_and_makes_no_call(coach):
    fake = FakeChatModel()
    llm.set_chat_model_factory(lambda settings: fake)
    plan = build_plan(coach, INTERVIEW, 2.0, today=TODAY)
    assert (plan.narrative, plan.narrative_error, fake.calls) == ("", "", [])


def test_failed_narrative_keeps_the_plan(coach, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-plan1234")
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    fake = FakeChatModel(openai.APIConnectionError(request=request))
    llm.set_chat_model_factory(lambda settings: fake)
    plan = build_plan(Coach(), INTERVIEW, 2.0, today=TODAY)
    assert plan.narrative == ""
    assert plan.narrative_error == (
        "cannot connect to https://api.openai.com/v1; check OPENAI_BASE_URL and that the server is running"
    )
    assert len(plan.days) == 10 and plan.days[0].items


# --- CLI (needs parts A-C of /tmp/integration/plan.py pasted into cli.py and render.py) -----------


def test_cli_plan_with_exports(home, tmp_path):
    interview = (date.today() + timedelta(days=5)).isoformat()
    md, ics = tmp_path / "plan.md", tmp_path / "plan.ics"
    result = runner.invoke(
        app,
        [
            "plan",
            "--interview-date",
            interview,
            "--hours-per-day",
            "1",
            "--days",
            "2",
            "--export",
            str(md),
            "--export",
            str(ics),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {md}." in " ".join(result.output.split())
    assert "3 more days until the interview are not shown (--days)." in result.output
    assert len(icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")) == 2
    assert md.read_text(encoding="utf-8").count("\n## ") == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--interview-date", "next friday"],
            "--interview-date must be a date like 2025-07-01, not 'next friday'",
        ),
        (["--interview-date", "2001-01-01"], "must be after today"),
        (
            ["--interview-date", "2999-01-01", "--export", "plan.pdf"],
            "plan.pdf: export to a .md or .ics file",
        ),
    ],
)
def test_cli_plan_errors_are_one_line(home, args, message):
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_cli_forget_all_clears_review_state(home):
    with Storage.open(home / "history.sqlite") as storage:
        synthetic_history(storage.attempts)
        review.sync(storage)
        review.store_parameters(storage, list(fsrs.scheduler.DEFAULT_PARAMETERS), 600)
        assert (storage.cards.count(), len(storage.cards.applied())) == (4, 5)
    result = runner.invoke(app, ["forget", "--all", "--yes"])
    assert result.exit_code == 0, result.output
    with Storage.open(home / "history.sqlite") as storage:
        state = (storage.cards.count(), storage.cards.applied(), storage.cards.parameters())
    assert state == (0, [], None)
