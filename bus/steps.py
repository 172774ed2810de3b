"""Processing steps: small strategies, each doing one thing and handing its output to the next.

A stage is a chain ending in ``CommitOffsets``, driven by a ``StreamProcessor``::

    enrich: consumer(cleaned) -> RunTask(decode + enrich + encode) -> Produce(enriched) -> CommitOffsets
    index:  consumer(enriched) -> RunTask(decode) -> BatchStep -> WriteToIndex -> CommitOffsets

The contract every step keeps (the same as getsentry/arroyo's):

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

import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, List, Mapping, Sequence, TypeVar

from newsflow.bus.backend import BusUnavailable, MessageRejected, Producer
from newsflow.core.errors import Transient
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import ARTICLES_INDEXED, BULK_FAILURES, BULK_SECONDS, PROCESSOR_ERRORS
from newsflow.bus.types import FILTERED, BrokerMessage, Message, Partition
from newsflow.index.base import Index, IndexUnavailable, Outcome
from newsflow.core.record import Article

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

# Not the message's fault: the message is retried later, never dead-lettered.
# The bus, the index, any dependency that is down for now: wait and retry the same work.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (Transient,)

_JOIN_SLICE = 0.05  # how often join() re-checks for progress


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
    many workers retrying one service do not retry in lockstep."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, jitter: float = 0.1) -> None:
        self.initial, self.maximum, self.jitter = initial, maximum, jitter
        self.attempts = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempts = 0


class _Deadline:
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


def _filtered(message: Message[Any]) -> Message[Any]:
    return Message(FILTERED, message.committable, message.origin)


def _dead_letter(
    dead_letters: DeadLetters | None,
    raw: BrokerMessage | None,
    payload: bytes | None,
    error: BaseException | str,
    timeout: float,
    error_type: str | None = None,
) -> None:
    """Send one dead letter and wait for the ack, so the offsets behind it may be committed.

    Raises ``BusUnavailable`` when the dead-letter topic cannot take it (the caller retries).
    """
    if dead_letters is None:
        log.error("dropping a failed message (no dead-letter topic configured): %s", error)
        return
    try:
        dead_letters.send(raw, payload, error, error_type=error_type).result(timeout=timeout)
    except BusUnavailable:
        raise
    except Exception as exc:  # a timeout or a failed delivery: the dead letter is not safe yet
        raise BusUnavailable(f"dead-letter topic did not acknowledge: {exc!r}") from exc


def _raw_payload(message: Message[Any]) -> bytes | None:
    if message.origin is not None:
        return message.origin.value
    return message.payload if isinstance(message.payload, bytes) else None


class RunTask(ProcessingStrategy[T], Generic[T, U]):
    """Apply ``fn`` to each payload and forward the result (``fn`` may return ``FILTERED``).

    When ``fn`` raises, the message is bad: it goes to the dead letters (error, stage, original
    bytes) and its offsets travel on as ``FILTERED``; the stream goes on. When ``fn`` raises
    one of ``transient`` (the bus or index is down: not the message's fault), the message is
    rejected and retried after a backoff instead.
    """

    def __init__(
        self,
        fn: Callable[[T], U],
        next: ProcessingStrategy[U],
        dead_letters: DeadLetters | None,
        *,
        transient: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
        dead_letter_timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._fn = fn
        self._next = next
        self._dead_letters = dead_letters
        self._transient = transient
        self._dead_letter_timeout = dead_letter_timeout
        self._backoff = backoff or Backoff()
        self._stage = dead_letters.stage if dead_letters is not None else "unknown"
        self._carried: Message[U] | None = None  # a result the next step refused
        self._retry_at = 0.0
        self._closed = False

    def submit(self, message: Message[T]) -> None:
        if self._closed:
            raise RuntimeError("submit after close")
        if self._carried is not None:
            self._next.submit(self._carried)  # still refused: the caller keeps ``message``
            self._carried = None
        if time.monotonic() < self._retry_at:
            raise MessageRejected("waiting before retrying after a transient error")
        output = self._apply(message)
        try:
            self._next.submit(output)
        except MessageRejected:
            self._carried = output

    def _apply(self, message: Message[T]) -> Message[Any]:
        if message.payload is FILTERED:
            return message
        try:
            result = self._fn(message.payload)
        except self._transient as exc:
            self._defer(exc)
            raise MessageRejected(str(exc)) from exc
        except Exception as exc:
            try:
                _dead_letter(self._dead_letters, message.origin, _raw_payload(message), exc, self._dead_letter_timeout)
            except BusUnavailable as dlq_exc:
                self._defer(dlq_exc)
                raise MessageRejected(str(dlq_exc)) from dlq_exc
            self._backoff.reset()
            return _filtered(message)
        self._backoff.reset()
        return message.replace(result)

    def _defer(self, exc: BaseException) -> None:
        delay = self._backoff.next()
        self._retry_at = time.monotonic() + delay
        PROCESSOR_ERRORS.labels(self._stage, "transient_retry").inc()
        log.warning("%s: transient error, retrying the message in %.1fs: %s", self._stage, delay, exc)

    def poll(self) -> None:
        self._next.poll()
        if self._carried is not None:
            try:
                self._next.submit(self._carried)
                self._carried = None
            except MessageRejected:
                pass

    def join(self, timeout: float | None = None) -> None:
        deadline = _Deadline(timeout)
        while self._carried is not None and not deadline.expired():
            self.poll()
            if self._carried is not None:
                time.sleep(deadline.slice(_JOIN_SLICE))
        if self._carried is not None:
            log.warning("%s: a processed message was not accepted downstream before the deadline", self._stage)
            self._carried = None
        self._next.close()
        self._next.join(deadline.remaining())

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        self._closed = True
        self._carried = None
        self._next.terminate()


@dataclass
class _PoolTask:
    message: Message[Any]
    future: "Future[Any] | None"
    retry_at: float = 0.0
    output: Message[Any] | None = None  # set once the outcome is known (result or FILTERED)


class RunTaskInPool(ProcessingStrategy[T], Generic[T, U]):
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
        self._fn = fn
        self._next = next
        self._dead_letters = dead_letters
        self._pool = pool
        self._max_in_flight = max_in_flight
        self._transient = transient
        self._dead_letter_timeout = dead_letter_timeout
        self._backoff = backoff or Backoff()
        self._stage = dead_letters.stage if dead_letters is not None else "unknown"
        self._tasks: deque[_PoolTask] = deque()
        self._closed = False

    def submit(self, message: Message[T]) -> None:
        if self._closed:
            raise RuntimeError("submit after close")
        self._forward_done()
        if len(self._tasks) >= self._max_in_flight:
            raise MessageRejected("worker pool is busy")
        if message.payload is FILTERED:
            self._tasks.append(_PoolTask(message, None, output=message))
        else:
            self._tasks.append(_PoolTask(message, self._pool.submit(self._fn, message.payload)))

    def _settle(self, task: _PoolTask) -> bool:
        """Turn a finished task into its output. False while it still runs or waits to retry."""
        if task.output is not None:
            return True
        if task.future is None:
            if time.monotonic() < task.retry_at:
                return False
            task.future = self._pool.submit(self._fn, task.message.payload)
            return False
        if not task.future.done():
            return False
        exc = task.future.exception()
        if exc is None:
            self._backoff.reset()
            task.output = task.message.replace(task.future.result())
            return True
        if isinstance(exc, BrokenProcessPool):
            raise exc
        if isinstance(exc, self._transient):
            self._retry_later(task, exc)
            return False
        try:
            _dead_letter(self._dead_letters, task.message.origin, _raw_payload(task.message), exc, self._dead_letter_timeout)
        except BusUnavailable as dlq_exc:
            # Keep the failed future: the next attempt dead-letters again rather than re-running fn.
            delay = self._backoff.next()
            task.retry_at = time.monotonic() + delay
            log.warning("%s: dead-letter topic unavailable, retrying in %.1fs: %s", self._stage, delay, dlq_exc)
            return False
        task.output = _filtered(task.message)
        return True

    def _retry_later(self, task: _PoolTask, exc: BaseException) -> None:
        delay = self._backoff.next()
        task.future = None
        task.retry_at = time.monotonic() + delay
        PROCESSOR_ERRORS.labels(self._stage, "transient_retry").inc()
        log.warning("%s: transient error, retrying the message in %.1fs: %s", self._stage, delay, exc)

    def _forward_done(self) -> None:
        while self._tasks:
            task = self._tasks[0]
            if task.future is not None and task.output is None and task.retry_at > time.monotonic():
                return  # dead letter waiting for the bus
            if not self._settle(task):
                return
            assert task.output is not None
            try:
                self._next.submit(task.output)
            except MessageRejected:
                return
            self._tasks.popleft()

    def poll(self) -> None:
        self._next.poll()
        self._forward_done()

    def join(self, timeout: float | None = None) -> None:
        deadline = _Deadline(timeout)
        while self._tasks and not deadline.expired():
            self.poll()
            head = self._tasks[0] if self._tasks else None
            if head is not None and head.future is not None and head.output is None:
                wait_futures([head.future], timeout=deadline.slice(_JOIN_SLICE))
            elif head is not None:
                time.sleep(deadline.slice(_JOIN_SLICE))
        if self._tasks:
            log.warning("%s: %d messages unfinished at the deadline; they will be redelivered", self._stage, len(self._tasks))
            self._cancel()
        self._next.close()
        self._next.join(deadline.remaining())

    def _cancel(self) -> None:
        for task in self._tasks:
            if task.future is not None:
                task.future.cancel()
        self._tasks.clear()

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        self._closed = True
        self._cancel()
        self._next.terminate()


class Batch(List[T]):
    """A batch's payloads, plus the raw message each came from (for per-item dead letters)."""

    def __init__(self, items: Iterable[T] = (), origins: Iterable[BrokerMessage | None] = ()) -> None:
        super().__init__(items)
        self.origins: list[BrokerMessage | None] = list(origins)


class BatchStep(ProcessingStrategy[T]):
    """Accumulate payloads into a ``Batch``; flush at ``max_size`` items or ``max_seconds`` after
    the batch's first message (checked in ``poll``), and on ``join``.

    The batch's committable is the highest next offset per partition of what it holds,
    ``FILTERED`` messages included. A batch of only ``FILTERED`` messages is forwarded as one
    ``FILTERED`` message, so the commit still advances.
    """

    def __init__(self, max_size: int, max_seconds: float, next: ProcessingStrategy[Batch[T]]) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._max_size = max_size
        self._max_seconds = max_seconds
        self._next = next
        self._items: list[T] = []
        self._origins: list[BrokerMessage | None] = []
        self._offsets: dict[Partition, int] = {}
        self._started: float | None = None
        self._ready: Message[Any] | None = None  # a closed batch the next step refused
        self._closed = False

    def submit(self, message: Message[T]) -> None:
        if self._closed:
            raise RuntimeError("submit after close")
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

    def join(self, timeout: float | None = None) -> None:
        deadline = _Deadline(timeout)
        while (self._ready is not None or self._pending()) and not deadline.expired():
            if self._ready is None:
                self._seal()
            if not self._forward_ready():
                self._next.poll()
                time.sleep(deadline.slice(_JOIN_SLICE))
        if self._ready is not None or self._pending():
            log.warning("a batch was not accepted downstream before the deadline; it will be redelivered")
            self._ready = None
            self._items, self._origins, self._offsets, self._started = [], [], {}, None
        self._next.close()
        self._next.join(deadline.remaining())

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        self._closed = True
        self._ready = None
        self._items, self._origins, self._offsets, self._started = [], [], {}, None
        self._next.terminate()


@dataclass
class _InFlight:
    message: Message[Any]
    future: "Future[BrokerMessage] | None"
    resend_at: float | None = None  # set when the produce failed and must be sent again


class Produce(ProcessingStrategy[bytes]):
    """Produce each payload (bytes) to ``topic``; forward a message downstream only once the
    bus acknowledged it, in order, so the upstream commit never gets ahead of the copy.

    ``key_fn(message)`` gives the key (default: the consumed message's key, so an article keeps
    its partition from stage to stage). At most ``max_in_flight`` unacknowledged produces,
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
        max_in_flight: int = 1000,
        backoff: Backoff | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._next = next
        self._key_fn = key_fn or (lambda m: m.origin.key if m.origin is not None else None)
        self._max_in_flight = max_in_flight
        self._backoff = backoff or Backoff()
        self._queue: deque[_InFlight] = deque()
        self._retry_at = 0.0
        self._closed = False

    def _send(self, message: Message[bytes]) -> "Future[BrokerMessage]":
        payload = message.payload
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"Produce needs bytes payloads, got {type(payload).__name__}")
        return self._producer.produce(self._topic, self._key_fn(message), bytes(payload))

    def submit(self, message: Message[bytes]) -> None:
        if self._closed:
            raise RuntimeError("submit after close")
        self._forward_done()
        if len(self._queue) >= self._max_in_flight:
            raise MessageRejected(f"{self._max_in_flight} produces awaiting acknowledgement")
        if time.monotonic() < self._retry_at:
            raise MessageRejected("the bus was unavailable; waiting before producing again")
        if message.payload is FILTERED:
            self._queue.append(_InFlight(message, None))
            return
        try:
            future = self._send(message)
        except BusUnavailable as exc:
            self._unavailable(exc)
            raise MessageRejected(str(exc)) from exc
        self._queue.append(_InFlight(message, future))

    def _unavailable(self, exc: BaseException) -> float:
        delay = self._backoff.next()
        self._retry_at = time.monotonic() + delay
        log.warning("producing to %s failed, retrying in %.1fs: %s", self._topic, delay, exc)
        return delay

    def _forward_done(self) -> None:
        while self._queue:
            entry = self._queue[0]
            output: Message[Any]
            if entry.message.payload is FILTERED:
                output = entry.message
            else:
                if entry.future is None:  # failed before: send again when due
                    if time.monotonic() < (entry.resend_at or 0.0):
                        return
                    try:
                        entry.future = self._send(entry.message)
                    except BusUnavailable as exc:
                        entry.resend_at = time.monotonic() + self._unavailable(exc)
                        return
                if not entry.future.done():
                    return
                exc = entry.future.exception()
                if exc is not None:
                    entry.future = None
                    entry.resend_at = time.monotonic() + self._unavailable(exc)
                    return
                self._backoff.reset()
                output = entry.message.replace(entry.future.result())
            try:
                self._next.submit(output)
            except MessageRejected:
                return
            self._queue.popleft()

    def poll(self) -> None:
        self._next.poll()
        self._forward_done()

    def join(self, timeout: float | None = None) -> None:
        deadline = _Deadline(timeout)
        while self._queue and not deadline.expired():
            self.poll()
            if not self._queue:
                break
            head = self._queue[0]
            if head.future is not None and not head.future.done():
                wait_futures([head.future], timeout=deadline.slice(_JOIN_SLICE))
            else:
                time.sleep(deadline.slice(_JOIN_SLICE))
        if self._queue:
            log.warning("%d produces to %s unacknowledged at the deadline; not committed", len(self._queue), self._topic)
            self._queue.clear()
        self._next.close()
        self._next.join(deadline.remaining())

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        self._closed = True
        self._queue.clear()
        self._next.terminate()


@dataclass
class _IndexBatch:
    message: Message[Any]
    articles: list[Article]
    origins: list[BrokerMessage | None]
    todo: list[int]  # positions still to write
    rejected: list[tuple[int, str]] = field(default_factory=list)  # to dead-letter: (position, error)
    retry_at: float = 0.0
    unexpected_failures: int = 0


class WriteToIndex(ProcessingStrategy[Sequence[Article]]):
    """Write a batch of articles to the index; forward it once every item is durable there or
    dead-lettered.

    * ``RETRY`` items and ``IndexUnavailable`` are retried with exponential backoff: capped per
      attempt, never given up (a down index must not lose data). Meanwhile ``submit`` rejects,
      which pauses the consumer.
    * ``REJECTED`` items go to the dead letters.
    * An unexpected exception from ``index.write`` is retried too; after ``isolate_after`` such
      failures in a row the batch is written one item at a time, so one poison article is
      dead-lettered instead of stalling the stage forever.
    * ``join`` and ``terminate`` stop waiting: an unfinished batch is not forwarded, so it is
      not committed and comes back on the next run.
    """

    def __init__(
        self,
        index: Index,
        next: ProcessingStrategy[Any],
        dead_letters: DeadLetters | None,
        *,
        backoff: Backoff | None = None,
        isolate_after: int = 3,
        dead_letter_timeout: float = 30.0,
    ) -> None:
        self._index = index
        self._next = next
        self._dead_letters = dead_letters
        self._stage = dead_letters.stage if dead_letters is not None else "index"
        self._backoff = backoff or Backoff()
        self._isolate_after = isolate_after
        self._dead_letter_timeout = dead_letter_timeout
        self._batch: _IndexBatch | None = None
        self._carried: Message[Any] | None = None
        self._closed = False
        self._aborted = threading.Event()

    def submit(self, message: Message[Sequence[Article]]) -> None:
        if self._closed:
            raise RuntimeError("submit after close")
        if self._carried is not None:
            self._next.submit(self._carried)
            self._carried = None
        if self._batch is not None:
            raise MessageRejected("a batch is still being written to the index")
        if message.payload is FILTERED or not message.payload:
            self._forward(message)
            return
        articles = list(message.payload)
        origins = list(getattr(message.payload, "origins", [])) or [message.origin] * len(articles)
        self._batch = _IndexBatch(message, articles, origins, list(range(len(articles))))
        self._attempt()

    def _forward(self, message: Message[Any]) -> None:
        try:
            self._next.submit(message)
        except MessageRejected:
            self._carried = message

    def _attempt(self) -> None:
        batch = self._batch
        assert batch is not None
        try:
            if batch.unexpected_failures >= self._isolate_after:
                self._write_one_by_one(batch)
            else:
                self._write(batch)
            self._dead_letter_rejected(batch)
        except (IndexUnavailable, BusUnavailable) as exc:
            self._retry_later(batch, exc)
            return
        except Exception as exc:
            batch.unexpected_failures += 1
            log.exception("%s: unexpected error writing %d articles to the index", self._stage, len(batch.todo))
            self._retry_later(batch, exc)
            return
        if batch.todo or batch.rejected:
            self._retry_later(batch, None)
            return
        self._backoff.reset()
        self._batch = None
        self._forward(batch.message)

    def _write(self, batch: _IndexBatch) -> None:
        if not batch.todo:  # only dead letters left to send
            return
        articles = [batch.articles[i] for i in batch.todo]
        results = self._timed_write(articles)
        if len(results) != len(articles):
            raise RuntimeError(f"index returned {len(results)} results for {len(articles)} articles")
        still: list[int] = []
        for position, result in zip(batch.todo, results):
            if result.outcome is Outcome.OK:
                continue
            if result.outcome is Outcome.REJECTED:
                batch.rejected.append((position, result.error or "rejected by the index"))
            else:
                still.append(position)
        batch.todo = still

    def _timed_write(self, articles: list[Article]) -> list[Any]:
        """``index.write`` with its latency, outcomes and failures counted for the metrics endpoint."""
        started = time.perf_counter()
        try:
            results = self._index.write(articles)
        except IndexUnavailable:
            BULK_FAILURES.labels("unavailable").inc()
            raise
        except Exception:
            BULK_FAILURES.labels("error").inc()
            raise
        finally:
            BULK_SECONDS.observe(time.perf_counter() - started)
        ok = sum(1 for r in results if r.outcome is Outcome.OK)
        ARTICLES_INDEXED.inc(ok)
        for outcome, kind in ((Outcome.RETRY, "retry"), (Outcome.REJECTED, "rejected")):
            failed = sum(1 for r in results if r.outcome is outcome)
            if failed:
                BULK_FAILURES.labels(kind).inc(failed)
        return results

    def _write_one_by_one(self, batch: _IndexBatch) -> None:
        for position in list(batch.todo):
            try:
                (result,) = self._timed_write([batch.articles[position]])
            except IndexUnavailable:
                raise
            except Exception as exc:  # this article makes the index client fail: poison
                result_outcome, error = Outcome.REJECTED, f"{type(exc).__name__}: {exc}"
            else:
                result_outcome, error = result.outcome, result.error or "rejected by the index"
            if result_outcome is Outcome.RETRY:
                continue
            batch.todo.remove(position)
            if result_outcome is Outcome.REJECTED:
                batch.rejected.append((position, error))
        batch.unexpected_failures = 0

    def _dead_letter_rejected(self, batch: _IndexBatch) -> None:
        while batch.rejected:
            position, error = batch.rejected[0]
            article = batch.articles[position]
            origin = batch.origins[position] if position < len(batch.origins) else None
            payload = origin.value if origin is not None else article.to_json()
            _dead_letter(
                self._dead_letters, origin, payload, error, self._dead_letter_timeout, error_type="IndexRejected"
            )
            batch.rejected.pop(0)

    def _retry_later(self, batch: _IndexBatch, exc: BaseException | None) -> None:
        delay = self._backoff.next()
        batch.retry_at = time.monotonic() + delay
        PROCESSOR_ERRORS.labels(self._stage, "transient_retry").inc()
        reason = str(exc) if exc is not None else f"{len(batch.todo)} items to retry, {len(batch.rejected)} to dead-letter"
        log.warning("%s: index write incomplete, retrying in %.1fs: %s", self._stage, delay, reason)

    def poll(self) -> None:
        self._next.poll()
        if self._carried is not None:
            message, self._carried = self._carried, None
            self._forward(message)
        if self._batch is not None and self._carried is None and time.monotonic() >= self._batch.retry_at:
            self._attempt()

    def join(self, timeout: float | None = None) -> None:
        deadline = _Deadline(timeout)
        while (self._batch is not None or self._carried is not None) and not deadline.expired():
            if self._aborted.is_set():
                break
            self.poll()
            if self._batch is not None:  # sleep until the retry is due, waking for terminate()
                self._aborted.wait(deadline.slice(max(0.0, self._batch.retry_at - time.monotonic())))
            elif self._carried is not None:
                self._aborted.wait(deadline.slice(_JOIN_SLICE))
        if self._batch is not None or self._carried is not None:
            log.warning("%s: a batch is not durable in the index at the deadline; it will be redelivered", self._stage)
            self._batch = self._carried = None
        self._next.close()
        self._next.join(deadline.remaining())

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        """Safe from another thread: also wakes a ``join`` that is waiting to retry."""
        self._closed = True
        self._aborted.set()
        self._batch = self._carried = None
        self._next.terminate()


class CommitOffsets(ProcessingStrategy[Any]):
    """The last step and the only place offsets are committed.

    Semantics: at-least-once. A message reaches this step only after every step before it
    finished with it: its output produced and acknowledged by the bus, or written to the index
    and durable, or dead-lettered and acknowledged, or filtered out on purpose. Steps forward
    in order, so committing the highest next offset seen per partition never covers a message
    still in flight. Commits are throttled to one per ``min_interval`` seconds and forced on
    ``join``; anything not committed when the process stops is delivered again (the index
    upserts by id, so redelivery never duplicates an article).

    A failed commit (bus down, partition lost in a rebalance) is logged, counted and retried
    on the next interval; the offsets are kept until a commit succeeds.
    """

    def __init__(
        self, commit: Callable[[Mapping[Partition, int]], None], min_interval: float = 1.0, *, stage: str = "unknown"
    ) -> None:
        self._commit_fn = commit
        self._min_interval = min_interval
        self._stage = stage
        self._pending: dict[Partition, int] = {}
        self._last = time.monotonic()
        self._closed = False

    def submit(self, message: Message[Any]) -> None:
        if self._closed:
            raise RuntimeError("submit after close")
        merge_committable(self._pending, message.committable)
        self._maybe_commit()

    def _maybe_commit(self, force: bool = False) -> None:
        if not self._pending:
            return
        if not force and time.monotonic() - self._last < self._min_interval:
            return
        offsets = dict(self._pending)
        self._last = time.monotonic()
        try:
            self._commit_fn(offsets)
        except Exception as exc:
            PROCESSOR_ERRORS.labels(self._stage, "commit_failed").inc()
            log.warning("%s: commit of %d partitions failed (will retry): %s", self._stage, len(offsets), exc)
            return
        for partition, offset in offsets.items():
            if self._pending.get(partition) == offset:
                del self._pending[partition]

    def poll(self) -> None:
        self._maybe_commit()

    def join(self, timeout: float | None = None) -> None:
        self._maybe_commit(force=True)

    def close(self) -> None:
        self._closed = True

    def terminate(self) -> None:
        self._closed = True
        self._pending.clear()
