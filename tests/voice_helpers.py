"""Synthetic spoken answers for the voice tests and bench/voice.py: espeak-ng speaks each segment,
the segments are joined with silences of known length, and the ground truth (where each segment's
speech really starts and ends, so where the pauses are) is measured on the samples, not assumed.

Nothing here is coach code: it only writes WAV files (the stdlib `wave` module) that the coach then
reads through its own decoder."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SKIP_ENV = "COACH_SKIP_VOICE_SPEECH"
INSTALL_HINT = "espeak-ng is needed to synthesise speech: apt-get install espeak-ng"
RATE = 22050  # espeak-ng's output rate; the coach resamples it to 16 kHz
VOICE = "en-us"
WPM = 140  # espeak-ng -s: a calm speaking rate (tiny.en mishears more words at 150)

# A ~2 minute answer for the bench: fillers throughout and three long pauses.
LONG = [
    ("Um, so, the question is how I would design a rate limiter for a public API.", 0.4),
    (
        "First, I would clarify the requirements, like, you know, how many requests per second per user.",
        0.5,
    ),
    (
        "Uh, the simplest approach is a fixed window counter in Redis, keyed by the user and the minute.",
        2.5,
    ),
    ("The problem with a fixed window is a burst at the boundary, basically twice the limit.", 0.4),
    ("So, then I would move to a sliding window log or, um, a token bucket.", 0.5),
    (
        "A token bucket keeps two numbers per user: the tokens left and the time of the last refill.",
        0.4,
    ),
    ("I mean, each request refills the bucket for the time elapsed, then takes one token.", 3.0),
    ("Er, for several servers, the state has to live in a shared store, actually.", 0.4),
    ("I would use a Lua script in Redis so that the read and the write are atomic.", 0.5),
    ("Uh, the trade-off is one network round trip per request against a local counter.", 0.4),
    (
        "Like, you know, a local counter is faster but it lets each server allow the full limit.",
        2.5,
    ),
    ("Um, for example, with ten servers a user could send ten times the limit.", 0.4),
    ("Finally, I would return status four twenty nine with a retry after header.", 0.5),
    ("Uh, and I would, um, monitor the rejection rate per client to tune the limits.", 0.6),
    ("To summarise, a token bucket in Redis, updated by one atomic script per request.", 0.4),
    ("It is, you know, simple to reason about, and it allows short bursts by design.", 0.5),
    (
        "Um, if Redis is down, I would fail open for most clients, basically, and fail closed for login.",
        2.2,
    ),
    (
        "Then I would load test it, so that we know the latency it adds at the ninety ninth percentile.",
        0.4,
    ),
    ("Uh, that is roughly how I would approach it.", 0.3),
]

FILLER_TOKENS = {"um", "uh", "er", "like", "you know", "i mean", "basically", "actually", "so"}


@dataclass
class Speech:
    """A synthetic answer: its file, its script and what was measured on its samples."""

    path: Path
    script: list[tuple[str, float]]
    duration_s: float
    spans: list[tuple[float, float]] = field(default_factory=list)  # speech extent of each segment

    @property
    def words(self) -> int:
        return sum(len(re.findall(r"[\w'-]+", text)) for text, _ in self.script)

    @property
    def pauses(self) -> list[tuple[float, float]]:
        """(start, gap) between consecutive segments' speech, as measured on the samples."""
        return [
            (end, nxt_start - end)
            for (_, end), (nxt_start, _) in zip(self.spans, self.spans[1:], strict=False)
        ]

    def fillers(self) -> dict[str, int]:
        """The filler words the script says (each deliberate, so each counts)."""
        counts: dict[str, int] = {}
        for text, _ in self.script:
            lowered = re.sub(r"[^\w' ]", " ", text.lower())
            tokens = lowered.split()
            joined = " " + " ".join(tokens) + " "
            for filler in FILLER_TOKENS:
                if filler == "so":  # at the start, or after fillers there ("Um, so,")
                    lead = list(
                        itertools.takewhile(lambda t: t in ("um", "uh", "er", "so"), tokens)
                    )
                    n = int("so" in lead)
                else:
                    n = joined.count(f" {filler} ")
                if n:
                    counts[filler] = counts.get(filler, 0) + n
        return counts


