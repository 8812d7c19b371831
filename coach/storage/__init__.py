"""The history database and its typed repositories: `Storage.open(path)` is the one way in."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from coach.storage.attempts import Attempts
from coach.storage.cards import Cards
from coach.storage.db import Database, NotFound, StorageError
from coach.storage.probes import Probes
from coach.storage.rounds import Rounds

__all__ = [
    "Attempts",
    "Cards",
    "Database",
    "NotFound",
    "Probes",
    "Rounds",
    "Storage",
    "StorageError",
]


class Storage:
    """One Database and the repositories on it: attempts, probes, mock rounds, review cards."""

    def __init__(self, database: Database):
        self.database = database
        self.attempts = Attempts(database)
        self.probes = Probes(database)
        self.rounds = Rounds(database)
        self.cards = Cards(database)

    @classmethod
    def open(cls, path: Path) -> Storage:
        """Open (creating and migrating as needed) the history database at `path`."""
        return cls(Database(path))

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
