"""Messages and partitions: the vocabulary shared by both bus backends (local and Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Mapping, TypeVar

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, order=True)
class Partition:
    topic: str
    index: int


@dataclass(frozen=True)
class BrokerMessage:
    """One record as it sits on the bus. ``offset`` is its position in ``partition``."""

    partition: Partition
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def next_offset(self) -> int:
        # Kafka convention: a committed offset is the next one to read.
        return self.offset + 1


@dataclass(frozen=True)
class Message(Generic[T]):
    """A payload travelling through processing steps, with the offsets it makes committable.

    ``committable`` maps partition -> next offset to read. A batch carries the highest
    offset per partition of the messages it holds; a step that drops a message still
    forwards its offsets (payload ``FILTERED``) so commits advance in order.
    """

    payload: T
    committable: Mapping[Partition, int] = field(default_factory=dict)
    origin: BrokerMessage | None = None  # the raw record, kept for dead letters

    def replace(self, payload: U) -> "Message[U]":
        return Message(payload, self.committable, self.origin)  # type: ignore[arg-type]

    @classmethod
    def of(cls, raw: BrokerMessage) -> "Message[BrokerMessage]":
        return Message(raw, {raw.partition: raw.next_offset}, raw)  # type: ignore[return-value]


class _Filtered:
    def __repr__(self) -> str:
        return "FILTERED"


# Payload of a message that was dropped or dead-lettered: it carries offsets only.
FILTERED = _Filtered()
