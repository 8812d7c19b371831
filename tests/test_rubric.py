"""Rubrics fit their question: only the key points tagged for it, its own dimensions, staff points as a bonus."""

from __future__ import annotations

import pytest

from coach.corpus.bank import shipped_bank
from coach.corpus.notes import load_notes, parse_note
from coach.grading.rubric import from_notes

QUESTIONS = shipped_bank().questions
NOTES = {n.id: n for n in load_notes()}
USER_EMBEDDING_QUESTIONS = [
    "r3-scalability-design-user-embeddings-useful",
    "r3-architecture-choice-better-than-alternatives",
    "r3-work-pretrain-embeddings",
    "r3-integrate-user-embedding-downstream-task",
    "r3-take-user-history-account-task",
]


def rubric_for(question_id: str):
    question = next(q for q in QUESTIONS if q.id == question_id)
    return from_notes(question, [n for n in NOTES.values() if question_id in n.questions])


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_every_seed_rubric_holds_only_points_tagged_for_its_question(question):
    rubric = rubric_for(question.id)
    content = [c for c in rubric.criteria if not c.dimension]
    for c in content:
        note_id, number = c.id.split("/")
        point = NOTES[note_id].points[int(number) - 1]
        assert point.text == c.text
        assert point.fits(question.id), f"{c.id} is not tagged for {question.id}"
        assert c.level == point.level
    assert sum(c.level == "core" for c in content) >= 4


def test_the_user_embedding_and_history_questions_each_get_their_own_rubric():
    texts = {q: frozenset(c.text for c in rubric_for(q).criteria if not c.dimension) for q in USER_EMBEDDING_QUESTIONS}
    for a in USER_EMBEDDING_QUESTIONS:
        for b in USER_EMBEDDING_QUESTIONS:
            if a < b:
                assert not texts[a] & texts[b], f"{a} and {b} share points"


def test_a_question_without_evaluation_in_it_is_not_graded_on_evaluation():
    dims = [c.id for c in rubric_for("r3-architecture-choice-better-than-alternatives").criteria if c.dimension]
    assert "dim-evaluation" not in dims
    assert dims == [f"dim-{k}" for k in NOTES["user-embeddings-architecture"].dimensions[
        "r3-architecture-choice-better-than-alternatives"]]


def test_process_behavioral_questions_ask_for_practices_not_a_past_story():
    dims = [c.id for c in rubric_for("r3-team-collaboration").criteria if c.dimension]
    assert "dim-star" not in dims and "dim-practices" in dims


NOTE = """---
id: demo
title: Demo
topics: [demo]
kind: technical
questions: [q-a, q-b]
dimensions:
  q-b: [depth, clarity]
---
## Key points
- Shared point that applies to both questions of this note.
  - Says: both get this
  - Wrong: nobody gets this => everybody gets this.
- [for: q-a] Only the first question is graded on this point here.
- [staff; for: q-b] A staff-level bonus point for the second question only.

## Follow-up probes
- [for: q-b] Why?
  - Expects: Because of the reason stated here in one sentence.
"""


def test_tags_levels_examples_and_probe_expectations_are_parsed_exactly():
    note = parse_note(NOTE, "demo.md")
    assert [p.text for p in note.points_for("q-a")] == [
        "Shared point that applies to both questions of this note.",
        "Only the first question is graded on this point here.",
    ]
    assert [(p.level, p.questions) for p in note.points_for("q-b")] == [("core", []), ("staff", ["q-b"])]
    assert note.points[0].says == ["both get this"]
    assert [(w.claim, w.correction) for w in note.points[0].wrong] == [("nobody gets this", "everybody gets this.")]
    assert [(p.text, p.questions, p.expects) for p in note.probe_items] == [
        ("Why?", ["q-b"], ["Because of the reason stated here in one sentence."])
    ]
    assert note.dimensions == {"q-b": ["depth", "clarity"]}


def test_staff_points_weigh_less_and_say_so():
    rubric = rubric_for("r3-integrate-user-embedding-downstream-task")
    staff = [c for c in rubric.criteria if c.level == "staff"]
    core = [c for c in rubric.criteria if c.level == "core" and not c.dimension]
    assert staff and all(c.weight == 0.75 for c in staff)
    assert [c.weight for c in core] == sorted((c.weight for c in core), reverse=True)
    assert core[0].weight == 1.5 and core[-1].weight == 1.0


def test_a_strong_senior_answer_to_the_integration_question_is_not_capped_below_8(ingested):
    """The excellent answer to the integration question in the independent calibration set (written
    blind, scored 9+ by its author) makes every core point but not the staff ones: an LLM that
    grades it 8.5 is not capped by the consistency guard, which counts only required points."""
    import csv
    from pathlib import Path

    from fakes import FakeChatModel, grade_args, tool_reply

    from coach.app import Coach
    from coach.llm import client as llm

    qid = "r3-integrate-user-embedding-downstream-task"
    path = Path(__file__).resolve().parent.parent / "corpus" / "calibration" / "independent.csv"
    answer = next(
        r["answer"] for r in csv.DictReader(path.open(encoding="utf-8")) if r["question_id"] == qid and r["label"] == "excellent"
    )
    coach = Coach()
    rubric = coach.rubric(qid)
    statuses = {c.id: "covered" for c in rubric.criteria if c.level == "core"}
    llm.set_chat_model_factory(lambda settings: FakeChatModel(tool_reply(grade_args(rubric, 8.5, statuses, answer))))
    try:
        grade = coach.grade_rubric(rubric, answer, "llm")
    finally:
        llm.set_chat_model_factory(None)
    assert grade.score == 8.5
    assert not any(f.startswith("inconsistent") for f in grade.flags)
    coach.close()
