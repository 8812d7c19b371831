"""`coach eval`: grade a human-scored CSV and report agreement (Pearson, Spearman, QWK, RMSE...)."""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coach.errors import CoachError
from coach.grading.rubric import from_reference
from coach.models import Rubric
from coach.textfile import read_text

REQUIRED = ("question", "reference_answer", "answer", "score", "max_score")
CHUNK = 128
MAX_CSV_BYTES = 200_000_000


@dataclass
class Row:
    line: int
    question: str
    reference: str
    answer: str
    human: float  # rescaled to 0-10
    question_id: str = ""
    label: str = ""
    split: str = ""


@dataclass
class EvalResult:
    metrics: dict
    predictions: list[float] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    failed: int = 0


def parse_csv(text: str, name: str = "<csv>") -> list[Row]:
    """Rows of an eval CSV; any problem is a one-line error naming the row and column."""
    if not text.strip():
        raise CoachError(f"{name}: empty file; expected a header row {','.join(REQUIRED)}")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise CoachError(f"{name}: not a CSV file ({exc})") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CoachError(f"{name}: missing column {missing[0]!r} in the header row")
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            line = reader.line_num
            if None in record:
                raise CoachError(f"{name}: row {line}: more fields than the header has")
            values = {k: (v or "") for k, v in record.items()}
            score = _number(values["score"], name, line, "score")
            max_score = _number(values["max_score"], name, line, "max_score")
            if max_score <= 0:
                raise CoachError(
                    f"{name}: row {line}, column max_score: must be above 0, got {max_score:g}"
                )
            if not 0 <= score <= max_score:
                raise CoachError(
                    f"{name}: row {line}, column score: {score:g} is outside 0..max_score ({max_score:g})"
                )
            rows.append(
                Row(
                    line=line,
                    question=values["question"].strip(),
                    reference=values["reference_answer"].strip(),
                    answer=values["answer"],
                    human=10.0 * score / max_score,
                    question_id=values.get("question_id", "").strip(),
                    label=values.get("label", "").strip(),
                    split=values.get("split", "").strip(),
                )
            )
    except csv.Error as exc:
        raise CoachError(f"{name}: row {reader.line_num}: malformed CSV ({exc})") from None
    if not rows:
        raise CoachError(f"{name}: no data rows after the header")
    return rows


