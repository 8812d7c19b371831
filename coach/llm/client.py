"""The one module that talks to the chat model: langchain-openai's ChatOpenAI, pointed at OpenAI or
any compatible server. Nothing else in the coach imports openai or langchain, and nothing leaves this
module as a third-party type: requests go in as (role, text) pairs, replies come back as `ChatReply`,
and every failure of the endpoint comes back as `LLMError`.

Faults are handled by the openai client itself (verified against openai 3.x `_base_client`): a
timeout, HTTP 408/409/429 or any 5xx is retried with exponential backoff (0.5 s doubling, at most
8 s, minus up to 25% jitter), and a `Retry-After`/`retry-after-ms` header of up to 2 minutes is
waited out exactly; a longer one is not retried. MAX_TRIES bounds the attempts. A refused
connection or an unknown host is different: retrying cannot help, so the coach's HTTP client turns
it into an immediate failure instead of two slow retries. A 401/403/404 is never retried.

When a server rejects a structured-output feature (tools, or `response_format`), `send` raises
`FeatureRejected` (see `rejects_feature` for the one rule), so the caller can try the next method.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from coach.config import Settings, redact_url
from coach.errors import CoachError
from coach.models import Usage

MAX_TRIES = 3  # one request and at most two retries
MAX_REPLY_TOKENS = 2048

Message = tuple[str, str]  # (role, text); role is "system", "user" or "assistant"
ErrorKind = Literal["config", "transport", "status", "rejected", "malformed"]

# Tests replace this with a factory that returns a fake chat model; the CLI uses the same hook.
_factory_override: Callable[[Settings], object] | None = None


class LLMError(CoachError):
    """The chat model could not give a usable answer. The message is one neutral line that names the
    endpoint (redacted) and never the key. `kind` says why: "config" (nothing configured),
    "transport" (no HTTP answer: refused, timed out), "status" (an HTTP error after retries),
    "rejected" (the server does not support a structured-output feature) or "malformed" (replies that
    never validated). `status` is the HTTP status when there was one; `reason` is the short cause."""

    def __init__(
        self, message: str, kind: ErrorKind = "status", status: int | None = None, reason: str = ""
    ):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.reason = reason or message


class FeatureRejected(LLMError):
    """The server refused a structured-output feature ("tools" or "response_format")."""

    def __init__(self, feature: str, status: int | None):
        if status is None:  # a chat model object without the feature: no request was sent
            message = f"the chat model does not support {feature}"
        else:
            message = f"the server rejected {feature} (HTTP {status})"
        super().__init__(message, kind="rejected", status=status)
        self.feature = feature


@dataclass
class ChatReply:
    """One reply of the chat model, free of third-party types."""

    text: str = ""
    tool_args: list[dict] = field(default_factory=list)  # the parsed arguments of each tool call
    bad_tool_call: bool = False  # a tool call came back whose arguments were not valid JSON
    finish_reason: str = ""  # "stop", "length", "tool_calls", or "" when the server did not say
    usage: Usage = field(default_factory=Usage)
    model: str = ""  # the model the server says answered; "" when it did not say


def set_chat_model_factory(factory: Callable[[Settings], object] | None) -> None:
    """Inject a chat-model factory (tests use a fake with a queue of replies); None restores ChatOpenAI."""
    global _factory_override
    _factory_override = factory


def chat_model(settings: Settings):
    """A chat model at temperature 0 for grading, probes and plans (a langchain chat model)."""
    if _factory_override is not None:
        return _factory_override(settings)
    require_llm(settings)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.coach_model,
        temperature=0,
        api_key=_key(settings),
        base_url=settings.openai_base_url,
        timeout=settings.coach_llm_timeout,
        max_retries=MAX_TRIES - 1,
        max_tokens=MAX_REPLY_TOKENS,
        # ChatOpenAI sends the cap as max_completion_tokens, which llama.cpp's server ignores;
        # compatible servers get the classic field too, so a weak model cannot run to the context end.
        extra_body={"max_tokens": MAX_REPLY_TOKENS} if settings.openai_base_url else None,
        http_client=http_client(settings.coach_llm_timeout, os.environ.get("OPENAI_PROXY") or None),
        openai_proxy=None,  # given to the client above instead (ChatOpenAI refuses both at once)
        http_socket_options=(),  # keep httpx's own proxy handling for the (unused) async client
    )


def require_llm(settings: Settings) -> None:
    """Raise LLMError unless an API key or a base URL is configured."""
    if not settings.llm_configured:
        raise LLMError(
            "no LLM configured: set OPENAI_API_KEY or OPENAI_BASE_URL, or grade offline",
            kind="config",
        )


def _key(settings: Settings) -> str:
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"


def token_limit(settings: Settings, n: int) -> dict:
    """Keywords for `bind` that cap the reply at n tokens on OpenAI and on compatible servers.
    ChatOpenAI sends the cap as `max_completion_tokens`, which llama-cpp-python's server ignores
    (it reads only `max_tokens`), so for a custom endpoint `max_tokens` is sent as well."""
    limit: dict = {"max_tokens": n}
    if settings.openai_base_url:
        limit["extra_body"] = {"max_tokens": n}
    return limit


# --- one request --------------------------------------------------------------------------------

# The one rule for "this server does not support that feature": a request that used tools or
# response_format is refused with HTTP 400, 422 or 500 (llama.cpp answers 500 to a tool request it
# cannot serve), and the error names a structured-output feature. Anything else - a 500 that says
# "out of memory", a 503, a timeout - is a failure of the server: trying another method would only
# add requests to an outage that the openai client has already retried.
REJECTED_STATUSES = (400, 422, 500)
FEATURE_WORDS = re.compile(
    r"tool|function|response_format|json_object|json_schema|grammar|jinja", re.IGNORECASE
)


def rejects_feature(status: int, message: str) -> bool:
    """Whether an HTTP error to a tools or response_format request means the feature is unsupported."""
    return status in REJECTED_STATUSES and bool(FEATURE_WORDS.search(message))


def send(
    settings: Settings,
    messages: Sequence[Message],
    *,
    tool: dict | None = None,
    json_mode: bool = False,
    max_tokens: int | None = None,
) -> ChatReply:
    """One chat request: with `tool` (an OpenAI function spec) the call is forced onto it; with
    `json_mode` the reply is constrained to a JSON object. Raises FeatureRejected when the server
    refuses the feature, LLMError for any other failure of the endpoint."""
    import openai

    model = chat_model(settings)
    limit = token_limit(settings, max_tokens) if max_tokens else {}
    feature = "tools" if tool is not None else "response_format" if json_mode else ""
    if tool is not None:
        if not hasattr(model, "bind_tools"):
            raise FeatureRejected("tools", None)
        runnable = model.bind_tools([tool], tool_choice=tool["function"]["name"], **limit)
    elif json_mode and hasattr(model, "bind"):
        runnable = model.bind(response_format={"type": "json_object"}, **limit)
    elif limit and hasattr(model, "bind"):
        runnable = model.bind(**limit)
    else:
        runnable = model
    try:
        message = runnable.invoke(list(messages))
    except openai.LengthFinishReasonError as exc:
        # JSON mode parses the reply, and a reply cut off at the token limit cannot be parsed.
        return _cut_off(exc, settings)
    except openai.APIStatusError as exc:
        if feature and rejects_feature(exc.status_code, _error_text(exc)):
            raise FeatureRejected(feature, exc.status_code) from None
        raise LLMError(describe_failure(exc, settings), status=exc.status_code) from None
    except openai.APIConnectionError as exc:  # includes timeouts
        raise LLMError(describe_failure(exc, settings), kind="transport") from None
    except openai.OpenAIError as exc:
        raise LLMError(describe_failure(exc, settings)) from None
    return _reply(message)


def _error_text(exc) -> str:
    parts = [str(getattr(exc, "message", "") or ""), str(getattr(exc, "param", "") or "")]
    if isinstance(exc.body, str):
        parts.append(exc.body[:500])
    return " ".join(parts)


def _reply(message) -> ChatReply:
    meta = getattr(message, "usage_metadata", None) or {}
    info = getattr(message, "response_metadata", None) or {}
    content = message.content
    if not isinstance(content, str):  # a list of content blocks: keep the text ones
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return ChatReply(
        text=content,
        tool_args=[
            dict(call.get("args") or {}) for call in getattr(message, "tool_calls", None) or []
        ],
        bad_tool_call=bool(getattr(message, "invalid_tool_calls", None)),
        finish_reason=str(info.get("finish_reason") or ""),
        usage=Usage(
            input_tokens=int(meta.get("input_tokens", 0) or 0),
            output_tokens=int(meta.get("output_tokens", 0) or 0),
        ),
        model=str(info.get("model_name") or ""),
    )


def _cut_off(exc, settings: Settings) -> ChatReply:
    completion = getattr(exc, "completion", None)
    usage = getattr(completion, "usage", None)
    choices = getattr(completion, "choices", None) or []
    text = (choices[0].message.content or "") if choices else ""
    return ChatReply(
        text=text,
        finish_reason="length",
        usage=Usage(
            input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            output_tokens=getattr(usage, "completion_tokens", 0) or 0,
        ),
        model=str(getattr(completion, "model", "") or ""),
    )


def list_models(settings: Settings) -> list[str]:
    """The model ids the endpoint lists (`GET /models`), asked once, without retries."""
    import openai

    require_llm(settings)
    client = openai.OpenAI(
        api_key=_key(settings),
        # endpoint() is redacted for display; the client needs the URL as configured
        base_url=settings.openai_base_url or endpoint(settings),
        timeout=settings.coach_llm_timeout,
        max_retries=0,
        http_client=http_client(settings.coach_llm_timeout, os.environ.get("OPENAI_PROXY") or None),
    )
    try:
        return [m.id for m in client.models.list()]
    except openai.APIStatusError as exc:
        raise LLMError(describe_failure(exc, settings), status=exc.status_code) from None
    except openai.APIConnectionError as exc:
        raise LLMError(describe_failure(exc, settings), kind="transport") from None
    except openai.OpenAIError as exc:
        raise LLMError(describe_failure(exc, settings)) from None


EMBEDDING_BATCH = 256


def _openai_client(settings: Settings):
    """The openai SDK client for embeddings and transcription (chat goes through langchain-openai):
    the same key, base URL, timeout, retries and proxy as every other call."""
    import openai

    return openai.OpenAI(
        api_key=_key(settings),
        base_url=settings.openai_base_url,
        timeout=settings.coach_llm_timeout,
        max_retries=MAX_TRIES - 1,
        http_client=http_client(settings.coach_llm_timeout, os.environ.get("OPENAI_PROXY") or None),
    )


def embed_texts(settings: Settings, texts: Sequence[str]) -> list[list[float]]:
    """OpenAI (or compatible) embeddings of `texts` with COACH_EMBEDDING_MODEL, in batches.
    Raises LLMError when the endpoint fails."""
    import openai

    client = _openai_client(settings)
    vectors: list[list[float]] = []
    try:
        for start in range(0, len(texts), EMBEDDING_BATCH):
            batch = list(texts[start : start + EMBEDDING_BATCH])
            reply = client.embeddings.create(model=settings.coach_embedding_model, input=batch)
            vectors.extend(item.embedding for item in reply.data)
    except openai.OpenAIError as exc:
        kind: ErrorKind = "transport" if isinstance(exc, openai.APIConnectionError) else "status"
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        raise LLMError(
            f"embedding request failed: {describe_failure(exc, settings, settings.coach_embedding_model)}",
            kind=kind,
            status=status,
        ) from None
    return vectors


def transcribe_audio(
    settings: Settings, audio: bytes, filename: str = "answer.wav", prompt: str = ""
) -> dict:
    """The endpoint's transcription (`POST /audio/transcriptions`) of one audio file with
    COACH_TRANSCRIPTION_MODEL, with word timestamps: a plain dict {"text", "words": [{"word",
    "start", "end"}], "duration", "language"}. Retried like the other calls; raises LLMError."""
    import openai

    require_llm(settings)
    model = settings.coach_transcription_model
    client = _openai_client(settings)
    try:
        reply = client.audio.transcriptions.create(
            file=(filename, audio, "audio/wav"),
            model=model,
            response_format="verbose_json",
            timestamp_granularities=["word"],
            **({"prompt": prompt} if prompt else {}),
        )
    except openai.OpenAIError as exc:
        kind: ErrorKind = "transport" if isinstance(exc, openai.APIConnectionError) else "status"
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        if isinstance(exc, openai.NotFoundError):
            reason = (
                f"{endpoint(settings)} does not know model {model!r} (404); "
                "check COACH_TRANSCRIPTION_MODEL"
            )
        else:
            reason = describe_failure(exc, settings, model)
        raise LLMError(
            f"transcription request failed: {reason}", kind=kind, status=status
        ) from None
    words = [
        {"word": str(w.word), "start": float(w.start), "end": float(w.end)}
        for w in (getattr(reply, "words", None) or [])
    ]
    return {
        "text": str(getattr(reply, "text", "") or ""),
        "words": words,
        "duration": float(getattr(reply, "duration", 0.0) or 0.0),
        "language": str(getattr(reply, "language", "") or ""),
    }


# --- the HTTP client ------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def http_client(timeout: float, proxy: str | None = None):
    """The openai client's default httpx2 client, except that a refused connection fails at once."""
    import openai

    class FailFastClient(openai.DefaultHttpxClient):
        def send(self, request, **kwargs):
            try:
                return super().send(request, **kwargs)
            except _connect_errors() as exc:
                # An OpenAIError is re-raised by the openai client as-is, without retries.
                raise openai.APIConnectionError(request=request) from exc

        def __del__(self) -> None:  # as openai's own SyncHttpxClientWrapper
            try:
                if not self.is_closed:
                    self.close()
            except Exception:  # noqa: BLE001, S110 - a destructor must never raise (openai's wrapper does the same)
                pass

    return FailFastClient(timeout=timeout, proxy=proxy)


