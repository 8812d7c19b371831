"""The chat-model factory: langchain-openai's ChatOpenAI, pointed at OpenAI or any compatible server.

Faults are handled by the openai client itself (verified against openai 3.x `_base_client`): a
timeout, HTTP 408/409/429 or any 5xx is retried with exponential backoff (0.5 s doubling, at most
8 s, minus up to 25% jitter), and a `Retry-After`/`retry-after-ms` header of up to 2 minutes is
waited out exactly; a longer one is not retried. MAX_TRIES bounds the attempts. A refused
connection or an unknown host is different: retrying cannot help, so the coach's HTTP client turns
it into an immediate failure instead of two slow retries. A 401/403/404 is never retried.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache

from coach.config import Settings, redact_url
from coach.errors import CoachError

MAX_TRIES = 3  # one request and at most two retries

# Tests replace this with a factory that returns a fake chat model; the CLI uses the same hook.
_factory_override: Callable[[Settings], object] | None = None


def set_chat_model_factory(factory: Callable[[Settings], object] | None) -> None:
    """Inject a chat-model factory (tests use a fake with a queue of replies); None restores ChatOpenAI."""
    global _factory_override
    _factory_override = factory


MAX_REPLY_TOKENS = 2048


def chat_model(settings: Settings):
    """A chat model at temperature 0 for grading, probes and plans."""
    if _factory_override is not None:
        return _factory_override(settings)
    if not settings.llm_configured:
        raise CoachError("no LLM configured: set OPENAI_API_KEY or OPENAI_BASE_URL (or use --grader offline)")
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return ChatOpenAI(
        model=settings.coach_model,
        temperature=0,
        api_key=key,
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
            except Exception:
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


def describe_failure(exc: Exception, settings: Settings) -> str:
    """A one-line reason for an LLM failure that names the endpoint and never includes the key."""
    import openai

    where = endpoint(settings)
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} rejected the API key (401); check OPENAI_API_KEY"
    if isinstance(exc, openai.PermissionDeniedError):
        return f"{where} refused access (403); check that OPENAI_API_KEY may use model {settings.coach_model!r}"
    if isinstance(exc, openai.APITimeoutError):
        return (
            f"{where} timed out after {settings.coach_llm_timeout:g} s; raise COACH_LLM_TIMEOUT or retry later"
        )
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect to {where}; check OPENAI_BASE_URL and that the server is running"
    if isinstance(exc, openai.RateLimitError):
        return f"{where} is rate limiting (429) after retries; retry later"
    if isinstance(exc, openai.NotFoundError):
        return f"{where} does not know model {settings.coach_model!r} (404); check COACH_MODEL"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code >= 500 or code in (408, 409):
            return f"{where} answered HTTP {code} after retries"
        detail = re.sub(r"^Error code: \d+ - ", "", " ".join(str(getattr(exc, "message", "") or "").split()))[:160]
        return redact(f"{where} answered HTTP {code}" + (f": {detail}" if detail else ""), settings)
    return f"LLM call to {where} failed ({type(exc).__name__})"
