"""Follow-up probes: an interviewer's next questions after an answer, and the thread they start.

A probe targets the most important rubric points an answer missed (asked without revealing them) or
a claim the candidate made (quoted verbatim). With an LLM, one call writes them; offline, they come
from the notes' `Follow-up probes` matched to the missed points by meaning, from per-dimension
questions, and from templates around the candidate's own words. A probe's answer is an attempt whose
parent is the root attempt, graded against a sub-rubric of the points the probe targets.

Probes live in their own table (`probes`) in the history database:
id, root attempt, answer attempt (once answered), question text, targeted criteria, status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from coach.errors import CoachError
from coach.models import Attempt, Criterion, Grade, Rubric

PROMPT_NAME, PROMPT_VERSION = "probe", "v1"
TOOL_NAME = "submit_probes"
MAX_PROBES = 3
MIN_MATCH = 0.30  # similarity between a missed point and a note's probe for the probe to test it
LEAK_WORDS = 6  # a probe sharing this many consecutive words with a missed point gives it away
MAX_QUOTE_WORDS = 16
CREDIT = {"covered": 1.0, "partial": 0.5, "missed": 0.0}

ProbeKind = Literal["missed", "claim"]
ProbeStatus = Literal["planned", "asked", "answered", "skipped"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS probes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    attempt_id INTEGER UNIQUE REFERENCES attempts(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('missed', 'claim')),
    quote TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    targets_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planned', 'asked', 'answered', 'skipped')),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS probes_root ON probes(root_id);
"""

# Interviewer questions for a missed general dimension: they ask for the quality, never name the answer.
DIMENSION_PROBES = {
    "dim-depth": "What alternative did you consider there, and what would choosing it have cost you?",
    "dim-evaluation": "How would you know whether this actually worked, both before launch and once it is live?",
    "dim-clarity": "If you had thirty seconds, what is the one-sentence version of your answer?",
    "dim-requirements": "Before designing anything, what would you want to pin down about the goal, the scale and the time budget?",
    "dim-data": "What would you log to build this, where would the labels come from, and what is wrong with them?",
    "dim-modelling": "Which model would you start with, and why that one over the obvious alternative?",
    "dim-serving": "Walk me through one request: what is computed ahead of time, what runs online, and how fast must it be?",
    "dim-monitoring": "Three months after launch, how would you find out that it has quietly degraded?",
    "dim-star": "Take me back to the start: what was the situation, and what exactly was your task?",
    "dim-ownership": "Which decisions in that story were yours, and what did you personally do?",
    "dim-result": "How did you measure the outcome, and what changed as a result?",
    "dim-reflection": "Looking back, what would you do differently, and what have you changed since?",
}

# Follow-ups around a quoted claim, by what the claim contains; the first unused one is asked.
CLAIM_FOLLOWUPS = {
    "number": ["how did you measure that, and how sure are you that the number is real?"],
    "absolute": ["is that always true? Describe a case where it would break."],
    "technical": [
        "why that rather than the obvious alternative, and what does it cost you?",
        "how exactly would that work here, step by step?",
        "what could make that go wrong in production, and how would you notice?",
    ],
    "behavioral": [
        "what exactly did you do there yourself, and what pushback did you get?",
        "how do you know it made a difference, and what would you do differently now?",
    ],
}

DECISION_RE = re.compile(
    r"\b(?:I|we)(?:'d|'ll| would| will| should| could| might)?\s+(?:\w+ly\s+)?"
    r"(?:use|used|choose|chose|pick|picked|train|trained|build|built|add|added|start|started|go|went|"
    r"rely|relied|apply|applied|estimate|estimated|prefer|preferred|deploy|deployed|run|ran|decided|"
    r"led|set|measure|measured|optimi[sz]e|optimi[sz]ed|fine-tune|fine-tuned|clip|clipped|cap|capped|"
    r"ship|shipped|launch|launched|propose|proposed|design|designed|replace|replaced|treat|treated|"
    r"model|modelled|modeled|combine|combined|weight|weighted|predict|predicted|serve|served|cache|"
    r"cached|distil|distill|distilled|quantize|quantized|convinced|pushed|owned|wrote|cut|reduced|"
    r"increased|improved|rewrote|migrated|hired|mentored|introduced)\b",
    re.IGNORECASE,
)
ACRONYM_RE = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*\b")
NUMBER_RE = re.compile(r"\d")
ABSOLUTE_RE = re.compile(
    r"\b(always|never|guarantee[sd]?|best|only|definitely|every|impossible|no need|certainly|perfect(ly)?)\b",
    re.IGNORECASE,
)
CLAUSE_END_RE = re.compile(r"[,;:()\u2014]|\s(?:because|since|which|so that|whereas|but)\s")


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


