"""Test doubles for the LLM grader: a fake chat model with a queue of replies, reply builders,
a fake clock for the openai client's retry waits, and a respx mocker for the `httpx2` client that
openai>=3 (and so ChatOpenAI) sends requests with.

Use the fake through the product's own hook::

    fake = FakeChatModel(tool_reply(grade_args(rubric, 7, evidence_from=answer)))
    coach.llm.client.set_chat_model_factory(lambda settings: fake)
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import respx.mocks
from langchain_core.messages import AIMessage, BaseMessage

GRADE_TOOL = "submit_grade"

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def unused_port() -> int:
    """A localhost port nothing listens on right now (bound, read and closed): a refused connection,
    or where a test starts a server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the fake chat model ------------------------------------------------------------------------


@dataclass
class FakeCall:
    """One `invoke` of the fake: the messages it got and what the model was bound with."""

    messages: list[
        tuple[str, str]
    ]  # (role, content), roles "system" / "user" / "assistant" / "tool"
    tools: list[dict] | None = None
    tool_choice: Any = None
    response_format: dict | None = None
    bound: dict = field(default_factory=dict)  # every keyword given to bind_tools / bind

    def roles(self) -> list[str]:
        return [role for role, _ in self.messages]

    def content(self, role: str) -> list[str]:
        return [text for r, text in self.messages if r == role]

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", t.get("name", "")) for t in self.tools or []]


def _normalize(messages) -> list[tuple[str, str]]:
    out = []
    for message in messages:
        if isinstance(message, BaseMessage):
            content = (
                message.content if isinstance(message.content, str) else json.dumps(message.content)
            )
            out.append((_ROLES.get(message.type, message.type), content))
        elif isinstance(message, (tuple, list)) and len(message) == 2:
            role, content = message
            out.append((_ROLES.get(role, role), str(content)))
        elif isinstance(message, dict):
            out.append((_ROLES.get(message["role"], message["role"]), str(message["content"])))
        else:  # a bare string is a user message in langchain
            out.append(("user", str(message)))
    return out


class FakeChatModel:
    """A chat model that answers from a queue. Each queued reply is an AIMessage to return or an
    Exception instance to raise. Every `invoke` is recorded in `calls` (one FakeCall each)."""

    def __init__(self, *replies: AIMessage | BaseException):
        self.replies: deque[AIMessage | BaseException] = deque()
        self.calls: list[FakeCall] = []
        self.queue(*replies)

    def queue(self, *replies: AIMessage | BaseException) -> FakeChatModel:
        for reply in replies:
            if not isinstance(reply, (AIMessage, BaseException)):
                raise TypeError(
                    f"queue an AIMessage or an exception instance, not {type(reply).__name__}"
                )
            self.replies.append(reply)
        return self

    @property
    def remaining(self) -> int:
        return len(self.replies)

    # The two ways the grader configures a model; both return a bound view sharing this queue.
    def bind_tools(self, tools, tool_choice=None, **kwargs) -> _BoundFake:
        return _BoundFake(
            self,
            tools=list(tools),
            tool_choice=tool_choice,
            bound=dict(kwargs, tool_choice=tool_choice),
        )

    def bind(self, **kwargs) -> _BoundFake:
        return _BoundFake(
            self,
            tools=kwargs.get("tools"),
            tool_choice=kwargs.get("tool_choice"),
            response_format=kwargs.get("response_format"),
            bound=dict(kwargs),
        )

    def invoke(self, messages, config=None, **kwargs) -> AIMessage:
        return self._answer(FakeCall(_normalize(messages), bound=dict(kwargs)))

    def _answer(self, call: FakeCall) -> AIMessage:
        self.calls.append(call)
        if not self.replies:
            raise AssertionError(f"FakeChatModel: no reply queued for call #{len(self.calls)}")
        reply = self.replies.popleft()
        if isinstance(reply, BaseException):
            raise reply
        return reply


class _BoundFake:
    def __init__(self, fake: FakeChatModel, **binding):
        self.fake = fake
        self.binding = binding

    def bind_tools(self, tools, tool_choice=None, **kwargs) -> _BoundFake:
        return _BoundFake(
            self.fake, **{**self.binding, "tools": list(tools), "tool_choice": tool_choice}
        )

    def bind(self, **kwargs) -> _BoundFake:
        merged = {
            **self.binding,
            **{k: v for k, v in kwargs.items() if k in ("tools", "tool_choice", "response_format")},
        }
        merged["bound"] = {**self.binding.get("bound", {}), **kwargs}
        return _BoundFake(self.fake, **merged)

    def invoke(self, messages, config=None, **kwargs) -> AIMessage:
        return self.fake._answer(FakeCall(_normalize(messages), **self.binding))


# --- the clock the openai client waits with -----------------------------------------------------


class FakeClock:
    """Stands in for the `time` module inside openai's client: a retry's wait is recorded in `sleeps`
    and takes no time, so retry tests assert the exact delays and run instantly."""

    def __init__(self):
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


def use_fake_clock(monkeypatch) -> FakeClock:
    """Install a FakeClock where the openai client sleeps between retries (`_base_client.time`)."""
    import openai._base_client as base

    # If openai ever stops sleeping through this name, fail here instead of sleeping for real.
    assert base.time is time, "openai._base_client no longer sleeps through `time`"
    clock = FakeClock()
    monkeypatch.setattr(base, "time", clock)
    return clock


