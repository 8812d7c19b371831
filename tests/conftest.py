"""Shared fixtures: a private COACH_HOME per test, one ingested Chroma store per session, and a small
deterministic embedder for the store tests, where the real embedding model is not the point (hand
it to `Store(settings, embedder)`)."""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np
import pytest

from coach.llm import client as llm

CLEARED = [
    "COACH_TRANSCRIBER",
    "COACH_WHISPER_MODEL",
    "COACH_TRANSCRIPTION_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "COACH_MODEL",
    "COACH_GRADER",
    "COACH_CHROMA_URL",
    "COACH_CHROMA_PATH",
    "COACH_EMBEDDER",
    "COACH_FALLBACK",
    "COACH_LLM_TIMEOUT",
]


class FakeEmbedder:
    """A hashed bag of words: each lower-cased word adds +-1 to one of 384 dimensions (chosen by its
    MD5, so the same in every process), then the vector is L2-normalized. Texts with the same words
    have similarity 1, texts sharing no word about 0. Embedding 400 chunks takes milliseconds where
    MiniLM takes tens of seconds; `calls` counts how many texts it was asked to embed."""

    dimension = 384

    def __init__(self, name: str = "hash-bow-384"):
        self.name = name
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.md5(word.encode("utf-8")).digest()
                index = int.from_bytes(digest[:4], "little") % self.dimension
                out[row, index] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:  # no words: a fixed unit vector (Chroma's cosine needs a non-zero one)
                out[row, 0], norm = 1.0, 1.0
            out[row] /= norm
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory):
    """An embedded Chroma store with the shipped corpus ingested once for the whole run, by the real
    embedder: the one MiniLM ingest of the run, shared by every test that grades through a Coach
    (rubrics come from it) and by the retrieval-quality tests in test_embeddings.py."""
    from coach.config import load_settings
    from coach.search.ingest import ingest

    home = tmp_path_factory.mktemp("store-home")
    path = home / "chroma"
    saved = {k: os.environ.pop(k, None) for k in CLEARED}
    try:
        ingest(load_settings(coach_home=home, coach_chroma_path=path))
    finally:
        for k, v in saved.items():
            if v is not None:
                os.environ[k] = v
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    """COACH_HOME in a temp dir, no LLM configured, no .env picked up from the working directory."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COACH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COACH_ENV_FILE", str(tmp_path / "no.env"))
    yield tmp_path / "home"
    llm.set_chat_model_factory(None)


@pytest.fixture
def ingested(home, store_dir, monkeypatch):
    """A private home whose Chroma store is the session's ingested one."""
    monkeypatch.setenv("COACH_CHROMA_PATH", str(store_dir))
    return home
