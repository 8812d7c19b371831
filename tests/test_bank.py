"""The question bank parsed from the seed's reStructuredText."""

from pathlib import Path

import pytest

from coach.corpus.bank import load_bank_file, parse_bank, shipped_bank
from coach.corpus.library import import_bank
from coach.errors import CoachError

SEED = Path(__file__).resolve().parent.parent / "corpus" / "questions" / "meesho.rst"


def test_every_seed_question_is_parsed():
    bank = shipped_bank()
    assert len(bank.questions) == 64
    assert len({q.id for q in bank.questions}) == 64
    counts = {}
    for q in bank.questions:
        counts[(q.origin, q.round)] = counts.get((q.origin, q.round), 0) + 1
    assert counts == {
        ("Meesho", "2"): 3,
        ("Meesho", "3"): 5,
        ("ChatGPT", "2"): 7,
        ("ChatGPT", "3"): 7,
        ("ChatGPT", "4"): 8,
        ("DeepSeek", "2"): 9,
        ("DeepSeek", "3"): 8,
        ("DeepSeek", "4"): 9,
        ("DeepSeek", "additional"): 8,
    }


@pytest.mark.parametrize(
    "qid, round_, kind, source, category",
    [
        ("r2-position-bias", "2", "technical", "reported", "Practical ML Applications"),
        (
            "r2-diversity-home-page-recommendation",
            "2",
            "technical",
            "reported",
            "Practical ML Applications",
        ),
        (
            "r3-take-user-history-account-task",
            "3",
            "technical",
            "reported",
            "Practical ML Applications",
        ),
        (
            "r4-end-ml-system-design",
            "4",
            "system-design",
            "predicted",
            "End-to-End ML System Design",
        ),
        ("r3-handling-failures", "3", "behavioral", "predicted", "Handling Failures"),
        (
            "r4-culture-fit-startups-big-tech",
            "4",
            "behavioral",
            "predicted",
            "Culture Fit - Startups vs Big Tech",
        ),
        ("r2-scaling-ml-systems", "2", "system-design", "predicted", "Scaling ML Systems"),
        (
            "add-reproducibility-machine-learning-experiments",
            "additional",
            "technical",
            "predicted",
            "Technical Skills",
        ),
        (
            "r3-mentor-junior-researchers-engineers-help",
            "3",
            "behavioral",
            "predicted",
            "Team Leadership and Mentorship",
        ),
    ],
)
def test_spot_checks(qid, round_, kind, source, category):
    q = {q.id: q for q in shipped_bank().questions}[qid]
    assert (q.round, q.kind, q.source, q.category) == (round_, kind, source, category)


def test_ids_are_stable_across_parses():
    first = [q.id for q in load_bank_file(SEED, "seed").questions]
    second = [q.id for q in load_bank_file(SEED, "seed").questions]
    assert first == second


def test_follow_ups_point_at_the_opening_question():
    q = {q.id: q for q in shipped_bank().questions}
    assert (
        q["r3-integrate-user-embedding-downstream-task"].follows
        == "r3-scalability-design-user-embeddings-useful"
    )
    assert q["r3-scalability-design-user-embeddings-useful"].follows is None
    assert q["r2-popularity-bias"].follows is None


def test_tips_become_notes_not_questions():
    bank = shipped_bank()
    assert [t.id for t in bank.tips] == [
        "tips-chatgpt-additional-preparation-tips",
        "tips-deepseek-tips-preparation",
    ]
    assert not any("Emphasize scalability" in q.text for q in bank.questions)


def test_bare_topics_are_expanded_into_a_question():
    q = {q.id: q for q in shipped_bank().questions}
    assert q["r2-position-bias"].prompt.startswith("Position bias: what is it")
    assert q["r2-cold-start-problem"].prompt == q["r2-cold-start-problem"].text


ACME = """
Acme
####

#. Round 2: Coding

   - How would you dedupe a stream of events?

Predicted
*********

Round 3: Leadership
-------------------

1. Conflict:
^^^^^^^^^^^^

   - Describe a time you disagreed with your manager.
"""


def test_import_adds_a_bank_without_touching_the_shipped_one(tmp_path):
    source = tmp_path / "acme.rst"
    source.write_text(ACME, encoding="utf-8")
    name, parsed = import_bank(tmp_path / "home", source)
    assert name == "acme"
    assert [(q.id, q.round, q.source, q.kind) for q in parsed.questions] == [
        ("acme-r2-dedupe-stream-events", "2", "reported", "technical"),
        ("acme-r3-disagreed-manager", "3", "predicted", "behavioral"),
    ]
    assert (tmp_path / "home" / "banks" / "acme.rst").is_file()
    assert len(shipped_bank().questions) == 64


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no titled section"),
        (b"just a paragraph\n", "no titled section"),
        (b"Title\n=====\n\nno lists here\n", "no questions found"),
        (b"\xff\xfe bad", "not UTF-8"),
        (b"Title\n=====\n\x00\n", "NUL"),
    ],
)
def test_bad_bank_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bank.rst"
    path.write_bytes(content)
    with pytest.raises(CoachError) as err:
        load_bank_file(path, "x")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_directory_files(tmp_path):
    with pytest.raises(CoachError, match="no such file"):
        load_bank_file(tmp_path / "nope.rst", "x")
    with pytest.raises(CoachError, match="is a directory"):
        load_bank_file(tmp_path, "x")


def test_parse_bank_never_raises_anything_but_coach_error():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None)
    @given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400))
    def check(text):
        try:
            parse_bank(text)
        except CoachError:
            pass

    check()


