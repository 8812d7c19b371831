"""`coach progress`: per-topic and per-round stats, trend, cards due today, and the PNG chart."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from history_builders import add_attempt
from typer.testing import CliRunner

from coach.app import Coach
from coach.cli.app import app
from coach.coaching.progress import (
    Stat,
    build_progress,
    question_topics,
    round_stats,
    topic_stats,
)
from coach.errors import CoachError
from coach.export.chart import write_png
from coach.llm import client as llm
from coach.models import Note, Question
from coach.storage import Storage

TODAY = date(2025, 6, 10)
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PB, MENTOR = "r2-position-bias", "r3-mentorship-growth"
PB_TOPICS = ["recsys", "ranking", "bias", "unbiased-learning-to-rank", "counterfactual-evaluation"]

runner = CliRunner()


@pytest.fixture
def coach(home):
    c = Coach()
    yield c
    llm.set_chat_model_factory(None)
    c.close()


def history_of_seven(history):
    """Six answers to position bias (1..6 points) and one to mentoring, plus two that must not count."""
    for i, score in enumerate([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]):
        add_attempt(history, PB, score, T0 + timedelta(days=i), {"position-bias/1": "missed"})
    first = add_attempt(
        history, MENTOR, 8.0, T0 + timedelta(days=8, hours=1), {"mentoring/1": "covered"}
    )
    add_attempt(history, MENTOR, 0.0, T0 + timedelta(days=8, hours=2), parent_id=first)  # follow-up
    history.add(MENTOR, "still pending")


@pytest.mark.parametrize(
    "scores, questions, last, trend, average",
    [
        ([7.0], ["a"], [7.0], None, 7.0),
        ([2.0, 4.0], ["a", "a"], [2.0, 4.0], 2.0, 3.0),
        # Six answers to three questions: each rose by 2 or 4; the trend is their mean.
        (
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            ["a", "b", "c", "a", "b", "c"],
            [2.0, 3.0, 4.0, 5.0, 6.0],
            3.0,
            3.5,
        ),
        # A strong answer to one question, then a weak first answer to another: not a decline.
        ([6.7, 9.6, 3.0], ["a", "a", "b"], [6.7, 9.6, 3.0], 2.9, 6.43),
        ([9.0, 8.0, 3.0], ["a", "b", "c"], [9.0, 8.0, 3.0], None, 6.67),
    ],
)
def test_stat_window_trend_and_average(scores, questions, last, trend, average):
    stat = Stat("x", scores, questions)
    assert (stat.last, stat.trend, stat.average, stat.attempts, stat.best) == (
        last,
        trend,
        average,
        len(scores),
        max(scores),
    )


def test_question_topics_come_from_serving_notes_else_category():
    questions = [
        Question(
            id="q1",
            text="Q1?",
            round="2",
            source="reported",
            origin="X",
            category="Ranking",
            kind="technical",
        ),
        Question(
            id="q2",
            text="Q2?",
            round="3",
            source="predicted",
            origin="X",
            category="Team Building",
            kind="behavioral",
        ),
    ]
    notes = {
        "b": Note(
            id="b", title="B", topics=["bias", "ranking"], kind="technical", questions=["q1"]
        ),
        "a": Note(
            id="a", title="A", topics=["ranking", "recsys"], kind="technical", questions=["q1"]
        ),
    }
    assert question_topics(questions, notes) == {
        "q1": ["ranking", "recsys", "bias"],
        "q2": ["team building"],
    }


def test_topic_and_round_stats(coach):
    history_of_seven(coach.history)
    topics = question_topics(coach.questions, coach.notes)
    attempts = coach.history.list()
    stats = {s.name: s for s in topic_stats(attempts, topics)}
    assert set(stats) == set(PB_TOPICS) | {
        "behavioral",
        "mentoring",
        "leadership",
        "feedback",
        "growth",
    }
    assert (
        stats["ranking"].attempts,
        stats["ranking"].average,
        stats["ranking"].last,
        stats["ranking"].trend,
    ) == (6, 3.5, [2.0, 3.0, 4.0, 5.0, 6.0], 5.0)  # the same question, from 1.0 to 6.0
    assert (stats["mentoring"].attempts, stats["mentoring"].average) == (
        1,
        8.0,
    )  # follow-up and pending left out
    ordered = [s.name for s in topic_stats(attempts, topics)]
    assert ordered[:5] == sorted(PB_TOPICS)  # weakest first, ties by name
    rounds = round_stats(attempts, {q.id: q for q in coach.questions})
    assert [(s.name, s.attempts, s.average) for s in rounds] == [
        ("round 2", 6, 3.5),
        ("round 3", 1, 8.0),
    ]


def test_progress_report_and_due_today(coach):
    history_of_seven(coach.history)
    report = build_progress(coach, TODAY)
    assert (report.attempts, report.average) == (7, 4.14)
    assert [p.score for p in report.series] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]
    assert [p.round for p in report.series] == ["2"] * 6 + ["3"]
    # Position bias (Again x3, Hard x2, then Good on 2025-06-06) is due 2025-06-07 12:00 UTC;
    # mentoring (a first review, Good, on 2025-06-09 13:00 UTC) is due two days later.
    assert [(d.question_id, d.last_score) for d in report.due_questions] == [(PB, 6.0)]
    assert [(d.question_id, d.text) for d in report.due_points] == [(PB, "point position-bias/1")]
    later = build_progress(coach, TODAY + timedelta(days=2))
    assert [d.question_id for d in later.due_questions] == [PB, MENTOR]


def test_progress_with_no_history(coach):
    report = build_progress(coach, TODAY)
    assert (
        report.attempts,
        report.average,
        report.topics,
        report.rounds,
        report.due_questions,
    ) == (0, None, [], [], [])
    with pytest.raises(CoachError, match="^no graded attempts yet; nothing to chart$"):
        write_png(report, coach.settings.coach_home / "chart.png")


def test_png_chart(coach, tmp_path):
    history_of_seven(coach.history)
    path = write_png(build_progress(coach, TODAY), tmp_path / "progress.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 900  # 9 inches at 100 dpi


@pytest.mark.parametrize(
    "name, message",
    [
        ("chart.jpg", "the chart is a PNG; name the file \\*.png"),
        ("missing/dir/chart.png", "cannot write"),
    ],
)
def test_png_errors(coach, tmp_path, name, message):
    history_of_seven(coach.history)
    with pytest.raises(CoachError, match=message):
        write_png(build_progress(coach, TODAY), tmp_path / name)


def test_new_modules_do_not_import_heavy_libraries_at_import_time():
    code = (
        "import sys\n"
        "import coach.coaching.plan, coach.coaching.progress, coach.coaching.compare, coach.coaching.srs\n"
        "heavy = [m for m in ('matplotlib', 'chromadb', 'langchain_core', 'openai', 'onnxruntime') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []"


# --- CLI (needs parts A and C of /tmp/integration/plan.py pasted into cli.py and render.py) ------


def test_cli_progress_with_png(home, tmp_path):
    with Storage.open(home / "history.sqlite") as storage:
        history_of_seven(storage.attempts)
    png = tmp_path / "p.png"
    result = runner.invoke(app, ["progress", "--png", str(png)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "7 graded answers, average 4.1/10 (2025-06-01 to 2025-06-09)" in out
    assert "round 2 │ 6 │ 3.5 │ 6.0 │ ▂▃▄▅▅ 2.0 3.0 4.0 5.0 6.0 │ ↑ +5.0" in out
    assert f"Wrote {png}." in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_progress_without_history(home):
    result = runner.invoke(app, ["progress"])
    assert result.exit_code == 0, result.output
    assert "No graded attempts yet" in result.output
