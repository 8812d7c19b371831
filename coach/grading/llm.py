"""The LLM grader: one call per grade, structured output by tool calling, then JSON mode, validated."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, Field, ValidationError

from coach.corpus.prompts import load_prompt
from coach.errors import CoachError
from coach.grading.injection import HIDDEN_CHARS, injection_findings, normalize, split_attack
from coach.models import Coverage, CriterionResult, Grade, Rubric, Usage

PROMPT_NAME, PROMPT_VERSION = "grade", "v1"
CONSISTENCY_MARGIN = 1.5  # points above what the marked coverage supports before the score is capped
CREDIT = {"covered": 1.0, "partial": 0.5, "missed": 0.0}
RANK = {"missed": 0, "partial": 1, "covered": 2}


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


class GradeFormatError(CoachError):
    """The model's reply never validated as a grade."""


def first_json_object(text: str) -> dict:
    """The first balanced {...} in a reply (models wrap JSON in prose or code fences)."""
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_string:
                escaped = not escaped and ch == "\\"
                if ch == '"' and not escaped:
                    in_string = False
                continue
            if ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        return json.loads(text[start : i + 1])
                    except json.JSONDecodeError:
                        break
        start = text.find("{", start + 1)
    raise ValueError("no JSON object in the reply")


def _tool_schema() -> dict:
    return {
        "type": "function",
        "function": {
            "name": "submit_grade",
            "description": "Submit the grade for the candidate's answer.",
            "parameters": GradeReply.model_json_schema(),
        },
    }


def format_rubric(rubric: Rubric) -> str:
    return "\n".join(f"{c.id} | {c.weight:g} | {c.text}" for c in rubric.criteria)


class LLMGrader:
    name = "llm"

    def __init__(self, model, model_name: str, notes_text: str = "", verifier=None):
        """`verifier(rubric, text) -> {criterion_id: status}` is an independent coverage check (the
        offline grader) used when the answer addresses the grader: then the model may not credit a
        content point beyond what the answer *without that text* covers."""
        self.model = model
        self.model_name = model_name
        self.notes_text = notes_text
        self.verifier = verifier
        self.prompt = load_prompt(PROMPT_NAME, PROMPT_VERSION)
        self.mode = "tools"

    def messages(self, rubric: Rubric, answer: str, notes_text: str | None = None) -> list[tuple[str, str]]:
        # The answer is data: drop invisible characters (the model would read what the candidate
        # cannot see) and neutralise anything that could close the <answer> tag early.
        visible = HIDDEN_CHARS.sub("", answer)
        safe = re.sub(r"[<＜]\s*[/／]?\s*answer\s*[>＞]", "[tag removed]", visible, flags=re.IGNORECASE)
        system, user = self.prompt.render(
            kind=rubric.kind,
            question=rubric.question,
            rubric=format_rubric(rubric),
            notes=(notes_text if notes_text is not None else self.notes_text) or "(none)",
            answer=safe,
        )
        return [("system", system), ("user", user)]

    def grade(self, rubric: Rubric, answer: str, notes_text: str | None = None) -> Grade:
        messages = self.messages(rubric, answer, notes_text)
        usage = Usage()
        reply, error = self._ask(messages, usage)
        if reply is None:
            # One retry, telling the model exactly what was wrong.
            messages = messages + [
                ("user", f"Your reply was not a valid grade: {error}. Call submit_grade again with valid fields.")
            ]
            reply, error = self._ask(messages, usage)
        if reply is None:
            raise GradeFormatError(
                f"the model's grade was malformed twice ({error}); the answer is saved as pending. "
                "Try `coach regrade --pending`, or a stronger COACH_MODEL"
            )
        return self._to_grade(rubric, answer, reply, usage)

    def _ask(self, messages, usage: Usage) -> tuple[GradeReply | None, str]:
        import openai

        try:
            response = self._invoke(messages)
        except openai.LengthFinishReasonError:
            # A reply cut off at the token limit is malformed, not a transport failure.
            return None, "the reply was cut off at the token limit"
        meta = getattr(response, "usage_metadata", None) or {}
        usage.input_tokens += int(meta.get("input_tokens", 0))
        usage.output_tokens += int(meta.get("output_tokens", 0))
        candidates = [call.get("args", {}) for call in getattr(response, "tool_calls", None) or []]
        content = response.content if isinstance(response.content, str) else json.dumps(response.content)
        if not candidates and content:
            try:
                candidates.append(first_json_object(content))
            except ValueError:
                return None, "no tool call and no JSON object in the reply"
        if not candidates:
            return None, "empty reply"
        try:
            return GradeReply.model_validate(candidates[0]), ""
        except ValidationError as exc:
            first = exc.errors()[0]
            return None, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"

    def _invoke(self, messages):
        """Tool calling first; if the server rejects tools, JSON mode with the schema in the prompt."""
        import openai

        if self.mode == "tools" and hasattr(self.model, "bind_tools"):
            try:
                return self.model.bind_tools([_tool_schema()], tool_choice="submit_grade").invoke(messages)
            except (openai.BadRequestError, openai.UnprocessableEntityError):
                self.mode = "json"
            except openai.InternalServerError as exc:
                # Some servers (llama.cpp) answer 500 to tools they cannot do. Any other 5xx has
                # already been retried by the client: asking again in JSON mode would double the tries.
                if not re.search(r"tool|function", str(exc), re.IGNORECASE):
                    raise
                self.mode = "json"
        schema = json.dumps(GradeReply.model_json_schema())
        extra = ("user", f"Reply with one JSON object only, matching this JSON schema: {schema}")
        model = self.model.bind(response_format={"type": "json_object"}) if hasattr(self.model, "bind") else self.model
        return model.invoke(list(messages) + [extra])

    def _to_grade(self, rubric: Rubric, answer: str, reply: GradeReply, usage: Usage) -> Grade:
        by_id = {c.criterion_id: c for c in reply.criteria}
        findings = injection_findings(answer)
        # Evidence must come from the answer itself, never from text addressed to the grader.
        clean = split_attack(answer)[0] if findings else answer
        plain_answer = _squash(normalize(clean))
        flags = list(reply.flags)
        results = []
        unsupported = 0
        for c in rubric.criteria:
            verdict = by_id.get(c.id)
            status, evidence = (verdict.status, verdict.evidence) if verdict else ("missed", "")
            quote = _squash(normalize(evidence))
            if status != "missed" and not c.dimension and (not quote or f" {quote} " not in f" {plain_answer} "):
                # A quote that is not in the answer cannot support the point.
                status, unsupported = "missed", unsupported + 1
            if status != "missed" and not c.dimension and injection_findings(evidence):
                status, unsupported = "missed", unsupported + 1
            results.append(
                CriterionResult(criterion_id=c.id, text=c.text, status=status, evidence=evidence, weight=c.weight)
            )
        if unsupported:
            flags.append(f"{unsupported} point(s) marked covered with evidence not found in the answer were set to missed")
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
        weights = sum(r.weight for r in results) or 1.0
        supported = 10.0 * sum(r.weight * CREDIT[r.status] for r in results) / weights
        score, verdict = reply.score, reply.verdict
        margin = 0.0 if compromised else CONSISTENCY_MARGIN
        if score > supported + margin:
            flags.append(
                f"inconsistent: the model gave {score:.1f} but the points it found support about {supported:.1f}; capped"
            )
            score = supported + margin
            # The model's verdict was written for the score it gave; say what the capped score means.
            verdict = _verdict(score)
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


def _verdict(score: float) -> str:
    from coach.grading.offline import verdict

    return verdict(score)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
