"""The offline grader: rubric-point coverage by meaning, with the bundled embedding model."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coach.grading.claims import ClaimJudge, claim_judge
from coach.grading.injection import injection_findings, strip_injection
from coach.grading.rubric import split_sentences
from coach.models import CriterionResult, Grade, Rubric

PASTED_RUBRIC_CAP = 2.0  # reciting the rubric shows nothing of the candidate's own understanding
JUDGE_TOP_K = 3  # clauses per point read by the claims model
JUDGE_MIN_SIM = 0.25
# A clause states one of a point's known wrong claims (the notes' "Wrong:" lines and the examples in
# corpus/examples/) when it is at least KNOWN_WRONG_SIM close to the claim in meaning, closer to it by
# KNOWN_WRONG_MARGIN than to the point or any of its correct phrasings, and shares at least one content
# word with the claim beyond the question's and the point's own words (embedding closeness alone reads
# "Popularity bias is when..." as "Popularity bias means..."). The point is then contradicted whatever
# the claims model reads. Chosen on the fit rows of the independent set: 0.7 / 0.05 with the shared-word
# rule; without it correct answers were marked wrong 17 times in 34 good or excellent answers, not 10.
KNOWN_WRONG_SIM = 0.7
KNOWN_WRONG_MARGIN = 0.05
# A concrete answer can make a point in its own words and still sit far from the point's abstract
# wording in meaning ("I wrote a one-page design doc ... Priya owned the launch call" against "Alignment
# is kept alive through concrete artefacts: a one-page design doc, ... one named owner each ..."). A
# point also earns credit from the share of its content words the answer uses: none at 10%, full at
# 40%, but words alone never make a point "covered" (explained): at most "partial" (mentioned).
# Keyword lists are still scaled down, pasted rubrics capped, and a contradicted point earns nothing.
# Chosen on the fit rows of the independent set (Spearman 0.678 -> 0.703).
WORD_RECALL = (0.1, 0.4)
# A sentence that restates the question is no evidence for a point: a window (clause, sentence or
# pair of sentences) closer in meaning to the question than to any phrasing of the point by more than
# this margin earns that point nothing. Without it an answer that only echoes "the foundational
# differences between diffusion models and GANs are foundational" covered 70% of its rubric by meaning.
# Chosen on both independent sets, leave one question out (scripts/fit_offline.py): Spearman 0.777 ->
# 0.784; margins from 0 to 0.1 all gave about the same gain.
QUESTION_ECHO_MARGIN = 0.05
# A window as close to one of a point's known wrong claims (at least KNOWN_WRONG_SIM) as to the point
# itself, give or take this margin, is ambiguous evidence: a wrong claim is often the point with one
# word flipped ("GANs give more variety ... mode collapse is not a problem" sits at 0.86 from both the
# point and its wrong claim). It earns the point no credit by meaning, so it is never listed as a
# strength; the point's own words can still make it "partial". A pair of sentences inherits it.
# Leave one question out on both independent sets (scripts/fit_offline.py): Spearman 0.783 -> 0.785;
# points "covered" per confidently wrong answer 0.69 -> 0.54, per good or excellent one 1.89 -> 1.69.
AMBIGUOUS_MARGIN = 0.02


def _words(text: str) -> set[str]:
    """Every distinct word of a text, function words included ('not', 'same', 'in' carry meaning in a
    one-line answer)."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _stems(text: str, size: int = 5) -> set[str]:
    """Content words of a text cut to `size` letters (a crude stem: 'multiplies' meets 'multiply')."""
    return {w[:size] for w in _words(text) if len(w) > 2 and w not in FUNCTION_WORDS}


PARAMS_FILE = Path(__file__).with_name("offline_params.json")
# The reference-answer path for a short reference (a question with a reference answer of at most
# SHORT_REFERENCE_WORDS words and no note: short-answer tests, one point per reference sentence) scores
# an answer by four whole-answer signals instead of point coverage, which misses on one-line answers:
# its closeness to the whole reference, the share of the reference's content words (beyond the
# question's, cut to REFERENCE_STEM letters) it uses, the share of the reference's words it uses
# (function words included, the question's other words left out) and its length relative to the
# reference's (capped at 2). Least squares on the SemEval-2013 answers to the 146 questions outside
# bench/semeval.py's 36 (scripts/fit_reference_blend.py); the figures on those 36 are in the README. A long reference (an
# interview answer: 150-350 words) keeps the rubric score: there the blend lowered agreement (Spearman
# 0.745 -> 0.730 on independent.csv graded against its reference answers).
SHORT_REFERENCE_WORDS = 100
REFERENCE_STEM = 4
REFERENCE_SIGNALS = (
    "closeness",
    "recall",
    "word_share",
    "length",
)  # the keys of Measurement.reference
REFERENCE_BLEND = {
    "intercept": -0.011,
    "closeness": 0.353,
    "recall": 0.37,
    "word_share": 0.279,
    "length": 0.074,
}

