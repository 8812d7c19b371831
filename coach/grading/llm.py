"""The LLM grader: one structured call per grade (coach.llm.structured), then checks that do not trust
the model: every credited point must quote the answer, the score may not run far ahead of the points
marked, and text addressed to the grader earns nothing."""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, Field

from coach.config import Settings, load_settings
from coach.corpus.prompts import load_prompt
from coach.grading.injection import HIDDEN_CHARS, injection_findings, normalize, split_attack
from coach.grading.offline import verdict as verdict_for
from coach.llm.structured import LLMError, Message, call_structured
from coach.models import Coverage, CriterionResult, Grade, Rubric, Usage

PROMPT_NAME, PROMPT_VERSION = "grade", "v2"
GRADE_TOOL = "submit_grade"
GRADE_TOOL_DESCRIPTION = "Submit the grade for the candidate's answer."
CONSISTENCY_MARGIN = (
    1.5  # points above what the marked coverage supports before the score is capped
)
# A contradicted point earns what a missed one earns: nothing.
CREDIT: dict[str, float] = {"covered": 1.0, "partial": 0.5, "missed": 0.0, "contradicted": 0.0}
RANK: dict[str, int] = {"contradicted": 0, "missed": 0, "partial": 1, "covered": 2}

# verifier(rubric, text) -> {criterion_id: status}: an independent coverage check (the offline grader)
Verifier = Callable[[Rubric, str], dict[str, str]]


class CriterionVerdict(BaseModel):
    criterion_id: str
    status: Coverage
    evidence: str = ""


class GradeReply(BaseModel):
    """What the LLM must return (the `submit_grade` tool's arguments)."""

    score: float = Field(ge=0, le=10)
    verdict: str
    criteria: list[CriterionVerdict]
    strengths: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    outline: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)


def format_rubric(rubric: Rubric) -> str:
    """One line per criterion, `id | weight | text`; bonus (staff-level) points are marked [staff]."""
    return "\n".join(
        f"{c.id} | {c.weight:g} | {c.text}" + (" [staff]" if c.level == "staff" else "")
        for c in rubric.criteria
    )


def grade_messages(rubric: Rubric, answer: str, notes_text: str = "") -> list[Message]:
    """The grade prompt (system, user) for an answer; the answer is fenced as data."""
    # Drop invisible characters (the model would read what the candidate cannot see) and neutralise
    # anything that could close the <answer> tag early.
    visible = HIDDEN_CHARS.sub("", answer)
    safe = re.sub(r"[<＜]\s*[/／]?\s*answer\s*[>＞]", "[tag removed]", visible, flags=re.IGNORECASE)
    system, user = load_prompt(PROMPT_NAME, PROMPT_VERSION).render(
        kind=rubric.kind,
        question=rubric.question,
        rubric=format_rubric(rubric),
        notes=notes_text or "(none)",
        answer=safe,
    )
    return [("system", system), ("user", user)]


def supported_score(rubric: Rubric, results: list[CriterionResult]) -> float:
    """The score the marked coverage supports, 0-10: credit over the weight of the required (core)
    points. Staff points are a bonus: covering one adds to the credit, missing one costs nothing."""
    level = {c.id: c.level for c in rubric.criteria}
    required = sum(r.weight for r in results if level.get(r.criterion_id, "core") != "staff")
    total = required or sum(r.weight for r in results) or 1.0
    earned = sum(r.weight * CREDIT[r.status] for r in results)
    return min(10.0, 10.0 * earned / total)


