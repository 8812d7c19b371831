"""Structured output from any OpenAI-compatible chat model: one call that returns a validated
pydantic object, whatever the server supports.

Three methods, in order of preference:

  tools    a forced function call (`tool_choice`); its arguments are the object
  json     JSON mode (`response_format={"type": "json_object"}`), the schema in the prompt
  extract  no constraint, the schema in the prompt, the first JSON object in the reply

`call_structured` starts with the method `coach doctor` found for this endpoint and model (cached in
COACH_HOME/endpoints.json), or with tools. It moves to the next method only when the server rejects
the feature (the one rule is `client.rejects_feature`: HTTP 400, 422 or 500 whose error names tools,
functions, response_format, json_object/json_schema, a grammar or jinja); a method found that way is
cached too, so the next call goes straight to it. Any other failure of the endpoint is an LLMError at once: a 500 outage costs the
openai client's own retries and nothing more. A reply that does not validate is asked for once more,
with the validation error; a second bad reply is an LLMError of kind "malformed". Parsing is
tolerant: whatever the method, a tool call's arguments or else the first JSON object in the text.

`complete_text` is the plain-text call (no schema), for prose such as the study plan's summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from coach.config import Settings
from coach.llm.client import (
    MAX_REPLY_TOKENS,
    ChatReply,
    FeatureRejected,
    LLMError,
    Message,
    endpoint,
    send,
)
from coach.models import Usage

__all__ = [
    "METHODS",
    "SCHEMA_PROMPT",
    "LLMError",
    "Message",
    "Method",
    "MethodResult",
    "StructuredReply",
    "cached_method",
    "call_structured",
    "complete_text",
    "first_json_object",
    "remember_method",
    "try_method",
]

Method = Literal["tools", "json", "extract"]
METHODS: tuple[Method, ...] = ("tools", "json", "extract")
CACHE_FILE = "endpoints.json"
SCHEMA_PROMPT = "Reply with one JSON object only, matching this JSON schema: "

T = TypeVar("T", bound=BaseModel)


@dataclass
class StructuredReply(Generic[T]):
    """A validated reply: the object, the method that produced it, the tokens of every request made
    for it (a retry included), and the model the server says answered."""

    value: T
    method: Method
    usage: Usage
    model: str


@dataclass
class MethodResult(Generic[T]):
    """One request with one method: the validated object, or why the reply was not usable."""

    method: Method
    value: T | None
    problem: str  # "" when value is set
    usage: Usage
    model: str


# --- the calls ------------------------------------------------------------------------------------


def call_structured(
    settings: Settings,
    messages: Sequence[Message],
    schema: type[T],
    tool_name: str,
    *,
    description: str = "Submit the result.",
    max_tokens: int | None = None,
) -> StructuredReply[T]:
    """Ask the chat model for one `schema` object (as the `tool_name` tool's arguments when the
    server supports tools). Raises LLMError when the endpoint fails or the reply never validates."""
    start = cached_method(settings)
    order = [start] + [m for m in METHODS if m != start] if start else list(METHODS)
    usage = Usage()
    rejected = False
    ask = {"description": description, "max_tokens": max_tokens}
    for method in order:
        try:
            result = try_method(settings, method, messages, schema, tool_name, **ask)
        except FeatureRejected:
            rejected = True
            continue
        _add(usage, result.usage)
        if result.value is None:
            # One more chance, told exactly what was wrong.
            retry = _retry_prompt(method, tool_name, result.problem)
            result = try_method(settings, method, messages, schema, tool_name, retry=retry, **ask)
            _add(usage, result.usage)
            if result.value is None:
                raise LLMError(
                    f"the model's reply was malformed twice: {result.problem}",
                    kind="malformed",
                    reason=result.problem,
                )
        if rejected:
            remember_method(settings, method)  # learned: the next call goes straight to it
        return StructuredReply(value=result.value, method=method, usage=usage, model=result.model)
    # Only reachable if every method was refused; "extract" uses no feature, so it is not refused.
    raise LLMError(
        f"{endpoint(settings)} accepted none of the structured-output methods", kind="rejected"
    )


def complete_text(
    settings: Settings, messages: Sequence[Message], max_tokens: int | None = None
) -> str:
    """The model's plain-text reply, whitespace kept as sent. Raises LLMError when the endpoint fails."""
    return send(settings, messages, max_tokens=max_tokens).text


