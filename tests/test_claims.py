"""The claims cross-encoder shipped in coach/grading/data: clear pairs get the right label, the file
matches its JSON, and the output does not depend on how pairs are batched."""

import numpy as np
import pytest

from coach.errors import CoachError
from coach.grading.claims import (
    CONTRADICTS,
    ENTAILS,
    LABELS,
    MODEL_FILE,
    NEITHER,
    ClaimJudge,
    model_info,
)
from coach.search.embeddings import minilm_files
from coach.search.onnx import inference_session, tokenizer

# Key points of notes held out of training (debugging-reproducibility, imbalanced-sparse-data,
# failure-and-setbacks); the clauses are written here, not taken from the notes. These are clear
# cases: on 19 such hand-written pairs the shipped model got 15 right (it misses some contradictions
# worded far from the notes' own wrong claims), so this table guards against regressions, it does
# not measure accuracy (the JSON beside the model has the validation figures).
DATA_FIRST = (
    "Debugging checks the data and labels before the model, inspecting samples after the full preprocessing "
    "pipeline, verifying label alignment and class balance, and looking for leakage or duplicates across "
    "train and test splits."
)
OVERFIT = (
    "The setup is verified by overfitting a single small batch to near-zero loss, which confirms the model, "
    "loss and optimizer are wired correctly, then scaling up step by step from a simple baseline."
)
ONE_CHANGE = (
    "Every debugging change is made one at a time against a pinned, reproducible baseline run, so each "
    "change in results can be traced to a known cause."
)
TEMPERATURE = (
    "Training is rebalanced with category-aware sampling, such as temperature sampling where each category "
    "is drawn in proportion to its count raised to a power below one, or loss re-weighting, while watching "
    "for overfitting to repeated tail examples."
)
OWN_DECISIONS = (
    "The candidate's own decisions that contributed are named, such as skipping an early online test or "
    "trusting an unvalidated offline metric, without shifting blame to data, other teams or leadership."
)

CLEAR_PAIRS = [
    (
        DATA_FIRST,
        "Before tuning anything I look at the actual training batches and check the labels line up and nothing leaks between train and test.",
        "entails",
    ),
    (DATA_FIRST, "I would deploy the service on Kubernetes with autoscaling.", "neither"),
    (
        OVERFIT,
        "I first try to memorise a single tiny batch; if the loss won't go to zero, the wiring is broken.",
        "entails",
    ),
    (
        OVERFIT,
        "Overfitting one batch is useless since it tells you nothing about generalization.",
        "contradicts",
    ),
    (OVERFIT, "My favourite dessert is a chocolate cake with cherries.", "neither"),
    (
        ONE_CHANGE,
        "To go faster I change many settings and fixes together in a single big run.",
        "contradicts",
    ),
    (
        TEMPERATURE,
        "I sample each category with probability proportional to its count to the power of about 0.5.",
        "entails",
    ),
    (
        OWN_DECISIONS,
        "It was my mistake: I trusted the offline metric and skipped the online test.",
        "entails",
    ),
    (OWN_DECISIONS, "The weather in Bangalore was lovely that week.", "neither"),
]

# Misses of the shipped model among the same hand-written pairs (int8, seed 13), kept so that a
# retrained model that fixes them is noticed (strict xfail).
KNOWN_MISSES = [
    (
        DATA_FIRST,
        "When the model is bad, the first thing to do is tune the hyperparameters or make the network bigger.",
        "contradicts",
    ),
    (
        ONE_CHANGE,
        "I change one thing at a time against a fixed baseline run with the same seed.",
        "entails",
    ),
    (
        TEMPERATURE,
        "You should oversample every rare category until it is as big as the head categories.",
        "contradicts",
    ),
]


@pytest.fixture(scope="module")
def judge():
    return ClaimJudge()


@pytest.mark.parametrize("point, clause, label", CLEAR_PAIRS)
def test_clear_pairs_get_their_label(judge, point, clause, label):
    probs = judge.judge([(point, clause)])[0]
    assert LABELS[int(probs.argmax())] == label
    assert probs.max() > 0.6


@pytest.mark.xfail(
    strict=True,
    reason="the shipped model gets these wrong (first two: neither 0.78, contradicts 0.63)",
)
@pytest.mark.parametrize("point, clause, label", KNOWN_MISSES)
def test_known_misses(judge, point, clause, label):
    assert LABELS[int(judge.judge([(point, clause)])[0].argmax())] == label


def test_probabilities_in_label_order(judge):
    probs = judge.judge([(p, c) for p, c, _ in CLEAR_PAIRS])
    assert probs.shape == (len(CLEAR_PAIRS), 3)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (LABELS[ENTAILS], LABELS[CONTRADICTS], LABELS[NEITHER]) == (
        "entails",
        "contradicts",
        "neither",
    )
    assert [LABELS[i] for i in probs.argmax(axis=1)] == [label for *_, label in CLEAR_PAIRS]


def test_empty_input_loads_nothing():
    j = ClaimJudge()
    assert j.judge([]).shape == (0, 3)
    assert j._session is None  # lazy: no model load for nothing to judge


