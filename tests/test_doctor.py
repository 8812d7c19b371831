"""`coach doctor` against a mocked OpenAI-compatible server (respx): reachability, the model list,
the structured-output chain tools -> JSON mode -> extractor, the one rule for a rejected feature,
and the method cache in COACH_HOME. Retries of a 5xx wait on a fake clock."""

from __future__ import annotations

import json
import re

import httpx
import httpx2
import pytest
import respx
from fakes import RESPX_USING, chat_completion, use_fake_clock
from typer.testing import CliRunner

from coach.config import load_settings
from coach.errors import CoachError
from coach.llm import client, doctor
from coach.llm.structured import SCHEMA_PROMPT

BASE = "http://127.0.0.1:8080/v1"
MODELS_URL = f"{BASE}/models"
CHAT_URL = f"{BASE}/chat/completions"
MODEL = "smollm2-135m"
KEY = f"{BASE}|{MODEL}"
PONG = {"answer": 5, "word": "pong"}
NOT_SUPPORTED = {"error": {"message": "tools are not supported", "type": "invalid_request_error"}}


@pytest.fixture
def local(home, monkeypatch):
    """A local server configured as a user would: base URL and model, no key."""
    monkeypatch.setenv("OPENAI_BASE_URL", BASE)
    monkeypatch.setenv("COACH_MODEL", MODEL)
    monkeypatch.setenv("COACH_LLM_TIMEOUT", "5")
    return home


