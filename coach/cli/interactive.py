"""The interactive loops: practice (ask, read, grade, show, offer what next), probes and mock rounds."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from coach.app import PROBE_BUDGET_S
from coach.cli import render
from coach.cli.editor import read_with_editor
from coach.clock import clock
from coach.coaching import mock, probes
from coach.coaching.compare import compare_attempts
from coach.coaching.probes import next_probes
from coach.errors import ExitCode
from coach.export.scorecard import report_format, write_report

SENTINEL = "."
HOW_TO_ANSWER = (
    "Type your answer (several lines are fine). Finish with a line containing only '.', "
    "or press Ctrl-D. Type ':skip' to get another question, ':quit' to stop."
)
MENU = "[d] details   [f] follow-up probe   [r] retry   [n] next question   [q] quit   (a letter, then Enter)"
GOODBYE = "Good practice. See your attempts with `coach history`."
MOCK_HELP = (
    "Finish with a line containing only '.', or press Ctrl-D. ':skip' skips this question (it scores 0); "
    "':quit' or Ctrl-C pauses the round, and `coach mock --resume` continues it."
)
MIN_MOCK_RECORDING_S = 30.0  # a question whose time is nearly up still gets this long to answer
PROBE_HELP = "Answer the follow-up like the question (finish with '.'); ':skip' skips it, ':quit' stops probing."


class TypingInterrupted(KeyboardInterrupt):
    """Ctrl-C while an answer was being typed: carries what was typed so far."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text


def read_answer(eof_none: bool = False, start: str = "") -> str | None:
    """Lines until the sentinel or end of input; ':skip' / ':quit' as typed. With eof_none, the end of
    input before any line gives None (so a scripted or closed input stops instead of looping). `start`
    is text already typed (a restored draft); Ctrl-C raises TypingInterrupted with the text so far."""
    lines: list[str] = start.splitlines()
    while True:
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            raise TypingInterrupted("\n".join(lines)) from None
        if not line:
            if eof_none and not lines:
                return None
            break
        stripped = line.rstrip("\n")
        if stripped.strip() == SENTINEL:
            break
        if not lines and stripped.strip() in (":skip", ":quit", ":q"):
            return stripped.strip()
        lines.append(stripped)
    return "\n".join(lines)


def offer_draft(coach, question_id: str) -> str:
    """The kept draft of this question, if the candidate wants to continue it (Enter starts afresh)."""
    draft = coach.drafts.get(question_id)
    if draft is None:
        return ""
    render.info(
        f"A draft of {draft.words} words from {draft.saved_at.astimezone():%Y-%m-%d %H:%M} is kept for this question. "
        "Type 'y' then Enter to continue it, or Enter to start afresh."
    )
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        return ""
    render.info(f"[dim]Continuing from your draft:[/]\n{escape(draft.text)}")
    return draft.text


def choose() -> str:
    render.info(escape(MENU))
    line = sys.stdin.readline()
    if not line:
        return "q"
    return (line.strip().lower() or "n")[0]


