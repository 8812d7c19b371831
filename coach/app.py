"""The coach as a library: one object the CLI (or a Python user) calls for every command."""

from __future__ import annotations

import random
from functools import cached_property

from coach.coaching import probes
from coach.config import Settings, load_settings
from coach.corpus.bank import find_question
from coach.corpus.library import all_questions
from coach.corpus.notes import load_notes, load_user_notes
from coach.errors import CoachError
from coach.grading.llm import LLMGrader
from coach.grading.offline import OfflineGrader
from coach.grading.rubric import RubricSource, build_rubric, rubric_source
from coach.llm.client import redact
from coach.models import Answer, Attempt, Grade, GradeOutcome, Note, Probe, Question, Rubric
from coach.search.embeddings import offline_embedder
from coach.search.ingest import ingest
from coach.search.store import NOTES, QUESTIONS, Store
from coach.storage import Attempts, Storage
from coach.storage.drafts import Drafts
from coach.voice import delivery as voice_delivery
from coach.voice import transcribe as voice_transcribe
from coach.voice.audio import Audio

MAX_ANSWER_WORDS = 2000
MAX_ANSWER_BYTES = 200_000
# How long a spoken answer should take, by kind of question (rules of thumb from interview coaching:
# a concept or a STAR story in 2-3 minutes; the first pass of a system design, before the
# interviewer steers, in about 7). A follow-up gets 2 minutes. Delivery feedback measures against it.
SPOKEN_BUDGET_S = {"technical": 180.0, "behavioral": 180.0, "system-design": 420.0}
PROBE_BUDGET_S = 120.0


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
        """The shipped notes and the user's own (COACH_HOME/notes)."""
        return {n.id: n for n in load_notes() + load_user_notes(self.settings.coach_home)}

    @cached_property
    def store(self) -> Store:
        return Store(self.settings)

    @cached_property
    def storage(self) -> Storage:
        return Storage.open(self.settings.history_path)

    @cached_property
    def drafts(self) -> Drafts:
        """Half-typed answers kept when practice was interrupted."""
        return Drafts(self.settings.coach_home)

    @property
    def history(self) -> Attempts:
        """The attempts repository: every answer, saved before it is graded."""
        return self.storage.attempts

    def close(self) -> None:
        if "storage" in self.__dict__:
            self.storage.close()
            del self.__dict__["storage"]

    def question(self, question_id: str) -> Question:
        return find_question(self.questions, question_id)

    # --- store ---------------------------------------------------------------------------------
    def store_ready(self) -> bool:
        """True once the vector store holds the corpus (a new COACH_HOME starts empty)."""
        return self.store.count(NOTES) > 0

    def ensure_ingested(self, progress=None) -> None:
        """Fill an empty store with the corpus (a few seconds: the shipped corpus's vectors are prebuilt)."""
        if not self.store_ready():
            ingest(self.settings, self.store, progress=progress)

    def search(self, text: str, n: int = 5) -> list[tuple[Question, float]]:
        self.ensure_ingested()
        by_id = {q.id: q for q in self.questions}
        return [
            (by_id[h.metadata["question_id"]], h.similarity)
            for h in self.store.query(QUESTIONS, text, n=n)
            if h.metadata.get("question_id") in by_id
        ]

    # --- rubric and grading --------------------------------------------------------------------
    def ingested_store(self) -> Store:
        """The vector store, filled first when it is empty."""
        self.ensure_ingested()
        return self.store

    def rubric_source(self, question_id: str) -> RubricSource:
        """Where the question's rubric comes from (notes, a close seed question, a reference answer, none)."""
        return rubric_source(self.question(question_id), self.ingested_store, self.notes)

    def rubric(self, question_id: str) -> Rubric:
        """The question's rubric; the store is opened only for a question no note serves, so grading a
        shipped question does not pay for importing chromadb."""
        return build_rubric(self.question(question_id), self.ingested_store, self.notes)

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

    @cached_property
    def offline_grader(self) -> OfflineGrader:
        """One offline grader per coach: its fitted parameters are read from disk once."""
        return OfflineGrader(offline_embedder())

    def grade_rubric(self, rubric: Rubric, answer: str, grader: str | None = None) -> Grade:
        """Grade an answer against a rubric with the chosen grader (no history)."""
        text, truncated = truncate_words(answer)
        name = self.grader_name(grader)
        if name == "llm":
            graded = LLMGrader(self.settings, verifier=self.offline_coverage).grade(
                rubric, text, self.notes_excerpt(rubric)
            )
        else:
            graded = self.offline_grader.grade(rubric, text)
        if truncated:
            graded.flags.insert(
                0, f"graded on the first {MAX_ANSWER_WORDS} words of a longer answer"
            )
        return graded

    def offline_coverage(self, rubric: Rubric, text: str) -> dict[str, str]:
        """Each criterion's status by the offline grader: the LLM grader's independent check."""

        key = (
            rubric.question_id,
            rubric.kind,
            tuple((c.id, c.text, c.weight) for c in rubric.criteria),
            text,
        )
        cache = self.__dict__.setdefault("_coverage_cache", {})
        if key not in cache:
            if len(cache) >= 64:
                cache.clear()
            grade = self.offline_grader.grade(rubric, text)
            cache[key] = {r.criterion_id: r.status for r in grade.criteria}
        return dict(cache[key])

    # --- the one pipeline: save -> grade -> fall back -> record ---------------------------------
    def gradable(self, question_id: str) -> bool:
        """False for an imported question nothing can grade (no note fits it, no reference answer)."""
        return (
            self.question(question_id).bank == "seed"
            or self.rubric_source(question_id).kind != "none"
        )

    def require_rubric(self, question_id: str) -> None:
        """Refuse, before anything is typed or saved, a question nothing can grade."""
        if not self.gradable(question_id):
            raise CoachError(
                f"question {question_id} has no rubric, so it cannot be graded: add a 'reference:' answer "
                "under it in its bank file and import the bank again"
            )

    def save_answer(
        self, question_id: str, answer: str | Answer, parent_id: int | None = None
    ) -> int:
        """Check and store an answer (typed text, or a spoken answer's transcript with its delivery)
        as pending, committed before any grading; returns its id."""
        given = Answer.of(answer)
        text = check_answer(given.text)
        if parent_id is None:
            self.require_rubric(question_id)
        return self.history.add(question_id, text, parent_id=parent_id, delivery=given.delivery)

    def answer(
        self,
        question_id: str,
        answer: str | Answer,
        grader: str | None = None,
        parent_id: int | None = None,
    ) -> GradeOutcome:
        """Save the answer, then grade it; a failed grade leaves it pending and re-gradable."""
        return self.grade_attempt(self.save_answer(question_id, answer, parent_id), grader)

    def answer_probe(
        self, probe: Probe, answer: str | Answer, grader: str | None = None
    ) -> GradeOutcome:
        """Save a probe's answer in its thread (parent = the root attempt), then grade it."""
        given = Answer.of(answer)
        text = check_answer(given.text)
        if probe.attempt_id is not None:
            raise CoachError(f"probe {probe.id} is already answered (attempt {probe.attempt_id})")
        root = self.history.get(probe.root_id)
        attempt_id = self.history.add(
            root.question_id, text, parent_id=root.id, delivery=given.delivery
        )
        probes.record_answer(self, probe, attempt_id)
        return self.grade_attempt(attempt_id, grader)

    def rubric_for_attempt(self, attempt: Attempt) -> Rubric:
        """A probe's answer is graded on the points its probe targets; any other on its question's rubric."""
        return probes.probe_rubric(self, attempt.id) or self.rubric(attempt.question_id)

    def grade_attempt(self, attempt_id: int, grader: str | None = None) -> GradeOutcome:
        """Grade a saved attempt and record the result. Whatever goes wrong, it stays pending with the
        reason (redacted): a grader error, a failed fallback, or Ctrl-C (which is re-raised)."""
        attempt = self.history.get(attempt_id)
        _, truncated = truncate_words(attempt.answer)
        try:
            rubric = self.rubric_for_attempt(attempt)
            graded = self._grade_with_fallback(rubric, attempt.answer, grader)
        except CoachError as exc:
            return self._failed(attempt_id, str(exc), truncated)
        except KeyboardInterrupt:
            self._failed(attempt_id, "interrupted before the grade finished", truncated)
            raise
        except Exception as exc:
            # A bug, not the user's fault: the answer is kept (pending, with the reason) and the
            # error is raised so it is seen and reported rather than disguised as an endpoint failure.
            self._failed(
                attempt_id, f"internal error while grading ({type(exc).__name__})", truncated
            )
            raise
        self.history.record_grade(attempt_id, graded)
        return GradeOutcome(attempt_id=attempt_id, grade=graded, truncated=truncated)

    def _grade_with_fallback(self, rubric: Rubric, answer: str, grader: str | None) -> Grade:
        """The grade, or an offline one when the LLM fails and COACH_FALLBACK=offline; else CoachError."""
        llm = self.grader_name(grader) == "llm"
        try:
            return self.grade_rubric(rubric, answer, grader)
        except CoachError as exc:
            if not llm or self.settings.coach_fallback != "offline":
                raise
            message = str(exc)
        try:
            graded = self.grade_rubric(rubric, answer, "offline")
        except CoachError as exc:
            raise CoachError(f"{message}; the offline fallback failed too ({exc})") from None
        graded.flags.insert(
            0, f"LLM grade failed ({self._redact(message)}); graded offline instead"
        )
        return graded

    def _failed(self, attempt_id: int, message: str, truncated: bool) -> GradeOutcome:
        message = self._redact(message)
        self.history.record_failure(attempt_id, message)
        return GradeOutcome(attempt_id=attempt_id, grade=None, error=message, truncated=truncated)

    def _redact(self, text: str) -> str:
        return redact(" ".join(text.split()), self.settings)

    def regrade(self, attempt_ids: list[int], grader: str | None = None) -> list[GradeOutcome]:
        """Grade saved attempts again (pending ones, or any), through the same pipeline."""
        return [self.grade_attempt(attempt_id, grader) for attempt_id in attempt_ids]

    # --- spoken answers ------------------------------------------------------------------------
    @cached_property
    def transcriber(self) -> voice_transcribe.Transcriber:
        """Local Whisper (bundled tiny.en, or COACH_WHISPER_MODEL), or the endpoint's transcription
        API when COACH_TRANSCRIBER=openai; loaded once per Coach."""
        return voice_transcribe.transcriber_for(self.settings)

    def spoken_answer(
        self,
        audio: Audio,
        budget_s: float | None,
        live: voice_transcribe.LiveTranscription | None = None,
    ) -> Answer:
        """A recording as an answer: its transcript (finished from `live`, when it was transcribed
        while being recorded) and how it was delivered. Nothing is saved here; the caller saves it
        like a typed answer (before grading). Raises AudioError when no speech was recognised."""
        transcript = voice_transcribe.transcribe(audio, live or self.transcriber)
        measured = voice_delivery.measure(transcript, budget_s).to_dict()
        measured["engine"] = transcript.engine
        return Answer(text=transcript.text.strip(), delivery=measured)

    def live_transcription(self) -> voice_transcribe.LiveTranscription | None:
        """A transcription that runs while the candidate speaks (local Whisper only: the endpoint's
        API is called once, at the end)."""
        if isinstance(self.transcriber, voice_transcribe.LocalWhisper):
            return voice_transcribe.LiveTranscription(self.transcriber)
        return None

    def spoken_budget(self, question: Question) -> float:
        """Seconds a spoken answer to this question should take (see SPOKEN_BUDGET_S)."""
        return SPOKEN_BUDGET_S.get(question.kind, SPOKEN_BUDGET_S["technical"])

    # --- choosing what to practise -------------------------------------------------------------
    def pick_question(
        self,
        round_: str | None = None,
        kind: str | None = None,
        topic: str | None = None,
        seed: int | None = None,
    ) -> Question:
        """A question matching the filters, preferring ones never attempted, then the lowest scored."""
        pool = filter_questions(
            self.questions, round_=round_, kind=kind, topic=topic, notes=self.notes
        )
        # An imported question with no rubric cannot be graded: never offer it (its answer would be lost).
        pool = [q for q in pool if self.gradable(q.id)]
        if not pool:
            raise CoachError("no gradable question matches those filters; see `coach questions`")
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
        if source and source.lower() not in (q.source.lower(), q.origin.lower(), q.bank.lower()):
            continue
        if topic:
            t = topic.lower()
            note_topics = {
                tp.lower()
                for n in (notes or {}).values()
                if q.id in n.questions
                for tp in n.topics + [n.id]
            }
            if not (
                any(t in tp for tp in note_topics) or t in q.category.lower() or t in q.text.lower()
            ):
                continue
        out.append(q)
    return out