@pytest.fixture
def http(local):
    with respx.mock(using=RESPX_USING, assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def model_list(*ids: str) -> httpx.Response:
    data = [{"id": i, "object": "model", "created": 0, "owned_by": "me"} for i in ids]
    return httpx.Response(200, json={"object": "list", "data": data})


def tool_call(args: dict) -> httpx.Response:
    return httpx.Response(
        200, json=chat_completion(tool_args=args, model=MODEL, tool_name=doctor.PING_TOOL)
    )


def text(content: str) -> httpx.Response:
    return httpx.Response(200, json=chat_completion(content=content, model=MODEL))


def rejected() -> httpx.Response:
    return httpx.Response(400, json=NOT_SUPPORTED)


def mode(body: dict) -> str:
    """Which method a request body uses."""
    if "tools" in body:
        return "tools"
    return "json" if "response_format" in body else "extract"


def server(http, replies: dict[str, httpx.Response]) -> list[dict]:
    """Route chat requests to the reply for their method; returns the request bodies seen."""
    bodies: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return replies[mode(body)]

    http.post(CHAT_URL).mock(side_effect=answer)
    return bodies


def checks(report) -> list[tuple[str, str]]:
    return [(c.name, c.status) for c in report.checks]


# --- the method chain ---------------------------------------------------------------------------

PING_SCHEMA_PROMPT = SCHEMA_PROMPT + json.dumps(doctor.Ping.model_json_schema())


@pytest.mark.parametrize(
    ("replies", "method", "tried"),
    [
        ({"tools": tool_call(PONG)}, "tools", [("tools", "ok")]),
        (
            {"tools": rejected(), "json": text(json.dumps(PONG))},
            "json",
            [("tools", "the server rejected tools (HTTP 400)"), ("json", "ok")],
        ),
        (
            {
                "tools": text("Sure! The sum is 5."),
                "json": rejected(),
                "extract": text('Here you go:\n```json\n{"answer": 5, "word": "pong"}\n```'),
            },
            "extract",
            [
                ("tools", "no tool call in the reply"),
                ("json", "the server rejected response_format (HTTP 400)"),
                ("extract", "ok"),
            ],
        ),
        (
            {
                "tools": tool_call({"answer": "five", "word": "pong"}),
                "json": text('```json\n{"answer": 5, "word": "pong"}\n```'),
                "extract": text('{"answer": 5, "word": "pong"}'),
            },
            "extract",
            [
                (
                    "tools",
                    (
                        "the tool call did not validate (answer: Input should be a valid "
                        "integer, unable to parse string as an integer)"
                    ),
                ),
                ("json", "the reply was not one JSON object"),
                ("extract", "ok"),
            ],
        ),
    ],
    ids=["tools", "json-after-400", "extract-after-no-call-and-400", "extract-after-invalid"],
)
def test_first_working_method_is_found_and_cached(http, local, replies, method, tried):
    http.get(MODELS_URL).mock(return_value=model_list(MODEL, "other"))
    bodies = server(http, replies)

    report = doctor.run_doctor()

    assert report.ok
    assert report.method == method
    assert report.tried == tried
    assert checks(report) == [
        ("reachable", "ok"),
        ("model listed", "ok"),
        ("structured output", "ok"),
    ]
    assert report.checks[0].detail == f"{BASE} lists 2 models"
    assert report.checks[2].detail == f'method {method}: {{"answer":5,"word":"pong"}}'
    assert [mode(b) for b in bodies] == [m for m, _ in tried]
    for body in bodies:
        assert body["model"] == MODEL and body["temperature"] == 0
        # ChatOpenAI's cap, and the one llama-cpp-python reads
        assert body["max_completion_tokens"] == body["max_tokens"] == doctor.PING_MAX_TOKENS == 256
        assert body["messages"][:2] == [
            {"role": "system", "content": doctor.PING_SYSTEM},
            {"role": "user", "content": doctor.PING_USER},
        ]
    tools = bodies[0]
    assert [t["function"]["name"] for t in tools["tools"]] == ["submit_answer"]
    assert tools["tool_choice"] == {"type": "function", "function": {"name": "submit_answer"}}
    assert tools["tools"][0]["function"]["parameters"]["required"] == ["answer", "word"]
    assert len(tools["messages"]) == 2
    for body in bodies[1:]:
        assert "tools" not in body and "tool_choice" not in body
        assert body["messages"][2] == {"role": "user", "content": PING_SCHEMA_PROMPT}
    if len(bodies) > 1:
        assert bodies[1]["response_format"] == {"type": "json_object"}
    assert report.cache_path == local / "endpoints.json"
    assert doctor.cached_method(load_settings()) == method
    [(key, entry)] = json.loads(report.cache_path.read_text()).items()
    assert key == KEY
    assert {k: entry[k] for k in ("endpoint", "model", "method")} == {
        "endpoint": BASE,
        "model": MODEL,
        "method": method,
    }


def test_no_valid_reply_fails_suggests_a_stronger_model_and_forgets_the_cache(http, local):
    doctor.remember_method(load_settings(), "tools")
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    bodies = server(
        http,
        {
            "tools": tool_call({"answer": 5}),
            "json": text('{"sum": 5}'),
            "extract": text("The answer is five, pong."),
        },
    )

    report = doctor.run_doctor()

    assert not report.ok
    assert report.method is None
    assert report.tried == [
        ("tools", "the tool call did not validate (word: Field required)"),
        ("json", "the JSON did not validate (answer: Field required)"),
        ("extract", "no JSON object in the reply"),
    ]
    assert report.checks[2] == doctor.Check(
        "structured output",
        "fail",
        "no method produced a valid reply (tool calling, JSON mode, JSON in the text); "
        "try a stronger COACH_MODEL",
    )
    assert len(bodies) == 3
    assert doctor.cached_method(load_settings()) is None
    assert json.loads((local / "endpoints.json").read_text()) == {}


def test_llama_cpp_style_500_for_tools_moves_on_but_another_500_stops(http, local, monkeypatch):
    clock = use_fake_clock(monkeypatch)
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    no_tools = httpx.Response(
        500, json={"error": {"message": "Tool choice 'x' not found in tools."}}
    )
    bodies = server(http, {"tools": no_tools, "json": text(json.dumps(PONG))})

    report = doctor.run_doctor()

    assert report.method == "json"
    assert report.tried == [("tools", "the server rejected tools (HTTP 500)"), ("json", "ok")]
    assert [mode(b) for b in bodies] == ["tools"] * 3 + ["json"]  # the client retries a 5xx twice
    assert len(clock.sleeps) == 2


def test_a_500_about_something_else_is_a_server_failure(http, local, monkeypatch):
    clock = use_fake_clock(monkeypatch)
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    crash = httpx.Response(500, json={"error": {"message": "out of memory"}})
    bodies = server(http, {"tools": crash, "json": text(json.dumps(PONG))})

    report = doctor.run_doctor()

    assert report.method is None
    assert report.checks[2] == doctor.Check(
        "structured output", "fail", f"{BASE} answered HTTP 500 after retries"
    )
    assert [mode(b) for b in bodies] == ["tools"] * 3
    assert len(clock.sleeps) == 2
    assert not (local / "endpoints.json").exists()  # a failed endpoint does not touch the cache


def cut_off(response: httpx.Response, arguments: str | None = None) -> httpx.Response:
    """`response` as if the token limit stopped it: finish_reason "length", JSON left unfinished."""
    body = response.json()
    choice = body["choices"][0]
    choice["finish_reason"] = "length"
    if arguments is not None:
        choice["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    else:
        choice["message"]["content"] = '{"answer": 5, "wo'
    return httpx.Response(200, json=body)


def test_truncated_tool_call_moves_on_to_json_mode(http, local):
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    server(
        http,
        {"tools": cut_off(tool_call(PONG), '{"answer": 5, "wo'), "json": text(json.dumps(PONG))},
    )

    report = doctor.run_doctor()

    assert report.tried == [
        ("tools", "the reply was cut off at the 256-token limit"),
        ("json", "ok"),
    ]
    assert report.method == "json"


def test_tool_call_with_broken_arguments_moves_on_to_json_mode(http, local):
    broken = tool_call(PONG).json()
    broken["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"answer": 5,,}'
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    server(http, {"tools": httpx.Response(200, json=broken), "json": text(json.dumps(PONG))})

    report = doctor.run_doctor()

    assert report.tried == [
        ("tools", "the tool call's arguments were not valid JSON"),
        ("json", "ok"),
    ]
    assert report.method == "json"


def test_a_400_that_names_no_feature_is_a_failure_not_a_missing_feature(http, local):
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    too_long = httpx.Response(400, json={"error": {"message": "context length exceeded"}})
    bodies = server(http, {"tools": too_long})

    report = doctor.run_doctor()

    message = f"{BASE} answered HTTP 400: context length exceeded"
    assert report.tried == [("tools", message)]
    assert report.checks[2] == doctor.Check("structured output", "fail", message)
    assert [mode(b) for b in bodies] == ["tools"]


@pytest.mark.parametrize(
    ("status", "message", "rejected"),
    [
        (400, "tools are not supported by this model", True),
        (400, "registry.ollama.ai/library/gemma:2b does not support tools", True),
        (422, "Unrecognized request argument supplied: functions", True),
        (400, "'response_format.type' must be 'json_schema' or 'text'", True),
        (500, "tools param requires --jinja flag", True),
        (500, "Tool choice 'submit_grade' not found in tools.", True),
        (500, "Failed to parse grammar", True),
        (500, "out of memory", False),
        (500, "", False),
        (503, "tools are warming up", False),  # only 400/422/500 can mean "unsupported"
        (400, "context length exceeded", False),
        (404, "no such tool endpoint", False),
    ],
)
def test_the_one_rule_for_a_rejected_feature(status, message, rejected):
    assert client.rejects_feature(status, message) is rejected


def test_truncated_json_mode_reply_moves_on_to_the_extractor(http, local):
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    server(
        http,
        {"tools": rejected(), "json": cut_off(text("{}")), "extract": text(json.dumps(PONG))},
    )

    report = doctor.run_doctor()

    assert report.tried == [
        ("tools", "the server rejected tools (HTTP 400)"),
        ("json", "the reply was cut off at the 256-token limit"),
        ("extract", "ok"),
    ]
    assert report.method == "extract"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, {"max_tokens": 99}),
        (BASE, {"max_tokens": 99, "extra_body": {"max_tokens": 99}}),
    ],
)
def test_token_limit_adds_max_tokens_for_compatible_servers(home, monkeypatch, base_url, expected):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234abcd")
    if base_url:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    assert client.token_limit(load_settings(), 99) == expected


