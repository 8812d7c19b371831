"""`coach notes draft`: a reference note drafted by the (fake) chat model for an imported question,
saved as a draft the lint accepts, and used for that question's rubric."""

from __future__ import annotations

from fakes import FakeChatModel, text_reply
from typer.testing import CliRunner

from coach.app import Coach
from coach.cli.app import app
from coach.coaching.drafting import DRAFT_MARKER
from coach.llm import client as llm

QID = "acme-r2-bias-variance-trade-off"
NOTE = """---
id: draft-acme-r2-bias-variance-trade-off
title: The bias-variance trade-off
topics: [generalisation, model-selection]
kind: technical
questions: [acme-r2-bias-variance-trade-off]
draft: true
---
## Questions
- What is the bias-variance trade-off? (acme-r2-bias-variance-trade-off)

## Key points
- Defines bias as error from wrong or too simple assumptions, which makes a model underfit the training data.
- Defines variance as sensitivity to the particular training sample, which makes a flexible model overfit noise.
- Explains that expected squared error splits into bias squared, variance and irreducible noise for a fixed input.
- Controls the trade-off with model capacity, regularisation, more data or ensembling, and chooses by validation error.
- [staff] Notes that very large over-parameterised networks can show double descent, so the classical U-curve is not the whole story.

## Common mistakes
- Saying more data always reduces bias, when it mainly reduces variance.

## Follow-up probes
- How does bagging change bias and variance?
  - Expects: Bagging averages many high-variance models, which lowers variance while leaving bias about the same.

## Strong answer outline
1. Define both errors, give the decomposition, then the levers and how to choose.

## Levels
- Mid-level: Defines both terms.
- Senior: Gives the decomposition and the levers.
- Staff: Discusses double descent and what it means in practice.

## Sources
- None named.
"""


def test_draft_a_note_for_an_imported_question(ingested, tmp_path, monkeypatch):
    bank = tmp_path / "acme.md"
    bank.write_text(
        "# Acme\n## Round 2\n- What is the bias-variance trade-off?\n", encoding="utf-8"
    )
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(bank)]).exit_code == 0
    assert Coach().rubric_source(QID).kind == "none"

    unchecked = runner.invoke(app, ["corpus", "check"])
    assert unchecked.exit_code == 1
    assert f"question {QID} has no key points: add a reference answer in its bank" in " ".join(
        unchecked.output.split()
    )

    refused = runner.invoke(app, ["notes", "draft", QID])
    assert refused.exit_code == 1 and "drafting a note needs an LLM" in refused.output

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-DRAFT1234")
    llm.set_chat_model_factory(lambda settings: FakeChatModel(text_reply(NOTE)))
    result = runner.invoke(app, ["notes", "draft", QID])
    assert result.exit_code == 0, result.output
    path = ingested / "notes" / "draft-acme-r2-bias-variance-trade-off.md"
    text = path.read_text(encoding="utf-8")
    assert DRAFT_MARKER in text and "draft: true" in text

    coach = Coach()
    assert coach.notes["draft-acme-r2-bias-variance-trade-off"].draft is True
    source = coach.rubric_source(QID)
    assert (source.kind, source.note_ids) == ("notes", ["draft-acme-r2-bias-variance-trade-off"])
    rubric = coach.rubric(QID)
    assert [(c.level, c.text[:22]) for c in rubric.criteria if not c.dimension] == [
        ("core", "Defines bias as error "),
        ("core", "Defines variance as se"),
        ("core", "Explains that expected"),
        ("core", "Controls the trade-off"),
        ("staff", "Notes that very large "),
    ]
    coach.close()

    checked = runner.invoke(app, ["corpus", "check"])
    assert checked.exit_code == 0, checked.output
    again = runner.invoke(app, ["notes", "draft", QID])
    assert again.exit_code == 1 and "exists already" in again.output
