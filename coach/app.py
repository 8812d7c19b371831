"""The coach as a library: one object the CLI (or a Python user) calls for every command."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from coach.config import Settings, load_settings
from coach.corpus.bank import find_question
from coach.corpus.library import all_questions
from coach.corpus.notes import load_notes
from coach.errors import CoachError
from coach.models import Attempt, Grade, Note, Question, Rubric

MAX_ANSWER_WORDS = 2000
MAX_ANSWER_BYTES = 200_000


@dataclass
class GradeOutcome:
    attempt_id: int
    grade: Grade | None
    error: str = ""
    truncated: bool = False


def check_answer(answer: str) -> str:
    """Refuse answers that cannot be graded; nothing is saved for them."""
    if "\x00" in answer:
        raise CoachError("the answer contains NUL bytes; paste plain text")
    if len(answer.encode("utf-8")) > MAX_ANSWER_BYTES:
        raise CoachError(
            f"the answer is {len(answer.encode('utf-8')) // 1000} KB; the limit is {MAX_ANSWER_BYTES // 1000} KB"
        )
    if not answer.strip():
        raise CoachError("the answer is empty; type an answer (nothing was saved)")
    return answer.strip()


def read_answer_file(path: str) -> str:
    """Read an answer from a file path or '-' (stdin) as UTF-8, with one-line errors.

    At most the size limit (plus one byte) is read, so a device or an endless pipe cannot hang it."""
    import os
    import sys

    size = 0
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(MAX_ANSWER_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                raw = handle.read(MAX_ANSWER_BYTES + 1)
    except IsADirectoryError:
        raise CoachError(f"{path}: is a directory, not an answer file") from None
    except FileNotFoundError:
        raise CoachError(f"{path}: no such file") from None
    except OSError as exc:
        raise CoachError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_ANSWER_BYTES:
        if size > MAX_ANSWER_BYTES:
            raise CoachError(f"{path}: {size // 1000} KB; the limit is {MAX_ANSWER_BYTES // 1000} KB")
        raise CoachError(f"{path}: more than {MAX_ANSWER_BYTES // 1000} KB; the limit is {MAX_ANSWER_BYTES // 1000} KB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CoachError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def truncate_words(answer: str, limit: int = MAX_ANSWER_WORDS) -> tuple[str, bool]:
    words = answer.split()
    if len(words) <= limit:
        return answer, False
    return " ".join(words[:limit]), True


class Coach:
    """Settings, question bank, notes, store, history and graders, opened lazily."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()

    # --- lazily opened parts -------------------------------------------------------------------
    @cached_property
    def questions(self) -> list[Question]:
        return all_questions(self.settings.coach_home)

    @cached_property
    def notes(self) -> dict[str, Note]:
        return {n.id: n for n in load_notes()}

    @cached_property
    def store(self):
        from coach.search.store import Store

        return Store(self.settings)

    @cached_property
    def history(self):
        from coach.storage.attempts import History

        return History(self.settings.history_path)

    def question(self, question_id: str) -> Question:
        return find_question(self.questions, question_id)

    # --- store ---------------------------------------------------------------------------------
    def ensure_ingested(self) -> None:
        from coach.search.store import NOTES

        if self.store.count(NOTES) == 0:
            from coach.search.ingest import ingest

            ingest(self.settings, self.store)

    def search(self, text: str, n: int = 5) -> list[tuple[Question, float]]:
        from coach.search.store import QUESTIONS

        self.ensure_ingested()
        by_id = {q.id: q for q in self.questions}
        return [
            (by_id[h.metadata["question_id"]], h.similarity)
            for h in self.store.query(QUESTIONS, text, n=n)
            if h.metadata.get("question_id") in by_id
        ]

    # --- rubric and grading --------------------------------------------------------------------
    def rubric(self, question_id: str) -> Rubric:
        from coach.grading.rubric import build_rubric

        question = self.question(question_id)
        self.ensure_ingested()
        return build_rubric(question, self.store, self.notes)

    def notes_excerpt(self, rubric: Rubric, limit: int = 2400) -> str:
        """Key parts of the rubric's notes for the LLM prompt, bounded in size."""
        parts = []
        for note_id in rubric.note_ids:
            note = self.notes.get(note_id)
            if not note:
                continue
            for section in ("Common mistakes", "Strong answer outline"):
                if note.sections.get(section):
                    parts.append(f"[{note.title} - {section}]\n{note.sections[section]}")
        return "\n\n".join(parts)[:limit]

    def grader_name(self, override: str | None = None) -> str:
        return override or self.settings.grader

    def grade_rubric(self, rubric: Rubric, answer: str, grader: str | None = None) -> Grade:
        """Grade an answer against a rubric with the chosen grader (no history)."""
        text, truncated = truncate_words(answer)
        name = self.grader_name(grader)
        if name == "llm":
            from coach.grading.llm import LLMGrader
            from coach.llm.client import chat_model

            graded = LLMGrader(
                chat_model(self.settings), self.settings.coach_model, verifier=self.offline_coverage
            ).grade(rubric, text, self.notes_excerpt(rubric))
        else:
            from coach.grading.offline import OfflineGrader
            from coach.search.embeddings import offline_embedder

            graded = OfflineGrader(offline_embedder()).grade(rubric, text)
        if truncated:
            graded.flags.insert(0, f"graded on the first {MAX_ANSWER_WORDS} words of a longer answer")
        return graded

    def offline_coverage(self, rubric: Rubric, text: str) -> dict[str, str]:
        """Each criterion's status by the offline grader: the LLM grader's independent check."""
        from coach.grading.offline import OfflineGrader
        from coach.search.embeddings import offline_embedder

        key = (rubric.question_id, rubric.kind, tuple((c.id, c.text, c.weight) for c in rubric.criteria), text)
        cache = self.__dict__.setdefault("_coverage_cache", {})
        if key not in cache:
            if len(cache) >= 64:
                cache.clear()
            grade = OfflineGrader(offline_embedder()).grade(rubric, text)
            cache[key] = {r.criterion_id: r.status for r in grade.criteria}
        return dict(cache[key])

    def answer(
        self, question_id: str, answer: str, grader: str | None = None, parent_id: int | None = None
    ) -> GradeOutcome:
        """Save the answer, then grade it; a failed grade leaves it pending and re-gradable."""
        answer = check_answer(answer)
        self.question(question_id)
        attempt_id = self.history.add(question_id, answer, parent_id=parent_id)
        return self._grade_attempt(attempt_id, question_id, answer, grader)

    def _grade_attempt(self, attempt_id: int, question_id: str, answer: str, grader: str | None) -> GradeOutcome:
        """Grade a saved attempt. Whatever goes wrong, the attempt stays pending with the reason."""
        _, truncated = truncate_words(answer)
        try:
            from coach.coaching.probes import probe_rubric

            # A probe's answer is graded on the points its probe targets, not the whole rubric.
            rubric = probe_rubric(self, attempt_id) or self.rubric(question_id)
            graded = self._grade_with_fallback(rubric, answer, grader)
        except CoachError as exc:
            return self._failed(attempt_id, str(exc), truncated)
        except KeyboardInterrupt:
            self._failed(attempt_id, "interrupted before the grade finished", truncated)
            raise
        self.history.record_grade(attempt_id, graded)
        return GradeOutcome(attempt_id, graded, "", truncated)

    def _grade_with_fallback(self, rubric: Rubric, answer: str, grader: str | None) -> Grade:
        """The grade, or an offline one when the LLM fails and COACH_FALLBACK=offline; else CoachError."""
        llm = self.grader_name(grader) == "llm"
        try:
            return self.grade_rubric(rubric, answer, grader)
        except CoachError as exc:
            message = str(exc)
        except Exception as exc:
            if llm:
                from coach.llm.client import describe_failure

                message = describe_failure(exc, self.settings)
            else:  # a bug, not the user's fault: keep the answer pending and say what broke
                message = f"grading failed ({type(exc).__name__}); the answer is kept as pending"
        if not llm or self.settings.coach_fallback != "offline":
            raise CoachError(message)
        try:
            graded = self.grade_rubric(rubric, answer, "offline")
        except CoachError as exc:
            raise CoachError(f"{message}; the offline fallback failed too ({exc})") from None
        graded.flags.insert(0, f"LLM grade failed ({self._redact(message)}); graded offline instead")
        return graded

    def _failed(self, attempt_id: int, message: str, truncated: bool) -> GradeOutcome:
        message = self._redact(message)
        self.history.record_failure(attempt_id, message)
        return GradeOutcome(attempt_id, None, message, truncated)

    def _redact(self, text: str) -> str:
        from coach.llm.client import redact

        return redact(" ".join(text.split()), self.settings)

    def regrade(self, attempt_ids: list[int], grader: str | None = None) -> list[GradeOutcome]:
        outcomes = []
        for attempt_id in attempt_ids:
            attempt = self.history.get(attempt_id)
            outcomes.append(self._grade_attempt(attempt.id, attempt.question_id, attempt.answer, grader))
        return outcomes

    # --- choosing what to practise -------------------------------------------------------------
    def pick_question(
        self,
        round_: str | None = None,
        kind: str | None = None,
        topic: str | None = None,
        seed: int | None = None,
    ) -> Question:
        """A question matching the filters, preferring ones never attempted, then the lowest scored."""
        pool = filter_questions(self.questions, round_=round_, kind=kind, topic=topic, notes=self.notes)
        if not pool:
            raise CoachError("no question matches those filters; see `coach questions`")
        attempts = self.history.list()
        best: dict[str, float] = {}
        for a in attempts:
            if a.grade and a.parent_id is None:  # probe answers are graded on a few points only
                best[a.question_id] = max(best.get(a.question_id, 0.0), a.grade.score)
        tried = {a.question_id for a in attempts}
        fresh = [q for q in pool if q.id not in tried]
        rng = random.Random(seed)
        if fresh:
            # Follow-ups make sense only after their opening question.
            openers = [q for q in fresh if not q.follows or q.follows in tried] or fresh
            return rng.choice(openers)
        return min(pool, key=lambda q: (best.get(q.id, 0.0), q.id))

    def attempt(self, attempt_id: int) -> Attempt:
        return self.history.get(attempt_id)


def filter_questions(
    questions: list[Question],
    round_: str | None = None,
    kind: str | None = None,
    source: str | None = None,
    topic: str | None = None,
    notes: dict[str, Note] | None = None,
) -> list[Question]:
    """Questions matching every given filter; topic matches note topics, category and text."""
    out = []
    for q in questions:
        if round_ and q.round != str(round_).lower():
            continue
        if kind and q.kind != kind:
            continue
        if source and source.lower() not in (q.source.lower(), q.origin.lower()):
            continue
        if topic:
            t = topic.lower()
            note_topics = {
                tp.lower() for n in (notes or {}).values() if q.id in n.questions for tp in n.topics + [n.id]
            }
            if not (any(t in tp for tp in note_topics) or t in q.category.lower() or t in q.text.lower()):
                continue
        out.append(q)
    return out
