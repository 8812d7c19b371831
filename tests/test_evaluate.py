"""`coach eval`: metrics against scipy, CSV errors, the calibration report."""

import json

import pytest
from scipy import stats
from typer.testing import CliRunner

from coach.cli.app import app
from coach.coaching.evaluate import agreement, parse_csv, qwk, rankdata
from coach.errors import CoachError

runner = CliRunner()


def test_metrics_match_scipy_and_hand_values():
    pred = [1.0, 2.0, 2.0, 7.5, 9.0, 4.0]
    human = [0.0, 3.0, 2.0, 8.0, 10.0, 5.0]
    m = agreement(pred, human)
    assert m["pearson"] == pytest.approx(stats.pearsonr(pred, human)[0])
    assert m["spearman"] == pytest.approx(stats.spearmanr(pred, human)[0])
    assert list(rankdata([3, 1, 3, 2])) == list(stats.rankdata([3, 1, 3, 2]))
    assert m["mae"] == pytest.approx(4.5 / 6)  # diffs 1, 1, 0, 0.5, 1, 1
    assert m["within_1"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx((sum((p - h) ** 2 for p, h in zip(pred, human)) / 6) ** 0.5)


def test_qwk_by_hand():
    # Perfect agreement is 1; a constant offset of one point on a 0..2 scale is computed by hand.
    assert qwk([0, 1, 2], [0, 1, 2], 0, 2) == pytest.approx(1.0)
    # observed: (0,1),(1,2) -> weights 1/4 each, total 0.5; expected from marginals = 4/3 * 1/4 ... = 1/3+...
    a, b = [0, 1], [1, 2]
    # expected matrix = outer([1,1,0],[0,1,1]) / 2 -> cells (0,1),(0,2),(1,1),(1,2) each 0.5
    # weighted expected = 0.5*(1/4 + 4/4 + 0 + 1/4) = 0.75; observed = 0.25 + 0.25 = 0.5
    assert qwk(a, b, 0, 2) == pytest.approx(1 - 0.5 / 0.75)


HEADER = "question,reference_answer,answer,score,max_score\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty file"),
        ("question,answer,score,max_score\nq,a,1,5\n", "missing column 'reference_answer'"),
        (HEADER + "q,r,a,three,5\n", "row 2, column score: 'three' is not a number"),
        (HEADER + "q,r,a,1,5\nq,r,a,6,5\n", "row 3, column score: 6 is outside 0..max_score (5)"),
        (HEADER + "q,r,a,1,0\n", "row 2, column max_score: must be above 0"),
        (HEADER, "no data rows"),
    ],
)
def test_csv_errors_name_row_and_column(text, message):
    with pytest.raises(CoachError) as err:
        parse_csv(text, "f.csv")
    assert message in str(err.value)


def test_rescaling_and_extra_columns():
    rows = parse_csv("question,reference_answer,answer,score,max_score,reason\nq,r,a,2,5,why\n")
    assert rows[0].human == 4.0