@dataclass
class ProbeSet:
    """The probes to ask next for one root attempt."""

    root_id: int
    probes: list[Probe]
    source: str  # "offline" or "llm": who wrote the new ones
    notice: str = ""


@dataclass
class ThreadEntry:
    """One step of a thread: the root attempt (probe None), or a probe with its answer if any."""

    attempt: Attempt | None
    probe: Probe | None = None


@dataclass
class _Candidate:
    texts: list[str]  # alternatives, first unused one wins
    kind: ProbeKind
    targets: list[Criterion]
    quote: str = ""
    source: str = ""


# --- storage ---------------------------------------------------------------------------------


def ensure_schema(db) -> None:
    db.executescript(SCHEMA)


def _row_probe(row) -> Probe:
    return Probe(
        id=row["id"],
        root_id=row["root_id"],
        text=row["question"],
        kind=row["kind"],
        targets=[Criterion.model_validate(c) for c in json.loads(row["targets_json"])],
        quote=row["quote"],
        source=row["source"],
        status=row["status"],
        attempt_id=row["attempt_id"],
    )


def load_probes(db, root_id: int) -> list[Probe]:
    ensure_schema(db)
    return [
        _row_probe(r)
        for r in db.execute("SELECT * FROM probes WHERE root_id = ? ORDER BY id", (root_id,))
    ]


def get_probe(db, probe_id: int) -> Probe:
    ensure_schema(db)
    row = db.execute("SELECT * FROM probes WHERE id = ?", (probe_id,)).fetchone()
    if row is None:
        raise CoachError(f"no probe {probe_id}")
    return _row_probe(row)


def probe_for_attempt(db, attempt_id: int) -> Probe | None:
    """The probe an attempt answers, if it answers one."""
    ensure_schema(db)
    row = db.execute("SELECT * FROM probes WHERE attempt_id = ?", (attempt_id,)).fetchone()
    return _row_probe(row) if row else None


def _write(db, sql: str, params: tuple):
    from coach.storage.attempts import write

    return write(db, sql, params, "the probes table")


def save_probe(db, probe: Probe) -> Probe:
    ensure_schema(db)
    cursor = _write(
        db,
        "INSERT INTO probes (root_id, attempt_id, question, kind, quote, source, targets_json, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            probe.root_id,
            probe.attempt_id,
            probe.text,
            probe.kind,
            probe.quote,
            probe.source,
            json.dumps([c.model_dump() for c in probe.targets]),
            probe.status,
            datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )
    return probe.model_copy(update={"id": int(cursor.lastrowid)})


def set_status(db, probe: Probe, status: ProbeStatus, attempt_id: int | None = None) -> Probe:
    if probe.id is None:
        raise CoachError("this probe was never saved")
    _write(
        db,
        "UPDATE probes SET status = ?, attempt_id = COALESCE(?, attempt_id) WHERE id = ?",
        (status, attempt_id, probe.id),
    )
    return probe.model_copy(update={"status": status, "attempt_id": attempt_id or probe.attempt_id})


def mark_asked(coach, probe: Probe) -> Probe:
    """Record that the candidate has been shown the probe."""
    if probe.status == "planned":
        return set_status(coach.history.db, probe, "asked")
    return probe


def skip_probe(coach, probe: Probe) -> Probe:
    return set_status(coach.history.db, probe, "skipped")


