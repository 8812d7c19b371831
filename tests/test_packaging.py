"""Non-editable installs work: prompts and corpus ship inside the wheel; prompts render strictly."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coach.corpus.prompts import load_prompt
from coach.errors import CoachError

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_prompts_and_corpus(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("coach-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "coach/_data/prompts/grade.v1.md" in names
    assert "coach/_data/corpus/questions/meesho.rst" in names
    assert "coach/_data/corpus/notes/position-bias.md" in names
    assert "coach/_data/corpus/calibration/calibration.csv" in names
    assert "coach/grading/offline_params.json" in names


def test_grade_prompt_uses_exactly_the_variables_the_grader_supplies():
    prompt = load_prompt("grade", "v1")
    assert prompt.variables == {"kind", "question", "rubric", "notes", "answer"}
    with pytest.raises(CoachError, match="missing \\['notes'\\]"):
        prompt.render(kind="technical", question="q", rubric="r", answer="a")
    system, user = prompt.render(kind="technical", question="Q?", rubric="R", notes="N", answer="A")
    assert "{{" not in system + user
    assert "<answer>\nA\n</answer>" in user
