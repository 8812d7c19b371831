"""LLM faults at the HTTP layer: the real ChatOpenAI and openai client against respx routes.

Timeouts, 429 and 5xx are retried by the openai client (at most 3 tries, exponential backoff with
jitter, Retry-After honoured); a refused connection and a 401 fail at once. After the retries the
attempt stays pending with the reason, `regrade` finishes it, and COACH_FALLBACK=offline grades it
offline instead. The client's sleep is replaced by a fake clock (fakes.use_fake_clock), so the
delays it *would* wait are asserted exactly and the tests take no time.
"""

from __future__ import annotations

import json

import httpx
import httpx2
import pytest
import respx
from fakes import RESPX_USING, chat_completion, grade_args, unused_port, use_fake_clock
from typer.testing import CliRunner

from coach.app import Coach
from coach.cli.app import app
from coach.config import load_settings
from coach.grading.rubric import from_reference
from coach.llm import client as llm
from coach.llm.structured import cached_method

KEY = "sk-test-FAULTS-9876wxyz"
QID = "r2-position-bias"
CHAT_URL = "https://api.openai.com/v1/chat/completions"
ENDPOINT = "https://api.openai.com/v1"
ANSWER = (
    "Position bias means users click higher-ranked items partly because of where they sit. "
    "I would estimate examination propensities by randomly swapping items on a small traffic slice. "
    "Then I would train with inverse propensity weighting and clip the weights to control variance."
)
REFERENCE = ANSWER


@pytest.fixture
def clock(monkeypatch):
    return use_fake_clock(monkeypatch)


