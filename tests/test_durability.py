"""Concurrency and durability: two processes grading at once lose nothing, and a process killed in
the middle of a grade leaves the answer stored as pending (then `coach regrade --pending` finishes it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from coach.cli.app import app
from coach.storage import Storage

QID = "r2-position-bias"
ANSWER = (
    "Position bias means users click higher-ranked items partly because of where they sit. "
    "I would estimate examination propensities by randomizing the top slots on a small traffic slice."
)

WRITER = """
import sys, time, pathlib
from coach.app import Coach
tag, folder = sys.argv[1], pathlib.Path(sys.argv[2])
coach = Coach()
coach.rubric("r2-position-bias")  # warm up the store and the embedder before the race
(folder / f"ready-{tag}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
for i in range(50):
    outcome = coach.answer("r2-position-bias", f"{tag} answer {i}: position bias means clicks follow the slot.")
    assert outcome.grade is not None, outcome.error
print("wrote 50")
"""

STALLED = """
import sys, time, pathlib
from coach.llm import client as llm
from coach.app import Coach

marker = pathlib.Path(sys.argv[1])

class Stalled:
    def bind_tools(self, *args, **kwargs):
        return self
    def bind(self, *args, **kwargs):
        return self
    def invoke(self, messages, *args, **kwargs):
        marker.write_text("grading")
        time.sleep(600)

llm.set_chat_model_factory(lambda settings: Stalled())
Coach().answer("r2-position-bias", sys.argv[2], grader="llm")
"""


def env_for(home: Path, store: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "COACH_"))}
    env.update(
        COACH_HOME=str(home), COACH_CHROMA_PATH=str(store), COACH_ENV_FILE=str(home / "none.env")
    )
    return env


def wait_for(paths: list[Path], procs: list[subprocess.Popen], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not all(p.exists() for p in paths):
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"child exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {paths}"
        time.sleep(0.05)


def test_history_uses_wal_with_a_busy_timeout(home):
    with Storage.open(home / "history.sqlite") as storage:
        storage.attempts.add(QID, ANSWER)  # a write, so the write-ahead log exists
        pragma = storage.database.connection.execute
        settings = [
            pragma(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "busy_timeout", "secure_delete", "foreign_keys")
        ]
        assert settings == ["wal", 30000, 1, 1]
        files = sorted(p.name for p in home.glob("history.sqlite*"))
        modes = {p.name: p.stat().st_mode & 0o777 for p in home.glob("history.sqlite*")}
    assert files == ["history.sqlite", "history.sqlite-shm", "history.sqlite-wal"]
    assert modes == dict.fromkeys(files, 0o600)  # the log holds answer text too


def test_two_processes_grading_at_once_lose_nothing(ingested, store_dir, tmp_path):
    env = env_for(ingested, store_dir)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, tag, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p0", "p1")
    ]
    try:
        wait_for([tmp_path / "ready-p0", tmp_path / "ready-p1"], procs)
        (tmp_path / "go").touch()
        results = [proc.communicate(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["wrote 50", "wrote 50"]

    with Storage.open(ingested / "history.sqlite") as storage:
        attempts = storage.attempts.list()
        assert storage.database.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(attempts) == 100
    assert sorted(a.id for a in attempts) == list(range(1, 101))
    assert {a.status for a in attempts} == {"graded"}
    assert all(a.grade is not None and a.grade.grader == "offline" for a in attempts)
    expected = {
        f"{tag} answer {i}: position bias means clicks follow the slot."
        for tag in ("p0", "p1")
        for i in range(50)
    }
    assert {a.answer for a in attempts} == expected


def test_sigkill_mid_grade_leaves_the_answer_pending_and_regrade_finishes_it(
    ingested, store_dir, tmp_path
):
    marker = tmp_path / "grading"
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED, str(marker), ANSWER],
        env=env_for(ingested, store_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for([marker], [proc])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    with Storage.open(ingested / "history.sqlite") as storage:
        [attempt] = storage.attempts.list()
        assert storage.database.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (attempt.id, attempt.status, attempt.answer, attempt.grade) == (
        1,
        "pending",
        ANSWER,
        None,
    )

    result = CliRunner().invoke(app, ["regrade", "--pending", "--grader", "offline"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("attempt 1: ") and result.stdout.rstrip().endswith(
        "/10 (offline)"
    )
    with Storage.open(ingested / "history.sqlite") as storage:
        [attempt] = storage.attempts.list()
    assert (attempt.status, attempt.grader, attempt.answer) == ("graded", "offline", ANSWER)