# --- the text checks -------------------------------------------------------------------------


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def leaks(text: str, criteria: list[Criterion], n: int = LEAK_WORDS) -> bool:
    """True if the text contains a criterion verbatim or any run of n consecutive words of it."""
    padded = f" {squash(text)} "
    for c in criteria:
        words = squash(c.text).split()
        if not words:
            continue
        if len(words) <= n:
            if f" {' '.join(words)} " in padded:
                return True
            continue
        for i in range(len(words) - n + 1):
            if f" {' '.join(words[i : i + n])} " in padded:
                return True
    return False


# --- the root, its rubric and what is still missing ------------------------------------------


def root_attempt(coach, attempt_id: int) -> Attempt:
    attempt = coach.history.get(attempt_id)
    return coach.history.get(attempt.parent_id) if attempt.parent_id else attempt


def criteria_of(grade: Grade) -> list[Criterion]:
    """The rubric a grade was measured against, as criteria (ids, texts and weights are stored)."""
    return [
        Criterion(
            id=r.criterion_id,
            text=r.text,
            weight=r.weight,
            source="dimension"
            if r.criterion_id.startswith("dim-")
            else r.criterion_id.split("/")[0],
            dimension=r.criterion_id.startswith("dim-"),
        )
        for r in grade.criteria
    ]


def thread_rubric(coach, root: Attempt) -> Rubric:
    """The root attempt's rubric, rebuilt from its stored grade (no store needed)."""
    if root.grade is None:
        raise CoachError(
            f"attempt {root.id} is not graded yet; grade it first with `coach regrade {root.id}`"
        )
    question = coach.question(root.question_id)
    criteria = criteria_of(root.grade)
    note_ids: list[str] = []
    for c in criteria:
        if not c.dimension and c.source in coach.notes and c.source not in note_ids:
            note_ids.append(c.source)
    return Rubric(
        question_id=question.id,
        question=question.prompt,
        kind=question.kind,
        criteria=criteria,
        note_ids=note_ids,
        outline=root.grade.outline,
    )


def covered_by(answers: list[Attempt]) -> set[str]:
    """Criterion ids that any of these graded answers covered."""
    return {
        r.criterion_id
        for a in answers
        if a.grade
        for r in a.grade.criteria
        if r.status == "covered"
    }


def gaps(root: Attempt, answered: list[Attempt]) -> list[Criterion]:
    """Missed and partial points of the root answer, biggest gap first, less those a probe answer covered."""
    assert root.grade is not None
    covered_later = covered_by(answered)
    by_id = {c.id: c for c in criteria_of(root.grade)}
    order = {r.criterion_id: i for i, r in enumerate(root.grade.criteria)}
    open_ = [
        r
        for r in root.grade.criteria
        if r.status != "covered" and r.criterion_id not in covered_later
    ]
    open_.sort(key=lambda r: (-r.weight * (1.0 - CREDIT[r.status]), order[r.criterion_id]))
    return [by_id[r.criterion_id] for r in open_]


# --- offline probes --------------------------------------------------------------------------


@dataclass
class Claim:
    quote: str  # verbatim from the answer
    sentence: str
    features: list[str] = field(default_factory=list)
    score: float = 0.0


def claims(answer: str, kind: str) -> list[Claim]:
    """The candidate's boldest specific claims, boldest first: decisions, named techniques, numbers."""
    from coach.grading.rubric import split_sentences

    found: list[tuple[float, int, Claim]] = []
    for index, sentence in enumerate(split_sentences(answer)):
        words = sentence.split()
        if len(words) < 4:
            continue
        score, features = 0.0, []
        decision = DECISION_RE.search(sentence)
        if decision:
            score += 3
        acronyms = [a for a in ACRONYM_RE.findall(sentence) if a not in ("I", "A")]
        if acronyms:
            score += min(len(acronyms), 2)
            features.append("technical")
        if re.search(r"\b\w+-\w+\b", sentence):
            score += 0.5
            features.append("technical")
        if NUMBER_RE.search(sentence):
            score += 1
            features.insert(0, "number")
        if ABSOLUTE_RE.search(sentence):
            score += 1
            features.insert(0, "absolute")
        if score < 2:
            continue
        start = decision.start() if decision else 0
        rest = sentence[start:]
        end = CLAUSE_END_RE.search(rest, pos=min(len(rest), 12))
        clause = rest[: end.start()] if end else rest
        quote = _quote(clause)
        if len(quote.split()) < 3 or quote not in answer:
            quote = _quote(sentence)
            if quote not in answer:
                continue
        features.append("behavioral" if kind == "behavioral" else "technical")
        found.append((-score, index, Claim(quote, sentence, list(dict.fromkeys(features)), score)))
    return [c for _, _, c in sorted(found, key=lambda t: (t[0], t[1]))]


