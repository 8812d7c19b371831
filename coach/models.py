"""The data the coach passes around: questions, notes, rubrics, grades, attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["technical", "system-design", "behavioral"]
NoteKind = Literal["technical", "system-design", "behavioral", "general"]
Coverage = Literal["covered", "partial", "missed", "contradicted"]
Status = Literal["pending", "graded"]


class Question(BaseModel):
    """One interview question from a question bank."""

    id: str
    text: str
    round: str  # "2", "3", "4" or "additional"
    source: str  # "reported" (asked in the real loop) or "predicted"
    origin: str  # the section it came from: "Meesho", "ChatGPT", "DeepSeek", a user's bank...
    category: str
    kind: Kind
    follows: str | None = None  # id of the question this one is a follow-up to
    bank: str = "seed"
    reference: str = ""  # a reference answer from the bank file: the rubric when no note fits

    @property
    def prompt(self) -> str:
        """The text shown to the candidate; the seed's bare topics are expanded into a question (the
        loop reported them as topics); a user's own questions are shown exactly as written."""
        if self.bank != "seed" or self.text.rstrip().endswith("?") or len(self.text.split()) > 6:
            return self.text
        return (
            f"{self.text}: what is it, why does it matter for a marketplace's recommendations, "
            "and how would you measure and correct for it?"
        )


Level = Literal["core", "staff"]


class WrongClaim(BaseModel):
    """A plausible wrong claim about a key point, and what is true instead."""

    claim: str
    correction: str  # '' for an example without its own correction: the key point says what is true


class KeyPoint(BaseModel):
    """One key point of a note: which questions it fits, its level, and contrastive examples."""

    text: str
    questions: list[str] = Field(default_factory=list)  # empty: every question the note serves
    level: Level = "core"
    says: list[str] = Field(default_factory=list)  # correct phrasings a candidate would use
    wrong: list[WrongClaim] = Field(default_factory=list)

    def fits(self, question_id: str) -> bool:
        return not self.questions or question_id in self.questions


class NoteProbe(BaseModel):
    """A follow-up probe from a note, with the points a good answer to it makes."""

    text: str
    questions: list[str] = Field(default_factory=list)
    expects: list[str] = Field(default_factory=list)

    def fits(self, question_id: str) -> bool:
        return not self.questions or question_id in self.questions


class Note(BaseModel):
    """A reference note: the bar for a strong answer to the questions it serves."""

    id: str
    title: str
    topics: list[str] = Field(default_factory=list)
    kind: NoteKind
    questions: list[str] = Field(default_factory=list)
    sections: dict[str, str] = Field(default_factory=dict)  # heading -> markdown body
    points: list[KeyPoint] = Field(default_factory=list)
    probe_items: list[NoteProbe] = Field(default_factory=list)
    dimensions: dict[str, list[str]] = Field(default_factory=dict)  # question id -> dimension keys
    draft: bool = False  # drafted by a language model: to be reviewed before it is trusted
    path: str = ""

    @property
    def key_points(self) -> list[str]:
        return [p.text for p in self.points]

    @property
    def probes(self) -> list[str]:
        return [p.text for p in self.probe_items]

    def points_for(self, question_id: str) -> list[KeyPoint]:
        return [p for p in self.points if p.fits(question_id)]


class Criterion(BaseModel):
    """One rubric point: a checkable statement a strong answer makes."""

    id: str
    text: str
    weight: float
    source: str  # note id, "reference" or "dimension"
    dimension: bool = False  # a general quality dimension rather than a content point
    level: Level = (
        "core"  # "staff" points are a bonus: covering them helps, missing them does not hurt
    )
    says: list[str] = Field(
        default_factory=list
    )  # correct phrasings: matched like the point itself
    wrong: list[WrongClaim] = Field(
        default_factory=list
    )  # wrong claims: matching one contradicts the point


class Rubric(BaseModel):
    """What a strong answer to one question covers, with weights."""

    question_id: str
    question: str
    kind: Kind
    criteria: list[Criterion]
    note_ids: list[str] = Field(default_factory=list)
    outline: list[str] = Field(default_factory=list)  # strong-answer outline from the notes
    mistakes: list[str] = Field(default_factory=list)


class CriterionResult(BaseModel):
    """How one rubric criterion fared in an answer."""

    criterion_id: str
    text: str
    status: Coverage
    evidence: str = ""  # the answer sentence that covers it, verbatim
    similarity: float | None = None
    weight: float = 1.0


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class Grade(BaseModel):
    """The result of grading one answer."""

    score: float = Field(ge=0, le=10)
    verdict: str
    criteria: list[CriterionResult]
    strengths: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)  # missing points, most important first
    next_steps: list[str] = Field(default_factory=list)
    outline: list[str] = Field(default_factory=list)
    grader: str  # "offline" or "llm"
    model: str = ""
    prompt_version: str = ""
    usage: Usage = Field(default_factory=Usage)
    flags: list[str] = Field(default_factory=list)  # e.g. "injection", "truncated"
    notice: str = ""  # what the grader is and what that means


class Attempt(BaseModel):
    """One answer a candidate gave, stored in history before it is graded."""

    id: int
    question_id: str
    answer: str
    created_at: datetime
    status: Status
    grader: str = ""
    grade: Grade | None = None
    error: str = ""
    parent_id: int | None = None
    delivery: dict | None = None  # a spoken answer's delivery measures (coach.voice.delivery)

    @property
    def spoken(self) -> bool:
        return self.delivery is not None


class Answer(BaseModel):
    """What a candidate gave: typed text, or a spoken answer's transcript with how it was delivered."""

    text: str
    delivery: dict | None = None  # coach.voice.delivery.Delivery.to_dict() of a spoken answer

    @classmethod
    def of(cls, given: str | Answer) -> Answer:
        return given if isinstance(given, Answer) else cls(text=given)


class GradeOutcome(BaseModel):
    """What grading a saved attempt gave: the grade, or why it is still pending."""

    attempt_id: int
    grade: Grade | None
    error: str = ""
    truncated: bool = False


ProbeKind = Literal["missed", "claim"]
ProbeStatus = Literal["planned", "asked", "answered", "skipped"]


class Probe(BaseModel):
    """One follow-up question in the thread of a root attempt."""

    id: int | None = None
    root_id: int
    text: str
    kind: ProbeKind
    targets: list[Criterion]  # the rubric points its answer is graded against
    quote: str = ""  # the candidate's words a claim probe quotes
    source: str = ""  # "note:<id>", "dimension", "template" or "llm"
    status: ProbeStatus = "planned"
    attempt_id: int | None = None

    @property
    def target_ids(self) -> list[str]:
        return [c.id for c in self.targets]
