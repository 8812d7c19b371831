"""Settings from the environment and `.env` (pydantic-settings), with where each value came from."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from coach.errors import CoachError

DEFAULT_MODEL = "gpt-4o-mini"
MINILM = "minilm"


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("coach", appauthor=False))


class Settings(BaseSettings):
    """Every knob the coach reads. Environment variables win over `.env`, which wins over defaults."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    coach_home: Path = Field(
        default_factory=default_home, description="Where history and the store live"
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key for OpenAI or a compatible server"
    )
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp)"
    )
    coach_model: str = Field(
        DEFAULT_MODEL, description="Chat model used for LLM grading, probes and plans"
    )
    coach_embedder: Literal["minilm", "openai"] = Field(
        MINILM, description="minilm (bundled, offline) or openai (text-embedding-3-small)"
    )
    coach_embedding_model: str = Field(
        "text-embedding-3-small", description="OpenAI embedding model"
    )
    coach_chroma_path: Path | None = Field(
        None, description="Embedded Chroma directory (default COACH_HOME/chroma)"
    )
    coach_chroma_url: str | None = Field(
        None, description="Chroma server URL, e.g. http://127.0.0.1:8000"
    )
    coach_grader: Literal["auto", "offline", "llm"] = Field(
        "auto", description="auto: LLM when configured, else offline"
    )
    coach_llm_timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds before an LLM call times out"
    )
    coach_fallback: Literal["none", "offline"] = Field(
        "none", description="offline: grade offline when the LLM grade fails"
    )

    coach_transcriber: Literal["local", "openai"] = Field(
        "local",
        description="local: bundled Whisper, offline; openai: the endpoint's transcription API",
    )
    coach_whisper_model: Path | None = Field(
        None, description="A local faster-whisper model directory (default: the bundled tiny.en)"
    )
    coach_transcription_model: str = Field(
        "whisper-1", description="Transcription model when COACH_TRANSCRIBER=openai"
    )

    @property
    def chroma_path(self) -> Path:
        return self.coach_chroma_path or self.coach_home / "chroma"

    @property
    def history_path(self) -> Path:
        return self.coach_home / "history.sqlite"

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def grader(self) -> Literal["offline", "llm"]:
        if self.coach_grader == "auto":
            return "llm" if self.llm_configured else "offline"
        return self.coach_grader


def env_file_path() -> Path:
    return Path(os.environ.get("COACH_ENV_FILE", ".env"))


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a .env file strictly: a line that is not KEY=VALUE is an error naming the line."""
    from dotenv.parser import parse_stream

    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CoachError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise CoachError(f"{path}: cannot read ({exc.strerror})") from None
    values: dict[str, str] = {}
    import io

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            raise CoachError(f"{path}: line {line} is not KEY=VALUE")
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def load_settings(**overrides) -> Settings:
    """Build Settings from environment + .env, turning validation errors into one-line CoachErrors."""
    file_values = read_env_file(env_file_path())
    known = {name.upper() for name in Settings.model_fields}
    merged = {k.lower(): v for k, v in file_values.items() if k.upper() in known}
    merged.update({k.lower(): v for k, v in os.environ.items() if k.upper() in known})
    merged.update(overrides)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = str(error["loc"][0]).upper() if error["loc"] else "setting"
        raise CoachError(f"{variable}: {error['msg']}") from None


def redact_url(url: str) -> str:
    """A URL safe to show: credentials (user:password@) and the query string are replaced by '***'."""
    url = re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@\s]*@", r"\1***@", url.strip())
    return re.sub(r"\?.*$", "?***", url)


def mask(secret: str) -> str:
    """Show at most a prefix and the last 4 characters of a secret."""
    if len(secret) <= 8:
        return "****"
    prefix = secret[:3] if secret.startswith("sk-") else ""
    return f"{prefix}...{secret[-4:]}"


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(VARIABLE, shown value, source) for every setting; secrets masked."""
    file_values = {k.upper(): v for k, v in read_env_file(env_file_path()).items()}
    rows = []
    for name in Settings.model_fields:
        variable = name.upper()
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = mask(value.get_secret_value())
        elif value is None:
            shown = "(not set)"
        elif name.endswith("_url"):
            shown = redact_url(str(value))
        else:
            shown = str(value)
        if variable in {k.upper() for k in os.environ}:
            source = "environment"
        elif variable in file_values:
            source = f".env ({env_file_path()})"
        else:
            source = "default"
        rows.append((variable, shown, source))
    return rows
