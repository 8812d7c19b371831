"""The storage package: one connection owner, numbered migrations, typed repositories.

The upgrade test opens a history database written by release 0.1.0 (tests/fixtures, made by
tests/fixtures/make_history_v0_1_0.py running that release) and checks that every row is still
there, value for value, after the migrations."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from coach.coaching import srs
from coach.models import Criterion, Grade, Probe
from coach.storage import Database, NotFound, Storage, StorageError, migrations
from coach.storage import db as db_module
from coach.storage.cards import AppliedAttempt, StoredCard
from coach.storage.rounds import MockItem

FIXTURES = Path(__file__).parent / "fixtures"
V010 = FIXTURES / "history-v0.1.0.sqlite"
V010_ROWS = json.loads((FIXTURES / "history-v0.1.0.json").read_text(encoding="utf-8"))
TABLES = [
    "attempts",
    "probes",
    "mock_sessions",
    "mock_items",
    "cards",
    "card_attempts",
    "fsrs_parameters",
]
MIGRATION_NAMES = [
    "m001_initial",
    "m002_attempt_status_without_failed",
    "m003_mock_round_export",
    "m004_spoken_answer_delivery",
]
GRADE = Grade(score=5.0, verdict="Partial.", criteria=[], grader="offline")


@pytest.fixture
def v010(tmp_path) -> Path:
    """A copy of the 0.1.0 history database in a fresh COACH_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(V010, home / "history.sqlite")
    return home / "history.sqlite"


@pytest.fixture
def storage(tmp_path):
    with Storage.open(tmp_path / "home" / "history.sqlite") as opened:
        yield opened


def rows(connection: sqlite3.Connection, table: str) -> list[dict]:
    cursor = connection.execute(f"SELECT * FROM {table} ORDER BY rowid")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor]


def recorded_migrations(connection: sqlite3.Connection) -> list[tuple[int, str]]:
    return [
        tuple(r)
        for r in connection.execute("SELECT version, name FROM _migrations ORDER BY version")
    ]


# --- upgrading a database made by release 0.1.0 ------------------------------------------------


def test_the_fixture_is_what_release_0_1_0_wrote():
    connection = sqlite3.connect(f"file:{V010}?mode=ro&immutable=1", uri=True)
    names = {
        r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    check = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'attempts'").fetchone()[
        0
    ]
    connection.close()
    assert names == {*TABLES, "sqlite_sequence"}  # no migrations table: it predates them
    assert "CHECK (status IN ('pending', 'graded', 'failed'))" in check
    assert {t: len(V010_ROWS[t]) for t in TABLES} == {
        "attempts": 5,
        "probes": 2,
        "mock_sessions": 1,
        "mock_items": 2,
        "cards": 28,
        "card_attempts": 3,
        "fsrs_parameters": 1,
    }


def test_a_0_1_0_database_upgrades_without_losing_a_row(v010):
    with Storage.open(v010) as storage:
        connection = storage.database.connection
        assert storage.database.schema_version == migrations.LATEST == 4
        assert recorded_migrations(connection) == list(enumerate(MIGRATION_NAMES, 1))
        # Every row survives; columns added since 0.1.0 carry their defaults.
        added = {"mock_sessions": {"export_path": ""}, "attempts": {"delivery_json": None}}
        for table in TABLES:
            expected = [{**row, **added.get(table, {})} for row in V010_ROWS[table]]
            assert rows(connection, table) == expected, table
        # The rebuilt attempts table keeps its AUTOINCREMENT counter (its row moved to the end).
        sequence = {r["name"]: r["seq"] for r in rows(connection, "sqlite_sequence")}
        assert sequence == {r["name"]: r["seq"] for r in V010_ROWS["sqlite_sequence"]}
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        check = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'attempts'"
        ).fetchone()[0]
        indexes = {
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE tbl_name = 'attempts' AND type = 'index'"
            )
        }
    assert "CHECK (status IN ('pending', 'graded'))" in check
    assert indexes == {"attempts_question", "attempts_status"}