def _number(value: str, name: str, line: int, column: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise CoachError(
            f"{name}: row {line}, column {column}: {value.strip()[:20]!r} is not a number"
        ) from None
    if not math.isfinite(number):
        raise CoachError(f"{name}: row {line}, column {column}: must be a finite number")
    return number


def read_csv(path: Path) -> list[Row]:
    text = read_text(path, MAX_CSV_BYTES, "a CSV file", encoding="utf-8-sig")
    return parse_csv(text, str(path))


# --- metrics -----------------------------------------------------------------------------------


def pearson(x, y) -> float | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def rankdata(values) -> np.ndarray:
    """Ranks with ties averaged (as scipy.stats.rankdata's default)."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_vals = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x, y) -> float | None:
    return pearson(rankdata(x), rankdata(y))


def qwk(x, y, lo: int = 0, hi: int = 10) -> float | None:
    """Quadratic weighted kappa on scores rounded to integers in lo..hi."""
    a = np.clip(np.floor(np.asarray(x, float) + 0.5), lo, hi).astype(int) - lo
    b = np.clip(np.floor(np.asarray(y, float) + 0.5), lo, hi).astype(int) - lo
    k = hi - lo + 1
    observed = np.zeros((k, k))
    for i, j in zip(a, b):
        observed[i, j] += 1
    expected = np.outer(np.bincount(a, minlength=k), np.bincount(b, minlength=k)) / len(a)
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    denominator = (weights * expected).sum()
    if denominator == 0:
        return None
    return float(1 - (weights * observed).sum() / denominator)


def agreement(predicted, human) -> dict:
    p, h = np.asarray(predicted, float), np.asarray(human, float)
    diff = p - h
    return {
        "n": len(p),
        "pearson": pearson(p, h),
        "spearman": spearman(p, h),
        "qwk": qwk(p, h),
        "rmse": float(np.sqrt((diff**2).mean())) if len(p) else None,
        "mae": float(np.abs(diff).mean()) if len(p) else None,
        "within_1": float((np.abs(diff) <= 1.0).mean()) if len(p) else None,
    }


# --- grading the rows --------------------------------------------------------------------------


NOTHING_TO_GRADE_AGAINST = (
    "no reference answer and no bank question_id: nothing to grade the answer against"
)


def row_rubric(coach, row: Row) -> tuple[Rubric, str]:
    """The rubric `coach grade` would use when the row names a bank question; else its reference answer."""
    known = {q.id for q in coach.questions}
    if row.question_id in known:
        return coach.rubric(row.question_id), "rubric"
    return from_reference(
        f"row-{row.line}", row.question, row.reference or row.question
    ), "reference"


def grade_rows(
    coach, rows: list[Row], grader: str, progress: Callable[[str, int, int], None] | None = None
):
    """Per row: the score (None if it could not be graded), the path it took, and the failure if any."""
    rubrics, paths = zip(*(row_rubric(coach, r) for r in rows)) if rows else ((), ())
    # A row with neither a bank question nor a reference answer has nothing to be graded against
    # (against its own question, an answer that repeats the question would score well).
    errors: dict[int, str] = {
        i: NOTHING_TO_GRADE_AGAINST
        for i, (r, path) in enumerate(zip(rows, paths))
        if path == "reference" and not r.reference
    }
    scores: list[float | None] = [
        0.0 if not r.answer.strip() and i not in errors else None for i, r in enumerate(rows)
    ]
    todo = [i for i, r in enumerate(rows) if r.answer.strip() and i not in errors]
    done = len(rows) - len(todo)
    if grader == "offline":
        offline = coach.offline_grader
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            grades = offline.grade_batch([(rubrics[i], rows[i].answer) for i in chunk])
            for i, g in zip(chunk, grades):
                scores[i] = g.score
            done += len(chunk)
            if progress:
                progress("rows", done, len(rows))
    else:
        for i in todo:
            try:
                scores[i] = coach.grade_rubric(rubrics[i], rows[i].answer, grader).score
            except (
                CoachError
            ) as exc:  # one failed row (an endpoint error) must not abort the evaluation
                errors[i] = str(exc)
            done += 1
            if progress:
                progress("rows", done, len(rows))
    return scores, list(paths), errors


def evaluate_rows(coach, rows: list[Row], grader: str, progress=None) -> EvalResult:
    started = time.perf_counter()
    scores, paths, errors = grade_rows(coach, rows, grader, progress)
    wall = time.perf_counter() - started
    kept = [(s, r) for s, r in zip(scores, rows) if s is not None]
    metrics = agreement([s for s, _ in kept], [r.human for _, r in kept])
    kinds = {q.id: q.kind for q in coach.questions}
    metrics["by_label"] = by_label(kept)
    metrics["spearman_by_kind"] = spearman_by_kind(kept, kinds)
    graded = [path for i, path in enumerate(paths) if i not in errors]
    metrics.update(
        {
            "grader": grader,
            "rows": len(rows),
            "failed": len(errors),
            "failures": sorted({e for e in errors.values()})[:5],
            "graded_by_rubric": graded.count("rubric"),
            "graded_by_reference": graded.count("reference"),
            "wall_seconds": round(wall, 3),
            "rows_per_second": round(len(rows) / wall, 3) if wall > 0 else None,
        }
    )
    return EvalResult(metrics, [s for s, _ in kept], [r for _, r in kept], failed=len(errors))


def _grouped(
    kept: list[tuple[float, Row]], key: Callable[[Row], str]
) -> dict[str, list[tuple[float, float]]]:
    """(grade, human score) pairs grouped by key(row), in key order; rows with an empty key left out."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for score, row in kept:
        if name := key(row):
            groups.setdefault(name, []).append((score, row.human))
    return dict(sorted(groups.items()))


def by_label(kept: list[tuple[float, Row]]) -> dict[str, dict]:
    """Per `label` (a level such as excellent or confidently wrong): rows, mean grade, mean human score."""
    return {
        label: {
            "n": len(pairs),
            "grader_mean": round(float(np.mean([s for s, _ in pairs])), 2),
            "human_mean": round(float(np.mean([h for _, h in pairs])), 2),
        }
        for label, pairs in _grouped(kept, lambda row: row.label).items()
    }


def spearman_by_kind(
    kept: list[tuple[float, Row]], kinds: dict[str, str]
) -> dict[str, float | None]:
    """Spearman per kind of bank question (technical, system-design, behavioral); rows that name no
    bank question count as `reference`."""
    groups = _grouped(kept, lambda row: kinds.get(row.question_id, "reference"))
    return {
        kind: spearman([s for s, _ in pairs], [h for _, h in pairs])
        for kind, pairs in groups.items()
    }


def evaluate_file(
    coach,
    path: Path,
    grader: str,
    limit: int | None = None,
    split: str | None = None,
    progress=None,
):
    rows = read_csv(path)
    if split:
        rows = [r for r in rows if r.split == split]
        if not rows:
            raise CoachError(f"{path}: no rows with split {split!r}")
    if limit:
        rows = rows[:limit]
    return evaluate_rows(coach, rows, grader, progress)
