"""Synthetic history for tests: graded attempts at chosen times, as another process would record them."""

from __future__ import annotations

from coach.models import CriterionResult, Grade


def add_attempt(
    history, question_id, score, when, statuses=None, parent_id=None, answer="An answer."
):
    """A graded attempt answered at `when` (as if another process had recorded it)."""
    attempt_id = history.add(question_id, answer, parent_id=parent_id, created_at=when)
    criteria = [
        CriterionResult(criterion_id=cid, text=f"point {cid}", status=status)
        for cid, status in (statuses or {}).items()
    ]
    history.record_grade(
        attempt_id, Grade(score=score, verdict="v", criteria=criteria, grader="offline")
    )
    return attempt_id
