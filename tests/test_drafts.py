"""Nothing typed is lost: Ctrl-C at the answer prompt keeps a draft that the next practice offers back."""

from __future__ import annotations

import pytest

from coach.app import Coach
from coach.cli import interactive

QID = "r2-position-bias"


class Keyboard:
    """Lines as if typed, then Ctrl-C (None) or the end of input."""

    def __init__(self, *lines):
        self.lines = list(lines)

    def readline(self):
        if not self.lines:
            return ""
        line = self.lines.pop(0)
        if line is None:
            raise KeyboardInterrupt
        return line + "\n"


def test_ctrl_c_keeps_a_draft_and_the_next_practice_restores_it(ingested, monkeypatch):
    monkeypatch.setattr(
        interactive.sys, "stdin", Keyboard("Clicks on top slots are inflated.", "I would", None)
    )
    coach = Coach()
    with pytest.raises(KeyboardInterrupt):
        interactive.run_practice(coach, None, None, None, QID, "offline", False)
    draft = coach.drafts.get(QID)
    assert draft.text == "Clicks on top slots are inflated.\nI would"
    assert coach.history.list() == []  # a draft is not an attempt

    monkeypatch.setattr(
        interactive.sys,
        "stdin",
        Keyboard("y", "estimate propensities with randomised swaps.", ".", "q"),
    )
    interactive.run_practice(coach, None, None, None, QID, "offline", False)
    (attempt,) = coach.history.list()
    assert attempt.answer == (
        "Clicks on top slots are inflated.\nI would\nestimate propensities with randomised swaps."
    )
    assert coach.drafts.get(QID) is None  # answered: the draft is gone
    coach.close()


def test_declining_the_draft_starts_afresh_and_keeps_nothing_old(ingested, monkeypatch):
    coach = Coach()
    coach.drafts.save(QID, "An old half answer.")
    monkeypatch.setattr(
        interactive.sys, "stdin", Keyboard("", "A new answer about position bias.", ".", "q")
    )
    interactive.run_practice(coach, None, None, None, QID, "offline", False)
    assert [a.answer for a in coach.history.list()] == ["A new answer about position bias."]
    assert coach.drafts.get(QID) is None
    coach.close()
