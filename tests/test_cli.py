"""The CLI as a user drives it: practice, grade, history, show, forget, errors without tracebacks."""

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from coach.cli.app import app
from coach.models import Attempt
from coach.storage import Storage

runner = CliRunner()


def stored_attempts(home) -> list[Attempt]:
    """The attempts in the history database of `home`, as the coach stored them."""
    with Storage.open(home / "history.sqlite") as storage:
        return storage.attempts.list()


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
    attempts = stored_attempts(ingested)
    assert len(attempts) == 1 and attempts[0].status == "graded"
    grade = attempts[0].grade
    assert f"{grade.score:.1f}/10" in out
    assert grade.gaps and grade.gaps[0][:40] in " ".join(out.split())
    assert "Saved as attempt 1." in out


def test_grade_json_is_deterministic_and_is_the_library_grade(ingested, tmp_path):
    from coach.app import Coach

    path = tmp_path / "answer.md"
    path.write_text(ANSWER, encoding="utf-8")
    first = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path), "--json"])
    second = runner.invoke(app, ["grade", "r2-position-bias", "--answer-file", str(path), "--json"])
    assert first.exit_code == 0, first.output
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert (a.pop("attempt_id"), b.pop("attempt_id")) == (1, 2)
    assert a == b
    coach = Coach()
    expected = coach.grade_rubric(coach.rubric("r2-position-bias"), ANSWER, "offline")
    assert a == expected.model_dump(mode="json")
    assert a["grader"] == "offline"
    (stored,) = [a for a in stored_attempts(ingested) if a.id == 1]
    assert (stored.status, stored.grade) == ("graded", expected)


def test_empty_answer_is_refused_and_not_saved(ingested):
    result = runner.invoke(app, ["practice", "--id", "r2-position-bias"], input="   \n.\nq\n")
    assert result.exit_code == 0
    assert "empty answer: nothing was saved" in result.output
    assert stored_attempts(ingested) == []


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
    assert stored_attempts(ingested) == []


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
    assert (
        json.loads(result.stdout)["flags"][0] == "graded on the first 2000 words of a longer answer"
    )


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
    from coach.app import Coach, filter_questions

    coach = Coach()
    chosen = filter_questions(coach.questions, "2", "technical", "reported", None, coach.notes)
    assert [q.id for q in chosen] == [
        "r2-position-bias",
        "r2-popularity-bias",
        "r2-diversity-home-page-recommendation",
    ]
    result = runner.invoke(
        app, ["questions", "--round", "2", "--kind", "technical", "--source", "reported"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].strip() == "Questions (3)"
    # The table wraps long ids: the rows start with these pieces, in this order.
    rows = [
        line.split("│")[1].strip()
        for line in result.output.splitlines()
        if line.startswith("│ r2-")
    ]
    assert rows == ["r2-position-bias", "r2-popularity-bia", "r2-diversity-home"]


def test_corpus_check_passes(home):
    from coach.corpus.bank import shipped_bank
    from coach.corpus.notes import load_notes

    result = runner.invoke(app, ["corpus", "check"])
    assert result.exit_code == 0, result.output
    summary = f"{len(load_notes())} notes, {len(shipped_bank().questions)} questions, 0 problems"
    assert result.output.strip().splitlines()[-1] == summary


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
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []"


def _commands(group, path=()):
    """(path, command) for every command and sub-command of a Typer group, found on the app itself."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if getattr(command, "commands", None):  # a sub-app such as `questions` or `corpus`
            yield from _commands(command, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))


def test_the_app_has_the_commands_the_readme_teaches():
    # The parametrized help test below covers whatever the app holds; this pins the ones users know.
    assert {" ".join(path) for path in COMMANDS} >= {
        "practice", "grade", "rubric", "ingest", "import", "questions", "questions search", "eval",
        "history", "show", "regrade", "forget", "config", "corpus", "corpus check", "doctor", "probe",
        "mock", "plan", "progress", "compare",
    }  # fmt: skip


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_command_has_its_own_help(home, path):
    command = COMMANDS[path]
    summary = (command.help or "").strip().splitlines()[0] if command.help else ""
    assert summary, f"`coach {' '.join(path)}` has no docstring"
    result = runner.invoke(app, [*path, "--help"], prog_name="coach")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Usage: coach {' '.join(path)} ")
    assert " ".join(summary.split()) in " ".join(result.output.split())


def test_top_level_help_lists_every_command_with_its_summary(home):
    result = runner.invoke(app, ["--help"], prog_name="coach")
    assert result.exit_code == 0
    rows = {}
    for line in result.output.split("Commands:")[1].splitlines():
        if line.strip():
            name, _, text = line.strip().partition(" ")
            rows[name] = text.strip()
    top = {path[0]: command for path, command in COMMANDS.items() if len(path) == 1}
    assert sorted(rows) == sorted(top)
    for name, command in top.items():
        shown = rows[name].removesuffix("...")
        assert " ".join(command.help.split()).startswith(shown), (name, shown)


def test_practice_round_with_the_fake_llm(ingested, monkeypatch):
    """A whole practice round through the CLI with the fake chat model: exact score and gaps shown."""
    from fakes import FakeChatModel, tool_reply

    from coach.app import Coach
    from coach.llm import client as llm

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-PLANTED-0000wxyz")
    rubric = Coach().rubric("r2-position-bias")
    first = ANSWER.splitlines()[0]
    criteria = [
        {
            "criterion_id": c.id,
            "status": "covered" if i == 0 else "missed",
            "evidence": first if i == 0 else "",
        }
        for i, c in enumerate(rubric.criteria)
    ]
    reply = {
        "score": 2.0,
        "verdict": "Defines the bias but never corrects for it.",
        "criteria": criteria,
        "strengths": ["Clear definition of position bias."],
        "gaps": [
            "How to estimate propensities with randomization",
            "Offline and online evaluation",
        ],
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
    (attempt,) = stored_attempts(ingested)
    assert (attempt.status, attempt.grade.grader, attempt.grade.score) == ("graded", "llm", 2.0)
