"""`coach doctor`: is the LLM endpoint usable, and which structured-output method does it support?

Three checks, in order: the endpoint answers `GET /models`; `COACH_MODEL` is among the models it
lists; a tiny structured-output round trip validates. The round trip tries the grader's methods in
its order of preference and stops at the first that works:

  tools    a forced function call (`tool_choice`), arguments validated against the schema
  json     JSON mode (`response_format={"type": "json_object"}`), schema in the prompt, whole reply parsed
  extract  no constraint, schema in the prompt, the first JSON object in the reply parsed

The method found is cached in COACH_HOME/endpoints.json, keyed by endpoint and model, so the grader
can go straight to it (`cached_method`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from coach.config import Settings, load_settings

METHODS = ("tools", "json", "extract")
CACHE_FILE = "endpoints.json"
PING_TOOL = "submit_answer"
PING_SYSTEM = "You answer by filling in the requested structure. Nothing else."
PING_USER = "What is 2 + 3? Give the sum as `answer` (an integer) and the word `pong` as `word`."
PING_MAX_TOKENS = 256  # the reply is a few tokens; the cap stops a weak model rambling for minutes

Status = Literal["ok", "fail", "skip"]


# The round trip's schema: small enough for any instruct model. (No docstring: it would become the
# schema's description, which the model is shown.)
class Ping(BaseModel):
    answer: int
    word: str


@dataclass
class Check:
    name: str
    status: Status
    detail: str


@dataclass
class DoctorReport:
    endpoint: str
    model: str
    checks: list[Check] = field(default_factory=list)
    method: str | None = None
    tried: list[tuple[str, str]] = field(default_factory=list)  # (method, "ok" or why it failed)
    models: list[str] = field(default_factory=list)  # what GET /models listed
    cache_path: Path | None = None

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)


# --- the cache ------------------------------------------------------------------------------------


def cache_key(settings: Settings) -> str:
    from coach.llm.client import endpoint

    return f"{endpoint(settings).rstrip('/')}|{settings.coach_model}"


def cache_path(settings: Settings) -> Path:
    return settings.coach_home / CACHE_FILE


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no file yet, or a damaged one: the grader then tries every method in order
    return data if isinstance(data, dict) else {}


def cached_method(settings: Settings) -> str | None:
    """The structured-output method `coach doctor` found for this endpoint and model, if any."""
    entry = _read_cache(cache_path(settings)).get(cache_key(settings))
    method = entry.get("method") if isinstance(entry, dict) else None
    return method if method in METHODS else None


def remember_method(settings: Settings, method: str | None) -> Path:
    """Store (or, for None, forget) the method for this endpoint and model; returns the file."""
    from coach.llm.client import endpoint

    if method is not None and method not in METHODS:
        raise ValueError(f"unknown structured-output method {method!r}")
    path = cache_path(settings)
    data = _read_cache(path)
    key = cache_key(settings)
    if method is None:
        if key not in data:
            return path
        del data[key]
    else:
        data[key] = {
            "endpoint": endpoint(settings).rstrip("/"),
            "model": settings.coach_model,
            "method": method,
            "checked": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# --- the checks -----------------------------------------------------------------------------------


def _list_models(settings: Settings) -> list[str]:
    import openai

    from coach.llm.client import endpoint

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    client = openai.OpenAI(
        api_key=key,
        # endpoint() is redacted for display; the client needs the URL as configured
        base_url=settings.openai_base_url or endpoint(settings),
        timeout=settings.coach_llm_timeout,
        max_retries=0,
    )
    return [m.id for m in client.models.list()]


def model_listed(model: str, listed: list[str]) -> bool:
    """Exact id, or Ollama's implicit `:latest` tag."""
    return model in listed or f"{model}:latest" in listed


def _tool_schema() -> dict:
    return {
        "type": "function",
        "function": {
            "name": PING_TOOL,
            "description": "Submit the answer.",
            "parameters": Ping.model_json_schema(),
        },
    }


def _schema_prompt() -> tuple[str, str]:
    schema = json.dumps(Ping.model_json_schema())
    return ("user", f"Reply with one JSON object only, matching this JSON schema: {schema}")


def _validate(candidate) -> tuple[Ping | None, str]:
    try:
        return Ping.model_validate(candidate), ""
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "reply"
        return None, f"{loc}: {first['msg']}"


def _content(response) -> str:
    content = response.content
    return content if isinstance(content, str) else json.dumps(content)


def token_limit(settings: Settings, n: int) -> dict:
    """Keywords for `bind` that cap the reply at n tokens on OpenAI and on compatible servers.
    ChatOpenAI sends the cap as `max_completion_tokens`, which llama-cpp-python's server ignores
    (it reads only `max_tokens`), so for a custom endpoint `max_tokens` is sent as well."""
    limit: dict = {"max_tokens": n}
    if settings.openai_base_url:
        limit["extra_body"] = {"max_tokens": n}
    return limit


def _feature(method: str) -> str:
    return {"tools": "tools", "json": "response_format"}.get(method, "the request")


