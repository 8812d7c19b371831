"""Settings from environment and .env, masked secrets, one-line errors."""

import pytest

from coach.config import describe, load_settings, mask
from coach.errors import CoachError


def test_defaults_grade_offline(home):
    s = load_settings()
    assert s.grader == "offline"
    assert s.coach_home == home
    assert s.chroma_path == home / "chroma"


def test_env_file_and_environment_sources(home, tmp_path, monkeypatch):
    env = tmp_path / "my.env"
    env.write_text(
        "COACH_MODEL=llama3.1\nOPENAI_BASE_URL=http://127.0.0.1:11434/v1\n", encoding="utf-8"
    )
    monkeypatch.setenv("COACH_ENV_FILE", str(env))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-SECRETSECRET9876")
    s = load_settings()
    assert s.coach_model == "llama3.1"
    assert s.grader == "llm"
    rows = {v: (shown, src) for v, shown, src in describe(s)}
    assert rows["COACH_MODEL"] == ("llama3.1", f".env ({env})")
    assert rows["OPENAI_API_KEY"] == ("sk-...9876", "environment")
    assert rows["COACH_GRADER"] == ("auto", "default")


@pytest.mark.parametrize(
    "secret, shown",
    [("sk-proj-abcdefgh1234", "sk-...1234"), ("short", "****"), ("tokenvalue99", "...ue99")],
)
def test_mask(secret, shown):
    assert mask(secret) == shown


@pytest.mark.parametrize(
    "variable, value",
    [
        ("COACH_LLM_TIMEOUT", "soon"),
        ("COACH_GRADER", "magic"),
        ("COACH_EMBEDDER", "bert"),
        ("COACH_LLM_TIMEOUT", "-1"),
    ],
)
def test_malformed_value_names_the_variable(home, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(CoachError) as err:
        load_settings()
    assert str(err.value).startswith(f"{variable}:")


def test_malformed_env_file(home, tmp_path, monkeypatch):
    env = tmp_path / "bad.env"
    env.write_text("COACH_MODEL=ok\nthis is not an assignment\n", encoding="utf-8")
    monkeypatch.setenv("COACH_ENV_FILE", str(env))
    with pytest.raises(CoachError, match="line 2 is not KEY=VALUE"):
        load_settings()