def test_the_repositories_read_the_0_1_0_rows(v010):
    with Storage.open(v010) as storage:
        attempts = storage.attempts.list()
        pending = storage.attempts.pending()
        thread = storage.attempts.thread(1)
        probes = storage.probes.for_root(1)
        answered_by = storage.probes.for_attempt(4)
        session = storage.rounds.get(1)
        unfinished = storage.rounds.latest_unfinished()
        cards = storage.cards.all()
        applied = storage.cards.applied()
        parameters = storage.cards.parameters()
        resync = srs.sync(storage)

    assert [(a.id, a.question_id, a.status, a.grader, a.parent_id) for a in attempts] == [
        (5, "r2-popularity-bias", "graded", "offline", None),
        (4, "r2-position-bias", "graded", "offline", 1),
        (3, "r2-cold-start-problem", "pending", "", None),
        (2, "r3-mentorship-growth", "graded", "offline", None),
        (1, "r2-position-bias", "graded", "offline", None),
    ]
    assert [a.answer for a in attempts] == [r["answer"] for r in reversed(V010_ROWS["attempts"])]
    assert attempts[3].answer.startswith(
        "I mentored a junior engineer \u2014 \u201cPriya\u201d \u2014"
    )
    assert [(a.grade.score, a.grade.grader) for a in attempts if a.grade] == [
        (0.0, "offline"),
        (0.0, "offline"),
        (0.7, "offline"),
        (6.6, "offline"),
    ]
    assert [(a.id, a.error) for a in pending] == [
        (3, "LLM call to gpt-4o-mini failed (timed out after 60 s)")
    ]
    assert [a.id for a in thread] == [1, 4]
    assert [(p.id, p.kind, p.status, p.attempt_id, p.source, p.target_ids) for p in probes] == [
        (1, "missed", "answered", 4, "note:position-bias", ["position-bias/5"]),
        (2, "claim", "skipped", None, "template", ["position-bias/3"]),
    ]
    assert probes[1].quote == (
        "I would estimate examination propensities by randomizing the top slots on a small traffic slice"
    )
    assert answered_by == probes[0]
    assert (session.round, session.minutes, session.grader, session.state) == (
        "2",
        30,
        "offline",
        "interrupted",
    )
    assert [i.model_dump() for i in session.items] == [
        {
            "position": 1,
            "question_id": "r2-popularity-bias",
            "status": "answered",
            "attempt_id": 5,
            "seconds_used": 61.5,
        },
        {
            "position": 2,
            "question_id": "r2-first-principle-thinking",
            "status": "open",
            "attempt_id": None,
            "seconds_used": 0.0,
        },
    ]
    assert unfinished == session
    assert [c.key for c in cards] == sorted(r["card_key"] for r in V010_ROWS["cards"])
    assert [(a.attempt_id, a.digest) for a in applied] == [
        (1, "3295302bb083eb90"),
        (2, "0db75b60cd26d3f2"),
        (5, "cd451152c5b99d36"),
    ]
    assert parameters == list(srs.DEFAULT_PARAMETERS)
    # The stored grades hash to the digests 0.1.0 recorded: nothing to replay, nothing rebuilt.
    assert resync == srs.SyncReport(0, False)


def test_ids_of_deleted_attempts_are_not_reused_after_the_rebuild(v010):
    """0.1.0 had deleted attempt 6; the rebuilt table keeps its AUTOINCREMENT counter."""
    with Storage.open(v010) as storage:
        assert storage.attempts.add("r2-position-bias", "A new answer.") == 7


def test_foreign_keys_still_cascade_after_the_rebuild(v010):
    with Storage.open(v010) as storage:
        storage.attempts.delete(1)
        left = (
            [a.id for a in storage.attempts.list()],
            storage.probes.for_root(1),
            storage.rounds.get(1).items[0].attempt_id,
        )
    assert left == ([5, 3, 2], [], 5)  # the probe answer (4) and the probes went with their root