def _quote(text: str) -> str:
    """At most MAX_QUOTE_WORDS words of the text, not ending on a little word or punctuation."""
    from coach.grading.offline import FUNCTION_WORDS

    words = text.split()
    cut = len(words) > MAX_QUOTE_WORDS
    words = words[:MAX_QUOTE_WORDS]
    while cut and len(words) > 3 and words[-1].lower().strip(".,;:!?") in FUNCTION_WORDS:
        words.pop()
    return " ".join(words).rstrip(" .,;:!?")


def _claim_targets(claim: Claim, grade: Grade, content: list[Criterion], sims) -> list[Criterion]:
    """The points the quoted sentence was evidence for, else the point nearest to it in meaning."""
    by_id = {c.id: c for c in content}
    sentence = squash(claim.sentence)
    hits = []
    # Only an LLM's evidence says which point a sentence makes; the offline grader's evidence is
    # just the sentence nearest to each point, so offline the nearest point to the sentence is used.
    for r in grade.criteria if grade.grader == "llm" else []:
        evidence = squash(r.evidence.rstrip("…"))
        if (
            r.criterion_id in by_id
            and r.status != "missed"
            and evidence
            and (evidence in sentence or sentence in evidence)
        ):
            hits.append(by_id[r.criterion_id])
    if hits:
        return hits[:2]
    if content and sims is not None:
        return [content[int(sims.argmax())]]
    return []


def offline_probes(
    rubric: Rubric,
    root: Attempt,
    answered: list[Attempt],
    notes: dict,
    asked: set[str],
    limit: int,
    embedder,
    root_id: int,
    quoted: set[str] = frozenset(),
) -> list[Probe]:
    """Up to `limit` new probes, deterministic: note probes matched to gaps, dimension questions, claims."""
    assert root.grade is not None
    open_points = gaps(root, answered)
    missed_content = [c for c in open_points if not c.dimension]
    missed_dims = [c for c in open_points if c.dimension]
    content = [c for c in rubric.criteria if not c.dimension]

    bullets = [
        (note_id, b)
        for note_id in rubric.note_ids
        if note_id in notes
        for b in notes[note_id].probes
    ]
    found_claims = claims(root.answer, rubric.kind)
    texts = [c.text for c in content] + [b for _, b in bullets] + [c.sentence for c in found_claims]
    vectors = embedder.embed(texts) if texts else None
    n_content, n_bullets = len(content), len(bullets)
    content_vecs = vectors[:n_content] if vectors is not None else None
    bullet_vecs = vectors[n_content : n_content + n_bullets] if vectors is not None else None
    claim_vecs = vectors[n_content + n_bullets :] if vectors is not None else None

    gap_candidates: list[_Candidate] = []
    if missed_content and bullets:
        sims = content_vecs @ bullet_vecs.T
        # A probe close to every point (a "hub") says little about any one of them: rank a point's
        # probes by similarity above the probe's mean similarity to all the rubric's points.
        centered = sims - sims.mean(axis=0, keepdims=True)
        row = {c.id: i for i, c in enumerate(content)}
        used: set[int] = set()
        for criterion in missed_content:
            i = row[criterion.id]
            for j in sorted(range(n_bullets), key=lambda j: (-float(centered[i, j]), j)):
                if j in used or float(sims[i, j]) < MIN_MATCH:
                    continue
                used.add(j)
                gap_candidates.append(
                    _Candidate(
                        [bullets[j][1]], "missed", [criterion], source=f"note:{bullets[j][0]}"
                    )
                )
                break
    for criterion in missed_dims:
        if criterion.id in DIMENSION_PROBES:
            gap_candidates.append(
                _Candidate(
                    [DIMENSION_PROBES[criterion.id]], "missed", [criterion], source="dimension"
                )
            )

    fresh_claims: list[_Candidate] = []
    quoted_before: list[_Candidate] = []
    for k, claim in enumerate(found_claims):
        sims = content_vecs @ claim_vecs[k] if content else None
        targets = (
            _claim_targets(claim, root.grade, content, sims)
            or [c for c in rubric.criteria if c.dimension][:1]
        )
        if not targets:
            continue
        followups = [f for feature in claim.features for f in CLAIM_FOLLOWUPS[feature]]
        texts_ = [f'You said "{claim.quote}": {f}' for f in dict.fromkeys(followups)]
        cand = _Candidate(texts_, "claim", targets, quote=claim.quote, source="template")
        # A claim already probed is probed again only when no other claim is left.
        (quoted_before if squash(claim.quote) in quoted else fresh_claims).append(cand)
    claim_candidates = fresh_claims + quoted_before

    ordered = gap_candidates[:1] + claim_candidates[:1] + gap_candidates[1:] + claim_candidates[1:]
    return _pick(ordered, asked, open_points, limit, root_id)


