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
    texts = {
        q: frozenset(c.text for c in rubric_for(q).criteria if not c.dimension)
        for q in USER_EMBEDDING_QUESTIONS
    }
    for a in USER_EMBEDDING_QUESTIONS:
        for b in USER_EMBEDDING_QUESTIONS:
            if a < b:
                assert not texts[a] & texts[b], f"{a} and {b} share points"


def test_a_question_without_evaluation_in_it_is_not_graded_on_evaluation():
    dims = [
        c.id
        for c in rubric_for("r3-architecture-choice-better-than-alternatives").criteria
        if c.dimension
    ]
    assert "dim-evaluation" not in dims
    assert dims == [
        f"dim-{k}"
        for k in NOTES["user-embeddings-architecture"].dimensions[
            "r3-architecture-choice-better-than-alternatives"
        ]
    ]


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
    assert [(p.level, p.questions) for p in note.points_for("q-b")] == [
        ("core", []),
        ("staff", ["q-b"]),
    ]
    assert note.points[0].says == ["both get this"]
    assert [(w.claim, w.correction) for w in note.points[0].wrong] == [
        ("nobody gets this", "everybody gets this.")
    ]
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
        r["answer"]
        for r in csv.DictReader(path.open(encoding="utf-8"))
        if r["question_id"] == qid and r["label"] == "excellent"
    )
    coach = Coach()
    rubric = coach.rubric(qid)
    statuses = {c.id: "covered" for c in rubric.criteria if c.level == "core"}
    llm.set_chat_model_factory(
        lambda settings: FakeChatModel(tool_reply(grade_args(rubric, 8.5, statuses, answer)))
    )
    try:
        grade = coach.grade_rubric(rubric, answer, "llm")
    finally:
        llm.set_chat_model_factory(None)
    assert grade.score == 8.5
    assert not any(f.startswith("inconsistent") for f in grade.flags)
    coach.close()


# --- contrastive examples (corpus/examples/<note>.json) ------------------------------------------


def test_shipped_notes_carry_their_examples_beside_their_own_lines():
    from coach.corpus.bank import corpus_dir
    from coach.corpus.notes import read_examples

    path = corpus_dir() / "notes" / "popularity-bias.md"
    own = parse_note(path.read_text(encoding="utf-8"), "popularity-bias.md")
    loaded = NOTES["popularity-bias"]
    for mine, point in zip(own.points, loaded.points):
        assert point.says[: len(mine.says)] == mine.says  # the note's own lines first, unchanged
        assert point.wrong[: len(mine.wrong)] == mine.wrong
    # Every shipped point but two has examples: more correct phrasings and more wrong claims, the
    # latter without a correction of their own (the point itself says what is true).
    examples = {n: read_examples(corpus_dir() / "examples" / f"{n}.json") for n in NOTES}
    with_examples = [p for n in NOTES.values() for p in n.points if p.text in examples[n.id]]
    assert len(with_examples) >= sum(len(n.points) for n in NOTES.values()) - 2
    extra = [w for w in loaded.points[0].wrong if not w.correction]
    assert extra and all(w.claim for w in extra)
    assert len(loaded.points[0].says) > len(own.points[0].says)


def test_corpus_check_reports_examples_for_a_point_the_note_no_longer_has(tmp_path):
    from coach.corpus.bank import corpus_dir
    from coach.corpus.lint import check_corpus

    (tmp_path / "notes").mkdir()
    (tmp_path / "examples").mkdir()
    source = corpus_dir() / "notes" / "popularity-bias.md"
    (tmp_path / "notes" / "popularity-bias.md").write_text(
        source.read_text(encoding="utf-8"), encoding="utf-8"
    )
    stale = {
        "note": "popularity-bias",
        "points": [{"point": "A point that was rewritten since.", "says": ["x"], "wrong": []}],
    }
    (tmp_path / "examples" / "popularity-bias.json").write_text(
        __import__("json").dumps(stale), encoding="utf-8"
    )
    problems = check_corpus(QUESTIONS, tmp_path / "notes").problems
    assert (
        "examples/popularity-bias.json: no key point reads 'A point that was rewritten since.'"
        in problems
    )

    (tmp_path / "examples" / "popularity-bias.json").write_text("{not json", encoding="utf-8")
    problems = check_corpus(QUESTIONS, tmp_path / "notes").problems
    assert any(
        p.startswith(f"{tmp_path / 'examples' / 'popularity-bias.json'}: unreadable examples")
        for p in problems
    )


def test_an_example_wrong_claim_may_carry_its_own_correction(tmp_path):
    from coach.corpus.bank import corpus_dir

    (tmp_path / "notes").mkdir()
    (tmp_path / "examples").mkdir()
    source = corpus_dir() / "notes" / "popularity-bias.md"
    (tmp_path / "notes" / "popularity-bias.md").write_text(
        source.read_text(encoding="utf-8"), encoding="utf-8"
    )
    point = parse_note(source.read_text(encoding="utf-8"), "popularity-bias.md").points[0]
    examples = {
        "note": "popularity-bias",
        "points": [
            {
                "point": point.text,
                "says": [],
                "wrong": [
                    "a claim without a correction",
                    {"claim": "a claim with one", "correction": "what is true instead."},
                ],
            }
        ],
    }
    (tmp_path / "examples" / "popularity-bias.json").write_text(
        __import__("json").dumps(examples), encoding="utf-8"
    )
    loaded = load_notes(tmp_path / "notes")[0].points[0]
    assert [(w.claim, w.correction) for w in loaded.wrong[len(point.wrong) :]] == [
        ("a claim without a correction", ""),
        ("a claim with one", "what is true instead."),
    ]
