"""Corpus -> store: questions and note chunks, content-addressed so unchanged ones are not re-embedded."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from coach.config import Settings
from coach.corpus.bank import shipped_bank
from coach.corpus.library import all_questions, all_tips
from coach.corpus.notes import load_notes, load_user_notes
from coach.errors import CoachError
from coach.search.store import (
    NOTES,
    QUESTIONS,
    IngestReport,
    Store,
    note_chunks,
    question_documents,
)


def shipped_texts() -> list[str]:
    """Every text of the shipped corpus the offline embedder is asked for: question texts, note chunks,
    and each key point with its correct phrasings and wrong claims, probes and what probes expect."""
    bank = shipped_bank()
    notes = load_notes()
    texts = [d.text for d in question_documents(bank.questions)]
    texts += [d.text for d in note_chunks(notes + bank.tips)]
    for note in notes:
        for point in note.points:
            texts += [point.text, *point.says, *(w.claim for w in point.wrong)]
        for probe in note.probe_items:
            texts += [probe.text, *probe.expects]
    return list(dict.fromkeys(texts))


def ingest(
    settings: Settings,
    store: Store | None = None,
    rebuild: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> IngestReport:
    """Sync the store with the corpus and any imported banks."""
    if rebuild and not settings.coach_chroma_url and settings.chroma_path.exists():
        try:
            shutil.rmtree(settings.chroma_path)
        except OSError as exc:
            raise CoachError(f"cannot remove {settings.chroma_path} ({exc.strerror})") from None
    store = store or Store(settings)
    questions = all_questions(settings.coach_home)
    notes = load_notes() + load_user_notes(settings.coach_home) + all_tips(settings.coach_home)
    report = IngestReport()
    for kind, docs in ((QUESTIONS, question_documents(questions)), (NOTES, note_chunks(notes))):
        step = (lambda done, total, k=kind: progress(k, done, total)) if progress else None
        report.reports.append(store.sync(kind, docs, step))
    return report