ACME_MD = """# Acme ML loop
## Round 2
- What is the bias-variance trade-off?
- What is popularity bias in recommender systems and how would you correct it?
- Explain the difference between L1 and L2 regularisation.
  kind: technical
  reference: L1 adds the sum of absolute weights and drives many weights to exactly zero.
    L2 adds the sum of squared weights and shrinks all weights smoothly.
## Round 3
1. Tell me about a time you disagreed with your manager.
"""


def test_a_markdown_bank_is_parsed_exactly(tmp_path):
    path = tmp_path / "acme.md"
    path.write_text(ACME_MD)
    parsed = load_bank_file(path, bank="acme")
    assert [(q.id, q.round, q.kind, q.origin, q.source) for q in parsed.questions] == [
        ("r2-bias-variance-trade-off", "2", "technical", "Acme ML loop", "own"),
        ("r2-popularity-bias-recommender-systems-correct", "2", "technical", "Acme ML loop", "own"),
        ("r2-difference-between-l1-l2-regularisation", "2", "technical", "Acme ML loop", "own"),
        ("r3-disagreed-manager", "3", "behavioral", "Acme ML loop", "own"),
    ]
    assert parsed.questions[2].reference == (
        "L1 adds the sum of absolute weights and drives many weights to exactly zero. "
        "L2 adds the sum of squared weights and shrinks all weights smoothly."
    )
    # A user's own question is shown as written: no wording is appended to a bare topic.
    bare = load_bank_file(
        _write(tmp_path, "t.md", "## Round 2\n- Position bias\n"), bank="t"
    ).questions[0]
    assert bare.prompt == "Position bias"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_an_unrecognised_file_gets_a_one_line_error_with_an_example(tmp_path):
    with pytest.raises(CoachError) as err:
        load_bank_file(
            _write(tmp_path, "list.md", "Round 2: Technical\n1. What is overfitting?\n"), bank="x"
        )
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"{tmp_path / 'list.md'}: no questions found; write a .md file like '## Round 2'"
    )


def test_import_reports_each_rubric_source_and_refuses_ungradable_questions(ingested, tmp_path):
    from typer.testing import CliRunner

    from coach.app import Coach
    from coach.cli.app import app

    path = _write(tmp_path, "acme.md", ACME_MD)
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    coach = Coach()
    sources = {q.id: coach.rubric_source(q.id) for q in coach.questions if q.bank == "acme"}
    assert {qid: (s.kind, s.note_ids, s.like) for qid, s in sources.items()} == {
        "acme-r2-bias-variance-trade-off": ("none", [], ""),
        "acme-r2-popularity-bias-recommender-systems-correct": (
            "borrowed",
            ["popularity-bias"],
            "r2-popularity-bias",
        ),
        "acme-r2-difference-between-l1-l2-regularisation": ("reference", [], ""),
        "acme-r3-disagreed-manager": ("none", [], ""),
    }
    assert "2 question(s) have no rubric and cannot be graded" in result.output
    assert "its reference answer" in result.output and "(similarity 0.78)" in result.output
    # The bias-variance question is not graded against the bias notes: it is refused, nothing saved.
    answer = _write(
        tmp_path,
        "a.md",
        "Bias is error from a too-simple model; variance is sensitivity to the sample.",
    )
    refused = CliRunner().invoke(
        app, ["grade", "acme-r2-bias-variance-trade-off", "-f", str(answer)]
    )
    assert refused.exit_code == 1
    assert "has no rubric, so it cannot be graded" in refused.output
    assert coach.history.list() == []
    listed = CliRunner().invoke(app, ["questions", "--source", "acme"])
    assert listed.output.count("acme-r") == 4
    graded = CliRunner().invoke(
        app,
        ["grade", "acme-r2-difference-between-l1-l2-regularisation", "-f", str(answer), "--json"],
    )
    assert graded.exit_code == 0, graded.output
    assert [
        c.source
        for c in coach.rubric("acme-r2-difference-between-l1-l2-regularisation").criteria
        if not c.dimension
    ] == ["reference", "reference"]


def test_only_a_question_no_note_serves_needs_the_store(ingested, tmp_path, monkeypatch):
    """A shipped question is graded from its notes without opening the vector store (importing chromadb
    costs as much as the grade); a borrowed rubric needs the store."""
    from fakes import unused_port
    from typer.testing import CliRunner

    from coach.app import Coach
    from coach.cli.app import app

    path = _write(tmp_path, "acme.md", ACME_MD)
    assert CliRunner().invoke(app, ["import", str(path)]).exit_code == 0
    port = unused_port()
    monkeypatch.setenv("COACH_CHROMA_URL", f"http://127.0.0.1:{port}")
    answer = _write(
        tmp_path,
        "a.md",
        "Popular items get shown more, so they get clicked more, and the loop feeds itself.",
    )

    shipped = CliRunner().invoke(app, ["grade", "r2-popularity-bias", "-f", str(answer)])
    assert shipped.exit_code == 0, shipped.output
    # The borrowed rubric is looked up before the answer is saved (a question nothing can grade is
    # refused up front), so an unreachable store refuses it with one line; the answer file is untouched.
    borrowed = CliRunner().invoke(
        app, ["grade", "acme-r2-popularity-bias-recommender-systems-correct", "-f", str(answer)]
    )
    assert borrowed.exit_code == 1
    assert f"Chroma server at http://127.0.0.1:{port} does not answer" in borrowed.output
    assert [(a.id, a.status) for a in Coach().history.list()] == [(1, "graded")]
