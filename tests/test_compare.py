"""`coach compare A B`: flipped rubric points, score change and changed sentences of two attempts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from coach.cli.app import app
from coach.coaching.compare import compare_attempts, sentence_changes
from coach.errors import CoachError
from coach.models import CriterionResult, Grade
from coach.storage import Storage

PB, MENTOR = "r2-position-bias", "r3-mentorship-growth"
ANSWER_A = "Position bias means rank drives clicks. We fix it with IPW. That is all."
ANSWER_B = (
    "Position bias means rank drives clicks. We fix position bias with IPW and clip the weights. "
    "That is all. Then we check it online with an A/B test."
)

DIFFERENT = (
    "attempts 1 and 3 answer different questions (r2-position-bias, r3-mentorship-growth); "
    "compare needs two attempts at the same question"
)

runner = CliRunner()


def grade(score, statuses, grader="offline"):
    return Grade(
        score=score,
        verdict="v",
        grader=grader,
        criteria=[
            CriterionResult(criterion_id=c, text=f"point {c}", status=s)
            for c, s in statuses.items()
        ],
    )


@pytest.fixture
def history(home):
    with Storage.open(home / "history.sqlite") as storage:
        h = storage.attempts
        a = h.add(PB, ANSWER_A)
        h.record_grade(
            a,
            grade(
                3.0,
                {
                    "pb/1": "missed",
                    "pb/2": "covered",
                    "pb/3": "partial",
                    "pb/4": "missed",
                    "dim-depth": "partial",
                },
            ),
        )
        b = h.add(PB, ANSWER_B)
        h.record_grade(
            b,
            grade(
                6.5,
                {
                    "pb/1": "covered",
                    "pb/2": "missed",
                    "pb/3": "covered",
                    "pb/4": "missed",
                    "dim-depth": "partial",
                    "pb/5": "covered",
                },
            ),
        )
        other = h.add(MENTOR, "I mentored a junior engineer.")
        h.record_grade(other, grade(5.0, {"mentoring/1": "covered"}))
        h.add(PB, "a pending answer")
        yield h


def test_flipped_points_and_score_change(history):
    cmp = compare_attempts(history, 1, 2)
    assert (cmp.question_id, cmp.score_change) == (PB, 3.5)
    assert [(p.criterion_id, p.before, p.after, p.direction) for p in cmp.points] == [
        ("pb/1", "missed", "covered", 1),
        ("pb/2", "covered", "missed", -1),
        ("pb/3", "partial", "covered", 1),
        ("pb/5", None, "covered", 0),  # not in A's rubric: shown, not counted as a flip
    ]
    assert [p.criterion_id for p in cmp.flipped_to_covered] == ["pb/1"]
    assert [p.criterion_id for p in cmp.flipped_to_missed] == ["pb/2"]
    assert [p.criterion_id for p in cmp.gained] == ["pb/1", "pb/3"]
    assert [p.criterion_id for p in cmp.lost] == ["pb/2"]


def test_reversed_order_mirrors_the_comparison(history):
    cmp = compare_attempts(history, 2, 1)
    assert cmp.score_change == -3.5
    assert [p.criterion_id for p in cmp.flipped_to_covered] == ["pb/2"]
    assert [p.criterion_id for p in cmp.flipped_to_missed] == ["pb/1"]


def test_changed_sentences_side_by_side(history):
    cmp = compare_attempts(history, 1, 2)
    assert [(s.tag, s.before, s.after) for s in cmp.sentences] == [
        (
            "changed",
            "We fix it with IPW.",
            "We fix position bias with IPW and clip the weights.",
        ),
        ("added", "", "Then we check it online with an A/B test."),
    ]
    assert cmp.unchanged_sentences == 2


@pytest.mark.parametrize(
    "before, after, expected, unchanged",
    [
        ("One. Two.", "One. Two.", [], 2),
        ("One. Two. Three.", "One. Three.", [("removed", "Two.", "")], 2),
        # Sentences are paired by meaning: a reworded one is a change, an unrelated one is not.
        (
            "We fix it with IPW.",
            "We fix position bias with IPW.",
            [("changed", "We fix it with IPW.", "We fix position bias with IPW.")],
            0,
        ),
        (
            "One.",
            "Uno. Dos.",
            [("removed", "One.", ""), ("added", "", "Uno."), ("added", "", "Dos.")],
            0,
        ),
        (
            "- first point\n- second point",
            "- first point\n- better point",
            [("changed", "second point", "better point")],
            1,
        ),
    ],
)
def test_sentence_changes(before, after, expected, unchanged):
    changes, same = sentence_changes(before, after)
    assert ([(c.tag, c.before, c.after) for c in changes], same) == (expected, unchanged)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (1, 3, DIFFERENT),
        (2, 2, "give two different attempts (both are 2)"),
        (1, 4, "attempt 4 is not graded yet; run `coach regrade 4` first"),
        (1, 99, "no attempt 99; list them with `coach history`"),
    ],
)
def test_compare_errors(history, a, b, message):
    with pytest.raises(CoachError) as info:
        compare_attempts(history, a, b)
    assert str(info.value) == message


# --- CLI (needs parts A and C of /tmp/integration/plan.py pasted into cli.py and render.py) ------


def test_cli_compare(history):
    result = runner.invoke(app, ["compare", "1", "2"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert (
        "r2-position-bias: attempt 1 (" in out
        and ") 3.0 → attempt 2 (" in out
        and ") 6.5 (+3.5)" in out
    )
    assert "point pb/1 │ ✘ missed │ ✔ covered │ ▲ better" in out
    assert "point pb/2 │ ✔ covered │ ✘ missed │ ▼ worse" in out
    assert (
        "│ We fix it with IPW. │ We fix position bias with IPW and clip the weights."
        in result.output
    )
    assert "│ │ Then we check it online with an A/B test. │" in out
    assert "Changed sentences (2 unchanged)" in out


def test_cli_compare_different_questions_is_one_line(history):
    result = runner.invoke(app, ["compare", "1", "3"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: {DIFFERENT}"]


def test_a_probe_answer_is_not_compared_with_its_parent(home):
    from coach.app import Coach
    from coach.coaching.compare import compare_attempts

    coach = Coach()
    grade = Grade(score=5.0, verdict="Partial.", criteria=[], grader="offline")
    root = coach.history.add("r2-position-bias", "Root answer.")
    coach.history.record_grade(root, grade)
    child = coach.history.add("r2-position-bias", "Probe answer.", parent_id=root)
    coach.history.record_grade(child, grade)
    with pytest.raises(CoachError, match=f"attempt {child} answers a follow-up probe"):
        compare_attempts(coach.history, root, child)
    coach.close()
