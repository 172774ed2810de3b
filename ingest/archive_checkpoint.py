"""Where `newsflow reprocess` got to: the last archived page (WARC file, offset past it) whose
article the bus acknowledged, per selection, in the state database. A reprocess interrupted
(Ctrl-C, a crash) resumes after it; one that finished deletes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA = """CREATE TABLE IF NOT EXISTS reprocess_checkpoint (
    selection TEXT PRIMARY KEY, file TEXT NOT NULL, offset INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0
)"""


class Checkpoint:
    """The resume point of one selection (its canonical text, e.g. its JSON)."""

    def __init__(self, state_db: Path, selection: str) -> None:
        state_db.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state_db, timeout=10.0)
        self._db.execute(_SCHEMA)
        self._db.commit()
        self.selection = selection

    def load(self) -> tuple[tuple[str, int] | None, int]:
        """(file, offset) to resume after, and how many pages were sent before; (None, 0) to start."""
        row = self._db.execute("SELECT file, offset, done FROM reprocess_checkpoint WHERE selection = ?",
                               (self.selection,)).fetchone()
        return ((row[0], int(row[1])), int(row[2])) if row else (None, 0)

    def save(self, file: str, offset: int, done: int) -> None:
        self._db.execute(
            "INSERT INTO reprocess_checkpoint(selection, file, offset, done) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(selection) DO UPDATE SET file = excluded.file, offset = excluded.offset, done = excluded.done",
            (self.selection, file, offset, done),
        )
        self._db.commit()

    def clear(self) -> None:
        self._db.execute("DELETE FROM reprocess_checkpoint WHERE selection = ?", (self.selection,))
        self._db.commit()

    def close(self) -> None:
        self._db.close()
