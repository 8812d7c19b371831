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
        ("r2-diversity-home-page-recommendation", "2", "technical", "reported", "Practical ML Applications"),
        ("r3-take-user-history-account-task", "3", "technical", "reported", "Practical ML Applications"),
        ("r4-end-ml-system-design", "4", "system-design", "predicted", "End-to-End ML System Design"),
        ("r3-handling-failures", "3", "behavioral", "predicted", "Handling Failures"),
        ("r4-culture-fit-startups-big-tech", "4", "behavioral", "predicted", "Culture Fit - Startups vs Big Tech"),
        ("r2-scaling-ml-systems", "2", "system-design", "predicted", "Scaling ML Systems"),
        ("add-reproducibility-machine-learning-experiments", "additional", "technical", "predicted", "Technical Skills"),
        ("r3-mentor-junior-researchers-engineers-help", "3", "behavioral", "predicted", "Team Leadership and Mentorship"),
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
    assert q["r3-integrate-user-embedding-downstream-task"].follows == "r3-scalability-design-user-embeddings-useful"
    assert q["r3-scalability-design-user-embeddings-useful"].follows is None
    assert q["r2-popularity-bias"].follows is None


def test_tips_become_notes_not_questions():
    bank = shipped_bank()
    assert [t.id for t in bank.tips] == ["tips-chatgpt-additional-preparation-tips", "tips-deepseek-tips-preparation"]
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