def run_practice(coach, round_, kind, topic, question_id, grader, editor, speaker=None) -> None:
    """The practice loop. With a `speaker` (--voice) each answer is spoken, transcribed and graded
    like a typed one, with delivery feedback beside the grade."""
    question = (
        coach.question(question_id) if question_id else coach.pick_question(round_, kind, topic)
    )
    coach.require_rubric(question.id)
    grader_name = coach.grader_name(grader)
    render.info(
        f"[dim]Grading with the {grader_name} grader"
        + (
            " (no API key needed)."
            if grader_name == "offline"
            else f" ({coach.settings.coach_model})."
        )
        + "[/]"
    )
    coach.ensure_ingested()
    previous: int | None = (
        None  # the last graded attempt at this question in this session, for a retry
    )
    while True:
        render.question_panel(question)
        if speaker is not None:
            text, speech = _spoken_answer(coach, speaker, question)
        else:
            text, speech = _typed_answer(coach, question, editor), None
        if text in (":quit", ":q"):
            render.info(GOODBYE)
            return
        if text == ":skip":
            question, previous = coach.pick_question(round_, kind, topic), None
            continue
        graded = None
        if text is None or not text.strip():
            if speaker is None:  # a failed recording has said why already
                render.notice("empty answer: nothing was saved.")
        else:
            with render.status(f"Grading ({grader_name})..."):
                outcome = coach.answer(question.id, speech.answer if speech else text, grader)
            coach.drafts.discard(question.id)
            kept = speaker.keep(speech, outcome.attempt_id) if speech else None
            if outcome.grade:
                render.grade(outcome.grade)
                if speech:
                    render.delivery(speech.answer.delivery)
                render.info(
                    f"[dim]Saved as attempt {outcome.attempt_id}.[/]"
                    + (f" [dim]Recording: {kept}[/]" if kept else "")
                )
                if previous is not None:
                    render.retry_progress(
                        compare_attempts(coach.history, previous, outcome.attempt_id)
                    )
                graded = outcome
            else:
                render.error(f"saved as attempt {outcome.attempt_id}, not graded: {outcome.error}")
        choice = choose()
        while choice in ("f", "d"):
            if graded is None:
                render.notice("that needs a graded answer first.")
            elif choice == "d":
                render.grade(graded.grade, details=True)
            else:
                run_probes(coach, graded.attempt_id, grader, editor=editor, speaker=speaker)
            choice = choose()
        if choice == "q":
            render.info(GOODBYE)
            return
        if choice == "r":
            previous = graded.attempt_id if graded else previous
        else:
            question, previous = coach.pick_question(round_, kind, topic), None


def _typed_answer(coach, question, editor: bool) -> str | None:
    """A typed answer (or ':skip' / ':quit'); Ctrl-C keeps what was typed as a draft of the question."""
    if not editor:
        render.info(f"[dim]{HOW_TO_ANSWER}[/]")
    start = offer_draft(coach, question.id) if not editor else ""
    try:
        return read_with_editor() if editor else read_answer(start=start)
    except TypingInterrupted as stop:
        if coach.drafts.save(question.id, stop.text):
            render.info(
                f"\nYour answer so far is kept as a draft: `coach practice --id {question.id}` offers it back."
            )
        raise


def _spoken_answer(coach, speaker, question):
    """(text, speech) of a spoken answer; (':skip' or ':quit', None) as typed; (None, None) when the
    recording was too short or silent (the menu then offers a retry)."""
    spoken = speaker.ask(coach.spoken_budget(question))
    if spoken is None or isinstance(spoken, str):
        return spoken, None
    return spoken.answer.text, spoken


def _spoken_turn(ui, spoken):
    """What a probe or round loop reads from `Speaker.ask`: ':skip' / ':quit' as typed, the Answer
    (its Speech kept on `ui.speech` to keep the audio and show delivery), or '' after a failed
    recording, which asks again."""
    if spoken is None or isinstance(spoken, str):
        return spoken or ""
    ui.speech = spoken
    return spoken.answer


# --- follow-up probes ------------------------------------------------------------------------


def probe_heading(probe, number: int, total: int) -> str:
    return f"\n[bold cyan]Follow-up {number}/{total}:[/] {escape(probe.text)}"


class TerminalProbeUI:
    """The shared probe loop in the terminal (typed, or spoken with a `speaker`)."""

    def __init__(self, editor: bool = False, speaker=None):
        self.editor, self.speaker = editor, speaker
        self.speech = None

    def ask(self, probe, number: int, total: int):
        render.info(probe_heading(probe, number, total))
        self.speech = None
        if self.speaker is None:
            return read_with_editor() if self.editor else read_answer(eof_none=True)
        return _spoken_turn(self, self.speaker.ask(PROBE_BUDGET_S))

    def show_result(self, probe, outcome) -> None:
        if self.speech is not None:
            self.speaker.keep(self.speech, outcome.attempt_id)
        if outcome.grade:
            render.grade(outcome.grade)
            if self.speech is not None:
                render.delivery(self.speech.answer.delivery)
            render.info(
                f"[dim]Saved as attempt {outcome.attempt_id} (follow-up to attempt {probe.root_id}).[/]"
            )
        else:
            render.error(f"saved as attempt {outcome.attempt_id}, not graded: {outcome.error}")

    def notice(self, message: str) -> None:
        render.notice(message)


