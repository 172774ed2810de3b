"""The embedded bus: Kafka's model (topics, partitions, offsets, consumer groups) in one SQLite file.

Used by ``newsflow run`` when no Kafka cluster is configured, and by the tests. It keeps the
semantics the processing steps rely on, so a stage behaves the same over either backend:

* a message's offset is its position in its partition; a committed offset is the next one to read;
* the same key always lands on the same partition (stable hash, not Python's salted ``hash``);
* a group's consumers split the partitions of the topics they subscribe to; a member joining or
  leaving rebalances the group the "eager" way kafka-python does: every member revokes all its
  partitions (``on_revoke``, where it commits what it finished), then gets its new set
  (``on_assign``). A partition is handed to its new owner only after the old owner released it,
  so two members never work on one partition at the same time. Callbacks run inside ``poll``,
  on the consumer's own thread, as with Kafka;
* positions start at the group's committed offset (``earliest`` when it has none);
* rows and offsets are committed to SQLite before ``produce``/``commit`` return, so a run that
  stops or crashes resumes from the committed offsets with nothing lost.

What Kafka lacks and an embedded run needs: backpressure. ``produce`` blocks while the topic
holds ``max_backlog`` or more messages not yet committed by every group with a live subscriber,
up to ``block_timeout`` (then ``BusUnavailable``, like Kafka's ``max_block_ms``) or until the
producer's ``stop`` event is set. Without it a fast poller would fill the disk while
enrichment lags behind.

Thread-safe: one connection behind one lock, one condition variable to wake waiting pollers and
producers. Another process may open the same file (``newsflow dlq replay`` beside a running
daemon): SQLite's locking keeps offsets consistent and waiters re-check every 250 ms. Group
membership is per process, so run one consumer process per group and data dir.
"""

from __future__ import annotations

import base64
import itertools
import logging
import sqlite3
import threading
import time
import zlib
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import orjson

from newsflow.bus.backend import AssignCallback, BusUnavailable
from newsflow.bus.types import BrokerMessage, Partition

log = logging.getLogger(__name__)

_WAIT_SLICE = 0.25  # re-check the database this often while waiting (other processes don't notify us)
_PREFETCH = 64  # rows read per partition per query
_PURGE_EVERY = 3600.0

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


class _Group:
    def __init__(self) -> None:
        self.members: list[LocalConsumer] = []  # join order decides the assignment
        self.owner: dict[Partition, LocalConsumer] = {}