@pytest.fixture
def coach(home, monkeypatch):
    """A Coach with the real ChatOpenAI (no fake), a 5 s timeout and a fixed rubric (no store)."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("COACH_LLM_TIMEOUT", "5")
    llm.set_chat_model_factory(None)
    rubric = from_reference(QID, "Position bias: what is it and how do you correct it?", REFERENCE)
    monkeypatch.setattr(Coach, "rubric", lambda self, question_id: rubric)
    c = Coach()
    assert c.settings.grader == "llm" and c.settings.coach_llm_timeout == 5.0
    yield c
    if "history" in c.__dict__:
        c.close()


@pytest.fixture
def http():
    with respx.mock(using=RESPX_USING, assert_all_mocked=True, assert_all_called=True) as router:
        yield router


def ok(coach: Coach, score: float = 6.0) -> httpx.Response:
    rubric = coach.rubric(QID)
    args = grade_args(rubric, score, "covered", evidence_from=ANSWER)
    return httpx.Response(200, json=chat_completion(tool_args=args))


def error(status: int, headers: dict | None = None, message: str = "try later") -> httpx.Response:
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return httpx.Response(status, json=body, headers=headers or {})


def assert_pending(coach: Coach, outcome, message: str) -> None:
    assert outcome.grade is None
    assert outcome.error == message
    attempt = coach.history.get(outcome.attempt_id)
    assert (attempt.status, attempt.error, attempt.answer, attempt.grade) == (
        "pending",
        message,
        ANSWER,
        None,
    )
    assert [a.id for a in coach.history.pending()] == [outcome.attempt_id]
    assert KEY not in message


# --- retried faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_is_retried_honouring_retry_after_then_graded(coach, http, clock, status):
    route = http.post(CHAT_URL).mock(
        side_effect=[
            error(status, {"retry-after": "0.25"}),
            error(status, {"retry-after-ms": "400"}),
            ok(coach),
        ]
    )

    outcome = coach.answer(QID, ANSWER)

    assert outcome.error == "" and outcome.grade.score == 6.0
    assert route.call_count == 3
    assert clock.sleeps == [0.25, 0.4]  # exactly what the server asked for
    assert coach.history.get(outcome.attempt_id).status == "graded"


def test_backoff_without_retry_after_is_exponential_with_jitter(coach, http, clock):
    route = http.post(CHAT_URL).mock(side_effect=[error(503), error(503), ok(coach)])

    coach.answer(QID, ANSWER)

    assert route.call_count == 3
    first, second = clock.sleeps
    assert 0.5 * 0.75 <= first <= 0.5  # 0.5 s less up to 25% jitter
    assert 1.0 * 0.75 <= second <= 1.0  # doubled


@pytest.mark.parametrize(
    "status, message",
    [
        (429, f"{ENDPOINT} is rate limiting (429) after retries; retry later"),
        (500, f"{ENDPOINT} answered HTTP 500 after retries"),
        (503, f"{ENDPOINT} answered HTTP 503 after retries"),
    ],
)
def test_persistent_fault_stops_after_three_tries_and_leaves_the_attempt_pending(
    coach, http, clock, status, message
):
    route = http.post(CHAT_URL).mock(return_value=error(status, {"retry-after": "0.1"}))

    outcome = coach.answer(QID, ANSWER)

    assert route.call_count == 3  # never a fourth try (and no JSON-mode retry of a plain 5xx)
    assert clock.sleeps == [0.1, 0.1]
    assert_pending(coach, outcome, message)


def test_timeout_is_retried_three_times_then_pending(coach, http, clock):
    def hang(request):
        raise httpx2.ReadTimeout("timed out")

    route = http.post(CHAT_URL).mock(side_effect=hang)

    outcome = coach.answer(QID, ANSWER)

    assert route.call_count == 3
    assert len(clock.sleeps) == 2
    assert_pending(
        coach, outcome, f"{ENDPOINT} timed out after 5 s; raise COACH_LLM_TIMEOUT or retry later"
    )


def test_the_timeout_setting_reaches_the_client(coach):
    model = llm.chat_model(coach.settings)
    assert model.root_client.timeout == 5.0
    assert model.root_client.max_retries == llm.MAX_TRIES - 1 == 2
    from coach.config import Settings

    assert Settings.model_fields["coach_llm_timeout"].default == 60.0


def test_retry_after_beyond_two_minutes_is_not_waited_for(coach, http, clock):
    route = http.post(CHAT_URL).mock(return_value=error(429, {"retry-after": "600"}))

    outcome = coach.answer(QID, ANSWER)

    assert route.call_count == 1 and clock.sleeps == []
    assert_pending(coach, outcome, f"{ENDPOINT} is rate limiting (429) after retries; retry later")


# --- faults that fail fast -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [httpx2.ConnectError, httpx.ConnectError], ids=["httpx2", "classic-httpx"]
)
def test_connection_refused_fails_at_once(coach, http, clock, exc):
    def refuse(request):
        raise exc("[Errno 111] Connection refused")

    route = http.post(CHAT_URL).mock(side_effect=refuse)

    outcome = coach.answer(QID, ANSWER)

    assert route.call_count == 1 and clock.sleeps == []
    assert_pending(
        coach,
        outcome,
        f"cannot connect to {ENDPOINT}; check OPENAI_BASE_URL and that the server is running",
    )


def test_unauthorized_fails_at_once_without_echoing_the_key(coach, http, clock):
    route = http.post(CHAT_URL).mock(
        return_value=error(401, message=f"Incorrect API key provided: {KEY}")
    )

    outcome = coach.answer(QID, ANSWER)

    assert route.call_count == 1 and clock.sleeps == []
    assert_pending(coach, outcome, f"{ENDPOINT} rejected the API key (401); check OPENAI_API_KEY")


def test_a_real_refused_port_on_localhost_fails_at_once(coach, clock, monkeypatch):
    url = f"http://127.0.0.1:{unused_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    coach.settings = load_settings()

    outcome = coach.answer(QID, ANSWER)

    assert clock.sleeps == []
    assert_pending(
        coach,
        outcome,
        f"cannot connect to {url}; check OPENAI_BASE_URL and that the server is running",
    )


def test_credentials_in_the_base_url_are_not_shown(coach, clock, monkeypatch):
    port = unused_port()
    monkeypatch.setenv(
        "OPENAI_BASE_URL", f"http://bob:hunter2secret@127.0.0.1:{port}/v1?api-key=qwerty123"
    )
    coach.settings = load_settings()

    outcome = coach.answer(QID, ANSWER)

    assert outcome.error == (
        f"cannot connect to http://***@127.0.0.1:{port}/v1?***; check OPENAI_BASE_URL and that the server is running"
    )


# --- after the fault: regrade, fallback --------------------------------------------------------------


def test_regrade_pending_finishes_the_attempt_once_the_server_recovers(coach, http, clock):
    route = http.post(CHAT_URL).mock(
        side_effect=[error(503), error(503), error(503), ok(coach, 7.0)]
    )
    first = coach.answer(QID, ANSWER)
    assert first.grade is None and route.call_count == 3

    [again] = coach.regrade([a.id for a in coach.history.pending()])

    assert (again.attempt_id, again.error, again.grade.score) == (first.attempt_id, "", 7.0)
    attempt = coach.history.get(first.attempt_id)
    assert (attempt.status, attempt.error, attempt.grade.grader) == ("graded", "", "llm")
    assert coach.history.pending() == []


def test_fallback_offline_grades_offline_and_says_so(coach, http, clock, monkeypatch):
    monkeypatch.setenv("COACH_FALLBACK", "offline")
    coach.settings = load_settings()
    http.post(CHAT_URL).mock(return_value=error(503))

    outcome = coach.answer(QID, ANSWER)

    grade = outcome.grade
    assert outcome.error == "" and grade.grader == "offline"
    assert grade.flags[0] == (
        f"LLM grade failed ({ENDPOINT} answered HTTP 503 after retries); graded offline instead"
    )
    attempt = coach.history.get(outcome.attempt_id)
    assert (attempt.status, attempt.grader) == ("graded", "offline")


def test_fallback_offline_after_a_refused_connection(coach, http, clock, monkeypatch):
    monkeypatch.setenv("COACH_FALLBACK", "offline")
    coach.settings = load_settings()

    def refuse(request):
        raise httpx2.ConnectError("[Errno 111] Connection refused")

    route = http.post(CHAT_URL).mock(side_effect=refuse)

    grade = coach.answer(QID, ANSWER).grade

    assert route.call_count == 1
    assert grade.grader == "offline"
    assert grade.flags[0].startswith(f"LLM grade failed (cannot connect to {ENDPOINT};")


def test_llama_cpp_500_for_tools_still_falls_back_to_json_mode(coach, http, clock):
    args = grade_args(coach.rubric(QID), 6.0, "covered", evidence_from=ANSWER)
    bodies = []

    def server(request):
        body = json.loads(request.content)
        bodies.append(body)
        if "tools" in body:
            return error(500, message="tools param requires --jinja flag")
        return httpx.Response(200, json=chat_completion(content=json.dumps(args)))

    http.post(CHAT_URL).mock(side_effect=server)

    outcome = coach.answer(QID, ANSWER)

    assert outcome.grade.score == 6.0
    assert ["tools" in b for b in bodies] == [True, True, True, False]  # 3 tries, then JSON mode
    assert len(clock.sleeps) == 2
    # JSON mode is remembered for this endpoint and model: the next grade is one request, no retries.
    assert cached_method(coach.settings) == "json"
    again = coach.answer(QID, ANSWER)
    assert again.grade.score == 6.0
    assert ["tools" in b for b in bodies] == [True, True, True, False, False]
    assert len(clock.sleeps) == 2


def test_a_rejected_json_mode_falls_back_to_extraction_from_the_text(coach, http, clock):
    args = grade_args(coach.rubric(QID), 6.0, "covered", evidence_from=ANSWER)
    bodies = []

    def server(request):
        body = json.loads(request.content)
        bodies.append(body)
        if "tools" in body:
            return error(400, message="tools are not supported")
        if "response_format" in body:
            return error(400, message="response_format is not supported")
        return httpx.Response(200, json=chat_completion(content="Sure:\n" + json.dumps(args)))

    http.post(CHAT_URL).mock(side_effect=server)

    outcome = coach.answer(QID, ANSWER)

    assert outcome.grade.score == 6.0
    assert [("tools" in b, "response_format" in b) for b in bodies] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert clock.sleeps == []  # a 400 is never retried
    assert cached_method(coach.settings) == "extract"


# --- the CLI (needs the lead to paste /tmp/integration/reliability.py: --fallback) -------------------


def test_cli_grade_exits_3_with_one_line_and_fallback_flag_grades_offline(
    coach, http, clock, tmp_path
):
    http.post(CHAT_URL).mock(return_value=error(503))
    path = tmp_path / "a.md"
    path.write_text(ANSWER, encoding="utf-8")
    runner = CliRunner()

    failed = runner.invoke(app, ["grade", QID, "--answer-file", str(path)])
    saved = runner.invoke(
        app, ["grade", QID, "--answer-file", str(path), "--fallback", "offline", "--json"]
    )

    assert failed.exit_code == 3
    assert (
        failed.stderr
        == f"error: attempt 1 saved but not graded: {ENDPOINT} answered HTTP 503 after retries\n"
    )
    assert saved.exit_code == 0, saved.output
    data = json.loads(saved.stdout)
    assert (data["attempt_id"], data["grader"]) == (2, "offline")
    assert (
        data["flags"][0]
        == f"LLM grade failed ({ENDPOINT} answered HTTP 503 after retries); graded offline instead"
    )
    bad = runner.invoke(app, ["grade", QID, "--answer-file", str(path), "--fallback", "maybe"])
    # An unknown value is a usage error (exit 2) that lists the valid ones.
    assert bad.exit_code == 2
    assert "Invalid value for '--fallback'" in bad.stderr
    assert "'maybe'" in bad.stderr and "'offline'" in bad.stderr and "'none'" in bad.stderr


def test_openai_proxy_goes_to_the_fail_fast_client(coach, monkeypatch):
    monkeypatch.setenv("OPENAI_PROXY", "http://127.0.0.1:3128")
    # ChatOpenAI refuses openai_proxy together with http_client: the proxy goes to the client.
    model = llm.chat_model(coach.settings)
    client = model.root_client._client
    assert type(client).__name__ == "FailFastClient"
    [(pattern, transport)] = client._mounts.items()  # the proxy, mounted for every URL
    assert pattern.pattern == "all://" and transport is not client._transport
