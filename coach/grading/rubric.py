"""Retrieved notes (or a reference answer) -> the Rubric a grade is measured against."""

from __future__ import annotations

import re

from coach.corpus.notes import bullets
from coach.models import Criterion, Kind, Note, Question, Rubric

MAX_CONTENT_CRITERIA = 10
SECONDARY_NOTE_WEIGHT = 0.7
MIN_RETRIEVAL_SIMILARITY = 0.45

DIMENSIONS: dict[str, list[tuple[str, str]]] = {
    "technical": [
        ("depth", "Depth and trade-offs: explains why, names alternatives and what each costs."),
        ("evaluation", "Evaluation and metrics: says how success is measured offline and online."),
        ("clarity", "Clarity: a structured answer that leads with the main idea."),
    ],
    "system-design": [
        ("requirements", "Requirements: clarifies goals, scale, latency and constraints first."),
        ("data", "Data: names the data, labels and features, and their pitfalls."),
        ("modelling", "Modelling: chooses a model and justifies it against alternatives."),
        ("serving", "Serving: covers online architecture, latency budget and cost."),
        ("evaluation", "Evaluation: offline metrics plus an online A/B test with guardrails."),
        ("monitoring", "Monitoring: drift, alerts, feedback loops and retraining."),
    ],
    "behavioral": [
        ("star", "STAR structure: situation, task, actions and result in order."),
        ("ownership", "Ownership: the candidate's own decisions and actions, in the first person."),
        ("result", "Measurable result: a number, a metric or a concrete outcome."),
        ("reflection", "Reflection: what they learned or would do differently."),
    ],
}
DIMENSION_WEIGHT = 0.5


def dimension_criteria(kind: Kind) -> list[Criterion]:
    return [
        Criterion(id=f"dim-{key}", text=text, weight=DIMENSION_WEIGHT, source="dimension", dimension=True)
        for key, text in DIMENSIONS[kind]
    ]


def _point_weight(index: int, count: int) -> float:
    # Notes list key points most important first: weights fall from 1.5 to 1.0.
    if count <= 1:
        return 1.5
    return round(1.5 - 0.5 * index / (count - 1), 3)


def choose_notes(question: Question, retrieved: list[tuple[str, float]], notes: dict[str, Note]) -> list[Note]:
    """Notes that serve the question (in retrieval order), else the closest retrieved notes."""
    rank = {note_id: i for i, (note_id, _) in enumerate(retrieved)}
    owners = [n for n in notes.values() if question.id in n.questions and n.key_points]
    if owners:
        return sorted(owners, key=lambda n: (rank.get(n.id, len(rank)), n.id))
    close = [
        notes[note_id]
        for note_id, similarity in retrieved
        if similarity >= MIN_RETRIEVAL_SIMILARITY and note_id in notes and notes[note_id].key_points
    ]
    return close[:2]


def from_notes(question: Question, chosen: list[Note]) -> Rubric:
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for rank, note in enumerate(chosen):
        factor = 1.0 if rank == 0 else SECONDARY_NOTE_WEIGHT
        for i, point in enumerate(note.key_points):
            key = point.lower().strip()
            if key in seen or len(criteria) >= MAX_CONTENT_CRITERIA:
                continue
            seen.add(key)
            criteria.append(
                Criterion(
                    id=f"{note.id}/{i + 1}",
                    text=point,
                    weight=round(_point_weight(i, len(note.key_points)) * factor, 3),
                    source=note.id,
                )
            )
    primary = chosen[0] if chosen else None
    outline = [re.sub(r"\s+", " ", s) for s in bullets(primary.sections.get("Strong answer outline", ""))] if primary else []
    mistakes = bullets(primary.sections.get("Common mistakes", "")) if primary else []
    return Rubric(
        question_id=question.id,
        question=question.prompt,
        kind=question.kind,
        criteria=criteria + dimension_criteria(question.kind),
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


def from_reference(question_id: str, question: str, reference: str, kind: Kind = "technical") -> Rubric:
    """A rubric for a question that has a reference answer but no note: one point per sentence."""
    sentences = [s for s in split_sentences(reference) if len(s.split()) >= 3] or [reference.strip()]
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


def build_rubric(question: Question, store, notes: dict[str, Note]) -> Rubric:
    """Retrieve notes for the question from the store and build its rubric."""
    hits = store.query("notes", question.prompt, n=15)
    retrieved: list[tuple[str, float]] = []
    for hit in hits:
        note_id = hit.metadata.get("note_id", "")
        if note_id and note_id not in {n for n, _ in retrieved}:
            retrieved.append((note_id, hit.similarity))
    return from_notes(question, choose_notes(question, retrieved, notes))