def test_eval_json_prints_one_object_with_the_library_metrics(home, tmp_path):
    from coach.app import Coach
    from coach.coaching.evaluate import grade_rows, read_csv

    path = tmp_path / "tiny.csv"
    reference = (
        "It reweights clicks by the inverse of the examination propensity to remove position bias."
    )
    path.write_text(
        HEADER
        + f'"What does IPW do?","{reference}","It weights each click by one over the propensity of its position, which removes position bias.",5,5\n'
        + f'"What does IPW do?","{reference}","I like pizza.",0,5\n'
        + f'"What does IPW do?","{reference}","",0,5\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["eval", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)

    rows = read_csv(path)
    scores, paths, errors = grade_rows(Coach(), rows, "offline")
    assert (paths, errors) == (["reference"] * 3, {})
    assert scores[0] > scores[1] and scores[2] == 0.0  # an empty answer scores 0, it is not dropped
    expected = agreement(scores, [r.human for r in rows])
    assert {k: data[k] for k in expected} == pytest.approx(expected)
    assert {
        k: data[k] for k in ("grader", "rows", "failed", "failures", "graded_by_reference")
    } == {
        "grader": "offline",
        "rows": 3,
        "failed": 0,
        "failures": [],
        "graded_by_reference": 3,
    }
    assert data["wall_seconds"] >= 0
    assert data["by_label"] == {} and list(data["spearman_by_kind"]) == [
        "reference"
    ]  # no labels, no bank ids


def test_a_row_with_no_reference_and_no_bank_question_is_reported_not_graded(home, tmp_path):
    """Graded against its own question, an answer that repeats the question would score well."""
    path = tmp_path / "noref.csv"
    question = "Why does bulb A get dimmer when bulb B is added in series?"
    path.write_text(
        HEADER
        + f'"{question}","The bulbs share the voltage, so less current flows.","They share the voltage.",4,5\n'
        + f'"{question}","","{question}",0,5\n',
        encoding="utf-8",
    )
    data = json.loads(runner.invoke(app, ["eval", str(path), "--json"]).stdout)
    assert (data["rows"], data["failed"], data["graded_by_reference"]) == (2, 1, 1)
    assert data["failures"] == [
        "no reference answer and no bank question_id: nothing to grade the answer against"
    ]
    report = runner.invoke(app, ["eval", str(path)])
    assert report.exit_code == 0 and "1 of 2 rows could not be graded" in report.output


def test_calibration_holdout_meets_adversarial_margin(ingested):
    """Every adversarial row on held-out questions scores well below that question's excellent answer."""
    from pathlib import Path

    from coach.app import Coach
    from coach.coaching.evaluate import grade_rows, read_csv

    path = Path(__file__).resolve().parent.parent / "corpus" / "calibration" / "calibration.csv"
    kinds = ("excellent", "injection", "keyword-stuffed", "off-topic")
    rows = [r for r in read_csv(path) if r.split == "holdout" and r.label in kinds]
    scores, _, errors = grade_rows(Coach(), rows, "offline")
    assert errors == {}
    excellent = {r.question_id: s for r, s in zip(rows, scores) if r.label == "excellent"}
    adversarial = [
        (r.question_id, r.label, s)
        for r, s in zip(rows, scores)
        if r.label in ("injection", "keyword-stuffed", "off-topic")
    ]
    # Six held-out questions, each with an excellent answer and the three adversarial kinds.
    assert (len(excellent), len(adversarial)) == (6, 18)
    # Every adversarial answer scores at least 3 points below the question's excellent one (the
    # mentoring story fell short of that until the grader credited a point's own words, see
    # offline.WORD_RECALL). This pins today's figures so that a change that makes it worse fails.
    assert all(excellent[q] - s >= 3 for q, _, s in adversarial)


def test_a_short_reference_is_scored_by_whole_answer_signals_and_other_rubrics_are_not(ingested):
    """A question with only a short reference answer (coach eval rows without a bank question_id,
    imported questions without notes) is scored by the answer's closeness to the whole reference, its
    recall of the reference's content words, its share of the reference's words and its relative length
    (coach.grading.offline.REFERENCE_BLEND, which weights every one of REFERENCE_SIGNALS);
    a long reference (an interview answer) and a note's rubric keep the rubric score."""
    from coach.app import Coach
    from coach.grading.rubric import from_reference

    coach = Coach()
    grader = coach.offline_grader
    rubric = from_reference(
        "row-2",
        "Why does a bulb in series with a second bulb glow dimmer than one bulb alone?",
        "The two bulbs share the battery's voltage, so each gets less voltage and less current flows. "
        "Less current through each bulb means less power and a dimmer glow.",
    )
    right = "Because the voltage of the battery is shared between the two bulbs, less current flows, so each bulb gets less power."
    wrong = "My favourite dessert is a chocolate cake with strawberries on top, baked in the oven for an hour."
    long = from_reference("row-3", rubric.question, " ".join([rubric.criteria[0].text] * 40))
    measured = grader.measure_batch(
        [(rubric, right), (rubric, wrong), (coach.rubric("r2-position-bias"), right), (long, right)]
    )
    assert measured[0].reference is not None and measured[1].reference is not None
    assert measured[0].reference["recall"] > 0.5 > measured[1].reference["recall"]
    assert measured[0].reference["word_share"] > 0.3 > measured[1].reference["word_share"]
    assert measured[2].reference is None and measured[3].reference is None
    grades = grader.grade_batch([(rubric, right), (rubric, wrong)])
    assert grades[0].score >= 6 and grades[1].score <= 3
    assert grades[0].notice.startswith(
        "Offline grader: your answer is compared with the question's short reference"
    )


def test_the_reference_blend_weights_every_signal_and_the_question_words_are_no_evidence():
    """REFERENCE_BLEND has a weight for each of REFERENCE_SIGNALS (the keys of Measurement.reference).
    The word share counts function words ('not' decides this answer) but not the question's other
    words, so an answer that repeats the question earns nothing from them."""
    from coach.grading.offline import REFERENCE_BLEND, REFERENCE_SIGNALS, OfflineGrader
    from coach.grading.rubric import from_reference
    from coach.search.embeddings import offline_embedder

    assert set(REFERENCE_BLEND) == {"intercept", *REFERENCE_SIGNALS}
    negation = from_reference(
        "row-2", "Why does bulb A not light?", "Bulb A is not in a closed path."
    )
    question = "Why does bulb A stay lit when switch X is open?"
    echo = from_reference(
        "row-3", question, "Bulb A is still in a closed path with the battery; X is not in it."
    )
    right = "Because bulb A is still in a closed path with the battery, and switch X is not in that path."
    measured = OfflineGrader(offline_embedder()).measure_batch(
        [
            (negation, "Bulb A is not in a closed path."),
            (negation, "Bulb A is in a closed path."),
            (echo, right),
            (echo, question),
        ]
    )
    shares = [m.reference["word_share"] for m in measured]
    assert shares[0] > shares[1]  # the only word between them is "not"
    assert shares[2] > 0.8 and shares[3] < 0.3  # repeating the question is not saying the answer


def test_eval_reports_mean_scores_by_label_and_spearman_by_kind():
    from coach.coaching.evaluate import Row, by_label, spearman_by_kind

    def row(line, human, label, question_id):
        return Row(line, "q", "r", "a", human, question_id=question_id, label=label)

    kept = [
        (8.0, row(2, 9.0, "excellent", "t1")),
        (6.0, row(3, 7.0, "good", "t1")),
        (4.0, row(4, 1.0, "wrong", "b1")),
        (2.0, row(5, 0.0, "", "b1")),
        (5.0, row(6, 6.0, "good", "t2")),
        (3.0, row(7, 4.0, "partial", "x")),
    ]
    assert by_label(kept) == {
        "excellent": {"n": 1, "grader_mean": 8.0, "human_mean": 9.0},
        "good": {"n": 2, "grader_mean": 5.5, "human_mean": 6.5},
        "partial": {"n": 1, "grader_mean": 3.0, "human_mean": 4.0},
        "wrong": {"n": 1, "grader_mean": 4.0, "human_mean": 1.0},
    }
    kinds = spearman_by_kind(kept, {"t1": "technical", "t2": "technical", "b1": "behavioral"})
    assert kinds["technical"] == pytest.approx(1.0) and kinds["behavioral"] == pytest.approx(1.0)
    assert kinds["reference"] is None  # one row: no correlation
