"""Secrets and privacy: a planted API key never shows up in output, logs, exceptions, --json,
exports or the history database, even when the server echoes it back; `forget --all` leaves no
answer text on disk; an export holds only what was asked for."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx
from fakes import RESPX_USING, FakeChatModel, grade_args, tool_reply
from typer.testing import CliRunner

from coach.app import Coach
from coach.cli.app import app
from coach.config import describe, load_settings
from coach.llm import client as llm
from coach.storage import Storage
from coach.storage.migrations import LATEST

KEY = "sk-proj-PLANTEDsecretKEY-7c1d9e2f4a6b"
QID = "r2-position-bias"
OTHER_QID = "r2-cold-start-problem"
CHAT_URL = "https://api.openai.com/v1/chat/completions"
MARKER = "ZEBRA-PRIVATE-MARKER-4242"
ANSWER = (
    f"Position bias means users click higher-ranked items partly because of where they sit ({MARKER}). "
    "I would estimate examination propensities by randomizing the top slots on a small traffic slice."
)

runner = CliRunner()


@pytest.fixture
def planted(ingested, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)  # every logger, every level: nothing may carry the key
    yield ingested
    llm.set_chat_model_factory(None)


def echoing(status: int) -> httpx.Response:
    """A server error whose body repeats the key (some proxies and local servers do)."""
    body = {
        "error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}
    }
    return httpx.Response(status, json=body, headers={"retry-after": "0"})


def database_bytes(home) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("history.sqlite*")))


def test_planted_key_never_leaks(planted, tmp_path, caplog, monkeypatch):
    import time
    import types

    import openai._base_client as base

    no_wait = types.SimpleNamespace(
        sleep=lambda seconds: None, time=time.time, monotonic=time.monotonic
    )
    monkeypatch.setattr(base, "time", no_wait)  # retries of the 500 without waiting
    answer = tmp_path / "a.md"
    answer.write_text(ANSWER, encoding="utf-8")
    rubric = Coach().rubric(QID)
    outputs = []

    # 1. A graded answer through the fake model, with --json.
    fake = FakeChatModel(tool_reply(grade_args(rubric, 5.0, "covered", evidence_from=ANSWER)))
    llm.set_chat_model_factory(lambda settings: fake)
    ok = runner.invoke(app, ["grade", QID, "-f", str(answer), "--json"])
    assert ok.exit_code == 0, ok.output
    outputs.append(ok.output)

    # 2. The real client against servers that echo the key: 401, 400 and 500 (retried).
    llm.set_chat_model_factory(None)
    for status in (401, 400, 500):
        with respx.mock(using=RESPX_USING, assert_all_mocked=True) as router:
            router.post(CHAT_URL).mock(return_value=echoing(status))
            failed = runner.invoke(app, ["grade", QID, "-f", str(answer)])
        assert failed.exit_code == 3, failed.output
        assert failed.exception is None or isinstance(failed.exception, SystemExit)
        outputs.append(failed.output)
    assert (
        "error: attempt 2 saved but not graded: https://api.openai.com/v1 rejected the API key (401)"
        in outputs[1]
    )
    assert "answered HTTP 400: Incorrect API key provided: ***" in outputs[2]

    # 3. Everything else a user can look at.
    export = tmp_path / "export.jsonl"
    for argv in (
        ["history"],
        ["show", "2"],
        ["show", "1"],
        ["config"],
        ["history", "--export", str(export)],
    ):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    outputs.append(export.read_text(encoding="utf-8"))
    with Storage.open(planted / "history.sqlite") as storage:
        errors = [a.error for a in storage.attempts.list()]
    assert errors[:3] and all(errors[:3])  # the failures were recorded...

    for text in [*outputs, *errors, caplog.text]:
        assert KEY not in text  # ...without the key
        assert KEY[8:20] not in text  # nor a recognisable piece of it
    assert KEY.encode() not in database_bytes(planted)
    assert "sk-...6b" in outputs[-3] or "sk-...4a6b" in outputs[-3]  # `coach config` masks


def test_urls_with_credentials_are_masked_in_config(home, monkeypatch):
    monkeypatch.setenv(
        "OPENAI_BASE_URL", "https://alice:s3cretpass@llm.example/v1?api-key=abcdef123456"
    )
    monkeypatch.setenv("COACH_CHROMA_URL", "http://bob:hunter22@127.0.0.1:8000")
    shown = {variable: value for variable, value, _ in describe(load_settings())}
    assert shown["OPENAI_BASE_URL"] == "https://***@llm.example/v1?***"
    assert shown["COACH_CHROMA_URL"] == "http://***@127.0.0.1:8000"
    result = runner.invoke(app, ["config"])
    for secret in ("s3cretpass", "abcdef123456", "hunter22"):
        assert secret not in result.output


def test_redact_removes_the_key_and_url_credentials(home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv(
        "OPENAI_BASE_URL", "https://alice:s3cretpass@llm.example/v1?api-key=abcdef123456"
    )
    settings = load_settings()
    text = f"failed with {KEY} at https://alice:s3cretpass@llm.example/v1?api-key=abcdef123456"
    assert llm.redact(text, settings) == "failed with *** at https://***@llm.example/v1?***"


def table_counts(home) -> dict[str, int]:
    """Rows in every table of the history file, read straight from the file."""
    with Storage.open(home / "history.sqlite") as storage:
        connection = storage.database.connection
        tables = [
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: connection.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_forget_all_removes_attempts_review_state_and_leaves_no_answer_text_on_disk(planted):
    from coach.coaching import srs as review

    llm.set_chat_model_factory(None)
    coach = Coach()
    for _ in range(3):
        assert coach.answer(QID, ANSWER, grader="offline").grade is not None
    storage = coach.storage
    review.sync(storage)  # review state derived from the graded attempts
    mock = storage.rounds.start("2", 30, [QID, OTHER_QID])
    storage.rounds.save_item(mock.id, mock.items[0].model_copy(update={"attempt_id": 1}))
    before = table_counts(planted)
    assert before["attempts"] == 3 and before["cards"] > 0 and before["mock_items"] == 2
    assert MARKER.encode() in database_bytes(planted)
    coach.close()

    result = runner.invoke(app, ["forget", "--all", "--yes"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Deleted 3 attempts")
    # Every table is empty except the record of schema migrations, which must survive.
    assert table_counts(planted) == {**dict.fromkeys(before, 0), "_migrations": LATEST}
    assert MARKER.encode() not in database_bytes(planted)  # overwritten, and the WAL emptied


def test_forget_one_attempt_leaves_its_text_nowhere_on_disk(planted):
    coach = Coach()
    keep = coach.history.add(QID, "An answer to keep.")
    gone = coach.history.add(QID, ANSWER)
    coach.history.delete(gone)
    assert [a.id for a in coach.history.list()] == [keep]
    assert MARKER.encode() not in database_bytes(planted)


def test_export_holds_only_the_attempts_asked_for(planted, tmp_path):
    """Needs /tmp/integration/reliability.py pasted: `history --export` honours --question."""
    with Storage.open(planted / "history.sqlite") as storage:
        storage.attempts.add(QID, ANSWER)
        storage.attempts.add(OTHER_QID, "Cold start: use content features and popularity priors.")
    everything, one = tmp_path / "all.jsonl", tmp_path / "one.jsonl"

    assert runner.invoke(app, ["history", "--export", str(everything)]).exit_code == 0
    result = runner.invoke(app, ["history", "--export", str(one), "--question", OTHER_QID])

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    assert [r["question_id"] for r in rows] == [OTHER_QID]
    assert set(rows[0]) == {
        "id",
        "question_id",
        "answer",
        "created_at",
        "status",
        "grader",
        "grade",
        "error",
        "parent_id",
        "delivery",
    }
    assert len(everything.read_text(encoding="utf-8").splitlines()) == 2
    assert one.stat().st_mode & 0o777 == 0o600
