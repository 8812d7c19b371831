"""Spoken answers through the CLI, with the real bundled Whisper model and speech synthesised by
espeak-ng: `grade --audio`, `practice --voice` with a fake microphone, what history, show and progress
show afterwards, and the cases that must save nothing."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest
from history_builders import add_attempt
from typer.testing import CliRunner
from voice_helpers import FakeStream, require_espeak, synthesise

from coach.cli.app import app
from coach.storage import Storage
from coach.voice import audio as voice_audio
from coach.voice import record

QID = "r2-position-bias"
SPOKEN = [
    (
        "Um, so position bias means people click the top results more because of where they are shown.",
        0.6,
    ),
    (
        "I would randomise the top positions for a small share of traffic to estimate examination.",
        2.6,
    ),
    ("Then I would train with inverse propensity weighting and, uh, clip the weights.", 0.4),
]
runner = CliRunner()


def attempts(home):
    with Storage.open(home / "history.sqlite") as storage:
        return sorted(storage.attempts.list(), key=lambda a: a.id)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    require_espeak()
    return synthesise(tmp_path_factory.mktemp("speech") / "answer.wav", SPOKEN)


def test_grade_audio_saves_the_transcript_with_its_delivery_and_grades_it(ingested, recording):
    result = runner.invoke(app, ["grade", QID, "--audio", str(recording.path), "--json"])

    assert result.exit_code == 0, result.output
    graded = json.loads(result.stdout)
    transcript = graded["transcript"].lower()
    assert "position" in transcript and "propensity" in transcript
    delivery = graded["delivery"]
    assert delivery["budget_s"] == 180.0  # a technical question's spoken budget
    assert abs(delivery["duration_s"] - recording.duration_s) < 1.5
    assert len(delivery["pauses"]) == 1  # the 2.6 s pause; the 0.6 s and 0.4 s ones are not long
    assert delivery["engine"] == "whisper tiny.en (local)"
    [saved] = attempts(ingested)
    assert saved.status == "graded" and saved.answer == graded["transcript"]
    assert saved.delivery == delivery
    assert graded["score"] == saved.grade.score


def test_grade_audio_shows_delivery_beside_the_grade_and_show_marks_it_spoken(ingested, recording):
    result = runner.invoke(app, ["grade", QID, "--audio", str(recording.path)])

    assert result.exit_code == 0, result.output
    assert "/10" in result.output
    assert "How you said it (transcribed by whisper tiny.en (local))" in result.output
    assert "1 pause over 2 s" in " ".join(result.output.split())
    shown = runner.invoke(app, ["show", "1"])
    assert "Your answer (spoken; the transcript)" in shown.output


def test_review_lets_the_candidate_correct_the_transcript_before_grading(
    ingested, recording, tmp_path, monkeypatch
):
    editor = tmp_path / "fix.sh"
    editor.write_text(
        "#!/bin/sh\nsed -i 's/[Pp]osition/Position/g; s/$/ Corrected by hand./' \"$1\"\n"
    )
    editor.chmod(0o755)
    monkeypatch.setenv("VISUAL", str(editor))

    result = runner.invoke(
        app, ["grade", QID, "--audio", str(recording.path), "--review", "--json"]
    )

    assert result.exit_code == 0, result.output
    [saved] = attempts(ingested)
    assert saved.answer.endswith("Corrected by hand.")
    assert saved.delivery is not None  # delivery is measured on what was said, not on the edit


def test_practice_voice_records_transcribes_grades_and_keeps_the_audio_when_asked(
    ingested, recording, monkeypatch
):
    spoken = voice_audio.load_audio(recording.path).samples  # 16 kHz, as the microphone gives it
    monkeypatch.setattr(record, "_sounddevice_stream", lambda: FakeStream(spoken))

    # Enter starts the recording; the fake microphone runs out (end of input does not stop it early);
    # then the menu reads the end of input and quits.
    result = runner.invoke(app, ["practice", "--id", QID, "--voice", "--keep-audio"], input="\n")

    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert (
        "Press Enter to start speaking (3:00 is a good length; the recording stops at 6:00)" in out
    )
    assert "/10" in out and "How you said it" in out
    [saved] = attempts(ingested)
    assert saved.status == "graded" and "propensity" in saved.answer.lower()
    kept = ingested / "recordings" / f"attempt-{saved.id}.wav"
    assert kept.is_file() and (kept.stat().st_mode & 0o777) == 0o600
    assert abs(voice_audio.load_audio(kept).duration_s - len(spoken) / voice_audio.RATE) < 0.05


def test_practice_voice_keeps_no_audio_by_default(ingested, recording, monkeypatch):
    spoken = voice_audio.load_audio(recording.path).samples
    monkeypatch.setattr(record, "_sounddevice_stream", lambda: FakeStream(spoken))

    result = runner.invoke(app, ["practice", "--id", QID, "--voice"], input="\n")

    assert result.exit_code == 0, result.output
    assert len(attempts(ingested)) == 1
    assert not (ingested / "recordings").exists()


def test_a_silent_recording_in_practice_saves_nothing_and_offers_the_menu(ingested, monkeypatch):
    monkeypatch.setattr(
        record, "_sounddevice_stream", lambda: FakeStream(np.zeros(5 * voice_audio.RATE))
    )

    result = runner.invoke(app, ["practice", "--id", QID, "--voice"], input="\n")

    assert result.exit_code == 0, result.output
    assert "the audio is silent" in result.output and "nothing was saved" in result.output
    assert attempts(ingested) == []


def test_practice_voice_without_a_microphone_is_one_line_and_saves_nothing(ingested, monkeypatch):
    def no_device(samplerate, blocksize):
        raise OSError("Error querying device -1")

    monkeypatch.setattr(record, "_sounddevice_stream", lambda: no_device)

    result = runner.invoke(app, ["practice", "--id", QID, "--voice"], input="\n")

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: no microphone or audio device found; record elsewhere and use `coach grade ID --audio FILE`"
    ]
    assert attempts(ingested) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["practice", "--voice"],
        ["grade", QID, "--audio", "x.wav"],
        ["mock", "--round", "2", "--voice"],
    ],
)
def test_without_the_voice_extra_one_line_names_the_install_command(ingested, monkeypatch, argv):
    monkeypatch.setattr(voice_audio, "_installed", lambda module: module != "faster_whisper")

    result = runner.invoke(app, argv)

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert (
        line
        == "error: speaking an answer needs the voice extra (faster-whisper missing): pip install -e '.[voice]'"
    )
    assert not (ingested / "history.sqlite").exists() or attempts(ingested) == []


def test_progress_tracks_delivery_over_spoken_answers(ingested):
    with Storage.open(ingested / "history.sqlite") as storage:
        for wpm, fillers in ((182.0, 9.5), (171.0, 7.0), (160.0, 5.0), (150.0, 2.5)):
            attempt_id = add_attempt(storage.attempts, QID, 6.0, None)
            storage.database.write(
                "UPDATE attempts SET delivery_json = ? WHERE id = ?",
                (json.dumps(delivery_of(wpm, fillers)), attempt_id),
            )

    result = runner.invoke(app, ["progress"])

    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Speaking (last 4 of 4 spoken answers)" in out
    assert (
        "Your first 3 spoken answers against your latest 3: words/min 171 → 160; fillers/min 7.2 → 4.8"
        in out
    )


def delivery_of(wpm: float, fillers_per_min: float) -> dict:
    return {
        "duration_s": 120.0, "budget_s": 180.0, "words": int(wpm * 2), "wpm": wpm,
        "fillers": {"um": int(fillers_per_min * 2)}, "fillers_per_min": fillers_per_min,
        "pauses": [[30.0, 2.5]], "longest_unstructured_s": 40.0, "unstructured_from_s": 10.0,
        "over_budget": False, "time_used_s": 120.0, "speaking_s": 118.0, "signposts": 3,
    }  # fmt: skip


class InterruptedMicrophone(FakeStream):
    """A microphone whose candidate presses Ctrl-C after `after` blocks."""

    def __init__(self, signal_: np.ndarray, after: int):
        super().__init__(signal_)
        self.after = after

    def read(self, frames: int):
        if len(self.reads) + 1 == self.after:
            signal.raise_signal(signal.SIGINT)
        return super().read(frames)


def test_ctrl_c_while_recording_keeps_what_was_said_and_names_the_command(
    ingested, recording, monkeypatch
):
    spoken = voice_audio.load_audio(recording.path).samples
    monkeypatch.setattr(
        record, "_sounddevice_stream", lambda: InterruptedMicrophone(spoken, after=100)
    )  # 10 s

    result = runner.invoke(app, ["practice", "--id", QID, "--voice"], input="\n")

    assert result.exit_code == 130
    [kept] = list((ingested / "recordings").glob("unsent-*.wav"))
    assert (kept.stat().st_mode & 0o777) == 0o600
    assert voice_audio.load_audio(kept).duration_s == pytest.approx(10.0, abs=0.15)
    assert f"coach grade QUESTION_ID --audio {kept}" in " ".join(result.stderr.split())
    assert attempts(ingested) == []  # kept as a file to grade, not as an ungraded attempt


def test_mock_voice_saves_the_spoken_answer_with_its_delivery_in_the_round(
    ingested, recording, monkeypatch
):
    spoken = voice_audio.load_audio(recording.path).samples
    monkeypatch.setattr(record, "_sounddevice_stream", lambda: FakeStream(spoken))

    # Enter starts the only question's recording; the end of input at its first follow-up ends the
    # round (a ':quit' during the last question's follow-ups finishes it).
    result = runner.invoke(app, ["mock", "--round", "2", "--questions", "1", "--voice"], input="\n")

    assert result.exit_code == 0, result.output
    assert "How you said it" in result.output
    assert "See it again with `coach mock show 1`" in result.output
    [saved] = attempts(ingested)
    assert saved.delivery is not None and saved.status == "graded"


def test_without_portaudio_voice_fails_before_the_first_question(ingested, monkeypatch):
    def no_portaudio():  # what record._sounddevice raises when importing sounddevice finds no library
        raise record.NoMicrophone(
            "cannot record: the PortAudio library is missing (on Debian or Ubuntu: sudo apt-get install "
            "libportaudio2); or record elsewhere and use `coach grade ID --audio FILE`"
        )

    monkeypatch.setattr(record, "_sounddevice", no_portaudio)

    result = runner.invoke(app, ["practice", "--id", QID, "--voice"], input="\n")

    assert result.exit_code == 1
    assert result.stdout == ""  # no question was shown, nothing waited for Enter
    assert result.stderr.startswith("error: cannot record: the PortAudio library is missing")
    assert not (ingested / "history.sqlite").exists()
