"""The chat-model factory: langchain-openai's ChatOpenAI, pointed at OpenAI or any compatible server."""

from __future__ import annotations

from collections.abc import Callable

from coach.config import Settings
from coach.errors import CoachError

# Tests replace this with a factory that returns a fake chat model; the CLI uses the same hook.
_factory_override: Callable[[Settings], object] | None = None


def set_chat_model_factory(factory: Callable[[Settings], object] | None) -> None:
    """Inject a chat-model factory (tests use a fake with a queue of replies); None restores ChatOpenAI."""
    global _factory_override
    _factory_override = factory


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
        max_retries=2,  # the openai client retries 429/5xx/timeouts with backoff, honouring Retry-After
    )


def endpoint(settings: Settings) -> str:
    return settings.openai_base_url or "https://api.openai.com/v1"


def describe_failure(exc: Exception, settings: Settings) -> str:
    """A one-line reason for an LLM failure that names the endpoint and never includes the key."""
    import openai

    where = endpoint(settings)
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} rejected the API key (401); check OPENAI_API_KEY"
    if isinstance(exc, openai.APITimeoutError):
        return f"{where} timed out after {settings.coach_llm_timeout:g} s; raise COACH_LLM_TIMEOUT or retry later"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect to {where}; check OPENAI_BASE_URL and that the server is running"
    if isinstance(exc, openai.RateLimitError):
        return f"{where} is rate limiting (429) after retries; retry later"
    if isinstance(exc, openai.NotFoundError):
        return f"{where} does not know model {settings.coach_model!r} (404); check COACH_MODEL"
    if isinstance(exc, openai.APIStatusError):
        return f"{where} answered HTTP {exc.status_code} after retries"
    return f"LLM call to {where} failed ({type(exc).__name__})"