def test_a_failed_row_written_by_hand_becomes_pending(v010):
    connection = sqlite3.connect(v010)
    connection.execute("UPDATE attempts SET status = 'failed', error = 'it broke' WHERE id = 3")
    connection.commit()
    connection.close()
    with Storage.open(v010) as storage:
        attempt = storage.attempts.get(3)
    assert (attempt.status, attempt.error, attempt.answer) == (
        "pending",
        "it broke",
        "Cold start: use content features and popularity priors.",
    )


# --- migrations ---------------------------------------------------------------------------------


def schema(connection: sqlite3.Connection) -> list[tuple]:
    return connection.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != '_migrations' ORDER BY name"
    ).fetchall()


def test_migration_1_is_exactly_the_0_1_0_schema():
    released = sqlite3.connect(f"file:{V010}?mode=ro&immutable=1", uri=True)
    fresh = sqlite3.connect(":memory:")
    migrations.m001_initial(fresh)
    assert schema(fresh) == schema(released)
    released.close()


def test_fresh_and_upgraded_databases_have_the_same_schema(v010, storage):
    with Storage.open(v010) as upgraded:
        assert schema(upgraded.database.connection) == schema(storage.database.connection)


def test_migrations_are_applied_once(v010):
    connection = sqlite3.connect(v010, isolation_level=None)
    assert migrations.schema_version(connection) == 0
    assert migrations.migrate(connection) == [1, 2, 3, 4]
    first = connection.execute("SELECT * FROM _migrations ORDER BY version").fetchall()
    assert migrations.migrate(connection) == []
    connection.close()
    for _ in range(2):  # opening again applies nothing and records nothing
        with Storage.open(v010) as storage:
            again = storage.database.connection.execute(
                "SELECT * FROM _migrations ORDER BY version"
            ).fetchall()
            assert migrations.migrate(storage.database.connection) == []
        assert [tuple(r) for r in again] == first
    assert [r[:2] for r in first] == list(enumerate(MIGRATION_NAMES, 1))


def test_a_failing_migration_changes_nothing(v010, monkeypatch):
    before = v010.read_bytes()

    def broken(db):
        db.execute("DELETE FROM attempts")
        raise sqlite3.OperationalError("no such function: broken")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    with pytest.raises(StorageError) as raised:
        Database(v010)
    assert str(raised.value) == (
        f"history database {v010} is unreadable (no such function: broken); move it aside to start afresh"
    )
    monkeypatch.undo()
    connection = sqlite3.connect(v010)
    assert migrations.schema_version(connection) == 0
    assert rows(connection, "attempts") == V010_ROWS["attempts"]
    connection.close()
    assert v010.read_bytes() == before


