"""The history database: the one owner of the SQLite connection (WAL, busy timeout, foreign keys,
secure delete, a private file), its schema migrations, and the one translation of SQLite errors
into one-line `StorageError`s."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from coach.errors import CoachError
from coach.storage import migrations

BUSY_SECONDS = 30.0  # how long a write waits for another coach process before giving up


class StorageError(CoachError):
    """The history database could not be opened, read or written."""


class NotFound(StorageError):
    """A row that was asked for by id does not exist."""


class Database:
    """COACH_HOME/history.sqlite, opened once and migrated to the latest schema.

    WAL mode with a busy timeout, so several `coach` processes can write at once; outside
    `transaction()` every statement commits on its own (an answer is on disk before grading
    starts). Deleted rows are overwritten (secure_delete) and the file is private to the user (0600).
    """

    def __init__(self, path: Path):
        self.path = path
        _check_directory(path)
        if path.is_dir():
            raise StorageError(
                f"history database {path} is a directory; move it aside to start afresh"
            )
        _create_private(path)
        try:
            self.connection, mode = _open(path)
        except sqlite3.DatabaseError as exc:
            raise self._open_error(exc) from None
        except OSError as exc:
            raise StorageError(f"cannot open history at {path} ({exc.strerror})") from None
        try:
            version = migrations.schema_version(self.connection)
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise self._open_error(exc) from None
        if str(mode).lower() != "wal":
            self.connection.close()
            raise StorageError(
                f"history database {path} cannot use WAL mode ({mode}); is COACH_HOME on a network drive?"
            )
        if version > migrations.LATEST:
            self.connection.close()
            raise StorageError(
                f"history database {path} was written by a newer coach (schema version {version}; "
                f"this one knows up to {migrations.LATEST}); upgrade coach to use it"
            )
        self._depth = 0  # nesting of transaction(): only the outermost one begins and commits

    # --- the connection ----------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The number of the last migration applied to this database."""
        return self._guard(migrations.schema_version, self.connection)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- statements ----------------------------------------------------------------------------

    def read(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        """All rows of a query; a locked or damaged file becomes a StorageError."""
        try:
            return self.connection.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, writing=False) from None

    def read_one(self, sql: str, params: Iterable = ()) -> sqlite3.Row | None:
        rows = self.read(sql, params)
        return rows[0] if rows else None

    def write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        """Execute one change (committed at once outside a transaction); errors become StorageErrors."""
        try:
            return self.connection.execute(sql, tuple(params))
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, writing=True) from None

    def write_many(self, sql: str, rows: Iterable[Iterable]) -> None:
        try:
            self.connection.executemany(sql, [tuple(r) for r in rows])
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, writing=True) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the body raises. A transaction opened
        inside another one joins it (only the outermost commits)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.write("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._rollback()
            raise
        self._depth = 0
        try:
            self.connection.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise self._error(exc, writing=True) from None

    def clear(self) -> None:
        """Delete every row of every table (the record of applied migrations stays), then empty
        the write-ahead log, so no deleted text is left in the file or beside it."""
        tables = [
            r[0]
            for r in self.read(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != ?",
                (migrations.TABLE,),
            )
        ]
        # Foreign keys off so the order of the deletes does not matter (it is a no-op inside a
        # transaction, hence before BEGIN).
        self.write("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction():
                for table in tables:
                    self.write(f'DELETE FROM "{table.replace(chr(34), chr(34) * 2)}"')
        finally:
            self.write("PRAGMA foreign_keys = ON")
        self.checkpoint()

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (best effort: another
        process reading at the same moment can keep the log alive until it finishes)."""
        try:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.DatabaseError:
            pass

    # --- errors --------------------------------------------------------------------------------

    def _rollback(self) -> None:
        if self.connection.in_transaction:
            try:
                self.connection.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass  # SQLite already rolled back (it does after some I/O errors)

    def _guard(self, func, *args):
        try:
            return func(*args)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, writing=False) from None

    def _error(self, exc: sqlite3.DatabaseError, writing: bool) -> StorageError:
        """The one translation of a SQLite error into a message for the user."""
        if _is_busy(exc):
            if writing:
                return StorageError(f"cannot write history at {self.path} ({exc})")
            return StorageError(
                f"history database {self.path} stayed locked by another process for {BUSY_SECONDS:g} s; retry"
            )
        if writing and isinstance(exc, (sqlite3.OperationalError, sqlite3.IntegrityError)):
            return StorageError(f"cannot write history at {self.path} ({exc})")
        return StorageError(
            f"history database {self.path} is damaged ({exc}); move it aside to start afresh"
        )

    def _open_error(self, exc: sqlite3.DatabaseError) -> StorageError:
        if _is_busy(exc):
            return StorageError(
                f"history database {self.path} stayed locked by another process for {BUSY_SECONDS:g} s; retry"
            )
        if _name(exc).startswith("SQLITE_READONLY"):
            return StorageError(f"cannot write history at {self.path} ({exc})")
        return StorageError(
            f"history database {self.path} is unreadable ({exc}); move it aside to start afresh"
        )


def _name(exc: sqlite3.DatabaseError) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def _is_busy(exc: sqlite3.DatabaseError) -> bool:
    name = _name(exc)
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    return "locked" in str(exc) or "busy" in str(exc)


def _check_directory(path: Path) -> None:
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create COACH_HOME {directory} ({exc.strerror}); set COACH_HOME to a writable directory"
        ) from None
    if not directory.is_dir():
        raise StorageError(
            f"COACH_HOME {directory} is not a directory; set COACH_HOME to a writable directory"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StorageError(
            f"COACH_HOME {directory} is read-only; make it writable or set COACH_HOME to another directory"
        )


def _create_private(path: Path) -> None:
    """Create the file owner-only before SQLite opens it, so the database and the write-ahead log
    and index SQLite creates beside it (which copy its mode) are never readable by others. An
    empty file is an empty SQLite database. Best effort on file systems without modes."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"cannot open history at {path} ({exc.strerror})") from None
    os.close(descriptor)
    try:
        os.chmod(path, 0o600)  # in case the umask took bits away from the owner
    except OSError:
        pass


def _open(path: Path) -> tuple[sqlite3.Connection, str]:
    """Connect in WAL mode and migrate the schema. Two processes creating the file at the same
    moment can see "database is locked" while one switches the new file to WAL (SQLite does not
    always call the busy handler there), so that is retried until BUSY_SECONDS have passed."""
    wait = BUSY_SECONDS
    deadline = time.monotonic() + wait
    while True:
        db = sqlite3.connect(path, timeout=wait, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA secure_delete = ON")
            if str(mode).lower() == "wal":
                migrations.migrate(db)
            return db, mode
        except sqlite3.OperationalError as exc:
            db.close()
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
        except BaseException:
            db.close()
            raise