NOTICE = (
    "Offline grader: each rubric point, its usual correct phrasings and its common wrong claims are "
    "matched to your sentences and clauses by meaning with a small local embedding model "
    "(all-MiniLM-L6-v2). It catches wrong claims it has an example of, not every false statement, "
    "and it cannot judge reasoning. Set OPENAI_API_KEY or OPENAI_BASE_URL for an LLM grade."
)
# Measured on the blind calibration sets: a story showing bad judgement presented as good (blaming
# another team, shipping without a test) scores about 3.5-4 offline against an interviewer's 0.6.
STORY_NOTICE = (
    " For a story it reads what you did and how concrete it is, not whether your decisions were good "
    "ones: an interviewer would mark down blaming others or shipping without checks; this grade may not."
)
# A question graded against a short reference answer (no note): no points are matched, see REFERENCE_BLEND.
REFERENCE_NOTICE = (
    "Offline grader: your answer is compared with the question's short reference answer as a whole: "
    "closeness in meaning (a small local embedding model, all-MiniLM-L6-v2), the reference's words you "
    "use, and length. It cannot judge reasoning or tell a wrong claim that uses the same words. Set "
    "OPENAI_API_KEY or OPENAI_BASE_URL for an LLM grade."
)

FUNCTION_WORDS = set(
    """
a an the and or but of for to in on with by from at as is are was were be been being it its this
that these those then than so because which who whom whose what when where why how if while we i
you they he she our my your their them us me not no can could would should will may might must
do does did have has had into over under about after before between through during each per
""".split()
)

# Signals for the general dimensions: cheap and honest about being surface checks.
DIMENSION_SIGNALS = {
    "depth": r"trade-?off|because|however|whereas|instead|versus|\bvs\b|downside|cost|at the expense|alternative",
    "evaluation": r"\bmetric|\bauc\b|ndcg|precision|recall|\bctr\b|a/b|online test|offline|experiment|"
    r"conversion|holdout|interleav|latency|accuracy|f1\b|log ?loss|\d+ ?%",
    "clarity": None,  # judged from structure, below
    "requirements": r"requirement|latency|\bqps\b|scale|million|constraint|\bsla\b|goal|objective|budget",
    "data": r"\bdata\b|\blogs?\b|label|feature|event|dataset|signal",
    "modelling": r"\bmodel|two-tower|transformer|gradient boost|xgboost|embedding|classifier|ranker|loss",
    "serving": r"serv(e|ing)|cache|online|real-time|batch|endpoint|\bapi\b|\bgpu\b|index|ann\b",
    "monitoring": r"monitor|drift|alert|dashboard|retrain|feedback loop|observab",
    "star": None,  # judged from structure, below
    "ownership": r"\bi (decided|led|owned|built|proposed|drove|designed|wrote|chose|pushed|took)\b",
    "result": r"\d+(\.\d+)? ?(%|percent|x\b|ms\b|days|weeks|months|crore|lakh|million|k\b)|"
    r"\b(increased|reduced|improved|cut|grew|saved|lifted)\b",
    "reflection": r"\blearn(ed|t)\b|in hindsight|next time|would do differently|lesson|since then|now i\b",
    "practices": r"\b(every|weekly|monthly|each (week|sprint|quarter)|ritual|review|doc(ument)?s?|template|"
    r"checklist|sync|1:1|one-on-one|standup|dashboard|process|rubric|okrs?)\b",
    "illustration": r"\b(for example|for instance|e\.g\.|once|last (year|quarter)|at my|when i|in one case|"
    r"take|recently)\b",
    "tradeoffs": r"trade-?off|at the expense|downside|cost|instead|versus|\bvs\b|whereas|unless|only if|risk",
}


# Words any story can use without saying anything specific: a story built only from these (and
# function words) is a template, however well it is shaped.
GENERIC_STORY_WORDS = set(
    """company team project model models task tasks metric metrics result results learned learn lesson lessons work worked working hard harder
led lead leading decided decide improved improve improvement success successful failed fail failure challenge challenges challenging stakeholders stakeholder
situation action actions time times problem problems solution solutions people person things thing good great better best really very also always never
made make making took take taking got get getting went go going did done way ways able new old last first next previous end able some many much more most
manager managers management business product products data process processes approach approaches issue issues goal goals impact outcome outcomes
everyone everything someone something anyone anything just like well still even back since around across within without through together
communication communicate communicated collaboration collaborate collaborated ownership owned own responsibility responsible deliver delivered delivery
quickly important key critical significant significantly overall eventually finally initially however therefore although because""".split()
)


