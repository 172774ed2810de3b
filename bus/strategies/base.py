"""The strategy contract and the small pieces every strategy shares.

A stage is a chain of strategies ending in ``CommitOffsets``, driven by a ``StreamProcessor``::

    enrich: consumer(cleaned) -> RunTask(decode + enrich + encode) -> Produce(enriched) -> CommitOffsets
    index:  consumer(enriched) -> RunTask(decode) -> BatchStep -> WriteToIndex -> CommitOffsets

(``WriteToIndex`` belongs to the pipeline layer, which composes the stages: the bus knows no index.)
The contract every strategy keeps (the same as getsentry/arroyo's):

* ``submit(message)`` takes one message or raises ``MessageRejected`` when it is full; the caller
  keeps the message and offers it again later (backpressure, never a drop).
* ``poll()`` does pending work without blocking (flush a due batch, forward acked produces,
  retry a failed write) and calls ``poll()`` on the next step.
* ``close()`` says no more messages will come; ``join(timeout)`` then finishes in-flight work,
  forwards it, closes and joins the next step. Work not finished by the deadline is not
  forwarded, so its offsets are not committed and the bus delivers it again.
* ``terminate()`` abandons in-flight work at once (nothing more is committed).
* Order is kept: a step forwards messages in the order it got them, including ``FILTERED``
  ones (dropped or dead-lettered messages that carry only offsets), so the commit never
  covers a message that is still in flight behind it.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from typing import Any, Generic, Mapping, TypeVar

from newsflow.bus.types import FILTERED, Message, Partition
from newsflow.core.errors import Transient

T = TypeVar("T")

# Not the message's fault: the message is retried later, never dead-lettered.
# The bus, the index, any dependency that is down for now: wait and retry the same work.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (Transient,)

JOIN_SLICE = 0.05  # how often join() re-checks for progress


class ProcessingStrategy(ABC, Generic[T]):
    @abstractmethod
    def submit(self, message: Message[T]) -> None:
        """Take one message, or raise ``MessageRejected`` to be offered it again later."""

    @abstractmethod
    def poll(self) -> None:
        """Make progress on in-flight work without blocking; poll the next step."""

    @abstractmethod
    def join(self, timeout: float | None = None) -> None:
        """After ``close``: finish and forward in-flight work within ``timeout``, then join the next step."""

    @abstractmethod
    def close(self) -> None:
        """No more messages will be submitted."""

    @abstractmethod
    def terminate(self) -> None:
        """Drop in-flight work now; nothing more is forwarded or committed."""


class Backoff:
    """Exponential delays, capped per attempt and unbounded in count, with a little jitter so
    many workers retrying one service do not retry in lockstep. The cap is what a stage may sit
    idle after its service is back, so it is short: one failing request every few seconds costs
    a down service nothing."""

    def __init__(self, initial: float = 0.5, maximum: float = 5.0, jitter: float = 0.1) -> None:
        self.initial, self.maximum, self.jitter = initial, maximum, jitter
        self.attempts = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempts = 0


class Deadline:
    def __init__(self, timeout: float | None) -> None:
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end

    def slice(self, at_most: float) -> float:
        remaining = self.remaining()
        return at_most if remaining is None else min(at_most, remaining)


def merge_committable(into: dict[Partition, int], offsets: Mapping[Partition, int]) -> None:
    for partition, offset in offsets.items():
        if offset > into.get(partition, -1):
            into[partition] = offset


def filtered(message: Message[Any]) -> Message[Any]:
    """The message reduced to its offsets: it was dropped or dead-lettered."""
    return Message(FILTERED, message.committable, message.origin)


class ForwardingStrategy(ProcessingStrategy[T]):
    """A strategy with a next step: the shared close, join and terminate.

    ``join`` lets the subclass finish its in-flight work until the deadline (``_finish``, which
    drops what is still unfinished then, so it is not committed), then closes and joins the next
    step with the time left; ``terminate`` drops the work (``_discard``) and terminates the next.
    """

    def __init__(self, next: ProcessingStrategy[Any]) -> None:
        self._next = next
        self._closed = False

    @abstractmethod
    def _finish(self, deadline: Deadline) -> None:
        """Finish and forward in-flight work before ``deadline``; drop (with a warning) what is not."""

    @abstractmethod
    def _discard(self) -> None:
        """Drop in-flight work at once."""

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("submit after close")

    def join(self, timeout: float | None = None) -> None:
        deadline = Deadline(timeout)
        self._finish(deadline)
        self._next.close()
        self._next.join(deadline.remaining())

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        self._closed = True
        self._discard()
        self._next.terminate()