# --- replies --------------------------------------------------------------------------------------


def _usage(input_tokens: int, output_tokens: int) -> dict:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def tool_reply(
    args: dict, input_tokens: int = 0, output_tokens: int = 0, name: str = GRADE_TOOL
) -> AIMessage:
    """An AIMessage calling `submit_grade` (or `name`) with `args`, as ChatOpenAI would parse it."""
    return AIMessage(
        content="",
        tool_calls=[{"name": name, "args": args, "id": "call_fake_1", "type": "tool_call"}],
        usage_metadata=_usage(input_tokens, output_tokens),
    )


def text_reply(text: str, input_tokens: int = 0, output_tokens: int = 0) -> AIMessage:
    """An AIMessage with plain text content (e.g. a JSON-mode reply, or prose)."""
    return AIMessage(content=text, usage_metadata=_usage(input_tokens, output_tokens))


def sentences(text: str) -> list[str]:
    """The answer's sentences, each a verbatim substring of `text`."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def grade_args(
    rubric,
    score: float,
    status: str | Mapping[str, str] = "covered",
    evidence_from: str = "",
    *,
    evidence: Mapping[str, str] | None = None,
    verdict: str = "Solid start with gaps.",
    flags: list[str] | None = None,
) -> dict:
    """A valid GradeReply dict (the `submit_grade` arguments) for every criterion of `rubric`.

    `status` is one status for all criteria or a {criterion_id: status} map (unlisted ones are
    "missed"). Each covered/partial criterion quotes a sentence of `evidence_from` verbatim
    (cycling through its sentences) unless `evidence` gives its quote.
    """
    quotes = sentences(evidence_from)
    evidence = dict(evidence or {})
    criteria = []
    for i, c in enumerate(rubric.criteria):
        st = status if isinstance(status, str) else status.get(c.id, "missed")
        if st == "missed":
            quote = evidence.get(c.id, "")
        elif c.id in evidence:
            quote = evidence[c.id]
        elif quotes:
            quote = quotes[i % len(quotes)]
        else:
            raise ValueError(f"{c.id} is {st} but there is no evidence_from text to quote")
        criteria.append({"criterion_id": c.id, "status": st, "evidence": quote})
    return {
        "score": score,
        "verdict": verdict,
        "criteria": criteria,
        "strengths": ["Defines the problem before solving it."],
        "gaps": [c["criterion_id"] for c in criteria if c["status"] == "missed"][:3],
        "next_steps": ["Name the estimator and how its variance is controlled."],
        "outline": ["Define", "Measure", "Correct", "Evaluate"],
        "flags": list(flags or []),
    }


# --- OpenAI wire format -----------------------------------------------------------------------


def chat_completion(
    *,
    tool_args: dict | None = None,
    content: str | None = None,
    model: str = "gpt-4o-mini-2024-07-18",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    tool_name: str = GRADE_TOOL,
) -> dict:
    """An OpenAI /v1/chat/completions response body with a tool call (`submit_grade` unless
    `tool_name` says otherwise) or text content."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_args is not None:
        message["tool_calls"] = [
            {
                "id": "call_abc123",
                "type": "function",
                "function": {"name": tool_name, "arguments": json.dumps(tool_args)},
            }
        ]
    return {
        "id": "chatcmpl-test-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_args is not None else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# --- respx for httpx2 -----------------------------------------------------------------------------
#
# openai>=3 sends requests with `httpx2` (its own copy of httpx on `httpcore2`), which respx does not
# patch: its "httpcore" and "httpx" mockers target the classic packages, so a plain `respx.mock`
# would let ChatOpenAI's requests reach the network. This mocker routes every httpx2 client's
# requests to the active respx routers instead, converting requests and responses between the two
# libraries. It never falls through to a real transport, so no request can leave the process.
# Use it with `respx.mock(using="httpx2", assert_all_mocked=True)`.

try:  # pragma: no cover - depends on the installed openai
    import httpx2
except ImportError:  # openai<3 uses classic httpx, which respx's default mocker handles
    httpx2 = None

RESPX_USING = "httpx2" if httpx2 is not None else respx.mocks.DEFAULT_MOCKER

if httpx2 is not None and "httpx2" not in respx.mocks.Mocker.registry:

    class HTTPX2Mocker(respx.mocks.Mocker):
        name = "httpx2"
        targets: ClassVar[list[str]] = ["httpx2._client.Client", "httpx2._client.AsyncClient"]
        target_methods: ClassVar[list[str]] = ["_transport_for_url"]

        @classmethod
        def mock(cls, spec):
            def _transport_for_url(self, *args, **kwargs):
                return httpx2.MockTransport(cls.bridge)

            return _transport_for_url

        @classmethod
        def bridge(cls, request: httpx2.Request) -> httpx2.Response:
            classic = httpx.Request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                content=request.read(),
            )
            response = cls.handler(classic)  # raises AllMockedAssertionError for unrouted requests
            body = response.read()
            headers = [
                (k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"
            ]
            return httpx2.Response(
                response.status_code, headers=headers, content=body, request=request
            )
