"""Follow-up probes: an interviewer's next questions after an answer, and the thread they start.

A probe targets the most important rubric points an answer missed (asked without revealing them) or
a claim the candidate made (quoted verbatim). With an LLM, one call writes them; offline, they come
from the notes' `Follow-up probes` matched to the missed points by meaning, from per-dimension
questions, and from templates around the candidate's own words. A probe's answer is an attempt whose
parent is the root attempt, graded against a sub-rubric of the points the probe targets.

Probes are stored by `coach.storage.probes` (root attempt, answer attempt once answered, question
text, targeted criteria, status).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from coach.corpus.prompts import load_prompt
from coach.errors import CoachError
from coach.grading.llm import format_rubric
from coach.grading.offline import FUNCTION_WORDS
from coach.grading.rubric import split_sentences
from coach.llm.structured import LLMError, call_structured
from coach.models import (
    Answer,
    Attempt,
    Criterion,
    Grade,
    GradeOutcome,
    Probe,
    ProbeKind,
    Rubric,
)
from coach.search.embeddings import offline_embedder

PROMPT_NAME, PROMPT_VERSION = "probe", "v1"
TOOL_NAME = "submit_probes"
MAX_PROBES = 3
MIN_MATCH = 0.30  # similarity between a missed point and a note's probe for the probe to test it
LEAK_WORDS = 6  # a probe sharing this many consecutive words with a missed point gives it away
MAX_QUOTE_WORDS = 16
CREDIT = {"covered": 1.0, "partial": 0.5, "missed": 0.0, "contradicted": 0.0}


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
    "dim-practices": "What exactly do you do, week to week, to make that happen?",
    "dim-illustration": "Can you give me one concrete example where you did that?",
    "dim-tradeoffs": "What does that approach cost you, and when would you do it differently?",
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


# --- probe status ------------------------------------------------------------------------------


def mark_asked(coach, probe: Probe) -> Probe:
    """Record that the candidate has been shown the probe."""
    if probe.status == "planned":
        return coach.storage.probes.set_status(probe, "asked")
    return probe


def skip_probe(coach, probe: Probe) -> Probe:
    return coach.storage.probes.set_status(probe, "skipped")


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


def expected_points(criterion: Criterion, expects: list[str]) -> list[Criterion]:
    """What a probe's answer is graded on: the probe's own expected points (ids `POINT#k`, so covering
    one counts for the root point it probes), or the probed point itself when the note lists none."""
    if not expects:
        return [criterion]
    weight = round(criterion.weight / len(expects), 3)
    return [
        Criterion(id=f"{criterion.id}#{k}", text=text, weight=weight, source=criterion.source)
        for k, text in enumerate(expects, 1)
    ]


def covered_by(answers: list[Attempt]) -> set[str]:
    """Criterion ids that any of these graded answers covered (a probe's expected point `X#k` counts as X)."""
    return {
        r.criterion_id.split("#")[0]
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
    # A contradicted point is as open as a missed one (CREDIT 0): probing it is how the candidate fixes it.
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
        for b in notes[note_id].probe_items
        if b.fits(rubric.question_id)
    ]
    found_claims = claims(root.answer, rubric.kind)
    texts = (
        [c.text for c in content]
        + [b.text for _, b in bullets]
        + [c.sentence for c in found_claims]
    )
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
                note_id, probe = bullets[j]
                gap_candidates.append(
                    _Candidate(
                        [probe.text],
                        "missed",
                        expected_points(criterion, probe.expects),
                        source=f"note:{note_id}",
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


def probe_messages(
    rubric: Rubric,
    root: Attempt,
    open_points: list[Criterion],
    bullets: list[str],
    asked: list[str],
    limit: int,
) -> list[tuple[str, str]]:

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


def llm_probes(
    settings,
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
    bullets = [
        b.text
        for note_id in rubric.note_ids
        if note_id in notes
        for b in notes[note_id].probe_items
        if b.fits(rubric.question_id)
    ]
    try:
        reply = call_structured(
            settings,
            probe_messages(rubric, root, open_points, bullets, asked_list, limit),
            ProbeReply,
            TOOL_NAME,
            description="Submit the follow-up questions to ask the candidate.",
        ).value
    except LLMError as exc:
        if exc.kind == "malformed":
            raise ProbeFormatError(
                f"the model's probes were malformed twice: {exc.reason}"
            ) from None
        raise
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
    root = root_attempt(coach, attempt_id)
    rubric = thread_rubric(coach, root)
    existing = coach.storage.probes.for_root(root.id)
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
            fresh = llm_probes(
                coach.settings,
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
        except CoachError as exc:  # an endpoint or format failure follows COACH_FALLBACK
            message = str(exc)
            if coach.settings.coach_fallback != "offline":
                raise CoachError(f"could not write follow-up probes: {message}") from None
            notice = f"LLM probes failed ({message}); chose them offline instead"
    if source == "offline":
        quoted = {squash(p.quote) for p in existing if p.quote}
        fresh = offline_probes(
            rubric, root, answered, coach.notes, asked, need, offline_embedder(), root.id, quoted
        )
    saved = [coach.storage.probes.add(p) for p in fresh]
    return ProbeSet(root.id, waiting + saved, source, notice)


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


def record_answer(coach, probe: Probe, attempt_id: int) -> Probe:
    """Link a saved answer attempt to its probe (the probe is saved first if it never was)."""
    if probe.id is None:
        probe = coach.storage.probes.add(probe)
    return coach.storage.probes.set_status(probe, "answered", attempt_id)


class ProbeUI(Protocol):
    """How a probe loop talks to the candidate (the terminal, a mock round's clock, a test)."""

    def ask(self, probe: Probe, number: int, total: int) -> str | Answer | None:
        """The answer (typed, or spoken with its delivery), ':skip', ':quit', or None at the end of input."""

    def show_result(self, probe: Probe, outcome: GradeOutcome) -> None: ...

    def notice(self, message: str) -> None: ...


@dataclass
class ProbeRun:
    answered: int = 0
    stopped: bool = False  # the candidate typed ':quit' or input ended


def run_probes(
    coach,
    probe_set: ProbeSet,
    ui: ProbeUI,
    grader: str | None,
    first_number: int = 1,
    total: int | None = None,
) -> ProbeRun:
    """Ask each probe of the set and grade its answer. One rule everywhere: ':skip' skips a probe,
    an empty answer asks again, ':quit' or the end of input stops; answers are saved before grading."""
    run = ProbeRun()
    total = total or first_number - 1 + len(probe_set.probes)
    for number, probe in enumerate(probe_set.probes, first_number):
        probe = mark_asked(coach, probe)
        while True:
            given = ui.ask(probe, number, total)
            typed = None if given is None else Answer.of(given).text.strip()
            if typed is None or typed in (":quit", ":q"):
                run.stopped = True
                return run
            if typed == ":skip":
                skip_probe(coach, probe)
                break
            try:
                outcome = coach.answer_probe(probe, given, grader)
            except CoachError as exc:  # an empty or unusable answer: nothing was saved
                ui.notice(f"{exc}; type ':skip' to skip this follow-up")
                continue
            ui.show_result(probe, outcome)
            run.answered += outcome.grade is not None
            break
    return run


def probe_rubric(coach, attempt_id: int) -> Rubric | None:
    """For `regrade`: the sub-rubric of the probe this attempt answers, or None for a normal attempt."""
    probe = coach.storage.probes.for_attempt(attempt_id)
    return sub_rubric(coach, probe) if probe else None


def thread(coach, attempt_id: int) -> list[ThreadEntry]:
    """The whole conversation of an attempt (given the root or any answer in it): the root, then each
    probe asked, with its answer when there is one; unasked (planned) probes are left out."""
    root = root_attempt(coach, attempt_id)
    attempts = coach.history.thread(root.id)
    children = {a.id: a for a in attempts[1:]}
    entries = [ThreadEntry(attempts[0])]
    for probe in coach.storage.probes.for_root(root.id):
        if probe.status == "planned":
            continue
        entries.append(
            ThreadEntry(children.pop(probe.attempt_id, None) if probe.attempt_id else None, probe)
        )
    entries.extend(ThreadEntry(a) for a in children.values())
    return entries
