"""Fit the offline grader's few parameters on the `fit` rows of the calibration set.

Usage: .venv/bin/python scripts/fit_offline.py [corpus/calibration/calibration.csv]
Writes coach/grading/offline_params.json with the parameters, which rows were used, and the
metrics on the fit rows and on the held-out rows (which the search never sees).
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from coach.app import Coach
from coach.coaching.evaluate import agreement, read_csv
from coach.grading.offline import PARAMS_FILE, OfflineGrader, OfflineParams, score_value
from coach.grading.rubric import from_reference
from coach.search.embeddings import offline_embedder

ADVERSARIAL = {"keyword-stuffed", "wrong-question", "injection", "off-topic"}


def adversarial_violations(rows, scores) -> int:
    """Adversarial rows scored less than 3 points below the excellent answer to the same question."""
    excellent = {r.question_id: s for r, s in zip(rows, scores) if r.label == "excellent"}
    return sum(
        1
        for r, s in zip(rows, scores)
        if r.label in ADVERSARIAL and r.question_id in excellent and excellent[r.question_id] - s < 3
    )


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus/calibration/calibration.csv")
    rows = read_csv(path)
    kinds = {q.id: q.kind for q in Coach().questions}
    grader = OfflineGrader(offline_embedder())
    items = [(from_reference(r.question_id, r.question, r.reference, kinds.get(r.question_id, "technical")), r.answer) for r in rows]
    measures = grader.measure_batch(items)
    fit = [i for i, r in enumerate(rows) if r.split == "fit"]
    hold = [i for i, r in enumerate(rows) if r.split == "holdout"]

    def evaluate(params, idx):
        scores = [score_value(measures[i], params) for i in idx]
        return scores, agreement(scores, [rows[i].human for i in idx])

    best, best_obj = None, -1e9
    grid = itertools.product(
        np.arange(0.20, 0.45, 0.05),  # t_lo
        np.arange(0.55, 0.85, 0.05),  # t_hi
        (0.5, 0.7, 0.9),  # alpha
        (1.0, 1.5),  # gamma
        (0.2, 0.3),  # prose_ratio
        (0.0, 0.1),  # dim_weight
        (0.3, 0.5, 0.7),  # dim_weight_behavioral
        (0.6, 0.8),  # injection_factor
        (0.0, 0.5, 1.0),  # story_floor
    )
    for t_lo, t_hi, alpha, gamma, prose, dim, dim_b, inj, floor in grid:
        if t_hi - t_lo < 0.15:
            continue
        params = OfflineParams(
            t_lo=round(float(t_lo), 2),
            t_hi=round(float(t_hi), 2),
            alpha=alpha,
            gamma=gamma,
            dim_weight=dim,
            dim_weight_behavioral=dim_b,
            injection_factor=inj,
            prose_ratio=prose,
            story_floor=floor,
        )
        scores, m = evaluate(params, fit)
        if m["spearman"] is None:
            continue
        violations = adversarial_violations([rows[i] for i in fit], scores)
        objective = m["spearman"] - 0.05 * m["rmse"] - 0.02 * violations
        if objective > best_obj:
            best, best_obj = params, objective
    fit_scores, fit_metrics = evaluate(best, fit)
    hold_scores, hold_metrics = evaluate(best, hold)
    report = {
        "params": asdict(best),
        "fitted_on": f"{path.name}: rows with split=fit ({len(fit)} rows, "
        f"{len({rows[i].question_id for i in fit})} questions)",
        "held_out": f"{path.name}: rows with split=holdout ({len(hold)} rows, "
        f"{len({rows[i].question_id for i in hold})} questions)",
        "fit_metrics": fit_metrics,
        "holdout_metrics": hold_metrics,
        "holdout_adversarial_violations": adversarial_violations([rows[i] for i in hold], hold_scores),
        "fit_adversarial_violations": adversarial_violations([rows[i] for i in fit], fit_scores),
    }
    PARAMS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