def run_probes(
    coach, attempt_id: int, grader, limit: int = 3, editor: bool = False, speaker=None
) -> int:
    """Ask up to `limit` follow-up probes on an attempt's thread, grading each answer; returns how many
    were answered. ':skip' skips a probe, ':quit' (or the end of input) stops."""
    with render.status("Choosing follow-up questions..."):
        probe_set = next_probes(coach, attempt_id, limit, grader)
    if probe_set.notice:
        render.notice(probe_set.notice)
    if not probe_set.probes:
        render.notice(
            "no new follow-up questions for this answer: every probe in the notes was asked."
        )
        return 0
    if not editor and speaker is None:
        render.info(f"[dim]{PROBE_HELP}[/]")
    return probes.run_probes(coach, probe_set, TerminalProbeUI(editor, speaker), grader).answered


# --- mock rounds -----------------------------------------------------------------------------


class TerminalRoundUI:
    """The mock round in the terminal: each question with its time, answers typed like in practice
    (or spoken with a `speaker`: the recording stops when the question's time is up)."""

    def __init__(self, editor: bool = False, coach=None, speaker=None):
        self.editor, self.coach, self.speaker = editor, coach, speaker
        self.turn = None
        self.speech = None

    def show_turn(self, turn) -> None:
        self.turn = turn
        left = (
            f"{clock(turn.seconds_left)} left"
            if turn.seconds_left >= 0
            else f"{clock(turn.seconds_left)} over"
        )
        timing = (
            f"[dim]{clock(turn.seconds_allowed)} for this question and its follow-ups; {left}.[/]"
        )
        if turn.kind == "question":
            render.question_panel(turn.question, index=f"Question {turn.position}/{turn.total} · ")
            render.info(timing)
            if not self.editor and self.speaker is None:
                render.info(f"[dim]{MOCK_HELP}[/]")
        else:
            render.info(probe_heading(turn.probe, turn.probe_number, turn.probe_total))
            render.info(timing)

    def read_answer(self):
        self.speech = None
        if self.speaker is None:
            return read_with_editor() if self.editor else read_answer(eof_none=True)
        turn = self.turn
        full = PROBE_BUDGET_S if turn.kind == "probe" else self.coach.spoken_budget(turn.question)
        limit = max(turn.seconds_left, MIN_MOCK_RECORDING_S)
        budget = min(full, limit)
        return _spoken_turn(self, self.speaker.ask(budget, limit))

    def show_result(self, turn, outcome, seconds_used: float, seconds_left: float) -> None:
        if self.speech is not None:
            self.speaker.keep(self.speech, outcome.attempt_id)
            render.delivery(self.speech.answer.delivery)
        render.mock_result(outcome, seconds_used, seconds_left)

    def notice(self, message: str) -> None:
        render.notice(message)


def run_mock(
    coach, round_, minutes, questions, resume, grader, export, editor=False, speaker=None
) -> None:
    """`coach mock`: start (or resume) a round, run it, then show the scorecard and write it to the file
    named at the start (kept with the round, so it survives a pause) or on resume."""
    if export is not None:
        report_format(export)
    session = mock.open_round(coach, round_, minutes, questions, resume, grader)
    if export is not None:
        coach.storage.rounds.set_export(session.id, str(export.resolve()))
        session = coach.storage.rounds.get(session.id)
    info = mock.round_info(session.round)
    render.mock_intro(session, info)
    try:
        result = mock.run_round(
            coach, session, TerminalRoundUI(editor, coach, speaker), grader=grader
        )
    except KeyboardInterrupt:
        render.error(
            f"interrupted; your round {session.round} mock is saved with every answer so far: "
            "resume it with `coach mock --resume`"
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    if not result.finished:
        later = (
            f"; the scorecard will go to {session.export_path} when it finishes"
            if session.export_path
            else ""
        )
        render.info(
            f"Round {session.round} mock paused with {result.session.answered} of {len(result.session.items)} "
            f"questions answered. Resume with `coach mock --resume`{later}."
        )
        return
    render.scorecard(result.card)
    if result.session.export_path:
        render.info(
            f"Wrote the scorecard to {write_report(result.card, Path(result.session.export_path))}."
        )
    render.info(f"[dim]See it again with `coach mock show {result.session.id}`.[/]")
