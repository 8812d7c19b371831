"""Shared fixtures: a private COACH_HOME per test, one ingested Chroma store per session."""

from __future__ import annotations

import os

import pytest

from coach.llm import client as llm

CLEARED = [
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


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory):
    """An embedded Chroma store with the shipped corpus ingested once for the whole run."""
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
