"""The two small interfaces every bus backend implements: local (embedded) and Kafka."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Callable, Mapping, Protocol, Sequence

from newsflow.bus.types import BrokerMessage, Partition
from newsflow.core.errors import Transient

AssignCallback = Callable[[Sequence[Partition]], None]


class MessageRejected(Exception):
    """Raised by a step's ``submit`` when it is full: backpressure, try the same message later."""


class BusUnavailable(Transient):
    """The broker cannot be reached right now; callers back off and retry, they never drop data."""


class Producer(Protocol):
    def produce(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> "Future[BrokerMessage]":
        """Send one record. The future resolves once the broker acknowledged it (acks=all on Kafka)."""

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None:
        """Send what is buffered and close, within ``timeout`` seconds; what the broker did not
        acknowledge by then is dropped (its source was not committed: it is delivered again)."""


class Consumer(Protocol):
    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None: ...

    def poll(self, timeout: float) -> BrokerMessage | None:
        """The next record of an assigned partition, or None when none arrived within timeout."""

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Durably record, per partition, the next offset to read: one attempt, bounded in time
        (Kafka: ``bus.kafka.commit_timeout``), raising BusUnavailable when it cannot be done now.
        Called only by CommitOffsets, which keeps the offsets and retries."""

    def pause(self, partitions: Sequence[Partition]) -> None: ...

    def resume(self, partitions: Sequence[Partition]) -> None: ...

    def assignment(self) -> set[Partition]:
        """The partitions this member owns now."""

    def paused(self) -> set[Partition]:
        """The owned partitions that are paused (backpressure)."""

    def lag(self) -> dict[Partition, int]:
        """Messages not yet committed by this consumer's group, per assigned partition."""

    def close(self, timeout: float | None = None) -> None:
        """Leave the group and close, within ``timeout`` seconds."""


class Broker(Protocol):
    """Builds producers and consumers for one bus, and creates its topics."""

    def create_topics(self, topics: Mapping[str, int]) -> None:
        """Ensure each topic exists with at least the given partition count."""

    def producer(self) -> Producer: ...

    def consumer(self, group: str) -> Consumer: ...
