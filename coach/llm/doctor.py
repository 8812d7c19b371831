"""`coach doctor`: is the LLM endpoint usable, and which structured-output method does it support?

Three checks, in order: the endpoint answers `GET /models`; `COACH_MODEL` is among the models it
lists; a tiny structured-output round trip validates. The round trip tries the methods of
`coach.llm.structured` in their order of preference and stops at the first that works:

  tools    a forced function call (`tool_choice`), arguments validated against the schema
  json     JSON mode (`response_format={"type": "json_object"}`), schema in the prompt, whole reply parsed
  extract  no constraint, schema in the prompt, the first JSON object in the reply parsed

Unlike a grade, the round trip is strict (a tools reply must be a tool call, a JSON-mode reply one
JSON object) and moves on after any unusable reply, not only a rejected feature. The method found is
cached in COACH_HOME/endpoints.json, keyed by endpoint and model; every structured call starts with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from coach.config import Settings, load_settings
from coach.llm.client import FeatureRejected, LLMError, endpoint, list_models, require_llm
from coach.llm.structured import METHODS, Method, cached_method, remember_method, try_method

__all__ = [
    "Check",
    "DoctorReport",
    "cached_method",
    "model_listed",
    "ping",
    "remember_method",
    "run_doctor",
]

PING_TOOL = "submit_answer"
PING_DESCRIPTION = "Submit the answer."
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


# --- the checks -----------------------------------------------------------------------------------


def model_listed(model: str, listed: list[str]) -> bool:
    """Exact id, or Ollama's implicit `:latest` tag."""
    return model in listed or f"{model}:latest" in listed


def ping(settings: Settings, method: Method) -> tuple[Ping | None, str]:
    """One strict round trip with one method: (the validated reply, "") or (None, why it did not
    work). A failure of the endpoint raises LLMError: no other method can fix it."""
    messages = [("system", PING_SYSTEM), ("user", PING_USER)]
    try:
        result = try_method(
            settings,
            method,
            messages,
            Ping,
            PING_TOOL,
            description=PING_DESCRIPTION,
            max_tokens=PING_MAX_TOKENS,
            strict=True,
        )
    except FeatureRejected as exc:
        return None, str(exc)
    return result.value, result.problem


def run_doctor(settings: Settings | None = None, remember: bool = True) -> DoctorReport:
    """Check the configured endpoint; cache the structured-output method found (or forget a stale one)."""
    settings = settings or load_settings()
    require_llm(settings)
    report = DoctorReport(endpoint=endpoint(settings), model=settings.coach_model)
    where = report.endpoint

    try:
        report.models = list_models(settings)
    except LLMError as exc:
        if exc.status is None or exc.status == 401:
            why = (
                "the endpoint refused the key"
                if exc.status == 401
                else "the endpoint is unreachable"
            )
            report.checks.append(Check("reachable", "fail", str(exc)))
            report.checks.append(Check("model listed", "skip", why))
            report.checks.append(Check("structured output", "skip", why))
            return report
        # It answered, just not with a model list (some servers do not implement GET /models).
        report.checks.append(
            Check("reachable", "ok", f"{where} answered (GET /models: HTTP {exc.status})")
        )
        report.checks.append(
            Check("model listed", "skip", f"GET /models answered HTTP {exc.status}")
        )
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
            reply, why = ping(settings, method)
        except LLMError as exc:  # the endpoint failed: no other method can help
            report.tried.append((method, str(exc)))
            report.checks.append(Check("structured output", "fail", str(exc)))
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
