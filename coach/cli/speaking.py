"""Speaking an answer in the terminal: record with a timer and a level meter, stop on Enter or at the
limit, transcribe, optionally review the transcript, and hand back an Answer to grade like typed text.

Ctrl-C while recording keeps what was said in a WAV file (a spoken answer is never lost) and names
the command that grades it; nothing is kept otherwise unless `--keep-audio` is given.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from coach.cli import render
from coach.cli.editor import read_with_editor
from coach.clock import clock
from coach.errors import CoachError
from coach.models import Answer
from coach.voice import audio as voice_audio
from coach.voice import record as voice_record

MAX_RECORDING_S = 15 * 60.0


@dataclass
class Speech:
    """A recorded and transcribed answer, with its audio (kept only when asked)."""

    answer: Answer
    audio: voice_audio.Audio


class Speaker:
    """Records, transcribes and (with `review`) lets the candidate correct the transcript."""

    def __init__(self, coach, review: bool = False, keep_audio: bool = False, stream_factory=None):
        self.coach, self.review, self.keep_audio = coach, review, keep_audio
        self.stream_factory = stream_factory  # tests pass a fake microphone

    @staticmethod
    def check_ready(recording: bool = True) -> None:
        """Fail before anything starts when the voice extra is missing, or (to record) PortAudio is:
        one line with the fix."""
        missing = voice_audio.voice_missing()
        if missing:
            raise CoachError(missing)
        if recording:
            voice_record.check_available()

    def start_prompt(self, budget_s: float, limit_s: float) -> str:
        """Wait for Enter; returns what was typed (':skip' or ':quit' pass through)."""
        render.info(
            f"[dim]Press Enter to start speaking ({clock(budget_s)} is a good length; the recording stops "
            f"at {clock(limit_s)}). Press Enter again to finish. Or type ':skip' or ':quit' and Enter.[/]"
        )
        line = sys.stdin.readline()
        if not line:
            return ":quit"
        return line.strip()

    def ask(self, budget_s: float, limit_s: float | None = None) -> str | Speech | None:
        """One spoken turn: wait for Enter, record and transcribe. Returns ':skip' / ':quit' as typed,
        the Speech, or None when the recording was too short or silent (said on screen; nothing saved)."""
        limit_s = min(limit_s or 2 * budget_s, MAX_RECORDING_S)
        typed = self.start_prompt(budget_s, limit_s)
        if typed in (":quit", ":q", ":skip"):
            return typed
        try:
            return self.speak(budget_s, limit_s)
        except voice_audio.AudioError as exc:
            render.error(f"{exc}; nothing was saved")
            return None

    def speak(self, budget_s: float, limit_s: float | None = None) -> Speech:
        """Record until Enter (or the limit), then transcribe; returns the answer to save and grade."""
        limit_s = min(limit_s or 2 * budget_s, MAX_RECORDING_S)
        self._warm_up()
        live = self.coach.live_transcription()
        samples, rate = self._record(budget_s, limit_s, live)
        audio = voice_audio.from_samples(samples, rate)
        with render.status("Transcribing..."):
            answer = self.coach.spoken_answer(audio, budget_s, live)
        if self.review:
            answer = self._reviewed(answer)
        return Speech(answer, audio)

    def transcribe_file(self, question_id: str, path: Path) -> Answer:
        """A recording from a file as an answer to a question: checked (format, length, silence),
        transcribed and measured against the question's budget; with `review`, corrected first."""
        question = self.coach.question(question_id)
        self.coach.require_rubric(question.id)
        recording = voice_audio.load_audio(path)
        with render.status("Transcribing..."):
            answer = self.coach.spoken_answer(recording, self.coach.spoken_budget(question))
        return self._reviewed(answer) if self.review else answer

    def keep(self, speech: Speech, attempt_id: int) -> Path | None:
        """With --keep-audio, the recording beside the history (owner-only); else nothing is written."""
        if not self.keep_audio:
            return None
        path = self.coach.settings.coach_home / "recordings" / f"attempt-{attempt_id}.wav"
        voice_audio.save_wav(speech.audio, path)
        return path

    def _warm_up(self) -> None:
        """Load the local Whisper model while the candidate speaks (about 1.7 s saved after Enter);
        a failure here is reported by the transcription itself."""

        def load() -> None:
            try:
                loader = getattr(self.coach.transcriber, "load", None)
                if loader:
                    loader()
            except Exception:  # noqa: BLE001, S110 - the transcription step reports the same error
                pass

        threading.Thread(target=load, daemon=True).start()

    # --- recording ---------------------------------------------------------------------------
    def _record(self, budget_s: float, limit_s: float, live=None):
        stop = threading.Event()
        interrupted = threading.Event()

        def wait_for_enter() -> None:
            if (
                sys.stdin.readline()
            ):  # the end of input (a closed or scripted stdin) does not stop it
                stop.set()

        reader = threading.Thread(target=wait_for_enter, daemon=True)
        reader.start()

        def on_sigint(signum, frame) -> None:  # Ctrl-C: stop and keep what was said
            interrupted.set()
            stop.set()

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            with render.recording_meter(budget_s, limit_s) as tick:
                samples = voice_record.record(
                    limit_s,
                    stop.is_set,
                    tick,
                    stream_factory=self.stream_factory,
                    samplerate=voice_audio.RATE,
                    on_block=live.feed if live else None,
                )
        finally:
            signal.signal(signal.SIGINT, previous)
        rate = voice_audio.RATE
        render.info(f"[dim]Recorded {clock(samples.size / rate)}.[/]")
        if interrupted.is_set():
            path = self._keep_unsent(samples, rate)
            if path:
                render.error(
                    f"recording stopped; what you said is kept in {path}: grade it with "
                    f"`coach grade QUESTION_ID --audio {path}`"
                )
            raise KeyboardInterrupt
        if not stop.is_set() and reader.is_alive():  # the limit, while Enter is still awaited
            render.info(
                f"Time is up ({clock(limit_s)}): the recording stopped. Press Enter to go on."
            )
            reader.join()
        return samples, rate

    def _keep_unsent(self, samples, rate) -> Path | None:
        try:
            audio = voice_audio.from_samples(samples, rate)
        except CoachError:
            return None  # under 3 s or silence: nothing worth keeping
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.coach.settings.coach_home / "recordings" / f"unsent-{stamp}.wav"
        voice_audio.save_wav(audio, path)
        return path

    def _reviewed(self, answer: Answer) -> Answer:
        render.info(
            "[dim]Opening the transcript in your editor: correct what was misheard, save and close.[/]"
        )
        text = read_with_editor(answer.text)
        if not text.strip():
            raise CoachError("the reviewed transcript is empty; nothing was saved")
        return Answer(text=text.strip(), delivery=answer.delivery)