def espeak() -> str | None:
    return shutil.which("espeak-ng")


def require_espeak() -> str:
    """The espeak-ng binary; fails (or skips, with COACH_SKIP_VOICE_SPEECH=1) when it is absent."""
    import pytest

    binary = espeak()
    if binary:
        return binary
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{INSTALL_HINT} ({SKIP_ENV}=1)")
    pytest.fail(f"{INSTALL_HINT} (or set {SKIP_ENV}=1 to skip the speech tests)")


def say(text: str, binary: str | None = None) -> np.ndarray:
    """espeak-ng's samples for `text`, float32 in -1..1 at RATE."""
    binary = binary or espeak() or "espeak-ng"
    raw = subprocess.run(
        [binary, "-v", VOICE, "-s", str(WPM), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    return _wav_samples(raw)


def _wav_samples(raw: bytes) -> np.ndarray:
    import io

    with wave.open(io.BytesIO(raw)) as w:
        frames = w.readframes(w.getnframes())
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == RATE
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def speech_extent(
    samples: np.ndarray, rate: int = RATE, threshold: float = 0.01
) -> tuple[int, int]:
    """First and last sample above `threshold` (espeak-ng pads its output with a little silence)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, 0)


def synthesise(
    path: Path, script: list[tuple[str, float]], lead_s: float = 0.5, binary: str | None = None
) -> Speech:
    """Speak each segment, trim espeak's padding, join them with the given silences, write a WAV."""
    pieces = [np.zeros(int(lead_s * RATE), dtype=np.float32)]
    spans = []
    at = len(pieces[0])
    for text, pause in script:
        samples = say(text, binary)
        first, last = speech_extent(samples)
        samples = samples[first:last]
        spans.append((at / RATE, (at + len(samples)) / RATE))
        silence = np.zeros(int(pause * RATE), dtype=np.float32)
        pieces += [samples, silence]
        at += len(samples) + len(silence)
    audio = np.concatenate(pieces)
    write_wav(path, audio, RATE)
    return Speech(path=path, script=script, duration_s=len(audio) / RATE, spans=spans)


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """A mono PCM WAV: 16-bit (width 2) or unsigned 8-bit (width 1)."""
    clipped = np.clip(samples, -1.0, 1.0)
    if width == 2:
        data = (clipped * 32767).astype("<i2").tobytes()
    else:
        data = ((clipped * 127) + 128).astype(np.uint8).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def encode(source: Path, target: Path, codec: str) -> Path:
    """Re-encode a WAV into another container with PyAV (mp3, m4a/aac, webm/opus, ogg/vorbis, flac)."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        in_stream = inp.streams.audio[0]
        rate = 48000 if codec in ("libopus", "opus") else in_stream.rate
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for frame in inp.decode(in_stream):
            frame.pts = None
            for resampled in resampler.resample(frame):
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for resampled in resampler.resample(None):
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


class FakeStream:
    """sounddevice.InputStream's blocking interface over a prepared signal."""

    def __init__(self, signal: np.ndarray):
        self.signal = signal.astype(np.float32)
        self.at = 0
        self.started = self.closed = False
        self.reads: list[int] = []

    def __call__(self, samplerate: int, blocksize: int):
        """Its own stream factory, so it can stand in for sounddevice (the coach records at 16 kHz)."""
        assert samplerate == 16000
        return self

    def start(self):
        self.started = True

    def read(self, frames):
        self.reads.append(frames)
        chunk = self.signal[self.at : self.at + frames]
        self.at += chunk.size
        return chunk.reshape(-1, 1), False

    def stop(self):
        pass

    def close(self):
        self.closed = True