def test_batching_does_not_change_the_answer(judge):
    # int8 dynamic quantization scales activations per batch, so padding may move the
    # probabilities slightly (measured up to 0.084), but never the label of a clear pair.
    pairs = [(p, c) for p, c, _ in CLEAR_PAIRS]
    alone = np.stack([judge.judge([pair])[0] for pair in pairs])
    long_filler = (
        DATA_FIRST,
        "so um, basically, " * 20 + "that is how I would think about it overall.",
    )
    together = judge.judge(pairs + [long_filler] * 3)[: len(pairs)]
    assert np.abs(alone - together).max() < 0.1
    assert (alone.argmax(axis=1) == together.argmax(axis=1)).all()


def test_shipped_model_matches_its_json():
    info = model_info()
    assert info["labels"] == ["entails", "contradicts", "neither"] == list(LABELS)
    assert info["max_length"] == 128
    assert info["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert MODEL_FILE.stat().st_size == info["size_bytes"]
    assert MODEL_FILE.stat().st_size < 30_000_000
    session = inference_session(MODEL_FILE)
    assert [i.name for i in session.get_inputs()] == info["inputs"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    assert session.get_outputs()[0].shape[1] == 3
    for metric in ("semeval_val", "notes_val"):
        assert info["validation"]["int8"][metric]["n"] > 1000


def test_runtime_tokenizer_truncates_pairs_at_max_length():
    tok = tokenizer(minilm_files()[1], model_info()["max_length"])
    enc = tok.encode(OVERFIT, "word " * 300)
    assert len(enc.ids) == 128
    assert enc.ids[0] == 101 and enc.ids[-1] == 102  # [CLS] ... [SEP]
    assert set(enc.type_ids) == {0, 1}


def test_missing_model_is_a_coach_error(tmp_path):
    with pytest.raises(CoachError, match="claims model missing"):
        ClaimJudge(tmp_path / "nope.onnx").judge([("a", "b")])


# --- known wrong claims: the notes' "Wrong:" lines are matched directly -----------------------------

WRONG_POPULARITY = (
    "Popularity bias means that popular items are under-exposed by the recommender. "
    "To fix it, I would use inverse propensity scoring, where IPS multiplies each example's loss by the "
    "item's popularity, so popular items get more weight. "
    "The bias vanishes with more data, because the model learns the true preferences."
)
RIGHT_POPULARITY = (
    "Popularity bias is when the recommender over-exposes already popular items, a feedback loop. "
    "To correct it, I would train with inverse propensity scoring, dividing each example's loss by its "
    "exposure propensity so rarely shown items are up-weighted, with clipping for variance. "
    "I would measure it with catalogue coverage and recall split into head, mid and tail buckets."
)


def test_a_clause_stating_a_known_wrong_claim_contradicts_its_point_and_is_corrected():
    from coach.app import Coach

    coach = Coach()
    rubric = coach.rubric("r2-popularity-bias")
    wrong = coach.offline_grader.grade(rubric, WRONG_POPULARITY)
    right = coach.offline_grader.grade(rubric, RIGHT_POPULARITY)

    ips = [c for c in wrong.criteria if "inverse propensity" in c.text]
    assert [c.status for c in ips] == ["contradicted"]
    said = [
        g for g in wrong.gaps if g.startswith("You said") and "IPS divides by the propensity" in g
    ]
    assert len(said) == 1 and "multiplies each example's loss by the item's popularity" in said[0]
    assert not any("inverse propensity" in s for s in wrong.strengths)
    assert [c.status for c in right.criteria if "inverse propensity" in c.text] != ["contradicted"]
    # A true definition shares the wrong claims' opening words ("Popularity bias is/means ..."): it is
    # not read as one of them.
    assert not any(g.startswith("You said") for g in right.gaps)
    assert right.score - wrong.score >= 2.0


def test_a_clause_stating_an_example_wrong_claim_is_shown_with_the_claim_and_the_point():
    """corpus/examples/ adds wrong claims without corrections of their own: the feedback names the claim
    the clause reads as, and the point the notes make."""
    from coach.app import Coach

    coach = Coach()
    rubric = coach.rubric("r2-popularity-bias")
    point = next(
        c for c in rubric.criteria if c.text.startswith("Distinguishes genuine popularity")
    )
    claim = (
        "I'd drop all popularity counts from the ranker so every item competes on equal footing."
    )
    assert (
        claim in [w.claim for w in point.wrong]
        and not next(w for w in point.wrong if w.claim == claim).correction
    )
    answer = (
        RIGHT_POPULARITY
        + " To remove the bias, I would drop every popularity count from the ranker, so all items compete on equal footing."
    )
    grade = coach.offline_grader.grade(rubric, answer)
    assert [c.status for c in grade.criteria if c.criterion_id == point.id] == ["contradicted"]
    said = [g for g in grade.gaps if g.startswith("You said")]
    assert said == [
        (
            "You said \u201cTo remove the bias, I would drop every popularity count from the ranker, so all items "
            f"compete on equal footing.\u201d, which reads as a common mistake (\u201c{claim}\u201d); the notes say: {point.text}"
        )
    ]
    assert grade.score < coach.offline_grader.grade(rubric, RIGHT_POPULARITY).score
