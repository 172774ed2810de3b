"""The ordered in-flight loop shared by ``RunTaskInPool`` and ``Produce``.

Each message becomes a future (a pool task, an unacknowledged produce); outputs leave in the
order the messages came, so the commit at the end of the chain never covers a message still in
flight behind a faster one. A subclass says how to start the work (``_start``) and what a failed
future means (``_failed``): retry it later, dead-letter the message, or stop the stage.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections import deque
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any, TypeVar

from newsflow.bus.backend import MessageRejected
from newsflow.bus.strategies.base import JOIN_SLICE, Backoff, Deadline, ForwardingStrategy, ProcessingStrategy, filtered
from newsflow.bus.strategies.dead_letter import DeadLetterPolicy, InvalidMessage
from newsflow.bus.types import FILTERED, Message

T = TypeVar("T")


@dataclass
class InFlight:
    message: Message[Any]
    future: "Future[Any] | None"  # None: not started, or failed and to be started again at retry_at
    retry_at: float = 0.0
    output: Message[Any] | None = None  # set once the outcome is known (result or FILTERED)
    invalid: InvalidMessage | None = None  # to dead-letter before the offsets may move on


class OrderedFutures(ForwardingStrategy[T]):
    def __init__(
        self,
        next: ProcessingStrategy[Any],
        *,
        max_in_flight: int,
        backoff: Backoff | None,
        dead_letters: DeadLetterPolicy | None = None,
    ) -> None:
        super().__init__(next)
        self._max_in_flight = max_in_flight
        self._backoff = backoff or Backoff()
        self._dead_letters = dead_letters
        self._queue: deque[InFlight] = deque()

    # -- what a subclass decides ---------------------------------------------------------------

    @abstractmethod
    def _start(self, message: Message[Any]) -> "Future[Any]":
        """Begin the work of one message (may raise, see ``_restart``)."""

    @abstractmethod
    def _failed(self, entry: InFlight, exc: BaseException) -> None:
        """The entry's future failed: set ``entry.invalid``, schedule a retry (``future=None``,
        ``retry_at``), or raise to stop the stage."""

    @abstractmethod
    def _full(self) -> str:
        """Why ``submit`` rejects when ``max_in_flight`` entries are in flight."""

    @abstractmethod
    def _unfinished(self, count: int) -> None:
        """Log that ``count`` entries were not done at the ``join`` deadline."""

    def _admit(self) -> None:
        """Raise ``MessageRejected`` to refuse new work for now (after the capacity check)."""

    def _restart(self, entry: InFlight) -> bool:
        """Start a retried entry again; False when that must wait."""
        entry.future = self._start(entry.message)
        return True

    def _discard(self) -> None:
        self._queue.clear()

    # -- the loop ------------------------------------------------------------------------------

    def submit(self, message: Message[T]) -> None:
        self._check_open()
        self._forward_done()
        if len(self._queue) >= self._max_in_flight:
            raise MessageRejected(self._full())
        self._admit()
        if message.payload is FILTERED:
            self._queue.append(InFlight(message, None, output=message))
        else:
            self._queue.append(InFlight(message, self._start(message)))

    def _settle(self, entry: InFlight) -> bool:
        """Turn a finished entry into its output. False while it runs or waits to retry."""
        if entry.output is not None:
            return True
        if time.monotonic() < entry.retry_at:
            return False
        if entry.invalid is not None:
            assert self._dead_letters is not None
            if not self._dead_letters.handle(entry.invalid):
                entry.retry_at = self._dead_letters.retry_at  # the failed work is not run again
                return False
            entry.output = filtered(entry.message)
            return True
        if entry.future is None and not self._restart(entry):
            return False
        assert entry.future is not None
        if not entry.future.done():
            return False
        exc = entry.future.exception()
        if exc is None:
            self._backoff.reset()
            entry.output = entry.message.replace(entry.future.result())
            return True
        self._failed(entry, exc)
        return entry.invalid is not None and self._settle(entry)

    def _forward_done(self) -> None:
        while self._queue:
            entry = self._queue[0]
            if not self._settle(entry):
                return
            assert entry.output is not None
            try:
                self._next.submit(entry.output)
            except MessageRejected:
                return
            self._queue.popleft()

    def poll(self) -> None:
        self._next.poll()
        self._forward_done()

    def _finish(self, deadline: Deadline) -> None:
        while self._queue and not deadline.expired():
            self.poll()
            if not self._queue:
                break
            head = self._queue[0]
            if head.output is None and head.future is not None and not head.future.done():
                wait_futures([head.future], timeout=deadline.slice(JOIN_SLICE))
            else:
                time.sleep(deadline.slice(JOIN_SLICE))
        if self._queue:
            self._unfinished(len(self._queue))
            self._discard()
