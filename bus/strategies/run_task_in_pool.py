"""RunTaskInPool: ``RunTask`` on an executor, results forwarded in submission order."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Generic, TypeVar

from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import PROCESSOR_ERRORS
from newsflow.bus.strategies.base import TRANSIENT_ERRORS, Backoff, ProcessingStrategy
from newsflow.bus.strategies.dead_letter import DeadLetterPolicy, InvalidMessage
from newsflow.bus.strategies.ordered import InFlight, OrderedFutures
from newsflow.bus.types import Message

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")


class RunTaskInPool(OrderedFutures[T], Generic[T, U]):
    """``RunTask`` on an executor (a process pool for CPU-bound work such as enrichment).

    Up to ``max_in_flight`` payloads run at once; results are forwarded in submission order,
    so offsets are committed in order even when a later message finishes first. The pool is
    the caller's and outlives this strategy (a rebalance builds a new strategy, and loading
    models into workers again each time would be slow); ``fn`` and the payloads must pickle.
    A worker that dies (``BrokenProcessPool``) is fatal for the strategy: it is raised, and the
    stream processor restarts the stage from the committed offsets.
    """

    def __init__(
        self,
        fn: Callable[[T], U],
        next: ProcessingStrategy[U],
        dead_letters: DeadLetters | None,
        pool: Executor,
        *,
        max_in_flight: int = 8,
        transient: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
        dead_letter_timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        backoff = backoff or Backoff()
        policy = DeadLetterPolicy(dead_letters, backoff=backoff, timeout=dead_letter_timeout)
        super().__init__(next, max_in_flight=max_in_flight, backoff=backoff, dead_letters=policy)
        self._fn = fn
        self._pool = pool
        self._transient = transient
        self._stage = policy.stage

    def _start(self, message: Message[Any]) -> "Future[Any]":
        return self._pool.submit(self._fn, message.payload)

    def _restart(self, entry: InFlight) -> bool:
        super()._restart(entry)
        return False  # just resubmitted: not done yet

    def _failed(self, entry: InFlight, exc: BaseException) -> None:
        if isinstance(exc, BrokenProcessPool):
            raise exc
        if not isinstance(exc, self._transient):
            entry.invalid = InvalidMessage.of(entry.message, exc)
            return
        delay = self._backoff.next()
        entry.future = None
        entry.retry_at = time.monotonic() + delay
        PROCESSOR_ERRORS.labels(self._stage, "transient_retry").inc()
        log.warning("%s: transient error, retrying the message in %.1fs: %s", self._stage, delay, exc)

    def _full(self) -> str:
        return "worker pool is busy"

    def _unfinished(self, count: int) -> None:
        log.warning("%s: %d messages unfinished at the deadline; they will be redelivered", self._stage, count)

    def _discard(self) -> None:
        for entry in self._queue:
            if entry.future is not None:
                entry.future.cancel()
        super()._discard()
