"""The offline score: a fitted linear model of a few answer features (coach.grading.offline.score_features),
judged on stories, where the old hand-built formula let the shape of a story outweigh its content."""

import pytest

from coach.app import Coach
from coach.grading.offline import score_features

# The template from issue 14: a story's shape (situation, "I decided", a number, "I learned") and
# nothing concrete.
TEMPLATE = (
    "When I was at my last company, my task was to ship a model that failed. I decided to work harder "
    "and I led the team through it. As a result, metrics improved by 20%. I learned that hard work always wins."
)
FAILURE = (
    "In 2023 I owned a new return-prediction model meant to flag orders likely to be returned so we could "
    "nudge buyers before checkout. Offline it looked great: AUC went from 0.71 to 0.80 on a random split. I "
    "pushed to launch it to 20% of traffic without a time-based backtest. Within two weeks the nudges were "
    "firing on 3x more orders than planned and conversion in the treatment group dropped 1.8%. I dug into it "
    "with Ankit from the data platform team and we found leakage: one feature, the seller's return rate, was "
    "computed over a window that included the order's own future return. I rolled the experiment back the "
    "same day, wrote a short post-mortem for my manager and the category team, and owned the mistake in our "
    "weekly review. We rebuilt the feature with a strict point-in-time join and retrained; the honest AUC was "
    "0.74, and the relaunch cut returns by 4% with no conversion loss. Since then I insist on a time-based "
    "split and a feature-timestamp audit before any launch, and I added a leakage check to our team's model "
    "review template."
)
MENTORING = (
    "Last year I mentored Rohan, a new grad on our ranking team. We set up a weekly 1:1 where he brought one "
    "problem he was stuck on; instead of giving answers I'd ask him how he would debug it, and we often paired "
    "on the first hour of debugging, for example when his feature pipeline produced nulls for new sellers. I "
    "gave him a scoped project, the freshness features for the home feed, with a clear goal and let him "
    "present the results in our monthly review with the director. When his first A/B test was flat I helped "
    "him read the segment cuts instead of fixing it for him. Six months later he owned the whole feature "
    "pipeline and is now mentoring the next intern. What I'd do differently: I waited too long to give him "
    "direct feedback about his design docs being too long; now I give that kind of feedback in the same week."
)


@pytest.fixture(scope="module")
def coach():
    return Coach()


@pytest.mark.parametrize("question_id", ["r3-handling-failures", "r3-mentorship-growth"])
def test_a_template_story_scores_at_most_4_and_says_why(coach, question_id):
    grade = coach.offline_grader.grade(coach.rubric(question_id), TEMPLATE)
    assert grade.score <= 4
    assert any(f.startswith("reads as a template story") for f in grade.flags)


@pytest.mark.parametrize(
    ("question_id", "story"),
    [("r3-handling-failures", FAILURE), ("r3-mentorship-growth", MENTORING)],
)
def test_a_concrete_story_scores_well_above_the_template(coach, question_id, story):
    rubric = coach.rubric(question_id)
    story_grade, template_grade = coach.offline_grader.grade_batch(
        [(rubric, story), (rubric, TEMPLATE)]
    )
    assert story_grade.score >= 5 and story_grade.score - template_grade.score >= 3
    assert not any(f.startswith("reads as a template story") for f in story_grade.flags)


def test_features_are_shares_and_a_keyword_list_scales_them_down(coach):
    rubric = coach.rubric("r2-position-bias")
    prose = (
        "Position bias means users click items near the top more often regardless of relevance, so clicks "
        "on top slots overstate how good those items are. I would estimate the examination propensity per "
        "position with a small randomization experiment and weight each click by one over that propensity, "
        "clipping the weights to keep the variance in check."
    )
    keywords = "position bias, propensity, randomization, inverse propensity weighting, clipping, examination, top slots"
    grader = coach.offline_grader
    measured = grader.measure_batch([(rubric, prose), (rubric, keywords)])
    full, listed = (score_features(m, grader.params) for m in measured)
    assert set(full) == {"coverage", "word_recall", "wrong", "specific", "story_shape"}
    assert all(0.0 <= v <= 1.0 for v in [*full.values(), *listed.values()])
    assert full["story_shape"] == 0.0  # a technical question has no story
    assert full["coverage"] > listed["coverage"] and full["word_recall"] > listed["word_recall"]
    prose_grade, keyword_grade = grader.grade_batch([(rubric, prose), (rubric, keywords)])
    assert keyword_grade.score <= 2 < prose_grade.score
    assert any(f.startswith("reads as a keyword list") for f in keyword_grade.flags)


def test_restating_the_question_is_no_evidence_for_any_point(coach):
    """Without QUESTION_ECHO_MARGIN this echo scored 6.5 with six of nine points "covered": sentences
    about the question's own topic sit close to every point that names it."""
    rubric = coach.rubric("r2-foundational-differences-between-diffusion-models")
    echo = (
        "How do diffusion models differ from GANs and VAEs? The foundational differences between diffusion "
        "models and other generative models such as GANs and VAEs are what matter here. Diffusion models "
        "differ from GANs and VAEs in foundational ways."
    )
    grade = coach.offline_grader.grade(rubric, echo)
    assert {c.status for c in grade.criteria if not c.criterion_id.startswith("dim-")} == {"missed"}
    assert grade.score <= 1 and grade.strengths == []


def test_a_sentence_as_close_to_a_wrong_claim_as_to_the_point_is_never_a_strength(coach):
    """The flipped claim sits at 0.86 from both the variety point and its known wrong claim: without
    AMBIGUOUS_MARGIN the point was "covered" and listed under Strengths."""
    rubric = coach.rubric("r2-diffusion-models-gans")
    variety = next(
        c for c in rubric.criteria if c.text.startswith("Ties the choice to the goal of variety")
    )
    flipped = (
        "I would pick a GAN here. GANs give more diverse samples than diffusion models because mode "
        "collapse is not a problem for them."
    )
    grade = coach.offline_grader.grade(rubric, flipped)
    assert [c.status for c in grade.criteria if c.criterion_id == variety.id] != ["covered"]
    assert variety.text not in grade.strengths


def test_the_notice_on_a_story_says_the_grade_does_not_judge_its_decisions(coach):
    story = coach.offline_grader.grade(coach.rubric("r3-handling-failures"), FAILURE)
    technical = coach.offline_grader.grade(coach.rubric("r2-position-bias"), FAILURE)
    assert "not whether your decisions were good" in story.notice
    assert "decisions" not in technical.notice and technical.notice.startswith("Offline grader")
