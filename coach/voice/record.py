"""Recording an answer from the microphone (sounddevice/PortAudio, the only sounddevice import).

`record` reads the input stream in blocks of TICK_S (0.1 s), so the caller's `should_stop` (the CLI
checks for Enter in a background thread) and `on_tick` (a level meter) run about ten times a
second, and the recording stops within 0.1 s of either `should_stop()` or `limit_s`. Elapsed time
is counted in samples read, not wall time, so it is exact and a fake stream is deterministic.

The meter level is the block's RMS on a dB scale: -60 dBFS (a quiet room) maps to 0, 0 dBFS (full
scale) to 1, so speech at a typical -30..-15 dBFS sits in the middle of the meter.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np

from coach.errors import CoachError
from coach.voice.audio import INSTALL, AudioError

TICK_S = 0.1
METER_FLOOR_DBFS = -60.0
NO_MICROPHONE = (
    "no microphone or audio device found; record elsewhere and use `coach grade ID --audio FILE`"
)


class NoMicrophone(CoachError):
    """No input device (or no PortAudio library) to record from."""

    def __init__(self, message: str = NO_MICROPHONE):
        super().__init__(message)


StreamFactory = Callable[
    [int, int], object
]  # (samplerate, blocksize) -> an opened-not-started stream


def record(
    limit_s: float,
    should_stop: Callable[[], bool],
    on_tick: Callable[[float, float], None],
    stream_factory: StreamFactory | None = None,
    samplerate: int = 16000,
    on_block: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    """Record mono float32 samples until `should_stop()` is true or `limit_s` seconds are recorded;
    `on_tick(elapsed_s, level)` is called after every block with a level in 0..1, and `on_block(samples)`
    (when given) with the block itself. The stream is
    closed however this ends (Ctrl-C included). Raises NoMicrophone when no device can be opened.

    `stream_factory(samplerate, blocksize)` returns an object with start(), read(frames) ->
    (array frames x 1, overflowed), stop() and close(), as sounddevice.InputStream has; tests pass
    a fake one."""
    blocksize = max(1, round(samplerate * TICK_S))
    factory = stream_factory or _sounddevice_stream()
    errors = _device_errors()  # after the import above, so PortAudioError is among them
    try:
        stream = factory(samplerate, blocksize)
        stream.start()
    except errors:
        raise NoMicrophone() from None
    limit = round(limit_s * samplerate)
    chunks: list[np.ndarray] = []
    frames = 0
    try:
        while frames < limit and not should_stop():
            try:
                data, _overflowed = stream.read(min(blocksize, limit - frames))
            except errors:
                raise NoMicrophone() from None
            block = np.asarray(data, dtype=np.float32)
            block = block.mean(axis=1) if block.ndim == 2 else block.reshape(-1)
            if block.size == 0:  # a stream that ended (a fake one, or an unplugged device)
                break
            chunks.append(block)
            frames += block.size
            if (
                on_block is not None
            ):  # e.g. a LiveTranscription, transcribing while the candidate speaks
                on_block(block)
            on_tick(frames / samplerate, level(block))
    finally:
        _close(stream)
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def check_available() -> None:
    """Fail early, before a question is shown, when recording cannot work at all (the PortAudio
    library or sounddevice missing). Opens no device: a missing microphone shows when recording."""
    _sounddevice_stream()


def level(block: np.ndarray) -> float:
    """A meter reading in 0..1: the block's RMS in dBFS, METER_FLOOR_DBFS..0 mapped linearly."""
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if block.size else 0.0
    if rms <= 0:
        return 0.0
    dbfs = 20 * math.log10(rms)
    return min(1.0, max(0.0, (dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))


def _sounddevice():
    try:
        import sounddevice
    except OSError:  # sounddevice raises OSError at import when libportaudio is absent
        raise NoMicrophone(
            "cannot record: the PortAudio library is missing (on Debian or Ubuntu: sudo apt-get install "
            "libportaudio2); or record elsewhere and use `coach grade ID --audio FILE`"
        ) from None
    except ImportError:
        raise AudioError(f"recording needs the voice extra (sounddevice): {INSTALL}") from None
    return sounddevice


def _sounddevice_stream() -> StreamFactory:
    sd = _sounddevice()

    def factory(samplerate: int, blocksize: int):
        return sd.InputStream(
            samplerate=samplerate, channels=1, dtype="float32", blocksize=blocksize
        )

    return factory


def _device_errors() -> tuple[type[BaseException], ...]:
    """OSError, and PortAudioError when sounddevice is importable (it subclasses Exception only)."""
    module = sys.modules.get("sounddevice")
    extra = getattr(module, "PortAudioError", None) if module else None
    return (OSError, extra) if isinstance(extra, type) else (OSError,)


def _close(stream) -> None:
    for method in ("stop", "close"):
        try:
            getattr(stream, method)()
        except Exception:  # noqa: BLE001, S110 - closing a failed device must not hide the real error
            pass
