"""Fit the offline grader's parameters on the `fit` questions of the independent calibration set,
graded through the same rubric `coach grade` uses; report the held-out questions, never seen by the fit.

Usage: .venv/bin/python scripts/fit_offline.py [corpus/calibration/independent.csv]
Writes coach/grading/offline_params.json with the parameters, the rows used, and the metrics on the
fit rows and on the held-out rows (plus the first calibration set, as a second test). Measurements
(embeddings, and the claims model's reading of each point's closest clauses) are computed once; the
grid only re-scores them. Objective: Spearman on the fit rows, minus 0.1 x RMSE, minus a penalty
when confidently wrong answers are not at least 2 points below the good ones.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from coach.app import Coach
from coach.coaching.evaluate import agreement, read_csv, row_rubric
from coach.grading.offline import PARAMS_FILE, OfflineGrader, OfflineParams, score_value
from coach.search.embeddings import offline_embedder


def level_means(rows, scores) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for r, s in zip(rows, scores):
        out.setdefault(r.label, []).append(s)
    return {k: round(float(np.mean(v)), 2) for k, v in sorted(out.items())}


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus/calibration/independent.csv")
    second = Path("corpus/calibration/calibration.csv")
    coach = Coach()
    rows = read_csv(path)
    rows2 = read_csv(second)
    grader = OfflineGrader(offline_embedder())
    measures = grader.measure_batch([(row_rubric(coach, r)[0], r.answer) for r in rows], claims=True)
    measures2 = grader.measure_batch([(row_rubric(coach, r)[0], r.answer) for r in rows2], claims=True)
    fit = [i for i, r in enumerate(rows) if r.split == "fit"]
    hold = [i for i, r in enumerate(rows) if r.split == "holdout"]

    def evaluate(params, idx, ms=measures, rs=rows):
        scores = [score_value(ms[i], params) for i in idx]
        return scores, agreement(scores, [rs[i].human for i in idx])

    def objective(params) -> float:
        scores, m = evaluate(params, fit)
        if m["spearman"] is None:
            return -1e9
        means = level_means([rows[i] for i in fit], scores)
        gap = min(means.get("good", 0) - means.get("wrong", 0), means.get("partial", 0) - means.get("wrong", 0))
        # RMSE counts too: a grade's number and verdict word must mean what a human's would, not only rank.
        return m["spearman"] - 0.1 * m["rmse"] - 0.1 * max(0.0, 2.0 - gap)

    base = OfflineParams()
    best, best_obj = base, objective(base)
    grid = itertools.product(
        (0.25, 0.3, 0.35, 0.4),  # t_lo
        (0.6, 0.7, 0.8),  # t_hi
        (0.5, 0.7, 0.9),  # alpha
        (1.0, 1.5),  # gamma
        (0.15, 0.2, 0.3),  # prose_ratio
        (0.0, 0.1),  # dim_weight
        (0.2, 0.35, 0.5),  # dim_weight_behavioral
        (0.0, 0.3),  # entail_weight
        (0.75, 0.9, 1.01),  # contra_prob (1.01: the claims model never marks a contradiction)
        (1.0,),  # contra_penalty
    )
    for t_lo, t_hi, alpha, gamma, prose, dim, dim_b, entail, contra, penalty in grid:
        if t_hi - t_lo < 0.2:
            continue
        params = replace(
            base, t_lo=t_lo, t_hi=t_hi, alpha=alpha, gamma=gamma, prose_ratio=prose, dim_weight=dim,
            dim_weight_behavioral=dim_b, entail_weight=entail, contra_prob=contra, contra_penalty=penalty,
        )
        value = objective(params)
        if value > best_obj:
            best, best_obj = params, value
    # A linear stretch of the raw score (least squares on the fit rows): ranks do not change, but
    # the numbers and verdict words then mean what a human's would.
    raw = np.array([score_value(measures[i], replace(best, scale=1.0, shift=0.0)) for i in fit])
    human = np.array([rows[i].human for i in fit])
    scale, shift = np.polyfit(raw, human, 1)
    best = replace(best, scale=round(float(scale), 3), shift=round(float(shift), 3))
    fit_scores, fit_metrics = evaluate(best, fit)
    hold_scores, hold_metrics = evaluate(best, hold)
    all2 = list(range(len(rows2)))
    second_scores, second_metrics = evaluate(best, all2, measures2, rows2)
    report = {
        "params": asdict(best),
        "fitted_on": f"{path.name}: rows with split=fit ({len(fit)} rows, {len({rows[i].question_id for i in fit})} questions)",
        "held_out": f"{path.name}: rows with split=holdout ({len(hold)} rows, {len({rows[i].question_id for i in hold})} questions)",
        "fit_metrics": fit_metrics,
        "holdout_metrics": hold_metrics,
        "holdout_level_means": level_means([rows[i] for i in hold], hold_scores),
        "holdout_human_level_means": level_means([rows[i] for i in hold], [rows[i].human for i in hold]),
        "second_set": f"{second.name}: all {len(rows2)} rows (written with the first grader; not fitted on)",
        "second_set_metrics": second_metrics,
    }
    PARAMS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
