"""The embedded bus's broker: topics, producers, consumers, and backpressure.

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

import itertools
import logging
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.local.consumer import WAIT_SLICE, LocalConsumer
from newsflow.bus.groups import GroupView
from newsflow.bus.local.groups import Groups, describe, forget_dead
from newsflow.bus.local.storage import LocalStorage, partition_for
from newsflow.bus.types import BrokerMessage, Partition

log = logging.getLogger(__name__)

_PURGE_EVERY = 3600.0


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
        self._last_purge = 0.0
        self._storage = LocalStorage(self.path, synchronous)
        self._groups = Groups(self._storage.partitions_of, self._storage if self.path is not None else None)
        self._maybe_purge()

    # -- Broker protocol ---------------------------------------------------------------

    def create_topics(self, topics: Mapping[str, int]) -> None:
        grown: set[str] = set()
        with self._cond:
            self._check_open()
            with self._storage.transaction():
                for name, count in topics.items():
                    if count < 1:
                        raise ValueError(f"topic {name}: partitions must be at least 1")
                    if self._storage.ensure_topic(name, count):
                        grown.add(name)
            self._groups.topics_grew(grown)
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
            return self._storage.topics()

    def end_offsets(self, topic: str) -> dict[Partition, int]:
        """Per partition, the offset the next produced message will get."""
        with self._lock:
            self._check_open()
            return self._storage.ends(topic)

    def committed(self, group: str, topic: str) -> dict[Partition, int]:
        """The group's committed offsets on ``topic`` (partitions it never committed are absent)."""
        with self._lock:
            self._check_open()
            return self._storage.committed(group, topic)

    def describe_groups(self, groups: Mapping[str, Sequence[str]]) -> list[GroupView]:
        """State, members and lag (on the topics given per group) of each group, for `newsflow status`."""
        with self._lock:
            self._check_open()
            views = []
            for name, topics in groups.items():
                lag: dict[Partition, int] = {}
                for topic in topics:
                    committed = self._storage.committed(name, topic)
                    lag.update({p: max(0, end - committed.get(p, 0)) for p, end in self._storage.ends(topic).items()})
                views.append(describe(self._storage, name, lag))
            return views

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
                committed = self._storage.committed(group, topic)
                for partition, end in self._storage.ends(topic).items():
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
                remaining = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
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
        with self._lock:
            self._check_open()
            return self._storage.purge(cutoff)

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            self._storage.close()

    # -- internals (call with the lock held) ---------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BusUnavailable("the local bus is closed")

    def _backlog(self, topic: str) -> int:
        groups = self._groups.live(topic)
        if not groups:
            return 0
        committed = [self._storage.committed(g, topic) for g in groups]
        return sum(max(0, end - min(c.get(p, 0) for c in committed)) for p, end in self._storage.ends(topic).items())

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
                if not self._storage.partitions_of(topic):
                    # Like Kafka's auto.create.topics.enable (one partition); create_topics grows it.
                    with self._storage.transaction():
                        self._storage.ensure_topic(topic, 1)
                while (backlog := self._backlog(topic)) >= self.max_backlog:
                    if stop is not None and stop.is_set():
                        raise BusUnavailable(f"stopping while topic {topic} is full ({backlog} uncommitted messages)")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise BusUnavailable(
                            f"topic {topic} holds {backlog} uncommitted messages (max_backlog {self.max_backlog}) "
                            f"after waiting {block_timeout:.0f}s; consumers are behind"
                        )
                    self._cond.wait(min(remaining, WAIT_SLICE))
                    self._check_open()
                count = self._storage.partitions_of(topic)
                index = partition_for(key, count) if key is not None else next(round_robin) % count
                offset = self._storage.append(topic, index, key, value, headers)
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

    def _join(self, group: str, member: LocalConsumer) -> None:
        if self.path is not None:
            forget_dead(self._storage, [group])
        self._groups.join(group, member)
        self._cond.notify_all()

    def _leave(self, group: str, member: LocalConsumer) -> None:
        self._groups.leave(group, member)
        self._cond.notify_all()


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

    def close(self, timeout: float | None = None) -> None:
        pass