def _pick(
    candidates: list[_Candidate], asked: set[str], hidden: list[Criterion], limit: int, root_id: int
) -> list[Probe]:
    """The first `limit` candidates with a text never asked and giving no missed point away."""
    chosen: list[Probe] = []
    seen = set(asked)
    for cand in candidates:
        if len(chosen) >= limit:
            break
        for text in cand.texts:
            key = squash(text)
            if not key or key in seen or leaks(text, hidden):
                continue
            seen.add(key)
            chosen.append(
                Probe(
                    root_id=root_id,
                    text=text,
                    kind=cand.kind,
                    targets=cand.targets,
                    quote=cand.quote,
                    source=cand.source,
                )
            )
            break
    return chosen


# --- LLM probes ------------------------------------------------------------------------------


class ProbeItem(BaseModel):
    question: str
    kind: ProbeKind = "missed"
    targets: list[str] = Field(default_factory=list)
    quote: str = ""


class ProbeReply(BaseModel):
    """What the LLM must return (the `submit_probes` tool's arguments)."""

    probes: list[ProbeItem]


class ProbeFormatError(CoachError):
    """The model's reply was not a usable list of probes."""


def _tool_schema() -> dict:
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Submit the follow-up questions to ask the candidate.",
            "parameters": ProbeReply.model_json_schema(),
        },
    }


def probe_messages(
    rubric: Rubric,
    root: Attempt,
    open_points: list[Criterion],
    bullets: list[str],
    asked: list[str],
    limit: int,
) -> list[tuple[str, str]]:
    from coach.corpus.prompts import load_prompt
    from coach.grading.llm import format_rubric

    assert root.grade is not None
    safe = re.sub(r"</?\s*answer\s*>", "[tag removed]", root.answer, flags=re.IGNORECASE)
    system, user = load_prompt(PROMPT_NAME, PROMPT_VERSION).render(
        count=str(limit),
        kind=rubric.kind,
        question=rubric.question,
        rubric=format_rubric(rubric),
        grade=f"{root.grade.score:.1f}/10. {root.grade.verdict}",
        missed="\n".join(f"{c.id} | {c.text}" for c in open_points) or "(none)",
        probes="\n".join(f"- {b}" for b in bullets) or "(none)",
        asked="\n".join(f"- {q}" for q in asked) or "(none)",
        answer=safe,
    )
    return [("system", system), ("user", user)]


