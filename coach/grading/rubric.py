"""The Rubric a grade is measured against: the key points tagged for the question, or its reference answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from coach.corpus.dimensions import DIMENSION_TEXT, DIMENSIONS
from coach.corpus.notes import bullets
from coach.errors import CoachError
from coach.models import Criterion, Kind, Note, Question, Rubric

MAX_CONTENT_CRITERIA = 10
BORROW_SIMILARITY = (
    0.65  # an imported question this close to a seed question is graded on its rubric
)
SECONDARY_NOTE_WEIGHT = 0.7

STAFF_WEIGHT = 0.75
DIMENSION_WEIGHT = 0.5


def dimension_criteria(kind: Kind, keys: list[str] | None = None) -> list[Criterion]:
    """The general dimensions: the note's choice for this question, else its kind's defaults."""
    pairs = (
        [(k, DIMENSION_TEXT[k]) for k in keys if k in DIMENSION_TEXT] if keys else DIMENSIONS[kind]
    )
    return [
        Criterion(
            id=f"dim-{key}", text=text, weight=DIMENSION_WEIGHT, source="dimension", dimension=True
        )
        for key, text in pairs
    ]


def _point_weight(index: int, count: int) -> float:
    # Notes list key points most important first: weights fall from 1.5 to 1.0.
    if count <= 1:
        return 1.5
    return round(1.5 - 0.5 * index / (count - 1), 3)


def from_notes(question: Question, chosen: list[Note], like: str | None = None) -> Rubric:
    """Only the key points tagged for this question (or for the seed question `like`, whose rubric an
    imported question borrows); staff points are a bonus (lower weight, level)."""
    tagged_for = like or question.id
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for rank, note in enumerate(chosen):
        factor = 1.0 if rank == 0 else SECONDARY_NOTE_WEIGHT
        fitting = [(i, p) for i, p in enumerate(note.points) if p.fits(tagged_for)]
        core = [(i, p) for i, p in fitting if p.level == "core"]
        for order, (i, point) in enumerate(fitting):
            key = point.text.lower().strip()
            if key in seen or len(criteria) >= MAX_CONTENT_CRITERIA:
                continue
            seen.add(key)
            if point.level == "staff":
                weight = STAFF_WEIGHT
            else:
                weight = _point_weight([j for j, _ in core].index(i), len(core))
            criteria.append(
                Criterion(
                    id=f"{note.id}/{i + 1}",
                    text=point.text,
                    weight=round(weight * factor, 3),
                    source=note.id,
                    level=point.level,
                    says=point.says,
                    wrong=point.wrong,
                )
            )
    primary = chosen[0] if chosen else None
    outline = (
        [re.sub(r"\s+", " ", s) for s in bullets(primary.sections.get("Strong answer outline", ""))]
        if primary
        else []
    )
    mistakes = bullets(primary.sections.get("Common mistakes", "")) if primary else []
    dims = primary.dimensions.get(tagged_for) if primary else None
    return Rubric(
        question_id=question.id,
        question=question.prompt,
        kind=question.kind,
        criteria=criteria + dimension_criteria(question.kind, dims),
        note_ids=[n.id for n in chosen],
        outline=outline,
        mistakes=mistakes,
    )


SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of free text, stripped of list markers."""
    parts = []
    for piece in SENTENCE_RE.split(text):
        piece = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", piece).strip()
        if piece:
            parts.append(piece)
    return parts


def from_reference(
    question_id: str, question: str, reference: str, kind: Kind = "technical"
) -> Rubric:
    """A rubric for a question that has a reference answer but no note: one point per sentence."""
    sentences = [s for s in split_sentences(reference) if len(s.split()) >= 3] or [
        reference.strip()
    ]
    criteria = [
        Criterion(id=f"ref/{i + 1}", text=s, weight=1.0, source="reference")
        for i, s in enumerate(sentences[:MAX_CONTENT_CRITERIA])
    ]
    return Rubric(
        question_id=question_id,
        question=question,
        kind=kind,
        criteria=criteria + dimension_criteria(kind),
        outline=sentences[:MAX_CONTENT_CRITERIA],
    )


@dataclass
class RubricSource:
    """Where a question's rubric comes from: its notes, a close seed question's notes, its reference
    answer, or nothing (then it cannot be graded)."""

    kind: Literal["notes", "borrowed", "reference", "none"]
    note_ids: list[str]
    like: str = ""  # the seed question whose rubric is borrowed
    similarity: float | None = None

    def describe(self) -> str:
        if self.kind == "notes":
            return f"notes {', '.join(self.note_ids)}"
        if self.kind == "borrowed":
            return f"notes {', '.join(self.note_ids)} via {self.like} (similarity {self.similarity:.2f})"
        if self.kind == "reference":
            return "its reference answer"
        return "nothing: it cannot be graded until it has a reference answer or a note"


def rubric_source(question: Question, open_store, notes: dict[str, Note]) -> RubricSource:
    """Notes that serve the question; else the notes of a seed question close enough in meaning to be
    the same question; else the question's reference answer; else none. Notes are never borrowed just
    because they share a word ("bias-variance" is not "position bias"). `open_store()` returns the
    vector store; it is called only for a question no note serves (opening it imports chromadb)."""
    owners = [n for n in notes.values() if question.id in n.questions and n.points_for(question.id)]
    if owners:
        return RubricSource("notes", [n.id for n in owners])
    if question.bank != "seed":
        for hit in open_store().query("questions", question.text, n=5, where={"bank": "seed"}):
            like = hit.metadata.get("question_id", "")
            served = [n for n in notes.values() if like in n.questions and n.points_for(like)]
            if hit.similarity >= BORROW_SIMILARITY and served:
                return RubricSource("borrowed", [n.id for n in served], like, hit.similarity)
            break
    if question.reference.strip():
        return RubricSource("reference", [])
    return RubricSource("none", [])


def build_rubric(question: Question, open_store, notes: dict[str, Note]) -> Rubric:
    """The rubric a question is graded against; an error when nothing can say what a good answer is."""
    source = rubric_source(question, open_store, notes)
    if source.kind in ("notes", "borrowed"):
        return from_notes(question, [notes[n] for n in source.note_ids], like=source.like or None)
    if source.kind == "reference":
        return from_reference(question.id, question.prompt, question.reference, question.kind)
    raise CoachError(
        f"question {question.id} has no rubric: no reference note fits it and it has no reference answer; "
        "add a reference answer to its bank file and import it again"
    )