class LLMGrader:
    name = "llm"

    def __init__(
        self,
        settings: Settings | None = None,
        verifier: Verifier | None = None,
    ):
        """`settings` say which endpoint and model grade (default: load them). `verifier(rubric, text)
        -> {criterion_id: status}` is an independent coverage check (the offline grader) used when the
        answer addresses the grader: then the model may not credit a content point beyond what the
        answer *without that text* covers."""
        self._settings = settings if isinstance(settings, Settings) else None
        self.verifier = verifier

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def model_name(self) -> str:
        return self.settings.coach_model

    def messages(self, rubric: Rubric, answer: str, notes_text: str = "") -> list[Message]:
        return grade_messages(rubric, answer, notes_text)

    def grade(self, rubric: Rubric, answer: str, notes_text: str = "") -> Grade:
        """Grade `answer` against `rubric`. Raises LLMError when the endpoint fails or the model's
        reply never validates as a grade (it is asked once more, with the validation error)."""
        try:
            reply = call_structured(
                self.settings,
                grade_messages(rubric, answer, notes_text),
                GradeReply,
                GRADE_TOOL,
                description=GRADE_TOOL_DESCRIPTION,
            )
        except LLMError as exc:
            if exc.kind != "malformed":
                raise
            raise LLMError(
                f"the model's grade was malformed twice: {exc.reason}; a stronger COACH_MODEL may help",
                kind="malformed",
                reason=exc.reason,
            ) from None
        return self._to_grade(rubric, answer, reply.value, reply.usage)

    def _to_grade(self, rubric: Rubric, answer: str, reply: GradeReply, usage: Usage) -> Grade:
        by_id = {c.criterion_id: c for c in reply.criteria}
        findings = injection_findings(answer)
        # Evidence must come from the answer itself, never from text addressed to the grader.
        clean = split_attack(answer)[0] if findings else answer
        plain_answer = _squash(normalize(clean))
        flags = list(reply.flags)
        results = []
        unsupported = {"credited": 0, "contradicted": 0}
        for c in rubric.criteria:
            verdict = by_id.get(c.id)
            status, evidence = (verdict.status, verdict.evidence) if verdict else ("missed", "")
            if status != "missed" and not c.dimension and not _quoted(evidence, plain_answer):
                # A quote that is not in the answer (or that talks to the grader) cannot support the
                # point, nor show that the candidate contradicted it.
                unsupported["contradicted" if status == "contradicted" else "credited"] += 1
                status = "missed"
            results.append(
                CriterionResult(
                    criterion_id=c.id,
                    text=c.text,
                    status=status,
                    evidence=evidence,
                    weight=c.weight,
                )
            )
        if unsupported["credited"]:
            flags.append(
                f"{unsupported['credited']} point(s) marked covered with evidence not found in the answer "
                "were set to missed"
            )
        if unsupported["contradicted"]:
            flags.append(
                f"{unsupported['contradicted']} point(s) marked contradicted with evidence not found in the "
                "answer were set to missed"
            )
        compromised = False
        if findings and self.verifier is not None:
            lowered = self._verify(rubric, clean, results)
            if lowered:
                # The answer addresses the grader and the model credits what the answer without that
                # text does not cover: the model was manipulated. Its score is not used and no benefit
                # of the doubt is given: the grade rests on the independently verified points.
                compromised = True
                flags.append(
                    f"possible prompt injection: the model credited {lowered} point(s) that the answer "
                    "without the text addressed to the grader does not cover; only verified points count"
                )
        supported = supported_score(rubric, results)
        score, verdict = reply.score, reply.verdict
        margin = 0.0 if compromised else CONSISTENCY_MARGIN
        if score > supported + margin:
            flags.append(
                f"inconsistent: the model gave {score:.1f} but the points it found support about {supported:.1f}; capped"
            )
            score = supported + margin
            # The model's verdict was written for the score it gave; say what the capped score means.
            verdict = verdict_for(score)
        if findings:
            flags.extend(f"possible prompt injection: {f}" for f in findings)
        return Grade(
            score=round(min(max(score, 0.0), 10.0), 1),
            verdict=verdict,
            criteria=results,
            strengths=reply.strengths,
            gaps=reply.gaps,
            next_steps=reply.next_steps,
            outline=reply.outline or rubric.outline,
            grader="llm",
            model=self.model_name,
            prompt_version=f"{PROMPT_NAME}.{PROMPT_VERSION}",
            usage=usage,
            flags=flags,
            notice=f"LLM grader: {self.model_name}, prompt {PROMPT_NAME}.{PROMPT_VERSION}, temperature 0.",
        )

    def _verify(self, rubric: Rubric, clean: str, results: list[CriterionResult]) -> int:
        """Check the model's statuses against the independent coverage of the answer without the text
        addressed to the grader. If any content point is credited beyond it, every point (the general
        dimensions too) is lowered to it. Returns how many content points were over-credited."""
        assert self.verifier is not None
        checked = self.verifier(rubric, clean) if clean.strip() else {}
        dimensions = {c.id for c in rubric.criteria if c.dimension}

        def over(r: CriterionResult) -> bool:
            return RANK[checked.get(r.criterion_id, "missed")] < RANK[r.status]

        lowered = sum(1 for r in results if r.criterion_id not in dimensions and over(r))
        if lowered:
            for r in results:
                if over(r):
                    r.status = checked.get(r.criterion_id, "missed")
        return lowered


def _quoted(evidence: str, plain_answer: str) -> bool:
    """Whether the evidence is a quote of the answer (ignoring case and punctuation) and does not
    itself address the grader."""
    quote = _squash(normalize(evidence))
    return bool(quote) and f" {quote} " in f" {plain_answer} " and not injection_findings(evidence)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
