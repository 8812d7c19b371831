"""The CLI as a user drives it: practice, grade, history, show, forget, errors without tracebacks."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from coach.cli.app import app
from coach.storage.attempts import History

runner = CliRunner()

ANSWER = (
    "Position bias means users click items near the top more because of where they are shown, "
    "not only because the items are relevant.\n"
    "I would estimate the examination propensity of each position by randomizing the top results "
    "for a small share of traffic.\n"
    "Then I would train the ranker with inverse propensity weighting and clip the weights to control variance.\n"
    "Online, I would validate the debiased ranker with interleaving and an A/B test on orders.\n"
)


def test_practice_round_offline(ingested):
    result = runner.invoke(app, ["practice", "--id", "r2-position-bias"], input=ANSWER + ".\nq\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Grading with the offline grader" in out
    assert "Position bias: what is it" in out
    assert "Offline grader" in out
    attempts = History(ingested / "history.sqlite").list()
    assert len(attempts) == 1 and attempts[0].status == "graded"
    grade = attempts[0].grade
    assert f"{grade.score:.1f}/10" in out
    assert grade.gaps and grade.gaps[0][:40] in " ".join(out.split())
    assert "Saved as attempt 1." in out


def test_grade_json_is_deterministic(ingested, tmp_path):
    path = tmp_path / "answer.md"
    path.write_text(ANSWER, encoding="utf-8")
    first = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path), "--json"])
    second = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path), "--json"])
    assert first.exit_code == 0, first.output
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert (a["attempt_id"], b["attempt_id"]) == (1, 2)
    a.pop("attempt_id"), b.pop("attempt_id")
    assert a == b
    assert a["grader"] == "offline"
    assert 0 <= a["score"] <= 10
    assert {c["status"] for c in a["criteria"]} <= {"covered", "partial", "missed"}


def test_empty_answer_is_refused_and_not_saved(ingested):
    result = runner.invoke(app, ["practice", "--id", "r2-position-bias"], input="   \n.\nq\n")
    assert result.exit_code == 0
    assert "empty answer: nothing was saved" in result.output
    assert History(ingested / "history.sqlite").list() == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the answer is empty"),
        (b"   \n\t\n", "the answer is empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"word \x00 word", "NUL bytes"),
        (b"a" * 1_000_000, "the limit is 200 KB"),
    ],
)
def test_bad_answer_files(ingested, tmp_path, content, message):
    path = tmp_path / "answer.txt"
    path.write_bytes(content)
    result = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert History(ingested / "history.sqlite").list() == []


def test_unknown_id_suggests_nearest(ingested, tmp_path):
    path = tmp_path / "a.md"
    path.write_text("an answer", encoding="utf-8")
    result = runner.invoke(app, ["grade", "r2-positon-bias", "--answer-file", str(path)])
    assert result.exit_code == 1
    assert "unknown question id 'r2-positon-bias'; did you mean r2-position-bias" in result.output


def test_directory_instead_of_file(ingested, tmp_path):
    result = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(tmp_path)])
    assert result.exit_code == 1
    assert "is a directory" in result.output


def test_long_answer_is_graded_on_first_2000_words(ingested, tmp_path):
    path = tmp_path / "long.md"
    path.write_text(ANSWER + " filler" * 2500, encoding="utf-8")
    result = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["flags"][0] == "graded on the first 2000 words of a longer answer"


def test_history_show_export_forget(ingested, tmp_path):
    path = tmp_path / "a.md"
    path.write_text(ANSWER, encoding="utf-8")
    runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path)])
    listing = runner.invoke(app, ["history"])
    assert "r2-position-bias" in listing.output and "graded" in listing.output
    shown = runner.invoke(app, ["show", "1"])
    assert "Attempt 1" in shown.output and "Position bias means users click" in shown.output
    export = tmp_path / "h.jsonl"
    assert runner.invoke(app, ["history", "--export", str(export)]).exit_code == 0
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["question_id"] for r in rows] == ["r2-position-bias"]
    assert runner.invoke(app, ["forget", "1"]).output.strip() == "Deleted attempt 1."
    missing = runner.invoke(app, ["show", "1"])
    assert missing.exit_code == 1 and "no attempt 1" in missing.output


def test_questions_filters(ingested):
    result = runner.invoke(app, ["questions", "--round", "2", "--kind", "technical", "--source", "reported"])
    assert result.exit_code == 0
    assert "Questions (3)" in result.output


def test_corpus_check_passes(home):
    result = runner.invoke(app, ["corpus", "check"])
    assert result.exit_code == 0, result.output
    assert "34 notes, 64 questions, 0 problems" in result.output


def test_config_masks_the_key(home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-PLANTEDSECRET5678")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0
    assert "sk-...5678" in result.output
    assert "PLANTEDSECRET" not in result.output


@pytest.mark.parametrize("args", [["--help"], ["config"]])
def test_startup_does_not_import_heavy_libraries(home, args):
    code = (
        "import sys\n"
        "from coach.cli.app import app\n"
        f"try:\n    app({args!r}, prog_name='coach')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('chromadb', 'langchain_core', 'langchain_openai', 'openai', 'onnxruntime') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []"


def test_help_lists_every_command(home):
    result = runner.invoke(app, ["--help"])
    for name in ("practice", "grade", "rubric", "ingest", "questions", "import", "eval", "history", "show", "regrade", "forget", "config", "corpus"):
        assert name in result.output


def test_practice_round_with_the_fake_llm(ingested, monkeypatch):
    """A whole practice round through the CLI with the fake chat model: exact score and gaps shown."""
    from fakes import FakeChatModel, tool_reply

    from coach.app import Coach
    from coach.llm import client as llm

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-0000wxyz")
    rubric = Coach().rubric("r2-position-bias")
    first = ANSWER.splitlines()[0]
    criteria = [
        {"criterion_id": c.id, "status": "covered" if i == 0 else "missed", "evidence": first if i == 0 else ""}
        for i, c in enumerate(rubric.criteria)
    ]
    reply = {
        "score": 2.0,
        "verdict": "Defines the bias but never corrects for it.",
        "criteria": criteria,
        "strengths": ["Clear definition of position bias."],
        "gaps": ["How to estimate propensities with randomization", "Offline and online evaluation"],
        "next_steps": ["Explain inverse propensity weighting."],
        "outline": ["Define", "Estimate propensities", "Correct", "Evaluate"],
        "flags": [],
    }
    fake = FakeChatModel(tool_reply(reply, 900, 120))
    llm.set_chat_model_factory(lambda settings: fake)
    result = runner.invoke(app, ["practice", "--id", "r2-position-bias"], input=ANSWER + ".\nq\n")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Grading with the llm grader (gpt-4o-mini)." in out
    assert "2.0/10 Defines the bias but never corrects for it." in out
    assert "• How to estimate propensities with randomization" in out
    assert "• Offline and online evaluation" in out
    assert "PLANTED" not in result.output
    (attempt,) = History(ingested / "history.sqlite").list()
    assert (attempt.status, attempt.grade.grader, attempt.grade.score) == ("graded", "llm", 2.0)