# --- reachability and the model list ------------------------------------------------------------


def test_unreachable_endpoint_fails_first_and_sends_nothing_else(http, local):
    models = http.get(MODELS_URL).mock(side_effect=httpx2.ConnectError("connection refused"))
    chat = http.post(CHAT_URL).mock(return_value=tool_call(PONG))

    report = doctor.run_doctor()

    assert not report.ok
    assert report.checks == [
        doctor.Check(
            "reachable",
            "fail",
            f"cannot connect to {BASE}; check OPENAI_BASE_URL and that the server is running",
        ),
        doctor.Check("model listed", "skip", "the endpoint is unreachable"),
        doctor.Check("structured output", "skip", "the endpoint is unreachable"),
    ]
    assert models.call_count == 1  # doctor does not retry the listing
    assert chat.call_count == 0
    assert report.method is None and report.tried == []
    assert not (local / "endpoints.json").exists()


def test_rejected_key_fails_reachable(http, local, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-9999wxyz")
    http.get(MODELS_URL).mock(return_value=httpx.Response(401, json={"error": {"message": "no"}}))
    chat = http.post(CHAT_URL).mock(return_value=tool_call(PONG))

    report = doctor.run_doctor()

    assert checks(report) == [
        ("reachable", "fail"),
        ("model listed", "skip"),
        ("structured output", "skip"),
    ]
    assert report.checks[0].detail == f"{BASE} rejected the API key (401); check OPENAI_API_KEY"
    assert chat.call_count == 0
    assert "PLANTED" not in json.dumps([c.detail for c in report.checks])


def test_model_not_listed_fails_but_the_round_trip_still_runs(http, local):
    http.get(MODELS_URL).mock(return_value=model_list("qwen2.5:7b", "llama3.1:8b"))
    server(http, {"tools": tool_call(PONG)})

    report = doctor.run_doctor()

    assert not report.ok
    assert report.checks[1] == doctor.Check(
        "model listed",
        "fail",
        f"COACH_MODEL={MODEL} is not listed (the server lists: qwen2.5:7b, llama3.1:8b)",
    )
    assert report.checks[2].status == "ok"
    assert report.method == "tools"
    assert report.models == ["qwen2.5:7b", "llama3.1:8b"]


@pytest.mark.parametrize(
    ("model", "listed", "expected"),
    [
        ("llama3.1:8b", ["llama3.1:8b"], True),
        ("llama3.1", ["llama3.1:latest"], True),  # Ollama's implicit tag
        ("llama3.1", ["llama3.1:8b"], False),
        ("gpt-4o-mini", ["gpt-4o-mini-2024-07-18"], False),
        ("m", [], False),
    ],
)
def test_model_listed(model, listed, expected):
    assert doctor.model_listed(model, listed) is expected


def test_server_without_a_model_list_is_reachable_and_skips_that_check(http, local):
    http.get(MODELS_URL).mock(return_value=httpx.Response(404, json={"error": "not found"}))
    server(http, {"tools": tool_call(PONG)})

    report = doctor.run_doctor()

    assert report.ok
    assert report.checks == [
        doctor.Check("reachable", "ok", f"{BASE} answered (GET /models: HTTP 404)"),
        doctor.Check("model listed", "skip", "GET /models answered HTTP 404"),
        doctor.Check("structured output", "ok", 'method tools: {"answer":5,"word":"pong"}'),
    ]


def test_unknown_model_in_the_round_trip_is_reported_and_stops_the_chain(http, local):
    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    chat = http.post(CHAT_URL).mock(
        return_value=httpx.Response(404, json={"error": {"message": "model not found"}})
    )

    report = doctor.run_doctor()

    assert not report.ok
    message = f"{BASE} does not know model '{MODEL}' (404); check COACH_MODEL"
    assert report.checks[2] == doctor.Check("structured output", "fail", message)
    assert report.tried == [("tools", message)]
    assert chat.call_count == 1


def test_no_llm_configured_is_a_one_line_error(home):
    with pytest.raises(
        CoachError, match="^no LLM configured: set OPENAI_API_KEY or OPENAI_BASE_URL"
    ):
        doctor.run_doctor()


# --- the cache ------------------------------------------------------------------------------------


def test_cache_is_keyed_by_endpoint_and_model(local, monkeypatch):
    settings = load_settings()
    assert doctor.cached_method(settings) is None
    path = doctor.remember_method(settings, "json")
    assert path == local / "endpoints.json"
    monkeypatch.setenv("COACH_MODEL", "llama3.1:8b")
    other = load_settings()
    assert doctor.cached_method(other) is None
    doctor.remember_method(other, "extract")
    monkeypatch.setenv("OPENAI_BASE_URL", BASE + "/")  # a trailing slash is the same endpoint
    assert doctor.cached_method(load_settings()) == "extract"
    assert doctor.cached_method(settings) == "json"
    assert sorted(json.loads(path.read_text())) == [f"{BASE}|llama3.1:8b", KEY]
    doctor.remember_method(settings, None)
    assert doctor.cached_method(settings) is None
    assert doctor.cached_method(other) == "extract"


@pytest.mark.parametrize(
    "content",
    ["not json", "[1, 2]", json.dumps({KEY: {"method": "telepathy"}}), json.dumps({KEY: "tools"})],
    ids=["garbage", "list", "unknown-method", "not-an-entry"],
)
def test_damaged_cache_means_no_cached_method(local, content):
    (local).mkdir(parents=True, exist_ok=True)
    (local / "endpoints.json").write_text(content)
    settings = load_settings()
    assert doctor.cached_method(settings) is None
    doctor.remember_method(settings, "tools")
    assert doctor.cached_method(settings) == "tools"


def test_remember_rejects_an_unknown_method(local):
    with pytest.raises(ValueError, match="unknown structured-output method 'telepathy'"):
        doctor.remember_method(load_settings(), "telepathy")


# --- the CLI (needs the lead to paste `doctor` into cli.py and render.py) -------------------------

runner = CliRunner()


def test_cli_doctor_prints_the_checks_and_the_method(http, local):
    from coach.cli.app import app

    http.get(MODELS_URL).mock(return_value=model_list(MODEL))
    server(http, {"tools": rejected(), "json": text(json.dumps(PONG))})

    result = runner.invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    out = " ".join(re.sub(r"[\u2500-\u257f]", " ", result.stdout).split())  # no table borders
    assert f"LLM endpoint {BASE}, model {MODEL}" in out
    assert f"reachable ✔ ok {BASE} lists 1 model " in out
    assert f"model listed ✔ ok {MODEL} is listed " in out
    assert 'structured output ✔ ok method json: {"answer":5,"word":"pong"}' in out
    assert "tools the server rejected tools (HTTP 400)" in out
    assert f"Structured output: json (cached in {local / 'endpoints.json'})" in out


def test_cli_doctor_json_and_exit_code_on_failure(http, local):
    from coach.cli.app import app

    http.get(MODELS_URL).mock(side_effect=httpx2.ConnectError("connection refused"))

    result = runner.invoke(app, ["doctor", "--json"])

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["method"] is None
    assert [(c["name"], c["status"]) for c in data["checks"]] == [
        ("reachable", "fail"),
        ("model listed", "skip"),
        ("structured output", "skip"),
    ]