def try_method(
    settings: Settings,
    method: Method,
    messages: Sequence[Message],
    schema: type[T],
    tool_name: str,
    *,
    description: str = "Submit the result.",
    max_tokens: int | None = None,
    strict: bool = False,
    retry: str = "",
) -> MethodResult[T]:
    """One request with one method. `strict` (for `coach doctor`) accepts only what the method
    promises: a tool call for tools, a reply that is one JSON object for json. `retry` is a last user
    message saying what was wrong with the previous reply. Raises FeatureRejected when the server
    refuses the method's feature, LLMError when the endpoint fails."""
    messages = list(messages)
    if method != "tools":
        messages.append(("user", _schema_prompt(schema)))
    if retry:
        messages.append(("user", retry))
    if method == "tools":
        tool = {
            "type": "function",
            "function": {
                "name": tool_name,
                "description": description,
                "parameters": schema.model_json_schema(),
            },
        }
        reply = send(settings, messages, tool=tool, max_tokens=max_tokens)
    else:
        reply = send(settings, messages, json_mode=method == "json", max_tokens=max_tokens)
    value, problem = _read(reply, method, schema, strict)
    if value is None and reply.finish_reason == "length":
        problem = f"the reply was cut off at the {max_tokens or MAX_REPLY_TOKENS}-token limit"
    return MethodResult(method, value, problem, reply.usage, reply.model or settings.coach_model)


def _read(reply: ChatReply, method: Method, schema: type[T], strict: bool) -> tuple[T | None, str]:
    """The reply's object and "", or None and what was wrong with it."""
    if reply.tool_args:
        return _validate(schema, reply.tool_args[0], "the tool call did not validate")
    if method == "tools" and (strict or not reply.text.strip()):
        if reply.bad_tool_call:
            return None, "the tool call's arguments were not valid JSON"
        return None, "no tool call in the reply" if strict else "empty reply"
    if method == "json" and strict:
        try:
            candidate = json.loads(reply.text)
        except ValueError:
            return None, "the reply was not one JSON object"
    else:
        try:
            candidate = first_json_object(reply.text)
        except ValueError:
            if method == "tools":
                return None, "no tool call and no JSON object in the reply"
            return None, "no JSON object in the reply"
    return _validate(schema, candidate, "the JSON did not validate")


def _validate(schema: type[T], candidate: object, what: str) -> tuple[T | None, str]:
    try:
        return schema.model_validate(candidate), ""
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "reply"
        return None, f"{what} ({loc}: {first['msg']})"


def _schema_prompt(schema: type[BaseModel]) -> str:
    return SCHEMA_PROMPT + json.dumps(schema.model_json_schema())


def _retry_prompt(method: Method, tool_name: str, problem: str) -> str:
    if method == "tools":
        return f"Your reply was not valid: {problem}. Call {tool_name} again with valid fields."
    return f"Your reply was not valid: {problem}. Reply again with one JSON object that matches the schema."


def _add(total: Usage, more: Usage) -> None:
    total.input_tokens += more.input_tokens
    total.output_tokens += more.output_tokens


def first_json_object(text: str) -> dict:
    """The first balanced {...} in a reply that parses (models wrap JSON in prose or code fences)."""
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
                continue
            if ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        return json.loads(text[start : i + 1])
                    except json.JSONDecodeError:
                        break
        start = text.find("{", start + 1)
    raise ValueError("no JSON object in the reply")


# --- the method cache (written by `coach doctor`, and when a call finds a method) -----------------


def cache_key(settings: Settings) -> str:
    return f"{endpoint(settings).rstrip('/')}|{settings.coach_model}"


def cache_path(settings: Settings) -> Path:
    return settings.coach_home / CACHE_FILE


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no file yet, or a damaged one: every method is tried in order
    return data if isinstance(data, dict) else {}


def cached_method(settings: Settings) -> Method | None:
    """The structured-output method found for this endpoint and model, if any."""
    entry = _read_cache(cache_path(settings)).get(cache_key(settings))
    method = entry.get("method") if isinstance(entry, dict) else None
    return method if method in METHODS else None


def remember_method(settings: Settings, method: str | None) -> Path:
    """Store (or, for None, forget) the method for this endpoint and model; returns the file."""
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
