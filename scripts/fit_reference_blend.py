"""Fit REFERENCE_BLEND (coach/grading/offline.py): how the short-reference path scores an answer from its
closeness to the reference, its recall of the reference's content words, its share of the reference's
words (function words included) and its relative length (REFERENCE_SIGNALS).

Usage: .venv/bin/python scripts/fit_reference_blend.py [../shared/data/semeval2013-train/train.csv]

Least squares on the SemEval-2013 training answers (CC-BY-SA 3.0, not shipped) to every question
outside the 36 that bench/semeval.py reports (the claims model's held-out questions), gold 1 for
'correct' and 0 otherwise; the signals are measured by the grader itself (OfflineGrader.measure_batch
on the rubric `coach eval` builds for a row without a bank question). Prints the weights to copy into
REFERENCE_BLEND and Pearson on the 36 held-out questions per dataset, for the blend and for a plain
cosine. bench/semeval.py then reports the same held-out figures with the shipped grader.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from semeval import DEFAULT_DATA, heldout_questions

from coach.grading.offline import REFERENCE_SIGNALS, OfflineGrader
from coach.grading.rubric import from_reference
from coach.search.embeddings import offline_embedder


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    grader = OfflineGrader(offline_embedder())
    items = [
        (
            from_reference(f"row-{i + 2}", r["question"], r["reference_answer"] or r["question"]),
            r["answer"],
        )
        for i, r in enumerate(rows)
    ]
    measures = grader.measure_batch(items)
    keep = [i for i, m in enumerate(measures) if m.reference is not None]
    x = np.array([[1.0, *(measures[i].reference[k] for k in REFERENCE_SIGNALS)] for i in keep])
    gold = np.array([float(rows[i]["label"] == "correct") for i in keep])
    held = set(heldout_questions())
    test = np.array([rows[i]["question_id"] in held for i in keep])
    weights = np.linalg.lstsq(x[~test], gold[~test], rcond=None)[0]
    blend = x @ weights
    report = {
        "fitted_on": f"{int((~test).sum())} answers to {len({rows[i]['question_id'] for i in keep} - held)} questions",
        "REFERENCE_BLEND": dict(
            zip(["intercept", *REFERENCE_SIGNALS], np.round(weights, 3).tolist())
        ),
    }
    closeness = 1 + REFERENCE_SIGNALS.index("closeness")
    for dataset in ("beetle", "scientsbank"):
        mask = test & np.array([rows[i]["dataset"] == dataset for i in keep])
        report[f"{dataset}_held_out"] = {
            "answers": int(mask.sum()),
            "blend_pearson": round(float(np.corrcoef(blend[mask], gold[mask])[0, 1]), 3),
            "cosine_pearson": round(float(np.corrcoef(x[mask, closeness], gold[mask])[0, 1]), 3),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
