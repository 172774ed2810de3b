"""Produce: write each payload to a topic; forward it once the bus acknowledged it."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from typing import Any, Callable, Sequence

from newsflow.bus.backend import BusUnavailable, MessageRejected, Producer
from newsflow.bus.strategies.base import Backoff, ProcessingStrategy
from newsflow.bus.strategies.ordered import InFlight, OrderedFutures
from newsflow.bus.types import BrokerMessage, Message

log = logging.getLogger(__name__)


class Produce(OrderedFutures[bytes]):
    """Produce each payload (bytes) to ``topic``; forward a message downstream only once the
    bus acknowledged it, in order, so the upstream commit never gets ahead of the copy.

    ``key_fn(message)`` gives the key (default: the consumed message's key, so an article keeps
    its partition from stage to stage); every record carries ``headers``. At most ``max_in_flight`` unacknowledged produces,
    then ``MessageRejected``. A failed produce is sent again after a backoff, never skipped.
    The forwarded payload is the produced ``BrokerMessage``.
    """

    def __init__(
        self,
        producer: Producer,
        topic: str,
        next: ProcessingStrategy[BrokerMessage],
        *,
        key_fn: Callable[[Message[bytes]], bytes | None] | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        max_in_flight: int = 1000,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(next, max_in_flight=max_in_flight, backoff=backoff)
        self._producer = producer
        self._topic = topic
        self._key_fn = key_fn or (lambda m: m.origin.key if m.origin is not None else None)
        self._headers = tuple(headers)
        self._retry_at = 0.0

    def _send(self, message: Message[Any]) -> "Future[BrokerMessage]":
        payload = message.payload
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"Produce needs bytes payloads, got {type(payload).__name__}")
        return self._producer.produce(self._topic, self._key_fn(message), bytes(payload), self._headers)

    def _admit(self) -> None:
        if time.monotonic() < self._retry_at:
            raise MessageRejected("the bus was unavailable; waiting before producing again")

    def _start(self, message: Message[Any]) -> "Future[BrokerMessage]":
        try:
            return self._send(message)
        except BusUnavailable as exc:
            self._unavailable(exc)
            raise MessageRejected(str(exc)) from exc

    def _restart(self, entry: InFlight) -> bool:
        try:
            entry.future = self._send(entry.message)
        except BusUnavailable as exc:
            entry.retry_at = time.monotonic() + self._unavailable(exc)
            return False
        return True

    def _failed(self, entry: InFlight, exc: BaseException) -> None:
        entry.future = None
        entry.retry_at = time.monotonic() + self._unavailable(exc)

    def _unavailable(self, exc: BaseException) -> float:
        delay = self._backoff.next()
        self._retry_at = time.monotonic() + delay
        log.warning("producing to %s failed, retrying in %.1fs: %s", self._topic, delay, exc)
        return delay

    def _full(self) -> str:
        return f"{self._max_in_flight} produces awaiting acknowledgement"

    def _unfinished(self, count: int) -> None:
        log.warning("%d produces to %s unacknowledged at the deadline; not committed", count, self._topic)
