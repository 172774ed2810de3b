"""The fault history on the embedded default: a table in the state database (the data dir's
SQLite file the poller keeps its feed state in), pruned by count and age on every write."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Sequence

from newsflow.core.faults import FaultEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fault_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL, kind TEXT NOT NULL, stage TEXT NOT NULL, detail TEXT NOT NULL,
    seconds REAL, count INTEGER NOT NULL, host TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fault_events_time ON fault_events(time);
"""
_COLUMNS = "kind, stage, detail, time, seconds, count, host"


class SqliteEventStore:
    """``core.faults.EventStore`` in ``path``; ``readonly`` (status) creates nothing."""

    def __init__(self, path: Path, max_events: int = 1000, max_age: float = 30 * 86400.0, readonly: bool = False) -> None:
        self.max_events, self.max_age = max_events, max_age
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=5.0, check_same_thread=False)
            self._db.executescript(_SCHEMA)

    def write(self, events: Sequence[FaultEvent]) -> None:
        rows = [(e.kind, e.stage, e.detail, e.time, e.seconds, e.count, e.host) for e in events]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"INSERT INTO fault_events({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("DELETE FROM fault_events WHERE time < ?", (time.time() - self.max_age,))
            self._db.execute(
                "DELETE FROM fault_events WHERE id <= (SELECT MAX(id) FROM fault_events) - ?", (self.max_events,)
            )
            self._db.execute("COMMIT")

    def recent(self, limit: int, since: float | None = None) -> list[FaultEvent]:
        try:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM fault_events WHERE time >= ? ORDER BY time DESC, id DESC LIMIT ?",
                (since or 0.0, limit),
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # no daemon recorded anything yet
            raise
        return [FaultEvent(*row) for row in reversed(rows)]

    def close(self) -> None:
        self._db.close()
