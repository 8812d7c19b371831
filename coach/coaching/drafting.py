"""`coach notes draft ID`: an LLM drafts a reference note for a question that has none, into the
user's notes folder, marked as a draft to review before trusting; the lint and the rubric then use it."""

from __future__ import annotations

import re
from pathlib import Path

from coach.corpus.notes import parse_note, user_notes_dir
from coach.corpus.prompts import load_prompt
from coach.errors import CoachError
from coach.llm.structured import complete_text
from coach.models import Note, Question

PROMPT_NAME, PROMPT_VERSION = "note", "v1"
DRAFT_MARKER = "> Draft written by a language model: review it before trusting the grades it gives."
MAX_TOKENS = 1800


def note_id_for(question: Question) -> str:
    return "draft-" + re.sub(r"[^a-z0-9-]+", "-", question.id.lower()).strip("-")


def draft_note(settings, question: Question, force: bool = False) -> tuple[Path, Note]:
    """Ask the model for a note, check that it parses as one and serves the question, and save it."""
    note_id = note_id_for(question)
    target = user_notes_dir(settings.coach_home) / f"{note_id}.md"
    if target.exists() and not force:
        raise CoachError(
            f"{target} exists already; review or delete it (or draft again with force)"
        )
    system, user = load_prompt(PROMPT_NAME, PROMPT_VERSION).render(
        note_id=note_id,
        kind=question.kind,
        question_id=question.id,
        round=question.round,
        question=question.text,
    )
    text = complete_text(
        settings, [("system", system), ("user", user)], max_tokens=MAX_TOKENS
    ).strip()
    text = re.sub(r"\A```(?:markdown|md)?\s*\n|\n```\s*\Z", "", text)
    # The marker goes right after the front matter, where anyone opening the file sees it first.
    match = re.match(r"\A---\s*\n.*?\n---\s*\n", text, re.DOTALL)
    if not match:
        raise CoachError(
            "the model's note has no front matter; try again or write the note by hand"
        )
    text = text[: match.end()] + f"\n{DRAFT_MARKER}\n\n" + text[match.end() :].lstrip()
    note = parse_note(text, target.name)
    if note.id != note_id or question.id not in note.questions or not note.points_for(question.id):
        raise CoachError("the model's note does not serve the question with key points; try again")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise CoachError(f"cannot write {target} ({exc.strerror})") from None
    return target, note