class LocalBroker:
    """``Broker`` over SQLite. ``path=None`` keeps everything in memory (tests)."""

    def __init__(
        self,
        path: Path | str | None = None,
        max_backlog: int = 1000,
        *,
        block_timeout: float = 60.0,
        retention_seconds: float | None = 7 * 24 * 3600.0,
        synchronous: str = "FULL",
        stop: threading.Event | None = None,
    ) -> None:
        """``stop``: the default stop event of this broker's producers (the daemon's shutdown
        event), so a producer waiting for backlog room gives up as soon as the daemon stops."""
        if max_backlog < 1:
            raise ValueError("max_backlog must be at least 1")
        self.path = Path(path) if path is not None else None
        self.max_backlog = max_backlog
        self.block_timeout = block_timeout
        self.retention_seconds = retention_seconds
        self._stop = stop
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._groups: dict[str, _Group] = {}
        self._partition_counts: dict[str, int] = {}
        self._last_purge = 0.0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        else:
            target = ":memory:"
        try:
            self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10.0)
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a produce or commit that returned survives a power cut, not just a crash.
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BusUnavailable(f"cannot open local bus {target}: {exc}") from exc
        self._maybe_purge()

    # -- Broker protocol ---------------------------------------------------------------

    def create_topics(self, topics: Mapping[str, int]) -> None:
        grown: set[str] = set()
        with self._cond:
            self._check_open()
            with self._transaction():
                for name, count in topics.items():
                    if count < 1:
                        raise ValueError(f"topic {name}: partitions must be at least 1")
                    if self._ensure_topic(name, count):
                        grown.add(name)
            for group in self._groups.values():
                if any(grown & set(m.topics) for m in group.members):
                    self._rebalance(group)
            self._cond.notify_all()

    def producer(self, stop: threading.Event | None = None, block_timeout: float | None = None) -> "LocalProducer":
        """``stop`` ends a wait for backlog room early (the caller is shutting down)."""
        return LocalProducer(
            self, stop if stop is not None else self._stop, self.block_timeout if block_timeout is None else block_timeout
        )

    def consumer(self, group: str) -> "LocalConsumer":
        if not group:
            raise ValueError("a consumer needs a group name")
        return LocalConsumer(self, group)

    # -- helpers for the CLI, `run --once` and tests --------------------------------------

    def topics(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, partitions FROM topics").fetchall())

    def end_offsets(self, topic: str) -> dict[Partition, int]:
        """Per partition, the offset the next produced message will get."""
        with self._lock:
            self._check_open()
            return self._ends(topic)

    def committed(self, group: str, topic: str) -> dict[Partition, int]:
        """The group's committed offsets on ``topic`` (partitions it never committed are absent)."""
        with self._lock:
            self._check_open()
            return self._committed(group, topic)

    def backlog(self, topic: str) -> int:
        """Messages of ``topic`` not yet committed by every group with a live subscriber."""
        with self._lock:
            self._check_open()
            return self._backlog(topic)

    def caught_up(self, group: str, topics: Iterable[str]) -> bool:
        """True when the group has committed everything produced so far to ``topics``."""
        with self._lock:
            self._check_open()
            for topic in topics:
                committed = self._committed(group, topic)
                for partition, end in self._ends(topic).items():
                    if committed.get(partition, 0) < end:
                        return False
            return True

    def wait_caught_up(
        self, groups: Mapping[str, Iterable[str]], timeout: float | None = None, stop: threading.Event | None = None
    ) -> bool:
        """Wait until every group caught up with its topics (``run --once`` drains this way).

        Checks all groups in one pass, so a stage that produces to the next stage's topic is
        seen caught up only once the downstream stage has committed that output too.
        """
        wanted = {g: list(t) for g, t in groups.items()}
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if all(self.caught_up(g, t) for g, t in wanted.items()):
                    return True
                if stop is not None and stop.is_set():
                    return False
                remaining = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE, deadline - time.monotonic())
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def purge(self, older_than: float | None = None) -> int:
        """Delete messages older than ``older_than`` seconds that every group which ever committed
        on their topic has committed. A topic nobody consumed (the dead letters, until a replay)
        keeps everything. Returns the number of rows deleted."""
        age = self.retention_seconds if older_than is None else older_than
        if age is None:
            return 0
        cutoff = time.time() - age
        deleted = 0
        with self._lock:
            self._check_open()
            floors = self._db.execute(
                "SELECT topic, partition, MIN(pos) FROM offsets GROUP BY topic, partition"
            ).fetchall()
            with self._transaction():
                for topic, partition, floor in floors:
                    cur = self._db.execute(
                        "DELETE FROM messages WHERE topic = ? AND partition = ? AND pos < ? AND produced_at < ?",
                        (topic, partition, floor, cutoff),
                    )
                    deleted += cur.rowcount
        return deleted

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            self._db.close()

    # -- internals (call with the lock held) ---------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BusUnavailable("the local bus is closed")

    def _transaction(self, immediate: bool = False) -> "_Transaction":
        return _Transaction(self._db, immediate)

    def _ensure_topic(self, name: str, count: int) -> bool:
        """Create the topic or grow it to ``count`` partitions. True when it changed."""
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

    def _partitions_of(self, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            row = self._db.execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
            count = row[0] if row else 0
            if count:
                self._partition_counts[topic] = count
        return count

    def _ends(self, topic: str) -> dict[Partition, int]:
        rows = self._db.execute("SELECT partition, end_offset FROM partitions WHERE topic = ?", (topic,))
        return {Partition(topic, p): end for p, end in rows}

    def _committed(self, group: str, topic: str) -> dict[Partition, int]:
        rows = self._db.execute("SELECT partition, pos FROM offsets WHERE grp = ? AND topic = ?", (group, topic))
        return {Partition(topic, p): pos for p, pos in rows}

    def _live_groups(self, topic: str) -> list[str]:
        return [name for name, g in self._groups.items() if any(topic in m.topics for m in g.members)]

    def _backlog(self, topic: str) -> int:
        groups = self._live_groups(topic)
        if not groups:
            return 0
        committed = [self._committed(g, topic) for g in groups]
        return sum(max(0, end - min(c.get(p, 0) for c in committed)) for p, end in self._ends(topic).items())

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        stop: threading.Event | None,
        block_timeout: float,
        round_robin: "itertools.count[int]",
    ) -> BrokerMessage:
        deadline = time.monotonic() + block_timeout
        with self._cond:
            self._check_open()
            try:
                if not self._partitions_of(topic):
                    # Like Kafka's auto.create.topics.enable (one partition); create_topics grows it.
                    with self._transaction():
                        self._ensure_topic(topic, 1)
                while (backlog := self._backlog(topic)) >= self.max_backlog:
                    if stop is not None and stop.is_set():
                        raise BusUnavailable(f"stopping while topic {topic} is full ({backlog} uncommitted messages)")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise BusUnavailable(
                            f"topic {topic} holds {backlog} uncommitted messages (max_backlog {self.max_backlog}) "
                            f"after waiting {block_timeout:.0f}s; consumers are behind"
                        )
                    self._cond.wait(min(remaining, _WAIT_SLICE))
                    self._check_open()
                count = self._partitions_of(topic)
                index = partition_for(key, count) if key is not None else next(round_robin) % count
                with self._transaction(immediate=True):
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
            except sqlite3.Error as exc:
                raise BusUnavailable(f"local bus write failed: {exc}") from exc
            self._cond.notify_all()
        self._maybe_purge()
        return BrokerMessage(Partition(topic, index), offset, key, value, tuple(headers))

    def _maybe_purge(self) -> None:
        if self.retention_seconds is None or time.monotonic() - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        try:
            deleted = self.purge()
        except (sqlite3.Error, BusUnavailable) as exc:  # housekeeping only; try again next hour
            log.warning("local bus retention purge failed: %s", exc)
            return
        if deleted:
            log.info("local bus retention purged %d messages", deleted)

    def _rebalance(self, group: _Group) -> None:
        """Give every member its new target set and ask it to revoke everything first (eager)."""
        targets: dict[int, set[Partition]] = {id(m): set() for m in group.members}
        topics = sorted({t for m in group.members for t in m.topics})
        for topic in topics:
            subscribers = [m for m in group.members if topic in m.topics]
            for i in range(self._partitions_of(topic)):
                targets[id(subscribers[i % len(subscribers)])].add(Partition(topic, i))
        for member in group.members:
            member._target = targets[id(member)]
            member._rebalance_pending = True
        self._cond.notify_all()

    def _join(self, group_name: str, member: "LocalConsumer") -> None:
        group = self._groups.setdefault(group_name, _Group())
        if member not in group.members:
            group.members.append(member)
        self._rebalance(group)

    def _leave(self, group_name: str, member: "LocalConsumer") -> None:
        group = self._groups.get(group_name)
        if group is None:
            return
        for p in [p for p, owner in group.owner.items() if owner is member]:
            del group.owner[p]
        if member in group.members:
            group.members.remove(member)
            if group.members:
                self._rebalance(group)
            else:
                del self._groups[group_name]
        self._cond.notify_all()