def test_a_fresh_database_has_the_latest_schema(storage, tmp_path):
    connection = storage.database.connection
    names = {
        r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert names == {*TABLES, "sqlite_sequence", "_migrations"}
    assert recorded_migrations(connection) == list(enumerate(MIGRATION_NAMES, 1))
    assert (tmp_path / "home" / "history.sqlite").stat().st_mode & 0o777 == 0o600
    first = storage.attempts.add("r2-position-bias", "An answer.")
    with pytest.raises(
        StorageError, match=r"^cannot write history at .* \(CHECK constraint failed"
    ):
        storage.database.write("UPDATE attempts SET status = 'failed' WHERE id = ?", (first,))
    assert storage.attempts.get(first).status == "pending"


def test_a_database_from_a_newer_coach_is_refused(v010):
    with Storage.open(v010):
        pass
    connection = sqlite3.connect(v010)
    connection.execute(
        "INSERT INTO _migrations VALUES (99, 'm099_future', '2030-01-01T00:00:00+00:00')"
    )
    connection.commit()
    connection.close()
    before = v010.read_bytes()
    with pytest.raises(StorageError) as raised:
        Storage.open(v010)
    assert str(raised.value) == (
        f"history database {v010} was written by a newer coach (schema version 99; this one knows "
        f"up to {migrations.LATEST}); upgrade coach to use it"
    )
    assert v010.read_bytes() == before


OPEN_AND_ADD = """
import sys, time, pathlib
from coach.storage import Storage
path, go, tag = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
while not go.exists():
    time.sleep(0.002)
with Storage.open(path) as storage:
    storage.attempts.add("r2-position-bias", f"answer from {tag}")
"""


@pytest.mark.parametrize("start", ["fresh", "v0.1.0"])
def test_processes_opening_at_once_migrate_once(tmp_path, start):
    path = tmp_path / "home" / "history.sqlite"
    path.parent.mkdir()
    if start == "v0.1.0":
        shutil.copyfile(V010, path)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_ADD, str(path), str(go), str(i)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    go.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with Storage.open(path) as storage:
        answers = sorted(
            a.answer for a in storage.attempts.list() if a.answer.startswith("answer from")
        )
        assert recorded_migrations(storage.database.connection) == list(
            enumerate(MIGRATION_NAMES, 1)
        )
    assert answers == [f"answer from {i}" for i in range(4)]


# --- errors: one line, the file left as it was ---------------------------------------------------


def test_a_directory_where_the_file_should_be(tmp_path):
    path = tmp_path / "history.sqlite"
    path.mkdir()
    with pytest.raises(StorageError) as raised:
        Database(path)
    assert (
        str(raised.value)
        == f"history database {path} is a directory; move it aside to start afresh"
    )


def test_coach_home_that_is_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("x")
    with pytest.raises(StorageError) as raised:
        Database(home / "history.sqlite")
    assert str(raised.value) == (
        f"cannot create COACH_HOME {home} (File exists); set COACH_HOME to a writable directory"
    )


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path):
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError) as raised:
        Database(path)
    assert str(raised.value) == (
        f"history database {path} is unreadable (file is not a database); move it aside to start afresh"
    )
    assert path.read_bytes() == b"this is not a database" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite"]


def test_a_damaged_page_is_one_line(tmp_path):
    path = tmp_path / "history.sqlite"
    with Storage.open(path) as storage:
        for i in range(200):
            storage.attempts.add("r2-position-bias", f"answer {i} " * 40)
        root = storage.database.read_one(
            "SELECT rootpage FROM sqlite_master WHERE name = 'attempts'"
        )[0]
        page = storage.database.read_one("PRAGMA page_size")[0]
        storage.database.checkpoint()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page : (root - 1) * page + 100] = b"\xff" * 100  # the table's b-tree root
    path.write_bytes(bytes(data))
    with Storage.open(path) as storage, pytest.raises(StorageError) as raised:
        storage.attempts.list()
    assert str(raised.value) == (
        f"history database {path} is damaged (database disk image is malformed); move it aside to start afresh"
    )


def test_a_read_only_database_cannot_be_written(storage, tmp_path):
    storage.database.connection.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError) as raised:
        storage.attempts.add("r2-position-bias", "An answer.")
    assert str(raised.value) == (
        f"cannot write history at {tmp_path / 'home' / 'history.sqlite'} (attempt to write a readonly database)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_coach_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    try:
        with pytest.raises(StorageError) as raised:
            Database(home / "history.sqlite")
    finally:
        home.chmod(0o755)
    assert str(raised.value) == (
        f"COACH_HOME {home} is read-only; make it writable or set COACH_HOME to another directory"
    )


def test_a_write_locked_by_another_process(storage, tmp_path):
    path = tmp_path / "home" / "history.sqlite"
    storage.database.connection.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError) as raised:
            storage.attempts.add("r2-position-bias", "An answer.")
        with pytest.raises(StorageError) as in_transaction, storage.database.transaction():
            pass
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (
        str(raised.value)
        == str(in_transaction.value)
        == f"cannot write history at {path} (database is locked)"
    )
    assert not storage.database.connection.in_transaction
    assert storage.attempts.add("r2-position-bias", "An answer.") == 1  # free again