def try_method(model, method: str, limit: dict | None = None) -> tuple[Ping | None, str]:
    """One round trip with one method: (the validated reply, "") or (None, why it did not work).
    Transport errors (connection, timeout, authentication) propagate: no method can fix them."""
    import openai

    from coach.grading.llm import first_json_object

    messages = [("system", PING_SYSTEM), ("user", PING_USER)]
    limit = limit or {"max_tokens": PING_MAX_TOKENS}
    try:
        if method == "tools":
            bound = model.bind_tools([_tool_schema()], tool_choice=PING_TOOL, **limit)
            response = bound.invoke(messages)
        elif method == "json":
            bound = model.bind(response_format={"type": "json_object"}, **limit)
            response = bound.invoke(messages + [_schema_prompt()])
        else:
            response = model.bind(**limit).invoke(messages + [_schema_prompt()])
    except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
        return None, f"the server rejected {_feature(method)} (HTTP {exc.status_code})"
    except openai.InternalServerError as exc:
        # llama.cpp answers 500 to features it cannot do; any other 5xx is a server failure.
        if not re.search(r"tool|function|response_format|json|grammar", str(exc), re.IGNORECASE):
            raise
        return None, f"the server rejected {_feature(method)} (HTTP {exc.status_code})"
    except openai.LengthFinishReasonError:
        return None, f"the reply was cut off at the {limit['max_tokens']}-token limit"
    if method == "tools":
        calls = getattr(response, "tool_calls", None) or []
        if not calls:
            if getattr(response, "invalid_tool_calls", None):
                return None, "the tool call's arguments were not valid JSON"
            return None, "no tool call in the reply"
        reply, error = _validate(calls[0].get("args", {}))
        return reply, error and f"the tool call did not validate ({error})"
    text = _content(response)
    if method == "json":
        try:
            candidate = json.loads(text)
        except ValueError:
            return None, "the reply was not one JSON object"
    else:
        try:
            candidate = first_json_object(text)
        except ValueError:
            return None, "no JSON object in the reply"
    reply, error = _validate(candidate)
    return reply, error and f"the JSON did not validate ({error})"


def run_doctor(settings: Settings | None = None, remember: bool = True) -> DoctorReport:
    """Check the configured endpoint; cache the structured-output method found (or forget a stale one)."""
    import openai

    from coach.llm.client import chat_model, describe_failure, endpoint

    settings = settings or load_settings()
    model = chat_model(settings)  # raises CoachError when no LLM is configured
    report = DoctorReport(endpoint=endpoint(settings), model=settings.coach_model)
    where = report.endpoint

    try:
        report.models = _list_models(settings)
    except openai.APIStatusError as exc:
        if exc.status_code == 401:
            report.checks.append(Check("reachable", "fail", describe_failure(exc, settings)))
            report.checks.append(Check("model listed", "skip", "the endpoint refused the key"))
            report.checks.append(Check("structured output", "skip", "the endpoint refused the key"))
            return report
        # It answered, just not with a model list (some servers do not implement GET /models).
        report.checks.append(
            Check("reachable", "ok", f"{where} answered (GET /models: HTTP {exc.status_code})")
        )
        report.checks.append(
            Check("model listed", "skip", f"GET /models answered HTTP {exc.status_code}")
        )
    except Exception as exc:  # noqa: BLE001 - any other failure means the endpoint is unusable
        report.checks.append(Check("reachable", "fail", describe_failure(exc, settings)))
        report.checks.append(Check("model listed", "skip", "the endpoint is unreachable"))
        report.checks.append(Check("structured output", "skip", "the endpoint is unreachable"))
        return report
    else:
        count = len(report.models)
        report.checks.append(
            Check("reachable", "ok", f"{where} lists {count} model{'s' * (count != 1)}")
        )
        if model_listed(settings.coach_model, report.models):
            report.checks.append(Check("model listed", "ok", f"{settings.coach_model} is listed"))
        else:
            shown = ", ".join(report.models[:8]) + (", ..." if count > 8 else "") or "none"
            report.checks.append(
                Check(
                    "model listed",
                    "fail",
                    f"COACH_MODEL={settings.coach_model} is not listed (the server lists: {shown})",
                )
            )

    for method in METHODS:
        try:
            reply, why = try_method(model, method, token_limit(settings, PING_MAX_TOKENS))
        except Exception as exc:  # noqa: BLE001 - transport failure: no other method can help
            report.tried.append((method, describe_failure(exc, settings)))
            report.checks.append(
                Check("structured output", "fail", describe_failure(exc, settings))
            )
            return report
        report.tried.append((method, "ok" if reply else why))
        if reply is not None:
            report.method = method
            report.checks.append(
                Check("structured output", "ok", f"method {method}: {reply.model_dump_json()}")
            )
            break
    else:
        report.checks.append(
            Check(
                "structured output",
                "fail",
                "no method produced a valid reply (tool calling, JSON mode, JSON in the text); "
                "try a stronger COACH_MODEL",
            )
        )
    if remember:
        report.cache_path = remember_method(settings, report.method)
    return report