def _invoke(model, messages):
    """Tool calling first; if the server rejects tools, JSON mode with the schema in the prompt."""
    import openai

    if hasattr(model, "bind_tools"):
        try:
            return model.bind_tools([_tool_schema()], tool_choice=TOOL_NAME).invoke(messages)
        except (
            openai.BadRequestError,
            openai.UnprocessableEntityError,
            openai.InternalServerError,
        ):
            pass
    schema = json.dumps(ProbeReply.model_json_schema())
    extra = ("user", f"Reply with one JSON object only, matching this JSON schema: {schema}")
    bound = model.bind(response_format={"type": "json_object"}) if hasattr(model, "bind") else model
    return bound.invoke(list(messages) + [extra])


def parse_reply(response) -> ProbeReply:
    from coach.grading.llm import first_json_object

    candidates = [call.get("args", {}) for call in getattr(response, "tool_calls", None) or []]
    content = (
        response.content if isinstance(response.content, str) else json.dumps(response.content)
    )
    if not candidates and content:
        try:
            candidates.append(first_json_object(content))
        except ValueError:
            raise ProbeFormatError("the model's probes were not JSON") from None
    if not candidates:
        raise ProbeFormatError("the model returned no probes")
    try:
        return ProbeReply.model_validate(candidates[0])
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ProbeFormatError(
            f"the model's probes were malformed ({'.'.join(str(p) for p in first['loc'])}: {first['msg']})"
        ) from None


def llm_probes(
    model,
    rubric: Rubric,
    root: Attempt,
    answered: list[Attempt],
    notes: dict,
    asked: set[str],
    asked_list: list[str],
    limit: int,
    root_id: int,
) -> list[Probe]:
    """One LLM call; probes that repeat, give a point away, misquote or target nothing are dropped."""
    open_points = gaps(root, answered)
    bullets = [b for note_id in rubric.note_ids if note_id in notes for b in notes[note_id].probes]
    reply = parse_reply(
        _invoke(model, probe_messages(rubric, root, open_points, bullets, asked_list, limit))
    )
    by_id = {c.id: c for c in rubric.criteria}
    plain_answer = f" {squash(root.answer)} "
    candidates = []
    for item in reply.probes:
        targets = [by_id[t] for t in dict.fromkeys(item.targets) if t in by_id]
        if not targets or not item.question.strip():
            continue
        quote = item.quote.strip()
        if item.kind == "claim" and (not squash(quote) or f" {squash(quote)} " not in plain_answer):
            continue
        candidates.append(
            _Candidate([" ".join(item.question.split())], item.kind, targets, quote, "llm")
        )
    chosen = _pick(candidates, asked, open_points, limit, root_id)
    if not chosen:
        raise ProbeFormatError(
            "the model's probes all repeated earlier questions, gave a point away or targeted nothing"
        )
    return chosen


# --- the library calls -----------------------------------------------------------------------


def next_probes(
    coach, attempt_id: int, limit: int = MAX_PROBES, grader: str | None = None
) -> ProbeSet:
    """Up to `limit` probes to ask next for the attempt's thread: unanswered ones first, then new ones.

    New probes are saved as `planned`; their texts never repeat a question already in the thread.
    """
    if not 1 <= limit <= MAX_PROBES:
        raise CoachError(f"ask between 1 and {MAX_PROBES} probes, not {limit}")
    db = coach.history.db
    ensure_schema(db)
    root = root_attempt(coach, attempt_id)
    rubric = thread_rubric(coach, root)
    existing = load_probes(db, root.id)
    waiting = [p for p in existing if p.status in ("planned", "asked")][:limit]
    if len(waiting) >= limit:
        return ProbeSet(root.id, waiting, "stored")
    answered = [a for a in coach.history.thread(root.id)[1:]]
    asked_list = [rubric.question] + [p.text for p in existing]
    asked = {squash(t) for t in asked_list}
    need = limit - len(waiting)
    name = coach.grader_name(grader)
    notice, source = "", "offline"
    fresh: list[Probe] = []
    if name == "llm":
        try:
            from coach.llm.client import chat_model

            fresh = llm_probes(
                chat_model(coach.settings),
                rubric,
                root,
                answered,
                coach.notes,
                asked,
                asked_list,
                need,
                root.id,
            )
            source = "llm"
        except Exception as exc:  # noqa: BLE001 - any failure follows COACH_FALLBACK
            message = str(exc) if isinstance(exc, CoachError) else _describe(exc, coach.settings)
            if coach.settings.coach_fallback != "offline":
                raise CoachError(f"could not write follow-up probes: {message}") from None
            notice = f"LLM probes failed ({message}); chose them offline instead"
    if source == "offline":
        from coach.search.embeddings import offline_embedder

        quoted = {squash(p.quote) for p in existing if p.quote}
        fresh = offline_probes(
            rubric, root, answered, coach.notes, asked, need, offline_embedder(), root.id, quoted
        )
    saved = [save_probe(db, p) for p in fresh]
    return ProbeSet(root.id, waiting + saved, source, notice)


