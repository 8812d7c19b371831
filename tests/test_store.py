"""Chroma store: idempotent ingest, rubrics from the store, embedded and server modes.

These tests are about the store, not the embedding model: they embed with the fake hashed
bag-of-words embedder (conftest.FakeEmbedder) through `Store(settings, embedder)`. Retrieval quality
with the real model is tested in test_embeddings.py.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from fakes import unused_port

from coach.app import Coach
from coach.config import load_settings
from coach.corpus.bank import shipped_bank
from coach.corpus.library import all_questions, all_tips
from coach.corpus.notes import load_notes
from coach.errors import CoachError
from coach.grading.rubric import DIMENSION_WEIGHT, STAFF_WEIGHT
from coach.search.ingest import ingest
from coach.search.store import NOTES, QUESTIONS, Store, note_chunks, question_documents

QID = "r2-position-bias"


def corpus_sizes(home: Path) -> tuple[int, int]:
    """How many question documents and note chunks an ingest of `home` must hold."""
    questions = question_documents(all_questions(home))
    chunks = note_chunks(load_notes() + all_tips(home))
    return len(questions), len(chunks)


def test_every_question_has_at_least_4_rubric_points(ingested):
    coach = Coach()
    short = [
        (q.id, len([c for c in coach.rubric(q.id).criteria if not c.dimension]))
        for q in shipped_bank().questions
    ]
    assert [(qid, n) for qid, n in short if n < 4] == []


def test_rubric_is_deterministic_and_weighted(ingested):
    coach = Coach()
    a, b = coach.rubric(QID), coach.rubric(QID)
    assert a == b
    assert a.note_ids == ["position-bias"]
    # Core points fall from 1.5 to 1.0 in the note's order; staff points and dimensions weigh less.
    core = [c.weight for c in a.criteria if not c.dimension and c.level == "core"]
    assert core[0] == 1.5 and core[-1] == 1.0 and core == sorted(core, reverse=True)
    assert {c.weight for c in a.criteria if not c.dimension and c.level == "staff"} <= {
        STAFF_WEIGHT
    }
    assert [(c.id, c.weight) for c in a.criteria if c.dimension] == [
        ("dim-depth", DIMENSION_WEIGHT),
        ("dim-evaluation", DIMENSION_WEIGHT),
        ("dim-clarity", DIMENSION_WEIGHT),
    ]


def test_ingest_is_idempotent_and_tracks_changes(home, fake_embedder):
    settings = load_settings()
    store = Store(settings, fake_embedder)
    questions, chunks = corpus_sizes(home)

    first = ingest(settings, store)
    assert [(r.collection, r.added, r.deleted, r.unchanged) for r in first.reports] == [
        (QUESTIONS, questions, 0, 0),
        (NOTES, chunks, 0, 0),
    ]
    assert fake_embedder.calls == questions + chunks  # every document embedded exactly once
    assert (store.count(QUESTIONS), store.count(NOTES)) == (questions, chunks)

    second = ingest(settings, Store(settings, fake_embedder))
    assert [(r.added, r.deleted, r.unchanged) for r in second.reports] == [
        (0, 0, questions),
        (0, 0, chunks),
    ]
    assert fake_embedder.calls == questions + chunks  # nothing embedded again

    # A user bank adds questions; removing it deletes them again.
    banks = home / "banks"
    banks.mkdir(parents=True)
    (banks / "acme.rst").write_text(
        "Acme\n####\n\n#. Round 2: X\n\n   - How would you shard a feature store?\n"
    )
    third = ingest(settings, Store(settings, fake_embedder))
    assert [(r.collection, r.added, r.deleted) for r in third.reports] == [
        (QUESTIONS, 1, 0),
        (NOTES, 0, 0),
    ]
    assert fake_embedder.calls == questions + chunks + 1
    (banks / "acme.rst").unlink()
    fourth = ingest(settings, Store(settings, fake_embedder))
    assert [(r.collection, r.added, r.deleted) for r in fourth.reports] == [
        (QUESTIONS, 0, 1),
        (NOTES, 0, 0),
    ]


def test_collections_are_named_by_embedder(home, fake_embedder):
    store = Store(load_settings(), fake_embedder)
    assert (store.collection_name(QUESTIONS), store.collection_name(NOTES)) == (
        "questions-hash-bow-384",
        "notes-hash-bow-384",
    )


def test_query_returns_the_nearest_documents_first_and_filters(home, fake_embedder):
    settings = load_settings()
    ingest(settings, Store(settings, fake_embedder))
    store = Store(settings, fake_embedder)
    question = next(q for q in shipped_bank().questions if q.id == QID)

    hits = store.query(QUESTIONS, question.text, n=5)
    assert (hits[0].metadata["question_id"], hits[0].text) == (QID, question.text)
    assert hits[0].similarity == pytest.approx(
        1.0, abs=1e-5
    )  # the same words: the same fake vector
    similarities = [h.similarity for h in hits]
    assert len(hits) == 5 and similarities == sorted(similarities, reverse=True)

    behavioral = store.query(QUESTIONS, question.text, n=5, where={"kind": "behavioral"})
    assert len(behavioral) == 5 and {h.metadata["kind"] for h in behavioral} == {"behavioral"}

    chunks = store.query_many(NOTES, [question.prompt, "x"], n=2)
    assert [len(c) for c in chunks] == [2, 2]


def test_query_of_an_empty_store_says_to_ingest(home, fake_embedder):
    with pytest.raises(CoachError, match="the store is empty"):
        Store(load_settings(), fake_embedder).query(QUESTIONS, "anything")


def test_corrupt_store_is_a_one_line_error(home, tmp_path, monkeypatch):
    path = tmp_path / "broken"
    path.mkdir()
    (path / "chroma.sqlite3").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("COACH_CHROMA_PATH", str(path))
    with pytest.raises(CoachError) as err:
        store = Store(load_settings())
        store.count(NOTES)
    assert str(err.value).startswith(f"the Chroma store at {path} is unreadable (")
    assert "\n" not in str(err.value)


def test_unreachable_server_url(home, monkeypatch):
    port = unused_port()
    monkeypatch.setenv("COACH_CHROMA_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(
        CoachError, match=f"Chroma server at http://127.0.0.1:{port} does not answer"
    ):
        Store(load_settings())


@pytest.mark.server
def test_real_chroma_server(home, tmp_path, monkeypatch, fake_embedder):
    """A real `chroma run` server; with COACH_REQUIRE_SERVER_TEST set, not running it is a failure."""
    chroma = shutil.which("chroma") or str(Path(os.sys.executable).parent / "chroma")
    if not Path(chroma).exists():
        if os.environ.get("COACH_REQUIRE_SERVER_TEST"):
            pytest.fail("the `chroma` CLI is missing but CI requires the server test")
        pytest.skip("the `chroma` CLI is not installed")
    port = unused_port()
    proc = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        monkeypatch.setenv("COACH_CHROMA_URL", f"http://127.0.0.1:{port}")
        settings = load_settings()
        deadline = time.time() + 60
        while True:
            try:
                Store(settings, fake_embedder)
                break
            except CoachError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.25)
        questions, chunks = corpus_sizes(home)
        report = ingest(settings, Store(settings, fake_embedder))
        assert [(r.collection, r.added, r.deleted) for r in report.reports] == [
            (QUESTIONS, questions, 0),
            (NOTES, chunks, 0),
        ]
        assert ingest(settings, Store(settings, fake_embedder)).embedded == 0
        # --rebuild never deletes a server's data: it only removes the embedded store's directory.
        assert ingest(settings, Store(settings, fake_embedder), rebuild=True).embedded == 0
        question = next(q for q in shipped_bank().questions if q.id == QID)
        hits = Store(settings, fake_embedder).query(QUESTIONS, question.text, n=2)
        assert [h.metadata["question_id"] for h in hits][:1] == [QID]
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert hits[0].text == question.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
