"""Speak your answer: audio files, the recorder, transcription and the delivery measures.

The speech tests synthesise an answer with espeak-ng (fillers in it, and one 3 s pause), transcribe
it with the real bundled tiny.en model (loaded once for the module, with sockets blocked so any
network access would fail the test), and check what comes back against what was measured on the
synthetic samples. Tolerances, each stated where it is asserted:
* content words: at least 80% of CONTENT recovered (tiny.en on a synthetic voice mishears some
  words, e.g. "write-through" as "right through"; bench/voice.py reports the rate on 2 minutes);
* every scripted pause over 2 s found, start and length within 0.5 s;
* wpm within 10% of (scripted words / scripted speech span);
* fillers: at most one of the six scripted ones missed and at most one extra counted.
Without espeak-ng these fail naming `apt-get install espeak-ng` (COACH_SKIP_VOICE_SPEECH=1 skips
them instead); without the voice extra the tests that need it fail with the install command.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import respx
import voice_helpers as vh
from fakes import RESPX_USING, use_fake_clock
from voice_helpers import FakeStream

from coach.config import Settings
from coach.errors import CoachError
from coach.llm.client import LLMError
from coach.voice import audio, record, transcribe
from coach.voice.audio import AudioError, load_audio
from coach.voice.delivery import Delivery, measure
from coach.voice.transcribe import Transcript, Word

CONTENT = [
    "trade-off", "latency", "consistency", "first", "cache", "front", "database", "write-through",
    "result", "reads", "primary", "finally", "measure", "hit", "ratio", "tail", "before", "after",
    "change",
]  # fmt: skip
SHORT = [
    ("Um, so, the trade-off here is latency versus consistency.", 0.4),
    ("First, I would put a cache in front of the database, like, you know, a write-through cache.", 3.0),
    ("Uh, then the result is fewer reads on the primary, basically.", 0.5),
    ("Finally, I would measure the cache hit ratio and the tail latency before and after the change.", 0.3),
]  # fmt: skip


def need_voice() -> None:
    reason = audio.voice_missing()
    if reason:
        pytest.fail(f"{reason} (`make test` installs it)")


def _blocked(*args, **kwargs):
    raise AssertionError("the voice code tried to open a network connection")


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="module")
def speech(speech_dir) -> vh.Speech:
    binary = vh.require_espeak()
    return vh.synthesise(speech_dir / "answer.wav", SHORT, binary=binary)


@pytest.fixture(scope="module")
def heard(speech):
    """The short answer transcribed once by a freshly loaded bundled model, with sockets blocked."""
    need_voice()
    transcribe._models.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _blocked)
        mp.setattr(socket, "create_connection", _blocked)
        whisper = transcribe.transcriber_for(Settings(_env_file=None, coach_whisper_model=None))
        sound = load_audio(speech.path)
        return sound, transcribe.transcribe(sound, whisper)


# --- real speech through the real model ------------------------------------------------------------


def test_transcript_recovers_the_content_words(heard):
    _, transcript = heard
    text = " " + re.sub(r"[^\w']+", " ", transcript.text.lower().replace("-", " ")) + " "
    found = [w for w in CONTENT if f" {w.replace('-', ' ')} " in text]
    assert transcript.engine == "whisper tiny.en (local)" and transcript.language == "en"
    assert len(found) >= 0.8 * len(CONTENT), (sorted(set(CONTENT) - set(found)), transcript.text)


def test_word_timestamps_are_monotonic_and_inside_the_audio(heard):
    sound, transcript = heard
    words = transcript.words
    assert len(words) > 40
    assert all(w.start <= w.end for w in words)
    assert all(a.start <= b.start and a.end <= b.end for a, b in itertools.pairwise(words))
    assert 0 <= words[0].start and words[-1].end <= sound.duration_s + 0.05
    assert transcript.duration_s == pytest.approx(sound.duration_s)


def test_delivery_of_real_speech_finds_the_pause_the_pace_and_the_fillers(speech, heard):
    _, transcript = heard
    result = measure(transcript, budget_s=20)

    ((true_start, true_gap),) = [p for p in speech.pauses if p[1] > 2]
    ((start, gap),) = result.pauses
    assert start == pytest.approx(true_start, abs=0.5) and gap == pytest.approx(true_gap, abs=0.5)

    span = speech.spans[-1][1] - speech.spans[0][0]
    assert result.wpm == pytest.approx(speech.words / span * 60, rel=0.10)
    assert result.over_budget and result.time_used_s == pytest.approx(speech.spans[-1][1], abs=0.5)

    truth = speech.fillers()
    assert truth == {"um": 1, "so": 1, "like": 1, "you know": 1, "uh": 1, "basically": 1}
    hit = sum(min(result.fillers.get(k, 0), n) for k, n in truth.items())
    extra = sum(max(n - truth.get(k, 0), 0) for k, n in result.fillers.items())
    assert hit >= sum(truth.values()) - 1 and extra <= 1, result.fillers
    assert result.signposts >= 2  # "first", "finally" (and "the trade-off", "then", "the result")
    notes = result.notes()
    assert notes[0].startswith("You spoke 0:2") and "against a 0:20 budget" in notes[0]
    assert any(n.startswith("1 pause over 2 s, longest") for n in notes)


def test_live_transcription_while_recording_matches_one_pass(heard):
    """Fed block by block as the recorder does, with the shipped 20 s parts (the short answer is ~25 s,
    so it is cut once; shorter parts lose context, 10 s ones lost 6 of 19 words): the same content words, no word twice at a cut, times in order, the
    same pause; parts run in a worker thread while blocks keep arriving."""
    sound, whole = heard
    live = transcribe.LiveTranscription(transcribe.LocalWhisper())
    for i in range(0, sound.samples.size, 1600):
        live.feed(sound.samples[i : i + 1600])
        time.sleep(0.01)  # let the worker run as it would beside a real-time recording
    transcript = transcribe.transcribe(sound, live)

    assert len(live.texts) >= 2 and live.error is None  # at least one part during, then the rest
    assert transcript.engine == whole.engine
    words = transcript.words
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    said = [re.sub(r"[^\w]", "", w) for w in transcript.text.lower().replace("-", " ").split()]
    said_once = [re.sub(r"[^\w]", "", w) for w in whole.text.lower().replace("-", " ").split()]
    assert difflib.SequenceMatcher(None, said, said_once).ratio() >= 0.9, (
        transcript.text,
        whole.text,
    )
    text = " " + re.sub(r"[^\w']+", " ", transcript.text.lower().replace("-", " ")) + " "
    found = [w for w in CONTENT if f" {w.replace('-', ' ')} " in text]
    assert len(found) >= 0.75 * len(CONTENT), (sorted(set(CONTENT) - set(found)), transcript.text)
    ((start, gap),) = measure(transcript).pauses
    ((whole_start, whole_gap),) = measure(whole).pauses
    assert start == pytest.approx(whole_start, abs=0.3) and gap == pytest.approx(whole_gap, abs=0.3)


def test_a_failed_part_falls_back_to_one_pass(heard, monkeypatch):
    sound, whole = heard
    whisper = transcribe.LocalWhisper()
    live = transcribe.LiveTranscription(whisper, part_s=6.0)
    real = whisper.transcribe_part
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("ctranslate2 fell over")
        return real(*args, **kwargs)

    monkeypatch.setattr(whisper, "transcribe_part", fails_once)
    for i in range(0, sound.samples.size, 1600):
        live.feed(sound.samples[i : i + 1600])
    transcript = live.finish(sound)
    assert isinstance(live.error, RuntimeError)
    assert transcript.text == whole.text  # one pass over the whole recording, as without live parts


@pytest.mark.parametrize(
    "suffix, codec",
    [
        (".mp3", "libmp3lame"),
        (".m4a", "aac"),
        (".webm", "libopus"),
        (".ogg", "libopus"),
        (".flac", "flac"),
    ],
)
def test_other_formats_decode_to_the_same_length(speech, speech_dir, suffix, codec):
    need_voice()
    encoded = vh.encode(speech.path, speech_dir / f"answer{suffix}", codec)
    sound = load_audio(encoded)
    assert sound.samples.dtype == np.float32 and sound.samples.ndim == 1
    # encoders add priming/padding samples: mp3 ~1152, aac ~2048, opus 312 at 48 kHz
    assert sound.duration_s == pytest.approx(speech.duration_s, abs=0.15)
    assert sound.loudest_dbfs == pytest.approx(load_audio(speech.path).loudest_dbfs, abs=1.5)


def test_a_wav_decodes_to_16k_mono_matching_the_source(tmp_path):
    need_voice()
    rate = 22050
    t = np.arange(rate * 4) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sound = load_audio(vh.write_wav(tmp_path / "tone.wav", tone, rate))
    assert sound.samples.size == pytest.approx(4 * audio.RATE, abs=2)
    assert sound.duration_s == pytest.approx(4.0, abs=0.001)
    rms = float(np.sqrt(np.mean(sound.samples[1000:-1000] ** 2)))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.02)
    assert sound.source == str(tmp_path / "tone.wav")


# --- bad input: one line each ----------------------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message
    assert isinstance(exc.value, CoachError)
    return message


def test_missing_file(tmp_path):
    with pytest.raises(AudioError) as exc:
        load_audio(tmp_path / "nope.wav")
    assert one_line(exc) == f"{tmp_path / 'nope.wav'}: no such file"


@pytest.mark.parametrize("name", ["answer.txt", "answer", "answer.WAVX"])
def test_unsupported_extension_lists_the_supported_ones(tmp_path, name):
    path = tmp_path / name
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(AudioError) as exc:
        load_audio(path)
    message = one_line(exc)
    assert message.startswith(f"{path}: unsupported audio format (")
    assert message.endswith("use .wav, .mp3, .m4a, .webm, .ogg or .flac")


def test_directory_is_refused(tmp_path):
    folder = tmp_path / "takes.wav"
    folder.mkdir()
    with pytest.raises(AudioError) as exc:
        load_audio(folder)
    assert one_line(exc) == f"{folder}: is a directory, not an audio file"


@pytest.mark.parametrize("content", [np.random.default_rng(7).bytes(20_000), b""])
def test_corrupt_file_is_refused_in_one_line(tmp_path, content):
    need_voice()
    path = tmp_path / "answer.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as exc:
        load_audio(path)
    message = one_line(exc)
    assert message.startswith(f"{path}: cannot be decoded as audio (")
    assert message.endswith("is it a valid .wav file?")


def test_a_mp3_named_wav_that_is_really_text_is_refused(tmp_path):
    need_voice()
    path = tmp_path / "answer.mp3"
    path.write_text("I would shard by user id. " * 200, encoding="utf-8")
    with pytest.raises(AudioError) as exc:
        load_audio(path)
    assert "cannot be decoded as audio" in one_line(exc)


def test_one_second_is_too_short(tmp_path):
    need_voice()
    tone = 0.3 * np.sin(np.arange(16000) / 3)
    with pytest.raises(AudioError) as exc:
        load_audio(vh.write_wav(tmp_path / "short.wav", tone, 16000))
    assert one_line(exc).endswith("only 1.0 s of audio; an answer needs at least 3 s")


@pytest.mark.parametrize(
    "level_db, shown", [(None, "digital silence"), (-75, "loudest moment -75 dBFS")]
)
def test_silence_is_refused(tmp_path, level_db, shown):
    need_voice()
    samples = np.zeros(5 * 16000)
    if level_db is not None:  # a quiet hiss, like an input with its gain at zero
        samples = np.random.default_rng(1).standard_normal(samples.size) * 10 ** (level_db / 20)
    with pytest.raises(AudioError) as exc:
        load_audio(vh.write_wav(tmp_path / "quiet.wav", samples, 16000))
    message = one_line(exc)
    assert message == (
        f"{tmp_path / 'quiet.wav'}: the audio is silent ({shown}); "
        "check the microphone and its input level"
    )


def test_speech_just_above_the_silence_threshold_is_kept(tmp_path):
    need_voice()
    samples = 10 ** (-55 / 20) * np.sqrt(2) * np.sin(np.arange(5 * 16000) / 5)  # RMS -55 dBFS
    sound = load_audio(vh.write_wav(tmp_path / "soft.wav", samples, 16000))
    assert sound.loudest_dbfs == pytest.approx(-55, abs=0.5)


def test_over_fifteen_minutes_is_refused_from_the_header(tmp_path):
    need_voice()
    # 16 minutes of 8 kHz 8-bit audio: a real 7.7 MB file, refused before decoding
    path = vh.write_wav(tmp_path / "long.wav", np.full(16 * 60 * 8000, 0.1), 8000, width=1)
    with pytest.raises(AudioError) as exc:
        load_audio(path)
    assert one_line(exc) == f"{path}: 16:00 long; the limit is 15:00"


def test_over_the_limit_is_refused_while_decoding_when_the_header_does_not_say(
    tmp_path, monkeypatch
):
    need_voice()
    monkeypatch.setattr(audio, "MAX_SECONDS", 10.0)
    monkeypatch.setattr(audio, "_declared_seconds", lambda container, stream: None)
    path = vh.write_wav(tmp_path / "long.wav", 0.2 * np.sin(np.arange(20 * 8000) / 3), 8000)
    with pytest.raises(AudioError) as exc:
        load_audio(path)
    assert one_line(exc) == f"{path}: longer than the limit of 0:10"


def test_voice_extra_missing_names_the_install_command(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "faster_whisper" else real(name, *a),
    )
    message = audio.voice_missing()
    assert message == (
        "speaking an answer needs the voice extra (faster-whisper missing): pip install -e '.[voice]'"
    )
    path = vh.write_wav(tmp_path / "a.wav", np.zeros(16000 * 4), 16000)
    with pytest.raises(AudioError) as exc:
        load_audio(path)
    assert one_line(exc) == message


def test_voice_extra_broken_at_import_is_one_line(monkeypatch):
    import sys

    transcribe._models.clear()
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # `import faster_whisper` raises
    with pytest.raises(AudioError) as exc:
        transcribe.LocalWhisper().load()
    assert one_line(exc).endswith(": pip install -e '.[voice]'")


def test_voice_present_reports_nothing():
    need_voice()
    assert audio.voice_missing() is None


def test_a_model_directory_without_its_files_is_refused(tmp_path):
    need_voice()
    (tmp_path / "model.bin").write_bytes(b"")
    settings = Settings(_env_file=None, coach_whisper_model=tmp_path)
    whisper = transcribe.transcriber_for(settings)
    assert whisper.engine == f"whisper {tmp_path.name} (local)"
    with pytest.raises(AudioError) as exc:
        whisper.load()
    assert one_line(exc) == (
        f"COACH_WHISPER_MODEL={tmp_path}: not a faster-whisper model directory "
        "(no config.json, tokenizer.json)"
    )


def test_noise_without_words_is_no_speech(monkeypatch):
    class Nothing:
        engine = "fake"

        def transcribe(self, sound):
            return Transcript(text=" . . ", words=[Word(".", 0.0, 0.5)], duration_s=5.0)

    sound = audio.Audio(samples=np.zeros(5), duration_s=5.0, source="microphone")
    with pytest.raises(AudioError) as exc:
        transcribe.transcribe(sound, Nothing())
    assert one_line(exc).startswith("microphone: no speech recognised")


# --- recordings -------------------------------------------------------------------------------------


def test_recording_stops_when_asked_and_reports_levels():
    # 1 s of silence, then a full-scale-ish sine (RMS -23 dBFS): the meter must rise
    signal = np.concatenate([np.zeros(16000), 0.1 * np.sin(np.arange(5 * 16000) / 3)])
    stream = FakeStream(signal)
    ticks: list[tuple[float, float]] = []
    samples = record.record(
        limit_s=60,
        should_stop=lambda: len(ticks) >= 25,
        on_tick=lambda elapsed, level: ticks.append((elapsed, level)),
        stream_factory=lambda rate, block: stream,
    )
    assert samples.size == 25 * 1600 and samples.dtype == np.float32
    assert [round(e, 1) for e, _ in ticks] == [round(0.1 * i, 1) for i in range(1, 26)]
    assert all(level == 0.0 for _, level in ticks[:10])
    expected = (20 * np.log10(0.1 / np.sqrt(2)) + 60) / 60  # -23 dBFS on a -60..0 meter
    assert all(level == pytest.approx(expected, abs=0.02) for _, level in ticks[11:])
    assert stream.started and stream.closed and set(stream.reads) == {1600}


def test_recording_stops_at_the_limit():
    stream = FakeStream(0.05 * np.sin(np.arange(10 * 16000) / 4))
    ticks = []
    samples = record.record(
        2.05, lambda: False, lambda e, lv: ticks.append(e), stream_factory=lambda r, b: stream
    )
    assert samples.size == int(2.05 * 16000) and ticks[-1] == pytest.approx(2.05)
    assert stream.reads[-1] == 800 and stream.closed  # the last read only what the limit allowed


def test_recording_resampled_from_the_device_rate_is_checked_like_a_file():
    need_voice()
    rate = 44100
    samples = 0.2 * np.sin(2 * np.pi * 300 * np.arange(4 * rate) / rate)
    sound = audio.from_samples(samples.reshape(-1, 1), rate)
    assert sound.source == "microphone" and sound.duration_s == pytest.approx(4.0, abs=0.01)
    with pytest.raises(AudioError) as exc:
        audio.from_samples(np.zeros(5 * rate), rate)
    assert one_line(exc).startswith("microphone: the audio is silent")
    with pytest.raises(AudioError) as exc:
        audio.from_samples(samples[: rate * 2], rate)
    assert one_line(exc) == "microphone: only 2.0 s of audio; an answer needs at least 3 s"


def test_the_stream_closes_when_interrupted():
    stream = FakeStream(np.zeros(16000 * 5))

    def tick(elapsed, level):
        if elapsed >= 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        record.record(10, lambda: False, tick, stream_factory=lambda r, b: stream)
    assert stream.closed


@pytest.mark.parametrize(
    "error", [OSError("Error querying device -1"), OSError("PortAudio library not found")]
)
def test_no_device_is_no_microphone(error):
    def factory(rate, block):
        raise error

    with pytest.raises(record.NoMicrophone) as exc:
        record.record(5, lambda: False, lambda e, lv: None, stream_factory=factory)
    assert one_line(exc) == (
        "no microphone or audio device found; record elsewhere and use `coach grade ID --audio FILE`"
    )


def test_the_real_device_path_records_or_says_no_microphone():
    """Here (CI, containers) there is no PortAudio library or no input device: NoMicrophone. On a
    machine with a microphone, a 0.2 s recording that stops at once."""
    try:
        samples = record.record(0.2, lambda: False, lambda e, lv: None)
    except record.NoMicrophone as exc:
        message = str(exc)
        assert message.startswith(
            ("no microphone or audio device found", "cannot record: the PortAudio library")
        )
        assert "coach grade ID --audio FILE" in message
    else:
        assert samples.ndim == 1 and samples.size <= 0.2 * 16000


# --- delivery on constructed transcripts ----------------------------------------------------------


def words_at(
    text: str, start: float = 0.0, step: float = 0.4, gaps: dict[int, float] | None = None
):
    """One Word per space-separated token, `step` s each, with extra silence before token i."""
    out, t = [], start
    for i, token in enumerate(text.split()):
        t += (gaps or {}).get(i, 0.0)
        out.append(Word(token, round(t, 3), round(t + step * 0.8, 3)))
        t += step
    return out


def transcript_of(text: str, duration: float | None = None, **kw) -> Transcript:
    words = words_at(text, **kw)
    return Transcript(
        text=text, words=words, duration_s=duration or words[-1].end + 1, engine="test"
    )


def fillers_of(text: str) -> dict[str, int]:
    return measure(transcript_of(text)).fillers


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Um, so, the cache is, like, you know, write-through.",
            {"um": 1, "so": 1, "like": 1, "you know": 1},
        ),
        ("I'd like to shard by user. It looks like a queue. Things like, say, Redis.", {}),
        ("It behaves like a queue, and I like it.", {}),
        ("So the trade-off is latency. So that reads scale, we cache.", {}),
        ("We measured it, so we added a cache.", {}),
        ("So, we added a cache. So I would shard.", {"so": 2}),
        ("Do you know the answer? You know the answer. If you know, say so.", {}),
        ("It is, you know, fast. It was fast, you know.", {"you know": 2}),
        ("What I mean is latency. I mean that it is slow. I mean, it is slow.", {"i mean": 1}),
        (
            "It is a kind of queue, what sort of load? It kind of works, sort of.",
            {"kind of": 1, "sort of": 1},
        ),
        (
            "Uh, er, hmm, umm, erm. Basically it is actually fine.",
            {"uh": 1, "er": 2, "hmm": 1, "um": 1, "basically": 1, "actually": 1},
        ),
    ],
)
def test_filler_rules(text, expected):
    assert fillers_of(text) == expected


def test_delivery_figures_are_exact_on_a_constructed_transcript():
    # 20 words at 0.4 s each (0.32 s long) from 1.0 s, 3 s more silence before "Then," (word 13)
    text = (
        "Um, first I would cache the reads, like, you know, on the primary. "
        "Then, uh, the result is latency basically."
    )
    transcript = transcript_of(text, start=1.0, gaps={13: 3.0}, duration=15.0)
    assert len(transcript.words) == 20
    result = measure(transcript, budget_s=10)
    # words span 1.0 .. 1.0 + 19*0.4 + 3.0 + 0.32 = 11.92 s
    assert result.duration_s == 15.0 and result.time_used_s == 11.92
    assert result.speaking_s == 10.92
    assert result.words == 20 and result.wpm == round(20 / 10.92 * 60, 1) == 109.9
    assert result.fillers == {"um": 1, "like": 1, "you know": 1, "uh": 1, "basically": 1}
    assert result.fillers_per_min == round(5 / 10.92 * 60, 2) == 27.47
    assert result.pauses == [(6.12, 3.08)]  # end of "primary." (1.0 + 12*0.4 + 0.32) to "Then,"
    # signposts: "first" at 1.4, "Then," at 9.2, "the result" at 10.0; the answer ends at 11.92
    assert result.signposts == 3
    assert (result.longest_unstructured_s, result.unstructured_from_s) == (7.8, 1.4)
    assert result.over_budget and result.budget_s == 10
    assert result.notes() == [
        "You spoke 0:12 against a 0:10 budget (0:02 over)",
        "20 words at 110 words a minute, below the 120-160 rule of thumb for clear speech",
        "5 filler words (27.5/min): basically x1, like x1, uh x1, um x1, you know x1",
        "1 pause over 2 s, longest 3.1 s at 0:06",
        "0:08 without a signpost from 0:01",
    ]


def test_split_words_are_joined_and_seconds_are_not_signposts():
    words = [Word("The", 0, 0.3), Word("trade", 0.3, 0.5), Word("-off", 0.5, 0.7), Word("is", 0.7, 0.9),
             Word("100", 1.0, 1.3), Word("requests", 1.3, 1.8), Word("per", 1.8, 2.0), Word("second.", 2.0, 2.5)]  # fmt: skip
    result = measure(Transcript(text="", words=words, duration_s=3.0))
    assert result.words == 7 and result.signposts == 1 and result.unstructured_from_s == 0.0


def test_no_signposts_and_no_budget_are_said_plainly():
    result = measure(transcript_of("we cache reads on the primary " * 30, step=0.5))
    assert result.signposts == 0 and result.budget_s is None and not result.over_budget
    assert result.notes() == [
        "You spoke for 1:30",
        "180 words at 120 words a minute, within the 120-160 rule of thumb for clear speech",
        "No filler words found in the transcript",
        "No pauses over 2 s",
        "No signposts (first, then, for example, the trade-off...) in 1:30 of speech",
    ]


def test_empty_transcript():
    result = measure(Transcript(text="", words=[], duration_s=4.0), budget_s=60)
    assert (result.words, result.wpm, result.over_budget) == (0, 0.0, False)
    assert result.notes() == ["No speech was recognised"]


def test_delivery_round_trips_through_json():
    result = measure(transcript_of("Um, first, like, we shard. " * 8, gaps={5: 2.5}), budget_s=120)
    again = Delivery.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result and again.pauses and isinstance(again.pauses[0], tuple)
    assert Delivery.from_dict({**result.to_dict(), "added_later": 1}) == result


# --- the endpoint's transcription API at the HTTP layer ------------------------------------------

KEY = "sk-test-VOICE-4242abcd"
URL = "https://api.openai.com/v1/audio/transcriptions"


@pytest.fixture
def openai_settings(home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("COACH_TRANSCRIBER", "openai")
    monkeypatch.setenv("COACH_LLM_TIMEOUT", "5")
    from coach.config import load_settings

    return load_settings()


def tone_audio() -> audio.Audio:
    samples = (0.2 * np.sin(np.arange(4 * 16000) / 3)).astype(np.float32)
    return audio.Audio(samples=samples, duration_s=4.0, source="answer.wav")


def test_openai_transcription_sends_a_wav_and_reads_word_timestamps(openai_settings):
    reply = {
        "text": "Um, so, I would shard, like, by user.",
        "language": "english",
        "duration": 4.0,
        "words": [
            {"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4}
            for i, w in enumerate(["Um", "so", "I", "would", "shard", "like", "by", "user"])
        ],
    }
    with respx.mock(using=RESPX_USING, assert_all_mocked=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(200, json=reply))
        whisper = transcribe.transcriber_for(openai_settings)
        result = transcribe.transcribe(tone_audio(), whisper)
    request = route.calls.last.request
    body = request.content
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert b'name="model"\r\n\r\nwhisper-1' in body
    assert b'name="response_format"\r\n\r\nverbose_json' in body
    assert b'name="timestamp_granularities[]"\r\n\r\nword' in body
    assert b'filename="answer.wav"' in body and b"RIFF" in body and b"WAVEfmt " in body
    assert b"Um, so, uh" in body  # the filler prompt
    assert len(body) > 4 * 16000 * 2  # the decoded samples as 16-bit PCM
    assert result.engine == "openai whisper-1" and result.language == "en"
    assert [w.text for w in result.words] == [
        "Um,",
        "so,",
        "I",
        "would",
        "shard,",
        "like,",
        "by",
        "user.",
    ]
    assert measure(result).fillers == {"um": 1, "so": 1, "like": 1}


@pytest.mark.parametrize(
    "status, message, expected",
    [
        (
            400,
            "Invalid file format.",
            "https://api.openai.com/v1 answered HTTP 400: Invalid file format.",
        ),
        (
            404,
            "The model does not exist",
            "https://api.openai.com/v1 does not know model 'whisper-1' (404); check COACH_TRANSCRIPTION_MODEL",
        ),
        (
            401,
            f"Incorrect API key provided: {KEY}",
            "https://api.openai.com/v1 rejected the API key (401); check OPENAI_API_KEY",
        ),
    ],
)
def test_openai_transcription_errors_are_one_line_without_the_key(
    openai_settings, monkeypatch, status, message, expected
):
    use_fake_clock(monkeypatch)
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    with respx.mock(using=RESPX_USING, assert_all_mocked=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(status, json=body))
        with pytest.raises(LLMError) as exc:
            transcribe.transcribe(tone_audio(), transcribe.transcriber_for(openai_settings))
    assert route.call_count == 1  # 4xx are not retried
    assert one_line(exc) == f"transcription request failed: {expected}"
    assert KEY not in str(exc.value) and exc.value.status == status


def test_openai_transcriber_needs_an_endpoint(home, monkeypatch):
    monkeypatch.setenv("COACH_TRANSCRIBER", "openai")
    from coach.config import load_settings

    with pytest.raises(LLMError) as exc:
        transcribe.transcriber_for(load_settings())
    assert one_line(exc) == (
        "COACH_TRANSCRIBER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL; set one, "
        "or unset COACH_TRANSCRIBER to transcribe offline"
    )
    assert exc.value.kind == "config"