def _describe(exc: Exception, settings) -> str:
    from coach.llm.client import describe_failure

    return describe_failure(exc, settings)


def grade_saved(coach, attempt_id: int, rubric: Rubric, answer: str, grader: str | None):
    """Grade a saved answer against `rubric` and record it; a failed grade leaves it pending."""
    from coach.app import GradeOutcome, truncate_words

    _, truncated = truncate_words(answer)
    try:
        graded = coach.grade_rubric(rubric, answer, grader)
    except Exception as exc:  # noqa: BLE001 - mirrors Coach.answer: the answer stays saved
        message = str(exc) if isinstance(exc, CoachError) else _describe(exc, coach.settings)
        if coach.grader_name(grader) == "llm" and coach.settings.coach_fallback == "offline":
            graded = coach.grade_rubric(rubric, answer, "offline")
            graded.flags.insert(0, f"LLM grade failed ({message}); graded offline instead")
        else:
            coach.history.record_failure(attempt_id, message)
            return GradeOutcome(attempt_id, None, message, truncated)
    coach.history.record_grade(attempt_id, graded)
    return GradeOutcome(attempt_id, graded, "", truncated)


def sub_rubric(coach, probe: Probe) -> Rubric:
    """The rubric a probe's answer is graded against: only the points the probe targets."""
    root = coach.history.get(probe.root_id)
    question = coach.question(root.question_id)
    note_ids = list(
        dict.fromkeys(
            c.source for c in probe.targets if not c.dimension and c.source in coach.notes
        )
    )
    return Rubric(
        question_id=root.question_id,
        question=probe.text,
        kind=question.kind,
        criteria=probe.targets,
        note_ids=note_ids,
    )


def answer_probe(coach, probe: Probe, answer: str, grader: str | None = None):
    """Save the probe's answer in the thread (parent = root attempt), then grade it on its sub-rubric."""
    from coach.app import check_answer

    answer = check_answer(answer)
    if probe.id is None:
        probe = save_probe(coach.history.db, probe)
    if probe.attempt_id is not None:
        raise CoachError(f"probe {probe.id} is already answered (attempt {probe.attempt_id})")
    root = coach.history.get(probe.root_id)
    attempt_id = coach.history.add(root.question_id, answer, parent_id=root.id)
    set_status(coach.history.db, probe, "answered", attempt_id)
    return grade_saved(coach, attempt_id, sub_rubric(coach, probe), answer, grader)


def probe_rubric(coach, attempt_id: int) -> Rubric | None:
    """For `regrade`: the sub-rubric of the probe this attempt answers, or None for a normal attempt."""
    probe = probe_for_attempt(coach.history.db, attempt_id)
    return sub_rubric(coach, probe) if probe else None


def thread(coach, attempt_id: int) -> list[ThreadEntry]:
    """The whole conversation of an attempt (given the root or any answer in it): the root, then each
    probe asked, with its answer when there is one; unasked (planned) probes are left out."""
    root = root_attempt(coach, attempt_id)
    attempts = coach.history.thread(root.id)
    children = {a.id: a for a in attempts[1:]}
    entries = [ThreadEntry(attempts[0])]
    for probe in load_probes(coach.history.db, root.id):
        if probe.status == "planned":
            continue
        entries.append(
            ThreadEntry(children.pop(probe.attempt_id, None) if probe.attempt_id else None, probe)
        )
    entries.extend(ThreadEntry(a) for a in children.values())
    return entries
