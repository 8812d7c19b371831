"""The reference-answer path on public short answers: SemEval-2013 Task 7 questions the claims model
did not train on.

`coach eval` grades a CSV row that names no bank question against its reference answer
(coach.grading.rubric.from_reference, one key point per sentence). This script grades SemEval-2013
student answers that way, with the shipped offline grader and parameters, on the questions the claims
model held out of its training (listed in coach/grading/data/claims-minilm-l6-int8.json under
training.data.semeval_heldout_questions), and reports Beetle (electronics, computer-science-like) and
SciEntsBank (science) separately: Pearson between the 0-10 grade and the gold label ('correct' = 10,
'contradictory' or 'incorrect' = 0), accuracy of "grade >= 5" against 'correct', and, for comparison,
the same figures for a plain answer-vs-reference cosine.

Usage (the data is not shipped; it lives outside the repo):
    .venv/bin/python bench/semeval.py [../shared/data/semeval2013-train/train.csv] [--json]
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "semeval2013-train" / "train.csv"
DATASETS = {"beetle": "Beetle (electronics, CS-like)", "scientsbank": "SciEntsBank (science)"}


def heldout_questions() -> list[str]:
    from coach.grading.claims import model_info

    return list(model_info()["training"]["data"]["semeval_heldout_questions"])


def pearson(x, y) -> float | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = Path(args[0]) if args else DEFAULT_DATA
    from coach.grading.offline import OfflineGrader
    from coach.grading.rubric import from_reference
    from coach.search.embeddings import offline_embedder

    held = set(heldout_questions())
    rows = [r for r in csv.DictReader(path.open(encoding="utf-8")) if r["question_id"] in held]
    embedder = offline_embedder()
    grader = OfflineGrader(embedder)
    # Exactly what `coach eval` does for a row without a bank question_id (evaluate.row_rubric).
    items = [
        (
            from_reference(f"row-{i + 2}", r["question"], r["reference_answer"] or r["question"]),
            r["answer"],
        )
        for i, r in enumerate(rows)
    ]
    started = time.perf_counter()
    scores = np.array([g.score for g in grader.grade_batch(items)])
    seconds = time.perf_counter() - started
    refs = embedder.embed([r["reference_answer"] for r in rows])
    answers = embedder.embed([r["answer"] for r in rows])
    cosine = (refs * answers).sum(axis=1)
    gold = np.array([10.0 if r["label"] == "correct" else 0.0 for r in rows])
    report = {
        "questions_held_out": len(held),
        "rows": len(rows),
        "grade_seconds": round(seconds, 1),
    }
    for dataset in sorted({r["dataset"] for r in rows}):
        idx = np.array([i for i, r in enumerate(rows) if r["dataset"] == dataset])
        # The cosine baseline's accuracy uses its best threshold on these rows (an upper bound for it).
        cut = max(
            np.unique(cosine[idx]), key=lambda t: ((cosine[idx] >= t) == (gold[idx] > 0)).mean()
        )
        report[dataset] = {
            "name": DATASETS.get(dataset, dataset),
            "questions": len({rows[i]["question_id"] for i in idx}),
            "rows": len(idx),
            "correct_share": round(float((gold[idx] > 0).mean()), 3),
            "grader_pearson": round(pearson(scores[idx], gold[idx]), 3),
            "grader_accuracy_at_5": round(float(((scores[idx] >= 5) == (gold[idx] > 0)).mean()), 3),
            "grader_mean_correct": round(float(scores[idx][gold[idx] > 0].mean()), 2),
            "grader_mean_other": round(float(scores[idx][gold[idx] == 0].mean()), 2),
            "cosine_pearson": round(pearson(cosine[idx], gold[idx]), 3),
            "cosine_best_accuracy": round(
                float(((cosine[idx] >= cut) == (gold[idx] > 0)).mean()), 3
            ),
        }
    if "--json" in sys.argv:
        print(json.dumps(report, indent=2))
        return
    print(
        f"SemEval-2013 train, {report['rows']} answers to the {report['questions_held_out']} questions "
        f"the claims model held out ({report['grade_seconds']} s to grade)"
    )
    for dataset in sorted(k for k in report if isinstance(report[k], dict)):
        d = report[dataset]
        print(
            f"  {d['name']}: {d['questions']} questions, {d['rows']} answers ({d['correct_share']:.0%} correct): "
            f"Pearson {d['grader_pearson']:.3f}, accuracy at 5 {d['grader_accuracy_at_5']:.3f} "
            f"(mean grade {d['grader_mean_correct']} correct / {d['grader_mean_other']} other); "
            f"cosine baseline Pearson {d['cosine_pearson']:.3f}, best-threshold accuracy {d['cosine_best_accuracy']:.3f}"
        )


if __name__ == "__main__":
    main()
