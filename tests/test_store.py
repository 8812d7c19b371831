"""Chroma store: idempotent ingest, retrieval coverage, embedded and server modes."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from coach.app import Coach
from coach.config import load_settings
from coach.corpus.bank import shipped_bank
from coach.errors import CoachError
from coach.search.ingest import ingest
from coach.search.store import NOTES, QUESTIONS, Store


def test_every_question_retrieves_its_own_note_in_top_3(ingested):
    coach = Coach()
    store = coach.store
    questions = shipped_bank().questions
    hits = store.query_many(NOTES, [q.prompt for q in questions], n=30)
    misses = []
    for q, results in zip(questions, hits):
        top_notes = []
        for h in results:
            if h.metadata["note_id"] not in top_notes:
                top_notes.append(h.metadata["note_id"])
        if not any(q.id in coach.notes[n].questions for n in top_notes[:3] if n in coach.notes):
            misses.append((q.id, top_notes[:3]))
    assert misses == []


def test_every_question_has_at_least_4_rubric_points(ingested):
    coach = Coach()
    for q in shipped_bank().questions:
        rubric = coach.rubric(q.id)
        assert len([c for c in rubric.criteria if not c.dimension]) >= 4, q.id


def test_rubric_is_deterministic_and_weighted(ingested):
    coach = Coach()
    a, b = coach.rubric("r2-position-bias"), coach.rubric("r2-position-bias")
    assert a == b
    assert a.note_ids == ["position-bias"]
    content = [c for c in a.criteria if not c.dimension]
    assert content[0].weight == 1.5 and content[-1].weight == 1.0
    assert [c.id for c in a.criteria if c.dimension] == ["dim-depth", "dim-evaluation", "dim-clarity"]


def test_ingest_is_idempotent_and_tracks_changes(home, tmp_path, monkeypatch):
    settings = load_settings()
    first = ingest(settings)
    assert first.embedded == sum(r.added for r in first.reports) > 60
    second = ingest(settings)
    assert second.embedded == 0
    assert [r.deleted for r in second.reports] == [0, 0]
    # A user bank adds questions; removing it deletes them again.
    banks = home / "banks"
    banks.mkdir(parents=True)
    (banks / "acme.rst").write_text("Acme\n####\n\n#. Round 2: X\n\n   - How would you shard a feature store?\n")
    third = ingest(settings)
    assert [(r.collection, r.added, r.deleted) for r in third.reports] == [(QUESTIONS, 1, 0), (NOTES, 0, 0)]
    (banks / "acme.rst").unlink()
    fourth = ingest(settings)
    assert [(r.collection, r.added, r.deleted) for r in fourth.reports] == [(QUESTIONS, 0, 1), (NOTES, 0, 0)]


def test_question_search(ingested):
    results = Coach().search("correcting position bias in click logs", n=3)
    assert results[0][0].id == "r2-position-bias"
    assert results[0][1] > results[1][1]


def test_corrupt_store_is_a_one_line_error(home, tmp_path, monkeypatch):
    path = tmp_path / "broken"
    path.mkdir()
    (path / "chroma.sqlite3").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("COACH_CHROMA_PATH", str(path))
    with pytest.raises(CoachError) as err:
        store = Store(load_settings())
        store.count(NOTES)
    assert "unreadable" in str(err.value) and "\n" not in str(err.value)


def test_unreachable_server_url(home, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("COACH_CHROMA_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(CoachError, match="does not answer"):
        Store(load_settings())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.server
def test_real_chroma_server(home, tmp_path, monkeypatch):
    chroma = shutil.which("chroma") or str(Path(os.sys.executable).parent / "chroma")
    if not Path(chroma).exists():
        if os.environ.get("COACH_REQUIRE_SERVER_TEST"):
            pytest.fail("the `chroma` CLI is missing but CI requires the server test")
        pytest.skip("the `chroma` CLI is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        monkeypatch.setenv("COACH_CHROMA_URL", f"http://127.0.0.1:{port}")
        deadline = time.time() + 60
        while True:
            try:
                settings = load_settings()
                Store(settings)
                break
            except CoachError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        report = ingest(settings)
        assert report.embedded > 60
        assert ingest(settings).embedded == 0
        hits = Store(settings).query(QUESTIONS, "position bias in ranking", n=1)
        assert hits[0].metadata["question_id"] == "r2-position-bias"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
