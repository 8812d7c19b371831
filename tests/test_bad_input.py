"""Bad input over the CLI, one table: every case ends with one line on stderr, a documented exit code
(1 user error, 2 bad command line, 3 saved but not graded), no traceback, and the attempts that
were already in history unchanged (or the history file byte for byte, when it is the bad input)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes import unused_port
from typer.testing import CliRunner

from coach.cli.app import app
from coach.models import Grade
from coach.storage import Storage

QID = "r2-position-bias"
GOOD = "Position bias means items shown higher get more clicks because of where they are shown."


@dataclass
class Ctx:
    home: Path
    tmp: Path
    env: dict

    def file(self, content: bytes, name: str = "answer.txt") -> str:
        path = self.tmp / name
        path.write_bytes(content)
        return str(path)

    def env_file(self, text: str) -> None:
        path = self.tmp / "bad.env"
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        self.env["COACH_ENV_FILE"] = str(path)


def corrupt_history(ctx: Ctx) -> None:
    (ctx.home / "history.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (ctx.home / f"history.sqlite{suffix}").unlink(missing_ok=True)


def corrupt_chroma(ctx: Ctx) -> None:
    chroma = ctx.home / "chroma"
    chroma.mkdir(parents=True, exist_ok=True)
    (chroma / "chroma.sqlite3").write_bytes(b"garbage, not sqlite" * 500)


def grade_good(ctx: Ctx) -> list[str]:
    return ["grade", QID, "--answer-file", ctx.file(GOOD.encode())]


def grade_bytes(content: bytes) -> Callable[[Ctx], list[str]]:
    return lambda ctx: ["grade", QID, "--answer-file", ctx.file(content)]


def tone_wav(ctx: Ctx, seconds: float, amplitude: float = 0.3, rate: int = 16000) -> str:
    """A WAV of a 220 Hz tone (or silence): enough to test the length and level checks."""
    import wave

    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    pcm = (amplitude * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()
    path = ctx.tmp / f"tone-{seconds:g}-{amplitude:g}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return str(path)


def grade_audio(recording: Callable[[Ctx], str]) -> Callable[[Ctx], list[str]]:
    return lambda ctx: ["grade", QID, "--audio", recording(ctx)]


def with_env(
    setup: Callable[[Ctx], None], argv: Callable[[Ctx], list[str]]
) -> Callable[[Ctx], list[str]]:
    def run(ctx: Ctx) -> list[str]:
        setup(ctx)
        return argv(ctx)

    return run


# (id, setup returning argv, exit code, text in the one stderr line)
CASES = [
    ("empty-answer", grade_bytes(b""), 1, "the answer is empty"),
    ("whitespace-answer", grade_bytes(b"  \n\t \r\n "), 1, "the answer is empty"),
    ("1mb-answer", grade_bytes(b"word " * 200_000), 1, "1000 KB; the limit is 200 KB"),
    ("nul-bytes", grade_bytes(b"Position bias \x00 matters."), 1, "the answer contains NUL bytes"),
    ("invalid-utf8", grade_bytes(b"caf\xe9 \xff\xfe"), 1, "not UTF-8 text (bad byte at offset 3)"),
    (
        "directory-not-file",
        lambda ctx: ["grade", QID, "--answer-file", str(ctx.tmp)],
        1,
        "is a directory",
    ),
    pytest.param(
        "endless-device",
        lambda ctx: ["grade", QID, "-f", "/dev/zero"],
        1,
        "/dev/zero: more than 200 KB",
        marks=pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero"),
        id="endless-device",
    ),
    ("missing-file", lambda ctx: ["grade", QID, "-f", str(ctx.tmp / "nope.md")], 1, "no such file"),
    (
        "unknown-question",
        lambda ctx: ["grade", "r2-no-such-q", "-f", ctx.file(GOOD.encode())],
        1,
        "unknown question id",
    ),
    (
        "unknown-question-rubric",
        lambda ctx: ["rubric", "zz-unknown"],
        1,
        "unknown question id 'zz-unknown'",
    ),
    ("unknown-attempt-show", lambda ctx: ["show", "999"], 1, "no attempt 999"),
    ("unknown-attempt-regrade", lambda ctx: ["regrade", "999"], 1, "no attempt 999"),
    ("unknown-attempt-forget", lambda ctx: ["forget", "999"], 1, "no attempt 999"),
    (
        "attempt-not-a-number",
        lambda ctx: ["show", "three"],
        2,
        "Invalid value for 'attempt_id': Input should be a valid integer",
    ),
    (
        "negative-limit",
        lambda ctx: ["history", "--limit", "-3"],
        2,
        "Invalid value for '--limit': Input should be greater than or equal to 1",
    ),
    (
        "bad-grader",
        lambda ctx: ["grade", QID, "-f", ctx.file(GOOD.encode()), "--grader", "gpt"],
        2,
        "'gpt' is not one of 'offline', 'llm'",
    ),
    (
        "mock-negative-minutes",
        lambda ctx: ["mock", "--round", "2", "--minutes", "-5"],
        2,
        "Invalid value for '--minutes'",
    ),
    (
        "mock-absurd-minutes",
        lambda ctx: ["mock", "--round", "2", "--minutes", "100000"],
        2,
        "Invalid value for '--minutes'",
    ),
    (
        "mock-too-many-questions",
        lambda ctx: ["mock", "--round", "2", "--questions", "11"],
        2,
        "Invalid value for '--questions'",
    ),
    (
        "unknown-round",
        lambda ctx: ["questions", "--round", "9"],
        2,
        "'9' is not one of '2', '3', '4', 'additional'",
    ),
    (
        "unknown-kind",
        lambda ctx: ["practice", "--kind", "trivia"],
        2,
        "'trivia' is not one of 'technical', 'system-design', 'behavioral'",
    ),
    (
        "probe-count-out-of-range",
        lambda ctx: ["probe", "1", "--count", "4"],
        2,
        "Invalid value for '--count'",
    ),
    (
        "plan-zero-hours",
        lambda ctx: ["plan", "--interview-date", "2030-01-01", "--hours-per-day", "0"],
        2,
        "Invalid value for '--hours-per-day'",
    ),
    (
        "mock-resume-with-round",
        lambda ctx: ["mock", "--resume", "--round", "2"],
        1,
        "--resume continues the last round",
    ),
    (
        "import-no-questions-markdown",
        lambda ctx: ["import", ctx.file(b"# Acme\nJust prose.\n", "empty.md")],
        1,
        "empty.md: no questions found; write a .md file like '## Round 2'",
    ),
    (
        "malformed-env",
        with_env(
            lambda ctx: ctx.env_file("COACH_GRADER=offline\nthis is not an env line\n"),
            lambda ctx: ["history"],
        ),
        1,
        "bad.env: line 2 is not KEY=VALUE",
    ),
    (
        "env-not-utf8",
        with_env(lambda ctx: ctx.env_file(b"COACH_MODEL=caf\xe9\n"), lambda ctx: ["history"]),
        1,
        "bad.env: not UTF-8 text",
    ),
    (
        "env-bad-value",
        with_env(lambda ctx: ctx.env_file("COACH_LLM_TIMEOUT=-4\n"), lambda ctx: ["history"]),
        1,
        "COACH_LLM_TIMEOUT: Input should be greater than 0",
    ),
    (
        "unreachable-chroma-url",
        with_env(
            lambda ctx: ctx.env.update(COACH_CHROMA_URL=f"http://127.0.0.1:{unused_port()}"),
            lambda ctx: ["questions", "search", "position bias"],
        ),
        1,
        "does not answer; start it with `chroma run --path DIR` or unset COACH_CHROMA_URL",
    ),
    (
        "unreachable-chroma-url-practice",
        with_env(
            lambda ctx: ctx.env.update(COACH_CHROMA_URL=f"http://127.0.0.1:{unused_port()}"),
            lambda ctx: ["practice"],
        ),
        1,
        "does not answer; start it with `chroma run --path DIR` or unset COACH_CHROMA_URL",
    ),
    (
        "chroma-url-not-http",
        with_env(
            lambda ctx: ctx.env.update(COACH_CHROMA_URL="ftp://user:pw@x"),
            lambda ctx: ["questions", "search", "bias"],
        ),
        1,
        "COACH_CHROMA_URL: not an http(s) URL: ftp://***@x",
    ),
    (
        "corrupt-sqlite-history",
        with_env(corrupt_history, lambda ctx: ["history"]),
        1,
        "is unreadable",
    ),
    (
        "corrupt-sqlite-grade",
        with_env(corrupt_history, grade_good),
        1,
        "move it aside to start afresh",
    ),
    (
        "corrupt-chroma-dir",
        with_env(corrupt_chroma, lambda ctx: ["questions", "search", "bias"]),
        1,
        "run `coach ingest --rebuild` to recreate it",
    ),
    (
        "corrupt-chroma-dir-practice",
        with_env(corrupt_chroma, lambda ctx: ["practice"]),
        1,
        "run `coach ingest --rebuild` to recreate it",
    ),
    (
        "home-is-a-file",
        with_env(
            lambda ctx: ctx.env.update(COACH_HOME=ctx.file(b"x", "home-file")),
            lambda ctx: ["history"],
        ),
        1,
        "cannot create COACH_HOME",
    ),
    ("export-to-a-directory", lambda ctx: ["history", "--export", str(ctx.tmp)], 1, "cannot write"),
    (
        "import-binary-bank",
        lambda ctx: ["import", ctx.file(b"\x00\x01\x02", "bank.rst")],
        1,
        "bank.rst: contains NUL bytes",
    ),
    (
        "import-latin1-bank",
        lambda ctx: ["import", ctx.file(b"Acme\n====\n\xe9t\xe9", "latin.rst")],
        1,
        "latin.rst: not UTF-8",
    ),
    (
        "import-no-questions",
        lambda ctx: ["import", ctx.file(b"Acme\n====\n\nHello.\n", "empty.rst")],
        1,
        "empty.rst: no questions found",
    ),
    (
        "eval-garbage-csv",
        lambda ctx: ["eval", ctx.file(b"a,b\n1,2\n", "x.csv")],
        1,
        "missing column 'question'",
    ),
    # Spoken answers: each refused before anything is saved.
    (
        "audio-unsupported",
        grade_audio(lambda ctx: ctx.file(b"hello", "answer.txt")),
        1,
        "unsupported audio format (.txt)",
    ),
    (
        "audio-corrupt",
        grade_audio(lambda ctx: ctx.file(bytes(range(256)) * 64, "answer.wav")),
        1,
        "cannot be decoded as audio",
    ),
    (
        "audio-missing",
        grade_audio(lambda ctx: str(ctx.tmp / "nope.wav")),
        1,
        "nope.wav: no such file",
    ),
    (
        "audio-too-short",
        grade_audio(lambda ctx: tone_wav(ctx, 1.0)),
        1,
        "only 1.0 s of audio; an answer needs at least 3 s",
    ),
    (
        "audio-silence",
        grade_audio(lambda ctx: tone_wav(ctx, 5.0, amplitude=0.0)),
        1,
        "the audio is silent",
    ),
    (
        "audio-too-long",
        grade_audio(lambda ctx: tone_wav(ctx, 15 * 60 + 5, rate=800)),
        1,
        "the limit is 15:00",
    ),
    (
        "audio-and-answer-file",
        lambda ctx: [*grade_good(ctx), "--audio", tone_wav(ctx, 4.0)],
        1,
        "give the answer as --answer-file",
    ),
    (
        "review-without-audio",
        lambda ctx: [*grade_good(ctx), "--review"],
        1,
        "--review corrects a recording's transcript",
    ),
    (
        "voice-and-editor",
        lambda ctx: ["practice", "--voice", "--editor"],
        1,
        "choose --voice or --editor",
    ),
    (
        "keep-audio-without-voice",
        lambda ctx: ["practice", "--keep-audio"],
        1,
        "--review and --keep-audio go with --voice",
    ),
]


def seed(home: Path) -> list[dict]:
    """Two attempts already in history: one graded, one pending. Returns their stored form."""
    with Storage.open(home / "history.sqlite") as storage:
        graded = storage.attempts.add(QID, "A seeded answer about position bias and clicks.")
        storage.attempts.record_grade(
            graded, Grade(score=5.5, verdict="Partial.", criteria=[], grader="offline")
        )
        pending = storage.attempts.add(QID, "A seeded answer that is still pending.")
        storage.attempts.record_failure(pending, "earlier failure")
    return stored(home, 2)


def stored(home: Path, upto: int) -> list[dict]:
    with Storage.open(home / "history.sqlite") as storage:
        return [
            a.model_dump()
            for a in sorted(storage.attempts.list(), key=lambda a: a.id)
            if a.id <= upto
        ]


@pytest.mark.parametrize(
    "name, setup, code, message",
    [c if hasattr(c, "marks") else pytest.param(*c, id=c[0]) for c in CASES],
)
def test_bad_input_gives_one_line_and_keeps_history(
    home, tmp_path, monkeypatch, name, setup, code, message
):
    before = seed(home)
    db = home / "history.sqlite"
    ctx = Ctx(home=home, tmp=tmp_path / "work", env={})
    ctx.tmp.mkdir()
    argv = setup(ctx)
    for key, value in ctx.env.items():
        monkeypatch.setenv(key, value)
    db_bytes = db.read_bytes()

    result = CliRunner().invoke(app, argv)

    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    if code == 2:  # Click's usage error: the usage line, a hint, then one "Error:" line
        assert lines[-1].startswith("Error: ") and message in lines[-1], result.stderr
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert message in lines[0], result.stderr
    if name.startswith("corrupt-sqlite"):
        assert db.read_bytes() == db_bytes  # the damaged file is left exactly as it was
    else:
        monkeypatch.delenv("COACH_HOME", raising=False)
        assert stored(home, 2) == before
    if name.startswith(("audio-", "review-", "voice-", "keep-audio-")):
        assert len(stored(home, 10**9)) == 2  # nothing new was saved


def test_a_damaged_grade_row_does_not_hide_the_rest(home):
    """One unreadable stored grade: history and show still work, and say how to recover."""
    before = seed(home)
    with Storage.open(home / "history.sqlite") as storage:
        storage.database.connection.execute(
            "UPDATE attempts SET grade_json = '{not json' WHERE id = 1"
        )
    runner = CliRunner()

    listing = runner.invoke(app, ["history"])
    shown = runner.invoke(app, ["show", "1"])

    assert listing.exit_code == 0 and shown.exit_code == 0, listing.output + shown.output
    assert "stored grade is unreadable" in " ".join(shown.output.split())
    assert stored(home, 2)[1] == before[1]


def test_answer_from_stdin_over_the_limit_is_refused(home):
    before = seed(home)
    result = CliRunner().invoke(app, ["grade", QID, "--answer-file", "-"], input="x" * 1_000_000)
    assert result.exit_code == 1
    assert result.stderr == "error: -: more than 200 KB; the limit is 200 KB\n"
    assert stored(home, 2) == before


def _readonly_command(home: Path, argv: list[str]) -> list[str]:
    """Run `argv` with `home` read-only: a read-only bind mount in a private mount namespace when
    running as root (root ignores file modes), else plain directory permissions."""
    if os.geteuid() != 0:
        home.chmod(0o555)
        return argv
    if not shutil.which("unshare"):
        pytest.skip("running as root without unshare: cannot make a read-only directory")
    probe = subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode().strip()}")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(home), *argv]


@pytest.mark.parametrize(
    "args",
    [["history"], ["grade", QID, "--answer-file", "ANSWER"], ["forget", "--all", "--yes"]],
    ids=["history", "grade", "forget-all"],
)
def test_read_only_home(home, tmp_path, args):
    before = seed(home)
    answer = tmp_path / "answer.md"
    answer.write_text(GOOD, encoding="utf-8")
    coach = Path(sys.executable).with_name("coach")
    argv = [str(coach), *[str(answer) if a == "ANSWER" else a for a in args]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "COACH_"))}
    env.update(COACH_HOME=str(home), COACH_ENV_FILE=str(tmp_path / "none.env"))
    db_bytes = (home / "history.sqlite").read_bytes()
    try:
        done = subprocess.run(
            _readonly_command(home, argv),
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        home.chmod(0o755)

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == (
        f"error: COACH_HOME {home} is read-only; make it writable or set COACH_HOME to another directory\n"
    )
    assert (home / "history.sqlite").read_bytes() == db_bytes
    assert stored(home, 2) == before
