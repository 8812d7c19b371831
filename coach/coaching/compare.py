"""`coach compare A B`: two graded attempts at the same question, side by side.

Which rubric points flipped (missed or partial -> covered, and back), the score change, and the
sentences that changed between the two answers (difflib over the answers' sentences).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from coach.errors import CoachError
from coach.grading.rubric import split_sentences
from coach.models import Attempt
from coach.search.embeddings import offline_embedder

RANK = {"contradicted": -1, "missed": 0, "partial": 1, "covered": 2}
PAIR_SIMILARITY = (
    0.5  # a removed and an added sentence this close in meaning are one changed sentence
)


@dataclass
class PointChange:
    criterion_id: str
    text: str
    before: str | None  # status in A (None: not in A's rubric)
    after: str | None

    @property
    def direction(self) -> int:
        """+1 better, -1 worse, 0 unchanged or not comparable."""
        if self.before is None or self.after is None:
            return 0
        return (RANK[self.after] > RANK[self.before]) - (RANK[self.after] < RANK[self.before])


@dataclass
class SentenceChange:
    tag: str  # "changed", "removed" (only in A) or "added" (only in B)
    before: str
    after: str


@dataclass
class Comparison:
    a: Attempt
    b: Attempt
    points: list[PointChange]  # every rubric point whose status differs, in rubric order
    sentences: list[SentenceChange] = field(default_factory=list)
    unchanged_sentences: int = 0

    @property
    def question_id(self) -> str:
        return self.a.question_id

    @property
    def score_change(self) -> float:
        return round(self.b.grade.score - self.a.grade.score, 2)

    @property
    def gained(self) -> list[PointChange]:
        """Points B covers better than A (e.g. missed -> covered)."""
        return [p for p in self.points if p.direction > 0]

    @property
    def lost(self) -> list[PointChange]:
        return [p for p in self.points if p.direction < 0]

    @property
    def flipped_to_covered(self) -> list[PointChange]:
        return [p for p in self.points if p.before == "missed" and p.after == "covered"]

    @property
    def flipped_to_missed(self) -> list[PointChange]:
        return [p for p in self.points if p.before == "covered" and p.after == "missed"]


def _check(a: Attempt, b: Attempt) -> None:
    if a.id == b.id:
        raise CoachError(f"give two different attempts (both are {a.id})")
    if a.question_id != b.question_id:
        raise CoachError(
            f"attempts {a.id} and {b.id} answer different questions ({a.question_id}, {b.question_id}); "
            "compare needs two attempts at the same question"
        )
    for x, y in ((a, b), (b, a)):
        if x.parent_id is not None and y.parent_id is None:
            raise CoachError(
                f"attempt {x.id} answers a follow-up probe (in the thread of attempt {x.parent_id}), not the "
                f"question itself; compare two answers to the question, or see the thread with `coach show {x.parent_id}`"
            )
    for attempt in (a, b):
        if attempt.grade is None:
            raise CoachError(
                f"attempt {attempt.id} is not graded yet; run `coach regrade {attempt.id}` first"
            )


def point_changes(a: Attempt, b: Attempt) -> list[PointChange]:
    before = {c.criterion_id: c for c in a.grade.criteria}
    after = {c.criterion_id: c for c in b.grade.criteria}
    order = [c.criterion_id for c in a.grade.criteria] + [
        c.criterion_id for c in b.grade.criteria if c.criterion_id not in before
    ]
    changes = []
    for criterion_id in order:
        old, new = before.get(criterion_id), after.get(criterion_id)
        old_status = old.status if old else None
        new_status = new.status if new else None
        if old_status != new_status:
            changes.append(PointChange(criterion_id, (new or old).text, old_status, new_status))
    return changes


def sentence_changes(before: str, after: str, embedder=None) -> tuple[list[SentenceChange], int]:
    """Changed sentences paired by meaning (a reworded sentence is one change, wherever it moved),
    the rest as removed or added; and how many sentences stayed the same."""
    left, right = split_sentences(before), split_sentences(after)
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    old_only: list[str] = []
    new_only: list[str] = []
    unchanged = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            unchanged += i2 - i1
        else:
            old_only += left[i1:i2]
            new_only += right[j1:j2]
    pairs: list[tuple[int, int]] = []
    if old_only and new_only:
        vectors = (embedder or offline_embedder()).embed(old_only + new_only)
        sims = vectors[: len(old_only)] @ vectors[len(old_only) :].T
        taken_old, taken_new = set(), set()
        for flat in np.argsort(-sims, axis=None):
            i, j = divmod(int(flat), len(new_only))
            if sims[i, j] < PAIR_SIMILARITY:
                break
            if i not in taken_old and j not in taken_new:
                taken_old.add(i)
                taken_new.add(j)
                pairs.append((i, j))
    changes = [
        SentenceChange("changed", old_only[i], new_only[j])
        for i, j in sorted(pairs, key=lambda p: p[1])
    ]
    paired_old, paired_new = {i for i, _ in pairs}, {j for _, j in pairs}
    changes += [
        SentenceChange("removed", s, "") for i, s in enumerate(old_only) if i not in paired_old
    ]
    changes += [
        SentenceChange("added", "", s) for j, s in enumerate(new_only) if j not in paired_new
    ]
    return changes, unchanged


def compare_attempts(history, first: int, second: int) -> Comparison:
    """Compare attempt `first` (A) with attempt `second` (B) of the same question."""
    a, b = history.get(first), history.get(second)
    _check(a, b)
    sentences, unchanged = sentence_changes(a.answer, b.answer)
    return Comparison(a, b, point_changes(a, b), sentences, unchanged)
