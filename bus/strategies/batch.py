"""BatchStep: gather payloads into batches, by size or by age."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable, List, TypeVar

from newsflow.bus.backend import MessageRejected
from newsflow.bus.strategies.base import JOIN_SLICE, Deadline, ForwardingStrategy, ProcessingStrategy, merge_committable
from newsflow.bus.types import FILTERED, BrokerMessage, Message, Partition

log = logging.getLogger(__name__)

T = TypeVar("T")


class Batch(List[T]):
    """A batch's payloads, plus the raw message each came from (for per-item dead letters)."""

    def __init__(self, items: Iterable[T] = (), origins: Iterable[BrokerMessage | None] = ()) -> None:
        super().__init__(items)
        self.origins: list[BrokerMessage | None] = list(origins)


class BatchStep(ForwardingStrategy[T]):
    """Accumulate payloads into a ``Batch``; flush at ``max_size`` items or ``max_seconds`` after
    the batch's first message (checked in ``poll``), and on ``join``.

    The batch's committable is the highest next offset per partition of what it holds,
    ``FILTERED`` messages included. A batch of only ``FILTERED`` messages is forwarded as one
    ``FILTERED`` message, so the commit still advances.
    """

    def __init__(self, max_size: int, max_seconds: float, next: ProcessingStrategy[Batch[T]]) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        super().__init__(next)
        self._max_size = max_size
        self._max_seconds = max_seconds
        self._items: list[T] = []
        self._origins: list[BrokerMessage | None] = []
        self._offsets: dict[Partition, int] = {}
        self._started: float | None = None
        self._ready: Message[Any] | None = None  # a closed batch the next step refused

    def submit(self, message: Message[T]) -> None:
        self._check_open()
        if self._ready is not None and not self._forward_ready():
            raise MessageRejected("the previous batch is not accepted downstream yet")
        if message.payload is not FILTERED:
            self._items.append(message.payload)
            self._origins.append(message.origin)
        merge_committable(self._offsets, message.committable)
        if self._started is None:
            self._started = time.monotonic()
        if len(self._items) >= self._max_size:
            self._seal()
            self._forward_ready()

    def _seal(self) -> None:
        payload: Any = Batch(self._items, self._origins) if self._items else FILTERED
        self._ready = Message(payload, dict(self._offsets))
        self._items, self._origins, self._offsets, self._started = [], [], {}, None

    def _forward_ready(self) -> bool:
        assert self._ready is not None
        try:
            self._next.submit(self._ready)
        except MessageRejected:
            return False
        self._ready = None
        return True

    def _pending(self) -> bool:
        return self._started is not None

    def poll(self) -> None:
        self._next.poll()
        if self._ready is not None:
            if not self._forward_ready():
                return
        if self._started is not None and time.monotonic() - self._started >= self._max_seconds:
            self._seal()
            self._forward_ready()

    def _finish(self, deadline: Deadline) -> None:
        while (self._ready is not None or self._pending()) and not deadline.expired():
            if self._ready is None:
                self._seal()
            if not self._forward_ready():
                self._next.poll()
                time.sleep(deadline.slice(JOIN_SLICE))
        if self._ready is not None or self._pending():
            log.warning("a batch was not accepted downstream before the deadline; it will be redelivered")
            self._discard()

    def _discard(self) -> None:
        self._ready = None
        self._items, self._origins, self._offsets, self._started = [], [], {}, None