def test_opening_while_another_process_holds_the_upgrade_lock(v010, monkeypatch):
    monkeypatch.setattr(db_module, "BUSY_SECONDS", 0.2)
    other = sqlite3.connect(v010, isolation_level=None)
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError) as raised:
            Database(v010)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert str(raised.value) == (
        f"history database {v010} stayed locked by another process for 0.2 s; retry"
    )


# --- the connection owner -----------------------------------------------------------------------


def test_a_transaction_commits_all_or_nothing(storage):
    with pytest.raises(KeyError), storage.database.transaction():
        storage.attempts.add("r2-position-bias", "First.")
        with storage.database.transaction():  # joins the outer one
            storage.attempts.add("r2-position-bias", "Second.")
        raise KeyError("a bug half-way")
    assert storage.attempts.list() == []
    assert not storage.database.connection.in_transaction
    with storage.database.transaction():
        first = storage.attempts.add("r2-position-bias", "First.")
        with storage.database.transaction():
            second = storage.attempts.add("r2-position-bias", "Second.")
        assert storage.database.connection.in_transaction
    assert not storage.database.connection.in_transaction
    assert [a.id for a in storage.attempts.list()] == [second, first]


def test_delete_all_keeps_the_schema_version(storage):
    root = storage.attempts.add("r2-position-bias", "An answer.")
    storage.attempts.record_grade(root, GRADE)
    storage.probes.add(Probe(root_id=root, text="Why?", kind="missed", targets=[]))
    storage.rounds.start("2", 30, ["r2-position-bias"])
    srs.sync(storage)
    assert storage.attempts.delete_all() == 1
    counts = {t: storage.database.read_one(f"SELECT COUNT(*) FROM {t}")[0] for t in TABLES}
    assert counts == dict.fromkeys(TABLES, 0)
    assert storage.database.schema_version == migrations.LATEST


# --- the repositories ---------------------------------------------------------------------------


def test_attempts(storage):
    root = storage.attempts.add("r2-position-bias", "Root answer.")
    child = storage.attempts.add("r2-position-bias", "Follow-up.", parent_id=root)
    other = storage.attempts.add("r2-cold-start-problem", "Other.")
    storage.attempts.record_grade(root, GRADE)
    storage.attempts.record_failure(other, "x" * 600)

    assert [a.id for a in storage.attempts.list()] == [other, child, root]
    assert [a.id for a in storage.attempts.list("r2-position-bias", limit=1)] == [child]
    assert [a.id for a in storage.attempts.pending()] == [child, other]
    assert [a.id for a in storage.attempts.thread(child)] == [child]
    assert [a.id for a in storage.attempts.thread(root)] == [root, child]
    assert storage.attempts.get(other).error == "x" * 500
    assert storage.attempts.get(root).grade == GRADE
    assert [g.attempt_id for g in storage.attempts.graded_answers()] == [root]
    with pytest.raises(NotFound, match=r"^no attempt 99; list them with `coach history`$"):
        storage.attempts.get(99)
    storage.attempts.delete(root)
    assert [a.id for a in storage.attempts.list()] == [other]


def test_probes(storage):
    root = storage.attempts.add("r2-position-bias", "Root answer.")
    target = Criterion(id="position-bias/1", text="A point.", weight=1.0, source="position-bias")
    saved = storage.probes.add(
        Probe(root_id=root, text="How would you measure it?", kind="missed", targets=[target])
    )
    assert saved.id == 1 and storage.probes.for_root(root) == [saved]
    answer = storage.attempts.add("r2-position-bias", "By randomizing.", parent_id=root)
    answered = storage.probes.set_status(saved, "answered", answer)
    assert (answered.status, answered.attempt_id) == ("answered", answer)
    assert storage.probes.for_attempt(answer) == answered == storage.probes.for_root(root)[0]
    assert storage.probes.for_attempt(root) is None
    with pytest.raises(StorageError, match="^this probe was never saved$"):
        storage.probes.set_status(Probe(root_id=root, text="?", kind="missed", targets=[]), "asked")


