"""The interactive practice loop (UI layer, beside cli.py): ask, read, grade, show, offer what next."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile

from coach import render
from coach.errors import CoachError

SENTINEL = "."
HOW_TO_ANSWER = (
    "Type your answer (several lines are fine). Finish with a line containing only '.', "
    "or press Ctrl-D. Type ':skip' to get another question, ':quit' to stop."
)
MENU = "[r] retry this question   [n] next question   [q] quit"


def read_answer() -> str | None:
    """Lines until the sentinel or end of input; None if the user asked to skip or quit."""
    lines: list[str] = []
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        stripped = line.rstrip("\n")
        if stripped.strip() == SENTINEL:
            break
        if not lines and stripped.strip() in (":skip", ":quit", ":q"):
            return stripped.strip()
        lines.append(stripped)
    return "\n".join(lines)


def read_with_editor() -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False, encoding="utf-8") as handle:
        handle.write("")
        path = handle.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)
        with open(path, encoding="utf-8", errors="strict") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CoachError(f"could not read the answer from the editor ({exc})") from None
    finally:
        os.unlink(path)


def choose() -> str:
    render.info(MENU)
    line = sys.stdin.readline()
    if not line:
        return "q"
    return (line.strip().lower() or "n")[0]


def run_practice(coach, round_, kind, topic, question_id, grader, editor) -> None:
    question = coach.question(question_id) if question_id else coach.pick_question(round_, kind, topic)
    grader_name = coach.grader_name(grader)
    render.info(
        f"[dim]Grading with the {grader_name} grader"
        + (" (no API key needed)." if grader_name == "offline" else f" ({coach.settings.coach_model}).")
        + "[/]"
    )
    coach.ensure_ingested()
    while True:
        render.question_panel(question)
        if not editor:
            render.info(f"[dim]{HOW_TO_ANSWER}[/]")
        text = read_with_editor() if editor else read_answer()
        if text in (":quit", ":q"):
            return
        if text == ":skip":
            question = coach.pick_question(round_, kind, topic)
            continue
        if text is None or not text.strip():
            render.notice("empty answer: nothing was saved.")
        else:
            with render.status(f"Grading ({grader_name})..."):
                outcome = coach.answer(question.id, text, grader)
            if outcome.grade:
                render.grade(outcome.grade)
                render.info(f"[dim]Saved as attempt {outcome.attempt_id}.[/]")
            else:
                render.error(f"saved as attempt {outcome.attempt_id}, not graded: {outcome.error}")
        choice = choose()
        if choice == "q":
            render.info("Good practice. See your attempts with `coach history`.")
            return
        if choice != "r":
            question = coach.pick_question(round_, kind, topic)
