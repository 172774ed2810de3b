"""The embedded bus's storage: topics, partitions, messages and group offsets in one SQLite file.

Only SQL lives here; who may read or commit what (groups, ownership, backpressure) is decided
by the broker and its consumers. Not thread-safe by itself: callers hold the broker's lock.
Rows and offsets are committed before a write returns, so a run that stops or crashes resumes
from the committed offsets with nothing lost.
"""

from __future__ import annotations

import base64
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Sequence

import orjson

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.types import BrokerMessage, Partition

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    end_offset INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers BLOB,
    produced_at REAL NOT NULL,
    PRIMARY KEY (topic, partition, pos)
);
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    committed_at REAL NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);
CREATE TABLE IF NOT EXISTS members (
    grp TEXT NOT NULL,
    member TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    state TEXT NOT NULL,
    partitions TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (grp, member)
);
"""


def partition_for(key: bytes, partitions: int) -> int:
    """Stable across processes and runs, so one key's messages stay in order on one partition."""
    return zlib.crc32(key) % partitions


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    if not headers:
        return None
    return orjson.dumps([[k, base64.b64encode(v).decode("ascii")] for k, v in headers])


def _decode_headers(blob: bytes | None) -> tuple[tuple[str, bytes], ...]:
    if not blob:
        return ()
    return tuple((k, base64.b64decode(v)) for k, v in orjson.loads(blob))


class _Transaction:
    """A write transaction. IMMEDIATE takes the write lock up front: two processes never hand out
    one offset, and a transaction that reads first (ensure_topic) cannot fail at once with
    "database is locked" because another process committed after its read."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


class LocalStorage:
    """One SQLite database (``path=None``: in memory) holding the bus's rows and offsets."""

    def __init__(self, path: Path | None, synchronous: str = "FULL") -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        else:
            target = ":memory:"
        self._partition_counts: dict[str, int] = {}
        try:
            self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10.0)
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a produce or commit that returned survives a power cut, not just a crash.
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BusUnavailable(f"cannot open local bus {target}: {exc}") from exc

    def transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    # -- topics and partitions ------------------------------------------------------------

    def topics(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT name, partitions FROM topics").fetchall())

    def ensure_topic(self, name: str, count: int) -> bool:
        """Create the topic or grow it to ``count`` partitions (in a transaction). True when it changed."""
        row = self._db.execute("SELECT partitions FROM topics WHERE name = ?", (name,)).fetchone()
        current = row[0] if row else 0
        if current >= count:
            self._partition_counts[name] = current
            return False
        self._db.execute(
            "INSERT INTO topics(name, partitions) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET partitions = excluded.partitions",
            (name, count),
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO partitions(topic, partition, end_offset) VALUES (?, ?, 0)",
            [(name, i) for i in range(current, count)],
        )
        self._partition_counts[name] = count
        return True

    def partitions_of(self, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            row = self._db.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
            count = row[0] if row else 0
            if count:
                self._partition_counts[topic] = count
        return count

    def ends(self, topic: str) -> dict[Partition, int]:
        rows = self._db.execute("SELECT partition, end_offset FROM partitions WHERE topic = ?", (topic,))
        return {Partition(topic, p): end for p, end in rows}

    # -- messages -------------------------------------------------------------------------

    def append(self, topic: str, index: int, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
        """Store one message at the partition's end; its offset. Raises ``sqlite3.Error``."""
        with self.transaction():
            (offset,) = self._db.execute(
                "SELECT end_offset FROM partitions WHERE topic = ? AND partition = ?", (topic, index)
            ).fetchone()
            self._db.execute(
                "INSERT INTO messages(topic, partition, pos, key, value, headers, produced_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (topic, index, offset, key, value, _encode_headers(headers), time.time()),
            )
            self._db.execute(
                "UPDATE partitions SET end_offset = ? WHERE topic = ? AND partition = ?",
                (offset + 1, topic, index),
            )
        return offset

    def read(self, partition: Partition, position: int, limit: int) -> list[BrokerMessage]:
        """Up to ``limit`` messages of ``partition`` from offset ``position`` on."""
        try:
            rows = self._db.execute(
                "SELECT pos, key, value, headers FROM messages WHERE topic = ? AND partition = ? AND pos >= ? "
                "ORDER BY pos LIMIT ?",
                (partition.topic, partition.index, position, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise BusUnavailable(f"local bus read failed: {exc}") from exc
        return [BrokerMessage(partition, pos, key, value, _decode_headers(h)) for pos, key, value, h in rows]

    def purge(self, cutoff: float) -> int:
        """Delete messages produced before ``cutoff`` (a time) below every group's committed offset."""
        deleted = 0
        floors = self._db.execute("SELECT topic, partition, MIN(pos) FROM offsets GROUP BY topic, partition").fetchall()
        with self.transaction():
            for topic, partition, floor in floors:
                cur = self._db.execute(
                    "DELETE FROM messages WHERE topic = ? AND partition = ? AND pos < ? AND produced_at < ?",
                    (topic, partition, floor, cutoff),
                )
                deleted += cur.rowcount
        return deleted

    # -- group offsets --------------------------------------------------------------------

    def committed(self, group: str, topic: str) -> dict[Partition, int]:
        rows = self._db.execute("SELECT partition, pos FROM offsets WHERE grp = ? AND topic = ?", (group, topic))
        return {Partition(topic, p): pos for p, pos in rows}

    def commit(self, group: str, offsets: dict[Partition, int]) -> None:
        now = time.time()
        rows = [(group, p.topic, p.index, offset, now) for p, offset in offsets.items()]
        try:
            with self.transaction():
                self._db.executemany(
                    "INSERT INTO offsets(grp, topic, partition, pos, committed_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(grp, topic, partition) DO UPDATE SET pos = excluded.pos, committed_at = excluded.committed_at",
                    rows,
                )
        except sqlite3.Error as exc:
            raise BusUnavailable(f"local bus commit failed: {exc}") from exc

    # -- group membership (what `newsflow status` shows; the groups themselves live in memory) --

    def save_members(self, group: str, host: str, pid: int, rows: Sequence[tuple[str, str, list[Partition]]]) -> None:
        """Replace this process's members of ``group`` by ``rows`` of (member, state, partitions)."""
        now = time.time()
        with self.transaction():
            self._db.execute("DELETE FROM members WHERE grp = ? AND host = ? AND pid = ?", (group, host, pid))
            self._db.executemany(
                "INSERT OR REPLACE INTO members(grp, member, host, pid, state, partitions, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(group, m, host, pid, state, orjson.dumps([[p.topic, p.index] for p in sorted(parts)]).decode(), now)
                 for m, state, parts in rows],
            )

    def forget_members(self, host: str, pids: Sequence[int]) -> None:
        """Drop the rows of processes that are gone (they were SIGKILLed and could not)."""
        with self.transaction():
            self._db.executemany("DELETE FROM members WHERE host = ? AND pid = ?", [(host, pid) for pid in pids])

    def members(self, group: str) -> list[tuple[str, str, int, str, list[Partition]]]:
        rows = self._db.execute(
            "SELECT member, host, pid, state, partitions FROM members WHERE grp = ? ORDER BY member", (group,)
        ).fetchall()
        return [(m, host, pid, state, [Partition(t, i) for t, i in orjson.loads(parts)]) for m, host, pid, state, parts in rows]