def specific_words(text: str) -> int:
    """How many words of the text are specific: numbers, names and content words beyond the generic
    vocabulary of any story (a concrete story has dozens; a template has a handful)."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]+|\d+(?:\.\d+)?%?", text)
    return sum(
        1
        for w in words
        if any(ch.isdigit() for ch in w)
        or (len(w) > 2 and w.lower() not in FUNCTION_WORDS and w.lower() not in GENERIC_STORY_WORDS)
    )


@dataclass(frozen=True)
class OfflineParams:
    t_lo: float = 0.30  # similarity at which a point starts to earn credit
    t_hi: float = 0.70  # similarity at which a point earns full credit
    gamma: float = 1.0  # curvature of the credit ramp
    injection_factor: float = 0.7  # an answer that tries to instruct the grader keeps this share
    prose_ratio: float = 0.25  # below this share of function words, an answer is a keyword list
    story_specific: float = (
        20.0  # behavioral: below half this many specific words a story is flagged a template
    )
    entail_weight: float = 0.0  # share of a point's credit from the claims model's entailment
    # The claims model's contradiction probability that marks a point contradicted; 1.0: it never does
    # (only a known wrong claim does, at certainty 1.0) and the model is not run.
    contra_prob: float = 1.0
    # The score: a linear model of the answer's features (score_features), fitted by ridge regression on
    # the independent calibration sets (scripts/fit_offline.py). `w_*` apply to every answer, `wb_*` are
    # added for behavioral questions.
    w_intercept: float = 0.0
    w_coverage: float = 10.0
    w_word_recall: float = 0.0
    w_wrong: float = -5.0
    w_specific: float = 0.0
    wb_intercept: float = 0.0
    wb_specific: float = 0.0
    wb_story_shape: float = 0.0

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> OfflineParams:
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                **{k: v for k, v in data.get("params", {}).items() if k in cls.__dataclass_fields__}
            )
        return cls()


def _ramp(similarity: np.ndarray | float, p: OfflineParams):
    credit = np.clip((np.asarray(similarity) - p.t_lo) / max(p.t_hi - p.t_lo, 1e-6), 0.0, 1.0)
    return credit**p.gamma


COVERED, PARTIAL = (
    0.7,
    0.3,
)  # the credit at which a point counts as covered (explained), partial (mentioned)


def _status(credit: float) -> str:
    return "covered" if credit >= COVERED else "partial" if credit >= PARTIAL else "missed"


def prose_share(text: str) -> float:
    """Share of function words: near 0 for a bare keyword list, about 0.4-0.5 for explained prose."""
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        return 0.0
    return sum(w in FUNCTION_WORDS for w in words) / len(words)


def dimension_credit(key: str, answer: str, sentences: list[str]) -> float:
    text = answer.lower()
    if key == "clarity":
        lengths = [len(s.split()) for s in sentences]
        if not lengths:
            return 0.0
        reasonable = sum(5 <= n <= 45 for n in lengths) / len(lengths)
        return float(reasonable >= 0.6 and len(sentences) >= 3)
    if key == "star":
        parts = [
            r"\b(when|at my|in my|we were|our team|the situation)\b",
            r"\b(my (task|goal|job|role)|i was (asked|responsible)|we needed)\b",
            r"\bi (decided|led|built|proposed|wrote|set up|ran|talked|met|designed|changed)\b",
            r"\b(result|outcome|as a result|in the end|shipped|launched|\d+ ?%)",
        ]
        return sum(bool(re.search(p, text)) for p in parts) / len(parts)
    pattern = DIMENSION_SIGNALS.get(key)
    return float(bool(pattern and re.search(pattern, text)))


@dataclass
class _Prepared:
    rubric: Rubric
    answer: str
    sentences: list[str]
    flags: list[str]
    injection: bool = False
    clauses: list[str] = field(default_factory=list)  # parts of dense sentences (lists, semicolons)


class OfflineGrader:
    """Deterministic: the same answer against the same rubric always gets the same grade."""

    name = "offline"

    def __init__(
        self, embedder, params: OfflineParams | None = None, judge: ClaimJudge | None = None
    ):
        self.embedder = embedder
        self.params = params or OfflineParams.load()
        self.judge = judge or claim_judge()

    def grade(self, rubric: Rubric, answer: str) -> Grade:
        return self.grade_batch([(rubric, answer)])[0]

    def _prepare(self, rubric: Rubric, answer: str) -> _Prepared:
        flags = [f"possible prompt injection: {f}" for f in injection_findings(answer)]
        sentences, removed = strip_injection(split_sentences(answer))
        if removed:
            flags.append(f"{len(removed)} sentence(s) addressed to the grader were ignored")
        clauses = [c for s in sentences for c in split_clauses(s)]
        return _Prepared(rubric, " ".join(sentences), sentences, flags, bool(flags), clauses)

    def measure_batch(
        self, items: list[tuple[Rubric, str]], claims: bool | None = None
    ) -> list[Measurement]:
        """Similarities and signals for each answer: everything the score needs except the params.
        The claims model runs when the params use it (or when `claims` says so, for fitting)."""
        prepared = [self._prepare(rubric, answer) for rubric, answer in items]
        texts: dict[str, int] = {}
        for prep in prepared:
            for c in prep.rubric.criteria:
                if not c.dimension:
                    for text in [c.text, *c.says, *(w.claim for w in c.wrong)]:
                        texts.setdefault(text, len(texts))
            for unit in prep.sentences + prep.clauses:
                texts.setdefault(unit, len(texts))
            texts.setdefault(prep.rubric.question, len(texts))
        vectors = (
            self.embedder.embed(list(texts)) if texts else np.zeros((0, 384), dtype=np.float32)
        )
        measures = [_measure(prep, vectors, texts) for prep in prepared]
        self._measure_reference(measures)
        if (
            claims
            if claims is not None
            else (self.params.entail_weight > 0 or self.params.contra_prob < 1)
        ):
            self._judge_claims(measures, vectors, texts)
        return measures

    def _measure_reference(self, measures: list[Measurement]) -> None:
        """Whole-answer signals for rubrics built from a short reference answer (see REFERENCE_BLEND);
        each text is embedded once, however many answers share a reference."""
        todo = [
            (m, text)
            for m in measures
            if m.prep.sentences
            and _is_reference(m.prep.rubric)
            and len((text := _reference_text(m.prep.rubric)).split()) <= SHORT_REFERENCE_WORDS
        ]
        if not todo:
            return
        index: dict[str, int] = {}
        for m, reference in todo:
            index.setdefault(m.prep.answer, len(index))
            index.setdefault(reference, len(index))
        vectors = self.embedder.embed(list(index))
        for m, reference in todo:
            answer, question = m.prep.answer, m.prep.rubric.question
            asked = _stems(question, REFERENCE_STEM)
            # Function words count ("not", "same"); the question's other words are no evidence.
            needed = _words(reference) - (_words(question) - FUNCTION_WORDS)
            m.reference = {
                "closeness": float(vectors[index[answer]] @ vectors[index[reference]]),
                "recall": _share_used(
                    reference, asked, _stems(answer, REFERENCE_STEM), REFERENCE_STEM
                ),
                "word_share": len(needed & _words(answer)) / max(1, len(needed)),
                "length": min(len(answer.split()) / max(1, len(reference.split())), 2.0),
            }

    def _judge_claims(
        self, measures: list[Measurement], vectors: np.ndarray, index: dict[str, int]
    ) -> None:
        """The claims model reads each point with the answer's closest clauses (the top few by meaning):
        entailment adds credit, a contradiction marks the point. One batch for all answers."""
        pairs: list[tuple[str, str]] = []
        where: list[tuple[int, int, str]] = []  # (measure, content criterion, unit)
        for m_i, m in enumerate(measures):
            for c_i, unit in enumerate(m.candidates):
                for u in unit:
                    pairs.append((m.content[c_i].text, u))
                    where.append((m_i, c_i, u))
        if not pairs:
            return
        probs = self.judge.judge(pairs)
        for (m_i, c_i, unit), (entail, contra, _) in zip(where, probs):
            m = measures[m_i]
            if entail > m.entail[c_i]:
                m.entail[c_i] = float(entail)
                m.entail_unit[c_i] = unit
            if contra > entail and contra > m.contra_prob[c_i]:
                m.contra_prob[c_i] = float(contra)
                m.contra_unit[c_i] = unit
        for m in measures:
            m.contradiction = [
                _correction(c, unit, vectors, index) if unit else None
                for c, unit in zip(m.content, m.contra_unit)
            ]

    def grade_batch(self, items: list[tuple[Rubric, str]]) -> list[Grade]:
        """Grade many answers with one embedding pass (criteria and sentences deduplicated)."""
        return [score(m, self.params) for m in self.measure_batch(items)]


@dataclass
class Contradiction:
    unit: str  # the candidate's clause
    claim: str  # the known wrong claim closest to it ('' when the note lists none)
    correction: str  # what is true instead ('' when the claim has no correction of its own)
    point_says: str = ""  # the key point, as the notes state it


def _said_wrong(found: Contradiction) -> str:
    """The feedback line for a contradicted point: what the candidate said, the known wrong claim it
    reads as (so a candidate can tell when the grader misread a true sentence), and what is true."""
    said = f"You said \u201c{_clip(found.unit, 160)}\u201d"
    if not found.claim:
        return f"{said}, but {found.point_says}"
    return f"{said}, which reads as a common mistake (\u201c{_clip(found.claim, 120)}\u201d); {_lower_first(found.correction or found.point_says)}"


# A contradicted clause names the known wrong claim it reads as only when it is at least this close to
# it; a contradiction the claims model found in a clause unlike any listed claim shows the point alone.
SHOW_CLAIM_SIM = 0.6


def _point_says(criterion) -> str:
    return f"the notes say: {criterion.text}"


def _correction(criterion, unit: str, vectors: np.ndarray, index: dict[str, int]) -> Contradiction:
    """What to tell a candidate whose clause the claims model reads as contradicting a point: the known
    wrong claim closest to the clause with its correction, or the point itself."""
    if criterion.wrong and unit in index:
        sims = [float(vectors[index[w.claim]] @ vectors[index[unit]]) for w in criterion.wrong]
        if max(sims) >= SHOW_CLAIM_SIM:
            best = criterion.wrong[int(np.argmax(sims))]
            return Contradiction(unit, best.claim, best.correction, _point_says(criterion))
    return Contradiction(unit, "", "", _point_says(criterion))


@dataclass
class Measurement:
    prep: _Prepared
    best_sim: np.ndarray  # per content criterion: best similarity to any answer window
    evidence: list[str]  # per content criterion: the answer sentence closest to it
    weights: np.ndarray
    prose: float  # share of function words
    dim_credits: list[float]
    content: list = field(default_factory=list)  # the content criteria, in rubric order
    candidates: list[list[str]] = field(
        default_factory=list
    )  # per criterion: the clauses the claims model reads
    word_recall: np.ndarray = (
        None  # per criterion: share of its content words (beyond the question's) the answer uses
    )
    entail: np.ndarray = None  # per criterion: the claims model's best entailment probability
    entail_unit: list[str] = field(default_factory=list)
    contra_prob: np.ndarray = (
        None  # per criterion: its highest contradiction probability (above entailment)
    )
    contra_unit: list[str] = field(default_factory=list)
    contradiction: list[Contradiction | None] = field(default_factory=list)
    # short reference path only: the REFERENCE_SIGNALS by name, see REFERENCE_BLEND
    reference: dict[str, float] | None = None


def split_clauses(sentence: str) -> list[str]:
    """The parts of a dense sentence (split at semicolons, commas and 'and'/'but' before a verb-like
    word), kept when they have at least four words, so one clause can be evidence on its own."""
    parts = [p.strip() for p in re.split(r";|,|\s\u2014\s|:\s", sentence)]
    parts = [p for p in parts if len(p.split()) >= 4]
    return parts if len(parts) > 1 else []


def _measure(prep: _Prepared, vectors: np.ndarray, index: dict[str, int]) -> Measurement:
    content = [c for c in prep.rubric.criteria if not c.dimension]
    dims = [c for c in prep.rubric.criteria if c.dimension]
    evidence = [""] * len(content)
    candidates: list[list[str]] = [[] for _ in content]
    known_wrong: dict[
        int, Contradiction
    ] = {}  # criterion -> the clause stating one of its wrong claims
    units = prep.sentences + prep.clauses
    asked, said = _stems(prep.rubric.question), _stems(prep.answer)  # for the word-level checks
    if prep.sentences and content:
        sentence_vecs = vectors[[index[s] for s in prep.sentences]]
        unit_vecs = vectors[[index[u] for u in units]]
        # A point may be made across two sentences: windows of two consecutive sentences are the
        # normalized mean of their vectors (embedding the joined text costs twice the model time).
        pairs = sentence_vecs[:-1] + sentence_vecs[1:]
        pairs = pairs / np.clip(np.linalg.norm(pairs, axis=1, keepdims=True), 1e-12, None)
        windows = np.vstack([unit_vecs, pairs])
        echo = (
            windows @ vectors[index[prep.rubric.question]]
        )  # each window's closeness to the question
        best_sim = np.zeros(len(content))
        for i, c in enumerate(content):
            right = vectors[[index[t] for t in [c.text, *c.says]]]
            closeness = right @ windows.T  # phrasings x windows
            nearest = closeness.max(
                axis=0
            )  # per window: its closeness to the point's nearest phrasing
            right_sims = np.where(echo > nearest + QUESTION_ECHO_MARGIN, 0.0, closeness)
            if c.wrong:
                # claims x windows; the first len(units) windows are the units (sentences and clauses)
                claim_sims = vectors[[index[w.claim] for w in c.wrong]] @ windows.T
                wrong_sims = claim_sims.max(axis=0)
                ambiguous = (wrong_sims >= KNOWN_WRONG_SIM) & (
                    wrong_sims >= nearest - AMBIGUOUS_MARGIN
                )
                # A pair of sentences is as ambiguous as either of its sentences (the first windows).
                n = len(prep.sentences)
                ambiguous[len(units) :] |= ambiguous[: n - 1] | ambiguous[1:n]
                right_sims = np.where(ambiguous, 0.0, right_sims)
            best_sim[i] = float(right_sims[0].max())
            if c.says:
                # A correct phrasing counts as the point itself, discounted a little (it is narrower).
                best_sim[i] = max(best_sim[i], float(right_sims[1:].max()) - 0.03)
            # The clause that earned the credit, or (none did: echoes, ambiguous ones) the closest one.
            earned = right_sims[:, : len(units)].max(axis=0)
            evidence[i] = units[
                int((earned if earned.max() > 0 else nearest[: len(units)]).argmax())
            ]
            # The claims model reads the point with the few clauses closest to it in meaning.
            per_unit = nearest[: len(units)]
            top = [j for j in np.argsort(-per_unit)[:JUDGE_TOP_K] if per_unit[j] >= JUDGE_MIN_SIM]
            candidates[i] = [units[j] for j in top]
            if c.wrong:
                claim_sims = claim_sims[:, : len(units)]  # claims x units
                ok = (claim_sims >= KNOWN_WRONG_SIM) & (claim_sims >= per_unit + KNOWN_WRONG_MARGIN)
                topic = asked | _stems(c.text)
                for a, b in zip(*np.nonzero(ok)):
                    ok[a, b] = bool((_stems(c.wrong[a].claim) - topic) & _stems(units[b]))
                if ok.any():
                    a, b = np.unravel_index(int(np.where(ok, claim_sims, -1.0).argmax()), ok.shape)
                    wrong = c.wrong[a]  # the claim that matched is the one the feedback names
                    known_wrong[i] = Contradiction(
                        units[b], wrong.claim, wrong.correction, _point_says(c)
                    )
    else:
        best_sim = np.zeros(len(content))
    dim_credits = [
        dimension_credit(d.id.removeprefix("dim-"), prep.answer, prep.sentences)
        if prep.sentences
        else 0.0
        for d in dims
    ]
    return Measurement(
        prep=prep,
        best_sim=best_sim,
        evidence=evidence,
        weights=np.array([c.weight for c in content], dtype=float),
        prose=prose_share(prep.answer),
        dim_credits=dim_credits,
        content=content,
        candidates=candidates,
        entail=np.zeros(len(content)),
        entail_unit=[""] * len(content),
        # A clause stating a known wrong claim contradicts the point whatever the claims model reads
        # (certainty 1.0: an entailment the model finds elsewhere does not outweigh it).
        contra_prob=np.array([1.0 if i in known_wrong else 0.0 for i in range(len(content))]),
        contra_unit=[known_wrong[i].unit if i in known_wrong else "" for i in range(len(content))],
        word_recall=np.array([_share_used(c.text, asked, said) for c in content], dtype=float),
        contradiction=[known_wrong.get(i) for i in range(len(content))],
    )


def _is_reference(rubric: Rubric) -> bool:
    content = [c for c in rubric.criteria if not c.dimension]
    return bool(content) and all(c.source == "reference" for c in content)


def _reference_text(rubric: Rubric) -> str:
    return " ".join(c.text for c in rubric.criteria if not c.dimension)


def _share_used(text: str, asked: set[str], said: set[str], size: int = 5) -> float:
    """The share of a text's content words (stems of `size` letters, beyond the question's own:
    `asked`) that the answer uses anywhere (`said`, its stems)."""
    words = _stems(text, size) - asked
    return len(words & said) / max(1, len(words))


def _credits(m: Measurement, p: OfflineParams) -> tuple[np.ndarray, np.ndarray]:
    """Per content point: credit in [0, 1] (nothing when contradicted) and whether it is contradicted.
    Credit is the larger of closeness in meaning (blended with the claims model's entailment) and the
    point's words the answer uses (WORD_RECALL); a point is contradicted when a clause contradicts it
    with at least `contra_prob` and no clause entails it as strongly."""
    if not len(m.weights):
        return np.zeros(0), np.zeros(0, dtype=bool)
    credit = (1 - p.entail_weight) * _ramp(m.best_sim, p) + p.entail_weight * m.entail
    if m.word_recall is not None:
        lo, hi = WORD_RECALL
        credit = np.maximum(credit, np.clip((m.word_recall - lo) / (hi - lo), 0.0, COVERED - 0.01))
    contradicted = (m.contra_prob >= p.contra_prob) & (m.contra_prob > m.entail)
    return np.where(contradicted, 0.0, credit), contradicted


# Specific words (numbers, names, content words beyond any story's) count up to this many: enough for
# a full answer; beyond it, more words add nothing.
SPECIFIC_CAP = 80.0
# The score's terms: `w_<feature>` in OfflineParams weighs each of SCORE_FEATURES for every answer,
# `wb_<feature>` each of BEHAVIORAL_FEATURES in addition for a behavioral question (scripts/fit_offline.py
# fits them by these names).
SCORE_FEATURES = ("coverage", "word_recall", "wrong", "specific")
BEHAVIORAL_FEATURES = ("specific", "story_shape")


def score_features(m: Measurement, p: OfflineParams) -> dict[str, float]:
    """What the score is made of, each in [0, 1], all scaled down for a keyword list (prose factor):
    coverage (the weight earned by meaning or by the points' own words, over the core points' weight,
    capped at 1), word recall (the mean share of each point's content words the answer uses), wrong
    (the share of the rubric's weight contradicted by a known wrong claim), specific (the answer's
    specific words, up to SPECIFIC_CAP) and, for behavioral questions, story shape (situation, own
    actions, a result, a reflection) counted as far as the story is specific."""
    credit, contradicted = _credits(m, p)
    total = float(m.weights.sum())
    # Staff-level points are a bonus, never a shortfall: coverage is earned weight over the core points'.
    staff = np.array([c.level == "staff" for c in m.content], dtype=bool)
    core = float(m.weights[~staff].sum()) or total
    prose = min(1.0, m.prose / p.prose_ratio) if p.prose_ratio > 0 else 1.0
    specific = min(specific_words(m.prep.answer), SPECIFIC_CAP) / SPECIFIC_CAP
    shape = float(np.mean(m.dim_credits)) if m.dim_credits else 0.0
    features = {
        "coverage": min(1.0, float((m.weights * credit).sum()) / core),
        "word_recall": float(m.word_recall.mean()),
        "wrong": float(m.weights[contradicted].sum()) / total,
        "specific": specific,
        "story_shape": shape * specific if m.prep.rubric.kind == "behavioral" else 0.0,
    }
    return {k: prose * v for k, v in features.items()}


def score_value(m: Measurement, p: OfflineParams) -> float:
    """The 0-10 score from a measurement: a linear model of score_features (weights in the params),
    then the reference-path blend, the prompt-injection discount and the 0-10 clip."""
    if not len(m.weights):
        return 0.0
    f = score_features(m, p)
    value = p.w_intercept + sum(getattr(p, f"w_{k}") * f[k] for k in SCORE_FEATURES)
    if m.prep.rubric.kind == "behavioral":
        value += p.wb_intercept + sum(getattr(p, f"wb_{k}") * f[k] for k in BEHAVIORAL_FEATURES)
    if m.reference is not None:
        b = REFERENCE_BLEND
        value = 10.0 * (b["intercept"] + sum(b[k] * m.reference[k] for k in REFERENCE_SIGNALS))
    if m.prep.injection:
        value *= p.injection_factor
    return round(float(np.clip(value, 0.0, 10.0)), 1)


def score(m: Measurement, p: OfflineParams) -> Grade:
    prep = m.prep
    content = [c for c in prep.rubric.criteria if not c.dimension]
    dims = [c for c in prep.rubric.criteria if c.dimension]
    credit, contradicted = _credits(m, p)
    results = []
    corrections = []
    for i, c in enumerate(content):
        status = "contradicted" if contradicted[i] else _status(float(credit[i]))
        evidence = m.evidence[i] if status in ("covered", "partial") else ""
        if status == "contradicted":
            found = m.contradiction[i]
            evidence = found.unit
            corrections.append(_said_wrong(found))
        elif status in ("covered", "partial") and m.entail[i] >= 0.5 and m.entail_unit[i]:
            evidence = m.entail_unit[i]
        results.append(
            CriterionResult(
                criterion_id=c.id,
                text=c.text,
                status=status,
                evidence=_clip(evidence),
                similarity=round(float(m.best_sim[i]), 4),
                weight=c.weight,
            )
        )
    for d, value in zip(dims, m.dim_credits):
        results.append(
            CriterionResult(criterion_id=d.id, text=d.text, status=_status(value), weight=d.weight)
        )
    flags = list(prep.flags)
    if prep.sentences and p.prose_ratio > 0 and m.prose < p.prose_ratio:
        flags.append("reads as a keyword list: points named without explanation earn little credit")
    if (
        prep.rubric.kind == "behavioral"
        and prep.sentences
        and specific_words(prep.answer) < p.story_specific / 2
    ):
        flags.append(
            "reads as a template story: no concrete person, system, decision or number, so its shape earns little"
        )
    value = score_value(m, p)
    if _pasted_rubric(prep, content):
        flags.append(
            "reads as the rubric pasted back: its sentences repeat the key points word for word"
        )
        value = min(value, PASTED_RUBRIC_CAP)
    if m.reference is not None:
        notice = REFERENCE_NOTICE
    else:
        notice = NOTICE + (STORY_NOTICE if prep.rubric.kind == "behavioral" else "")
    return _feedback(prep.rubric, results, value, flags, corrections, notice)


def _pasted_rubric(prep: _Prepared, content) -> bool:
    """Most of the answer's sentences repeat a key point nearly word for word."""
    if not prep.sentences or not content:
        return False
    points = [_words(c.text) for c in content]
    copied = 0
    for sentence in prep.sentences:
        words = _words(sentence)
        if len(words) >= 6 and any(len(words & point) >= 0.8 * len(words) for point in points):
            copied += 1
    return copied >= max(2, len(prep.sentences) // 2)


def _lower_first(text: str) -> str:
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def _clip(text: str, limit: int = 220) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def verdict(score: float) -> str:
    if score >= 8.5:
        return "Strong: this would satisfy a senior interviewer."
    if score >= 7:
        return "Solid: the core is there; close the gaps below to make it strong."
    if score >= 5:
        return "Partial: right direction, but important points are missing."
    if score >= 3:
        return "Weak: mostly general statements; the key ideas are not there yet."
    return "Does not answer the question yet."


DIMENSION_ADVICE = {
    "dim-evaluation": "Say how you would measure success: an offline metric and an online A/B test.",
    "dim-depth": "For each choice, name the alternative you rejected and what it would cost.",
    "dim-clarity": "Lead with a one-sentence summary, then 3-5 structured steps.",
    "dim-requirements": "Open by pinning down goals, scale (users, QPS) and latency before designing.",
    "dim-data": "Name the data you would log, the labels, and one pitfall in them.",
    "dim-modelling": "Pick a model and justify it against one alternative.",
    "dim-serving": "Sketch serving: what is precomputed, what is online, and the latency budget.",
    "dim-monitoring": "Add monitoring: drift, alerts and when you retrain.",
    "dim-star": "Tell it as STAR: situation, your task, your actions, the result.",
    "dim-ownership": "Say 'I' for what you decided and did; make your own role unmistakable.",
    "dim-result": "Give a number for the result (metric, time or money) and the time frame.",
    "dim-reflection": "End with what you learned and what you changed afterwards.",
    "dim-practices": "Name the concrete mechanisms you use (rituals, documents, reviews) and how they work.",
    "dim-illustration": "Ground the approach in one concrete example from your experience.",
    "dim-tradeoffs": "Say what your approach costs and when you would choose differently.",
}


def _feedback(
    rubric: Rubric,
    results: list[CriterionResult],
    score: float,
    flags: list[str],
    corrections: list[str],
    notice: str,
) -> Grade:
    content = [r for r in results if not r.criterion_id.startswith("dim-")]
    staff = {c.id for c in rubric.criteria if c.level == "staff"}
    by_weight = sorted(content, key=lambda r: (-r.weight, r.criterion_id))
    strengths = [r.text for r in by_weight if r.status == "covered"][:3]
    # Wrong claims first, then missing core points; a missing staff point is advice, not a gap.
    gaps = (
        corrections
        + [r.text for r in by_weight if r.status == "missed" and r.criterion_id not in staff]
        + [
            f"(only partly) {r.text}"
            for r in by_weight
            if r.status == "partial" and r.criterion_id not in staff
        ]
        + [
            f"(staff level, a bonus) {r.text}"
            for r in by_weight
            if r.status == "missed" and r.criterion_id in staff
        ]
    )
    next_steps = []
    missed_dims = [r for r in results if r.criterion_id.startswith("dim-") and r.status == "missed"]
    for r in missed_dims[:2]:
        next_steps.append(DIMENSION_ADVICE[r.criterion_id])
    if rubric.mistakes:
        next_steps.append(f"Avoid a common mistake: {rubric.mistakes[0]}")
    if gaps:
        next_steps.append(
            f"Review `coach rubric {rubric.question_id}` and retry with `coach practice --id {rubric.question_id}`."
        )
    return Grade(
        score=score,
        verdict=verdict(score),
        criteria=results,
        strengths=strengths,
        gaps=gaps[:6],
        next_steps=next_steps,
        outline=rubric.outline,
        grader="offline",
        model="all-MiniLM-L6-v2 (int8 ONNX)",
        flags=flags,
        notice=notice,
    )
