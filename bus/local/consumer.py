"""A member of one consumer group of the embedded bus."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Mapping, Sequence

from newsflow.bus.backend import AssignCallback
from newsflow.bus.types import BrokerMessage, Partition

if TYPE_CHECKING:
    from newsflow.bus.local.broker import LocalBroker

log = logging.getLogger(__name__)

WAIT_SLICE = 0.25  # re-check the database this often while waiting (other processes don't notify us)
_PREFETCH = 64  # rows read per partition per query


class LocalConsumer:
    """A member of one consumer group. Use it from one thread (like a Kafka consumer).

    Rebalance callbacks run inside ``poll``, on this thread, as with Kafka: ``on_revoke`` while
    the partitions are still ours (so it may commit what it finished), then ``on_assign``.
    Positions start at the group's committed offset (``earliest`` when it has none).
    """

    def __init__(self, broker: "LocalBroker", group: str) -> None:
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
        # Set by the group on a rebalance; acted on inside poll, on this consumer's thread.
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
                cond.wait(min(remaining, WAIT_SLICE))

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Store the next offsets to read. Offsets of partitions this member does not own any
        more (it lost them in a rebalance) are ignored, as Kafka would refuse them."""
        broker = self._broker
        with broker._cond:
            self._check_open()
            mine: dict[Partition, int] = {}
            for partition, offset in offsets.items():
                if not broker._groups.owns(self.group, partition, self):
                    log.warning(
                        "ignoring commit for %s[%d] at %d: not assigned to this consumer of group %s",
                        partition.topic, partition.index, offset, self.group,
                    )
                    continue
                if not isinstance(offset, int) or offset < 0:
                    raise ValueError(f"invalid offset {offset!r} for {partition}")
                mine[partition] = offset
            if not mine:
                return
            broker._storage.commit(self.group, mine)
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
                ends = broker._storage.ends(topic)
                committed = broker._storage.committed(self.group, topic)
                for p in self._assigned:
                    if p.topic == topic:
                        lag[p] = max(0, ends.get(p, 0) - committed.get(p, 0))
            return lag

    def close(self, timeout: float | None = None) -> None:
        """Leave the group (at once: ``timeout`` is for the backends that wait on a broker); the others rebalance. No callbacks: the owner of this consumer
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
                positions.update(broker._storage.committed(self.group, topic))
            self._positions = {p: positions.get(p, 0) for p in self._assigned}
            self._awaiting_assignment = False
            assigned = sorted(self._assigned)
            broker._groups.save(self.group)
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
        for i in range(len(parts)):
            p = parts[(self._rr + i) % len(parts)]
            buffer = self._buffers.get(p)
            if not buffer:
                rows = self._broker._storage.read(p, self._positions[p], _PREFETCH)
                if not rows:
                    continue
                buffer = deque(rows)
                self._buffers[p] = buffer
            message = buffer.popleft()
            self._positions[p] = message.next_offset
            self._rr = (self._rr + i + 1) % len(parts)
            return message
        return None