def _connect_errors() -> tuple[type[Exception], ...]:
    """Refused, reset before connecting, unknown host: httpx2's, and classic httpx's if loaded."""
    import sys

    import httpx2

    errors: tuple[type[Exception], ...] = (httpx2.ConnectError,)
    classic = sys.modules.get("httpx")
    if classic is not None and hasattr(classic, "ConnectError"):
        errors += (classic.ConnectError,)
    return errors


# --- messages -------------------------------------------------------------------------------------


def endpoint(settings: Settings) -> str:
    """The LLM endpoint for messages: without credentials or query string (they can hold keys)."""
    return redact_url(settings.openai_base_url or "https://api.openai.com/v1")


def redact(text: str, settings: Settings) -> str:
    """`text` with the API key (and any URL credentials) replaced, for messages that get stored or shown."""
    secrets = []
    if settings.openai_api_key:
        secrets.append(settings.openai_api_key.get_secret_value())
    for url in (settings.openai_base_url, settings.coach_chroma_url):
        if url:
            secrets.extend(s for s in re.findall(r"://([^/@\s]+)@", url))
            secrets.extend(s for s in re.findall(r"\?(.+)$", url))
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def describe_failure(exc: Exception, settings: Settings, model: str | None = None) -> str:
    """A one-line reason for an LLM failure that names the endpoint and never includes the key.
    `model` is the model the request named (default COACH_MODEL)."""
    import openai

    where = endpoint(settings)
    model = model or settings.coach_model
    if isinstance(exc, LLMError):
        return redact(str(exc), settings)
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} rejected the API key (401); check OPENAI_API_KEY"
    if isinstance(exc, openai.PermissionDeniedError):
        return f"{where} refused access (403); check that OPENAI_API_KEY may use model {model!r}"
    if isinstance(exc, openai.APITimeoutError):
        return f"{where} timed out after {settings.coach_llm_timeout:g} s; raise COACH_LLM_TIMEOUT or retry later"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect to {where}; check OPENAI_BASE_URL and that the server is running"
    if isinstance(exc, openai.RateLimitError):
        return f"{where} is rate limiting (429) after retries; retry later"
    if isinstance(exc, openai.NotFoundError):
        variable = (
            "COACH_EMBEDDING_MODEL" if model == settings.coach_embedding_model else "COACH_MODEL"
        )
        return f"{where} does not know model {model!r} (404); check {variable}"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code >= 500 or code in (408, 409):
            return f"{where} answered HTTP {code} after retries"
        detail = re.sub(
            r"^Error code: \d+ - ", "", " ".join(str(getattr(exc, "message", "") or "").split())
        )[:160]
        return redact(f"{where} answered HTTP {code}" + (f": {detail}" if detail else ""), settings)
    return f"LLM call to {where} failed ({type(exc).__name__})"