class _Transaction:
    def __init__(self, db: sqlite3.Connection, immediate: bool = False) -> None:
        self._db = db
        self._immediate = immediate

    def __enter__(self) -> None:
        # IMMEDIATE takes the write lock up front, so two processes never hand out one offset.
        self._db.execute("BEGIN IMMEDIATE" if self._immediate else "BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


class LocalProducer:
    def __init__(self, broker: LocalBroker, stop: threading.Event | None, block_timeout: float) -> None:
        self._broker = broker
        self._stop = stop
        self._block_timeout = block_timeout
        self._round_robin = itertools.count()

    def produce(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> "Future[BrokerMessage]":
        """Store one record; the returned future is already resolved (the row is committed).

        Blocks while the topic's backlog is full; raises ``BusUnavailable`` when that lasts
        longer than ``block_timeout``, when ``stop`` is set, or when the database fails.
        """
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"message value must be bytes, got {type(value).__name__}")
        if key is not None and not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"message key must be bytes or None, got {type(key).__name__}")
        message = self._broker._produce(
            topic,
            bytes(key) if key is not None else None,
            bytes(value),
            headers,
            self._stop,
            self._block_timeout,
            self._round_robin,
        )
        future: Future[BrokerMessage] = Future()
        future.set_result(message)
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Nothing to flush: every produce is committed before it returns."""

    def close(self) -> None:
        pass


class LocalConsumer:
    """A member of one consumer group. Use it from one thread (like a Kafka consumer)."""

    def __init__(self, broker: LocalBroker, group: str) -> None:
        self._broker = broker
        self.group = group
        self.topics: tuple[str, ...] = ()
        self._on_assign: AssignCallback | None = None
        self._on_revoke: AssignCallback | None = None
        self._assigned: set[Partition] = set()
        self._positions: dict[Partition, int] = {}
        self._paused: set[Partition] = set()
        self._buffers: dict[Partition, deque[BrokerMessage]] = {}
        self._rr = 0
        self._closed = False
        # Set by the broker on a rebalance; acted on inside poll, on this consumer's thread.
        self._target: set[Partition] = set()
        self._rebalance_pending = False
        self._awaiting_assignment = False

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None:
        if isinstance(topics, str):
            raise TypeError("subscribe takes a sequence of topic names, not one string")
        with self._broker._cond:
            self._check_open()
            self.topics = tuple(dict.fromkeys(topics))
            self._on_assign = on_assign
            self._on_revoke = on_revoke
            self._broker._join(self.group, self)

    def assignment(self) -> set[Partition]:
        return set(self._assigned)

    def position(self, partition: Partition) -> int | None:
        return self._positions.get(partition)

    def poll(self, timeout: float) -> BrokerMessage | None:
        deadline = time.monotonic() + max(0.0, timeout)
        cond = self._broker._cond
        while True:
            if self._rebalance_pending or self._awaiting_assignment:
                self._apply_rebalance()
            with cond:
                self._check_open()
                if not (self._rebalance_pending or self._awaiting_assignment):
                    message = self._next_message()
                    if message is not None:
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                cond.wait(min(remaining, _WAIT_SLICE))

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Store the next offsets to read. Offsets of partitions this member does not own any
        more (it lost them in a rebalance) are ignored, as Kafka would refuse them."""
        broker = self._broker
        now = time.time()
        with broker._cond:
            self._check_open()
            group = broker._groups.get(self.group)
            rows = []
            for partition, offset in offsets.items():
                if group is None or group.owner.get(partition) is not self:
                    log.warning(
                        "ignoring commit for %s[%d] at %d: not assigned to this consumer of group %s",
                        partition.topic, partition.index, offset, self.group,
                    )
                    continue
                if not isinstance(offset, int) or offset < 0:
                    raise ValueError(f"invalid offset {offset!r} for {partition}")
                rows.append((self.group, partition.topic, partition.index, offset, now))
            if not rows:
                return
            try:
                with broker._transaction():
                    broker._db.executemany(
                        "INSERT INTO offsets(grp, topic, partition, pos, committed_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(grp, topic, partition) DO UPDATE SET pos = excluded.pos, committed_at = excluded.committed_at",
                        rows,
                    )
            except sqlite3.Error as exc:
                raise BusUnavailable(f"local bus commit failed: {exc}") from exc
            broker._cond.notify_all()  # producers waiting for backlog room

    def pause(self, partitions: Sequence[Partition]) -> None:
        self._paused |= set(partitions) & self._assigned

    def resume(self, partitions: Sequence[Partition]) -> None:
        self._paused -= set(partitions)

    def paused(self) -> set[Partition]:
        return set(self._paused)

    def lag(self) -> dict[Partition, int]:
        broker = self._broker
        with broker._lock:
            self._check_open()
            lag: dict[Partition, int] = {}
            for topic in {p.topic for p in self._assigned}:
                ends = broker._ends(topic)
                committed = broker._committed(self.group, topic)
                for p in self._assigned:
                    if p.topic == topic:
                        lag[p] = max(0, ends.get(p, 0) - committed.get(p, 0))
            return lag

    def close(self) -> None:
        """Leave the group; the others rebalance. No callbacks: the owner of this consumer
        (the stream processor) has already joined its strategy and committed."""
        with self._broker._cond:
            if self._closed:
                return
            self._closed = True
            if not self._broker._closed:
                self._broker._leave(self.group, self)
            self._assigned.clear()
            self._buffers.clear()

    # -- internals ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"consumer of group {self.group} is closed")
        self._broker._check_open()

    def _apply_rebalance(self) -> None:
        broker = self._broker
        revoked: list[Partition] = []
        with broker._cond:
            if self._rebalance_pending:
                self._rebalance_pending = False
                self._awaiting_assignment = True
                revoked = sorted(self._assigned)
        if revoked:
            try:
                if self._on_revoke is not None:
                    # Still the owner here, so the callback may commit what it finished.
                    self._on_revoke(revoked)
            finally:
                self._release(revoked)
        assigned: list[Partition] | None = None
        with broker._cond:
            group = broker._groups.get(self.group)
            if self._rebalance_pending or not self._awaiting_assignment or group is None:
                return  # a newer rebalance arrived meanwhile: revoke (nothing) and wait again
            if any(group.owner.get(p, self) is not self for p in self._target):
                return  # a previous owner has not released yet; try again on the next poll
            for p in self._target:
                group.owner[p] = self
            self._assigned = set(self._target)
            positions: dict[Partition, int] = {}
            for topic in {p.topic for p in self._assigned}:
                positions.update(broker._committed(self.group, topic))
            self._positions = {p: positions.get(p, 0) for p in self._assigned}
            self._awaiting_assignment = False
            assigned = sorted(self._assigned)
        if self._on_assign is not None:
            self._on_assign(assigned)

    def _release(self, partitions: Sequence[Partition]) -> None:
        broker = self._broker
        with broker._cond:
            group = broker._groups.get(self.group)
            for p in partitions:
                if group is not None and group.owner.get(p) is self:
                    del group.owner[p]
                self._assigned.discard(p)
                self._buffers.pop(p, None)
                self._paused.discard(p)
                self._positions.pop(p, None)
            broker._cond.notify_all()

    def _next_message(self) -> BrokerMessage | None:
        """The next message of an assigned, unpaused partition, taking partitions in turn."""
        parts = sorted(self._assigned - self._paused)
        db = self._broker._db
        for i in range(len(parts)):
            p = parts[(self._rr + i) % len(parts)]
            buffer = self._buffers.get(p)
            if not buffer:
                try:
                    rows = db.execute(
                        "SELECT pos, key, value, headers FROM messages WHERE topic = ? AND partition = ? AND pos >= ? "
                        "ORDER BY pos LIMIT ?",
                        (p.topic, p.index, self._positions[p], _PREFETCH),
                    ).fetchall()
                except sqlite3.Error as exc:
                    raise BusUnavailable(f"local bus read failed: {exc}") from exc
                if not rows:
                    continue
                buffer = deque(BrokerMessage(p, pos, key, value, _decode_headers(h)) for pos, key, value, h in rows)
                self._buffers[p] = buffer
            message = buffer.popleft()
            self._positions[p] = message.next_offset
            self._rr = (self._rr + i + 1) % len(parts)
            return message
        return None
