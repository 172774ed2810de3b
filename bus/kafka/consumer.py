"""The Kafka group consumer of the bus: one record at a time, manual commits, callbacks on the polling thread.

kafka-python 3 runs its network IO, heartbeats and rebalance listeners on a background IO thread,
and a listener must not call blocking consumer APIs (``commit``) from it. The bus contract is
arroyo's: ``on_revoke`` runs on the thread that polls and may flush and commit before the
partitions move. So ``poll`` runs ``KafkaConsumer.poll`` on a helper thread and meanwhile serves
rebalance callbacks on the caller's thread; the listener awaits their completion without
blocking the IO loop.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Mapping, Sequence

from kafka import AsyncConsumerRebalanceListener, KafkaConsumer
from kafka import errors as kerr
from kafka.future import Future as KafkaFuture
from kafka.structs import OffsetAndMetadata, TopicPartition

from newsflow.bus.backend import AssignCallback
from newsflow.bus.config import KafkaConfig
from newsflow.bus.kafka.client import unavailable
from newsflow.bus.types import BrokerMessage, Partition

log = logging.getLogger(__name__)

# Batching, traded for up to a quarter second of latency per stage: without it a steady stream
# moves one record per fetch, and each fetch costs the daemon (and the broker) its per-request work.
FETCH_MIN_BYTES = 64 * 1024  # the broker holds a fetch until this much is there ...
FETCH_MAX_WAIT_MS = 250  # ... or this long has passed

# A commit refused because the group rebalanced: the partitions belong to another member now,
# which resumes from the last successful commit (redelivery, never loss).
_COMMIT_FENCED = (
    kerr.CommitFailedError,
    kerr.RebalanceInProgressError,
    kerr.IllegalGenerationError,
    kerr.UnknownMemberIdError,
)


class _Listener(AsyncConsumerRebalanceListener):
    """Runs on kafka-python's IO thread; hands each rebalance to the polling thread and awaits it."""

    def __init__(self, owner: "KafkaBusConsumer") -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner._handoff("revoke", revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._owner._handoff("assign", assigned)

    async def on_partitions_lost(self, lost: Any) -> None:
        await self._owner._handoff("revoke", lost)


class KafkaBusConsumer:
    """A group consumer handing out one record at a time, with manual commits.

    Use it from one thread: the one that calls ``poll`` also runs ``on_assign``/``on_revoke``.
    """

    def __init__(self, common: Mapping[str, Any], group: str, cfg: KafkaConfig, max_records: int = 500) -> None:
        self._group = group
        # Commits, lag samples and the close are bounded short (see KafkaConfig.commit_timeout).
        self._commit_timeout_ms = int(cfg.commit_timeout * 1000)
        self._max_records = max_records
        try:
            self._consumer = KafkaConsumer(
                **common,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",  # a new group reads the whole topic
                session_timeout_ms=cfg.session_timeout_ms,
                # Static membership (KIP-345): a restarted member with the same id takes its
                # partitions back at once instead of after the dead one's session timeout.
                group_instance_id=cfg.group_instance_id,
                heartbeat_interval_ms=max(100, min(3000, cfg.session_timeout_ms // 3)),
                max_poll_interval_ms=cfg.max_poll_interval_ms,
                max_poll_records=max_records,
                fetch_min_bytes=FETCH_MIN_BYTES,
                fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            )
        except kerr.KafkaError as exc:
            raise unavailable(exc, f"consumer cannot reach {common['bootstrap_servers']}") from exc
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kafka-poll-{group}")
        self._events: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._buffer: dict[Partition, deque[BrokerMessage]] = {}  # fetched, not yet handed out
        self._buffered = 0
        self._assigned: set[Partition] = set()
        self._paused: set[Partition] = set()
        self._on_assign: AssignCallback | None = None
        self._on_revoke: AssignCallback | None = None
        self._closing = False
        self._last_fetch = 0.0
        self.commits_fenced = 0  # commits refused because the partitions moved (counted, not fatal)
        self._stall_backoff = 15.0
        self._stall_check_at = time.monotonic() + self._stall_backoff

    # -- rebalances -----------------------------------------------------------------------

    async def _handoff(self, kind: str, tps: Any) -> None:
        if self._closing or not tps:
            return  # close() gives everything up; the caller flushed and committed before it
        done = KafkaFuture()
        self._events.put((kind, sorted(Partition(tp.topic, tp.partition) for tp in tps), done))
        await done

    def _serve(self, kind: str, parts: list[Partition]) -> None:
        if kind == "revoke":
            for p in parts:
                self._buffered -= len(self._buffer.pop(p, ()))
            self._assigned.difference_update(parts)
            self._paused.difference_update(parts)
            self._stall_check_at = time.monotonic() + self._stall_backoff
            log.info("kafka group %s: partitions revoked %s", self._group, parts)
            if self._on_revoke is not None:
                self._on_revoke(parts)
        else:
            self._assigned.update(parts)
            # A new assignment starts unpaused, as the processor sees it. kafka-python keeps the
            # paused flag of a partition that stays with us across a rebalance, and nobody would
            # resume it: that partition was never fetched again (two enrich daemons stalled).
            self._resume_in_client(parts)
            self._stall_backoff = 15.0
            log.info("kafka group %s: partitions assigned %s", self._group, parts)
            if self._on_assign is not None:
                self._on_assign(parts)

    def _resume_in_client(self, parts: Sequence[Partition]) -> None:
        for p in parts:
            try:
                self._consumer.resume(TopicPartition(p.topic, p.index))
            except (kerr.IllegalStateError, KeyError):  # already moved on by a newer rebalance
                pass

    def _release(self, done: KafkaFuture) -> None:
        try:  # complete on the IO thread, where the awaiting listener lives
            self._consumer._net.call_soon_threadsafe(lambda: done.success(None))
        except RuntimeError:  # the IO loop is already closed
            pass

    # -- Consumer protocol ----------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None:
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._consumer.subscribe(topics=list(topics), listener=_Listener(self))

    def _unstall(self) -> None:
        """Ask the group for a rejoin when we have held no partition for a while.

        kafka-python 3.0.12 sometimes joins before it has the topics' metadata, gets an empty
        assignment and never asks again ("No partition metadata for topic"), leaving a daemon
        idle forever. A rejoin costs the group one rebalance, so the checks back off (15 s,
        30 s, ... 5 min); a member idle on purpose (more members than partitions) pays little.
        """
        now = time.monotonic()
        if self._assigned or now < self._stall_check_at:
            return
        self._stall_check_at = now + self._stall_backoff
        self._stall_backoff = min(self._stall_backoff * 2, 300.0)
        topics = self._consumer.subscription() or set()
        # The cached metadata only: partitions_for_topic would wait, unbounded, for a broker that
        # is down. Without metadata yet, ask for it and look again at the next check.
        cluster = self._consumer._cluster  # noqa: SLF001
        if not any(cluster.partitions_for_topic(t) for t in topics):
            cluster.request_update()  # the consumer's own polls fetch it
        else:
            log.warning("kafka group %s: no partitions assigned yet; asking the group to rebalance", self._group)
            self._consumer._coordinator.request_rejoin()  # noqa: SLF001 - the flag kafka-python itself sets

    def poll(self, timeout: float) -> BrokerMessage | None:
        self._unstall()
        # Keep taking part in rebalances while a large buffer drains.
        if 0 < self._buffered < self._max_records and time.monotonic() - self._last_fetch > 1.0:
            self._fetch(0.0)
        msg = self._take()
        if msg is None:
            self._fetch(timeout)
            msg = self._take()
        return msg

    def _take(self) -> BrokerMessage | None:
        for p, q in self._buffer.items():
            if p in self._paused:
                continue
            msg = q.popleft()
            self._buffered -= 1
            del self._buffer[p]
            if q:  # rotate: partitions take turns
                self._buffer[p] = q
            return msg
        return None

    def _fetch(self, timeout: float) -> None:
        room = max(1, self._max_records - self._buffered)
        job = self._helper.submit(self._consumer.poll, timeout_ms=int(timeout * 1000), max_records=room)
        job.add_done_callback(self._events.put)  # the finished job marks the end of its events
        callback_error: BaseException | None = None
        while True:
            event = self._events.get()
            if event is job:
                break
            if isinstance(event, Future):
                continue  # an earlier poll abandoned by an exception (KeyboardInterrupt)
            kind, parts, done = event
            try:
                self._serve(kind, parts)
            except BaseException as exc:  # re-raised below, once the poll is complete
                callback_error = callback_error or exc
            finally:
                self._release(done)
        self._last_fetch = time.monotonic()
        try:
            records = job.result()
        except kerr.KafkaError as exc:
            raise unavailable(exc, "poll") from exc
        for tp, recs in records.items():
            p = Partition(tp.topic, tp.partition)
            if p not in self._assigned:
                continue
            q = self._buffer.setdefault(p, deque())
            for r in recs:
                q.append(BrokerMessage(p, r.offset, r.key, r.value if r.value is not None else b"", tuple(r.headers or ())))
            self._buffered += len(recs)
        if callback_error is not None:
            raise callback_error

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        if not offsets:
            return
        payload = {TopicPartition(p.topic, p.index): OffsetAndMetadata(off, "", -1) for p, off in offsets.items()}
        try:
            # One bounded attempt: a commit the coordinator cannot take now (it restarted or
            # moved) raises BusUnavailable, and CommitOffsets retries it with the next offsets.
            self._consumer.commit(payload, timeout_ms=self._commit_timeout_ms)
        except _COMMIT_FENCED as exc:
            self.commits_fenced += 1
            log.warning("kafka group %s: commit of %s refused after a rebalance (%s); the new owner re-reads them",
                        self._group, dict(offsets), exc)
        except kerr.KafkaError as exc:
            raise unavailable(exc, f"commit {dict(offsets)}") from exc

    def pause(self, partitions: Sequence[Partition]) -> None:
        mine = [p for p in partitions if p in self._assigned]
        self._paused.update(mine)
        self._consumer.pause(*(TopicPartition(p.topic, p.index) for p in mine))

    def resume(self, partitions: Sequence[Partition]) -> None:
        mine = [p for p in partitions if p in self._assigned]
        self._paused.difference_update(mine)
        self._consumer.resume(*(TopicPartition(p.topic, p.index) for p in mine))

    def paused(self) -> set[Partition]:
        return set(self._paused)

    def assignment(self) -> set[Partition]:
        return set(self._assigned)

    def lag(self) -> dict[Partition, int]:
        parts = sorted(self._assigned)
        if not parts:
            return {}
        tps = [TopicPartition(p.topic, p.index) for p in parts]
        # A metric: one short budget for all its requests, so a broker outage cannot hold the stage.
        deadline = time.monotonic() + self._commit_timeout_ms / 1000

        def left() -> int:
            ms = int((deadline - time.monotonic()) * 1000)
            if ms <= 0:
                raise kerr.KafkaTimeoutError("lag: out of time")
            return ms

        try:
            end = self._consumer.end_offsets(tps, timeout_ms=left())
            committed = {tp: self._consumer.committed(tp, timeout_ms=left()) for tp in tps}
            never = [tp for tp, off in committed.items() if off is None]
            start = self._consumer.beginning_offsets(never, timeout_ms=left()) if never else {}
        except kerr.KafkaError as exc:
            raise unavailable(exc, "lag") from exc
        return {
            p: max(0, end[tp] - (committed[tp] if committed[tp] is not None else start[tp])) for p, tp in zip(parts, tps)
        }

    def close(self, timeout: float | None = None) -> None:
        """Leave the group and close, within ``timeout`` seconds (at most ``commit_timeout``)."""
        if self._closing:
            return
        self._closing = True
        self._buffer.clear()
        self._buffered = 0
        while True:  # a rebalance that finished in the background may still await its handoff
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, tuple):
                self._release(event[2])
        try:
            budget = self._commit_timeout_ms if timeout is None else min(self._commit_timeout_ms, int(timeout * 1000))
            self._consumer.close(autocommit=False, timeout_ms=max(0, budget))
        finally:
            self._helper.shutdown(wait=False)
