"""Numbered schema migrations of the history database, each applied once and recorded in it.

The pattern of simonw/llm's migrations.py: a migration is a function registered in order with
`@migration`; its number is its place in the list. `migrate` applies the ones a database has not
had yet, all in one transaction, and records each in the `_migrations` table, so the schema
version of a file is the highest number recorded there. Never edit a migration that has shipped:
add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

TABLE = "_migrations"

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(func: Migration) -> Migration:
    """Register the next migration (numbered from 1 in the order of definition)."""
    MIGRATIONS.append(func)
    return func


def schema_version(db: sqlite3.Connection) -> int:
    """The number of the last migration applied (0 for a database that predates migrations)."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone()
    if not exists:
        return 0
    return int(db.execute(f"SELECT COALESCE(MAX(version), 0) FROM {TABLE}").fetchone()[0])


def migrate(db: sqlite3.Connection) -> list[int]:
    """Apply the migrations this database has not had, in one transaction; returns their numbers.

    Foreign keys are off while migrating (a table rebuild drops the old table, which must not
    cascade into the rows that point at it); the migration fails if it left a row pointing at a
    missing one that was not already there before.
    """
    if schema_version(db) >= len(MIGRATIONS):
        return []
    db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction, hence before BEGIN
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = schema_version(db)  # again: another process may have migrated meanwhile
            dangling = _dangling(db)
            applied = []
            for version, func in enumerate(MIGRATIONS, 1):
                if version <= current:
                    continue
                func(db)
                db.execute(
                    f"INSERT INTO {TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, func.__name__, datetime.now(UTC).isoformat(timespec="seconds")),
                )
                applied.append(version)
            new = _dangling(db) - dangling
            if new:
                table, rowid, parent, _ = min(new, key=repr)
                raise sqlite3.IntegrityError(
                    f"migration left {len(new)} row(s) pointing at missing rows (first: {table} row {rowid} -> {parent})"
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        db.execute("PRAGMA foreign_keys = ON")
    return applied


def _dangling(db: sqlite3.Connection) -> set[tuple]:
    return {tuple(r) for r in db.execute("PRAGMA foreign_key_check")}


def _run(db: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    # One statement at a time: executescript() would COMMIT the migration's transaction first.
    for statement in statements:
        db.execute(statement)


# --- the migrations, oldest first -----------------------------------------------------------


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """The schema of release 0.1.0 (attempts, probes, mock rounds, review cards), exactly as it
    created it, so a database made by that release upgrades in place."""
    _run(
        db,
        (
            """CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'graded', 'failed')),
    grader TEXT NOT NULL DEFAULT '',
    grade_json TEXT,
    error TEXT NOT NULL DEFAULT '',
    parent_id INTEGER REFERENCES attempts(id) ON DELETE CASCADE
)""",
            "CREATE INDEX IF NOT EXISTS attempts_question ON attempts(question_id)",
            "CREATE INDEX IF NOT EXISTS attempts_status ON attempts(status)",
            """CREATE TABLE IF NOT EXISTS probes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root_id INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    attempt_id INTEGER UNIQUE REFERENCES attempts(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('missed', 'claim')),
    quote TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    targets_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planned', 'asked', 'answered', 'skipped')),
    created_at TEXT NOT NULL
)""",
            "CREATE INDEX IF NOT EXISTS probes_root ON probes(root_id)",
            """CREATE TABLE IF NOT EXISTS mock_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    question_ids TEXT NOT NULL,
    grader TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('active', 'interrupted', 'finished')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS mock_items (
    session_id INTEGER NOT NULL REFERENCES mock_sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'answered', 'done', 'skipped')),
    attempt_id INTEGER REFERENCES attempts(id) ON DELETE SET NULL,
    seconds_used REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, position)
)""",
            """CREATE TABLE IF NOT EXISTS cards (
    card_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('question', 'criterion')),
    question_id TEXT NOT NULL,
    criterion_id TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    card_json TEXT NOT NULL,
    due TEXT NOT NULL,
    last_review TEXT NOT NULL,
    last_rating INTEGER NOT NULL,
    last_score REAL,
    reviews INTEGER NOT NULL DEFAULT 0
)""",
            "CREATE INDEX IF NOT EXISTS cards_due ON cards(due)",
            """CREATE TABLE IF NOT EXISTS card_attempts (
    attempt_id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS fsrs_parameters (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    parameters TEXT NOT NULL,
    reviews INTEGER NOT NULL,
    optimized_at TEXT NOT NULL
)""",
        ),
    )


@migration
def m002_attempt_status_without_failed(db: sqlite3.Connection) -> None:
    """Attempts are 'pending' or 'graded': no code ever wrote 'failed' (a failed grade stays
    pending with its error), so the CHECK stops allowing it. SQLite cannot change a CHECK in
    place: the table is rebuilt (create, copy, drop, rename), its indexes recreated, and the
    AUTOINCREMENT counter kept so the ids of deleted attempts are never handed out again."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'attempts'").fetchone()
    sequence = int(row[0]) if row else 0
    _run(
        db,
        (
            """CREATE TABLE attempts_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'graded')),
    grader TEXT NOT NULL DEFAULT '',
    grade_json TEXT,
    error TEXT NOT NULL DEFAULT '',
    parent_id INTEGER REFERENCES attempts(id) ON DELETE CASCADE
)""",
            # A hand-written 'failed' row means what pending-with-an-error means today.
            """INSERT INTO attempts_new
    (id, question_id, answer, created_at, status, grader, grade_json, error, parent_id)
SELECT id, question_id, answer, created_at,
    CASE status WHEN 'failed' THEN 'pending' ELSE status END,
    grader, grade_json, error, parent_id
FROM attempts""",
            "DROP TABLE attempts",
            "ALTER TABLE attempts_new RENAME TO attempts",
            "CREATE INDEX attempts_question ON attempts(question_id)",
            "CREATE INDEX attempts_status ON attempts(status)",
        ),
    )
    db.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'attempts'",
        (sequence,),
    )
    if (
        sequence
        and not db.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'attempts'").fetchone()
    ):
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('attempts', ?)", (sequence,))


@migration
def m003_mock_round_export(db: sqlite3.Connection) -> None:
    """A round remembers where its scorecard should be written, so `--export` given at the start
    survives a pause and `coach mock --resume` in another process."""
    db.execute("ALTER TABLE mock_sessions ADD COLUMN export_path TEXT NOT NULL DEFAULT ''")


@migration
def m004_spoken_answer_delivery(db: sqlite3.Connection) -> None:
    """A spoken answer keeps how it was delivered (duration against the budget, words per minute,
    filler words, long pauses) as JSON beside its transcript; typed answers leave it NULL."""
    db.execute("ALTER TABLE attempts ADD COLUMN delivery_json TEXT")


LATEST = len(MIGRATIONS)