def test_rounds(storage):
    session = storage.rounds.start(
        "2", 30, ["r2-position-bias", "r2-cold-start-problem"], "offline"
    )
    assert (session.id, session.state, session.seconds_allowed) == (1, "active", 900.0)
    assert [(i.position, i.question_id, i.status) for i in session.items] == [
        (1, "r2-position-bias", "open"),
        (2, "r2-cold-start-problem", "open"),
    ]
    attempt = storage.attempts.add("r2-position-bias", "An answer.")
    storage.rounds.save_item(
        session.id,
        MockItem(
            position=1,
            question_id="r2-position-bias",
            status="answered",
            attempt_id=attempt,
            seconds_used=12.5,
        ),
    )
    storage.rounds.set_state(session.id, "interrupted")
    again = storage.rounds.get(session.id)
    assert (again.state, again.answered, again.items[0].seconds_used) == ("interrupted", 1, 12.5)
    assert storage.rounds.latest_unfinished() == again
    storage.rounds.set_state(session.id, "finished")
    assert storage.rounds.latest_unfinished() is None
    with pytest.raises(NotFound, match="^no mock round 7$"):
        storage.rounds.get(7)


def test_cards(storage):
    card = StoredCard(
        "q:x",
        "question",
        "x",
        "",
        "",
        '{"card_id": 1}',
        "2025-06-02T00:00:00+00:00",
        "2025-06-01T00:00:00+00:00",
        3,
        6.5,
        1,
    )
    storage.cards.save([card], [AppliedAttempt(4, "abc", "2025-06-01T00:00:00+00:00")])
    storage.cards.set_parameters([0.5, 1.5], 600)
    assert (storage.cards.all(), storage.cards.count(), storage.cards.parameters()) == (
        [card],
        1,
        [0.5, 1.5],
    )
    assert storage.cards.applied() == [AppliedAttempt(4, "abc", "2025-06-01T00:00:00+00:00")]
    storage.cards.reset()
    assert (storage.cards.all(), storage.cards.applied(), storage.cards.parameters()) == (
        [],
        [],
        [0.5, 1.5],
    )
    storage.cards.save([card], [])
    assert storage.cards.clear() == 1
    assert (storage.cards.all(), storage.cards.parameters()) == ([], None)


def test_a_round_keeps_where_its_scorecard_goes(storage):
    session = storage.rounds.start("2", 20, ["r2-position-bias"], "", export_path="/tmp/card.md")
    assert storage.rounds.get(session.id).export_path == "/tmp/card.md"
    storage.rounds.set_export(session.id, "/tmp/other.html")
    assert storage.rounds.get(session.id).export_path == "/tmp/other.html"
    assert storage.rounds.finished() == []
    storage.rounds.set_state(session.id, "finished")
    assert [s.id for s in storage.rounds.finished()] == [session.id]


def test_a_spoken_answer_keeps_its_delivery_and_a_typed_one_has_none(storage):
    measured = {"duration_s": 95.2, "budget_s": 180.0, "wpm": 141.0, "fillers": {"um": 3}}
    spoken = storage.attempts.add("r2-position-bias", "A transcript.", delivery=measured)
    typed = storage.attempts.add("r2-position-bias", "A typed answer.")
    assert storage.attempts.get(spoken).delivery == measured
    assert storage.attempts.get(spoken).spoken
    assert storage.attempts.get(typed).delivery is None
    assert not storage.attempts.get(typed).spoken


def test_an_unreadable_delivery_never_hides_the_answer(storage):
    attempt_id = storage.attempts.add("r2-position-bias", "A transcript.", delivery={"wpm": 120.0})
    storage.database.write(
        "UPDATE attempts SET delivery_json = 'not json' WHERE id = ?", (attempt_id,)
    )
    attempt = storage.attempts.get(attempt_id)
    assert attempt.answer == "A transcript."
    assert attempt.delivery is None
