"""WriteToIndex: the index stage's strategy, between ``BatchStep`` and ``CommitOffsets``.

It lives with the pipeline, not the bus: the bus moves messages and commits offsets for any
stage and knows nothing of indexes; this step is where the two meet.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from prometheus_client import Counter, Histogram

from newsflow.bus.backend import BusUnavailable, MessageRejected
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import PROCESSOR_ERRORS
from newsflow.bus.strategies import (
    JOIN_SLICE,
    Backoff,
    Deadline,
    DeadLetterPolicy,
    ForwardingStrategy,
    InvalidMessage,
    ProcessingStrategy,
)
from newsflow.bus.types import FILTERED, BrokerMessage, Message
from newsflow.core.record import Article
from newsflow.index.base import Index, IndexUnavailable, Outcome

log = logging.getLogger(__name__)

ARTICLES_INDEXED = Counter("newsflow_articles_indexed_total", "Articles the index acknowledged as written")
BULK_SECONDS = Histogram(
    "newsflow_bulk_seconds",
    "Latency of one bulk write to the index (any outcome)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BULK_FAILURES = Counter(
    "newsflow_bulk_failures_total",
    "Bulk writes and items that failed: unavailable (whole bulk), retry (item, transient), rejected (item, dead-lettered), error",
    ["kind"],
)


@dataclass
class _IndexBatch:
    message: Message[Any]
    articles: list[Article]
    origins: list[BrokerMessage | None]
    todo: list[int]  # positions still to write
    rejected: list[tuple[int, str]] = field(default_factory=list)  # to dead-letter: (position, error)
    retry_at: float = 0.0
    unexpected_failures: int = 0


class WriteToIndex(ForwardingStrategy[Sequence[Article]]):
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
        super().__init__(next)
        self._index = index
        self._backoff = backoff or Backoff()
        self._dead_letters = DeadLetterPolicy(
            dead_letters, backoff=self._backoff, timeout=dead_letter_timeout, stage="index"
        )
        self._stage = self._dead_letters.stage
        self._isolate_after = isolate_after
        self._batch: _IndexBatch | None = None
        self._carried: Message[Any] | None = None
        self._aborted = threading.Event()

    def submit(self, message: Message[Sequence[Article]]) -> None:
        self._check_open()
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
        except (IndexUnavailable, BusUnavailable) as exc:
            self._retry_later(batch, exc)
            return
        except Exception as exc:
            batch.unexpected_failures += 1
            log.exception("%s: unexpected error writing %d articles to the index", self._stage, len(batch.todo))
            self._retry_later(batch, exc)
            return
        if not self._dead_letter_rejected(batch):
            batch.retry_at = self._dead_letters.retry_at
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

    def _dead_letter_rejected(self, batch: _IndexBatch) -> bool:
        """Dead-letter the rejected items in order; False when the topic cannot take them now."""
        while batch.rejected:
            position, error = batch.rejected[0]
            origin = batch.origins[position] if position < len(batch.origins) else None
            payload = origin.value if origin is not None else batch.articles[position].to_json()
            if not self._dead_letters.handle(InvalidMessage(origin, payload, error, error_type="IndexRejected")):
                return False
            batch.rejected.pop(0)
        return True

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

    def _finish(self, deadline: Deadline) -> None:
        while (self._batch is not None or self._carried is not None) and not deadline.expired():
            if self._aborted.is_set():
                break
            self.poll()
            if self._batch is not None:  # sleep until the retry is due, waking for terminate()
                self._aborted.wait(deadline.slice(max(0.0, self._batch.retry_at - time.monotonic())))
            elif self._carried is not None:
                self._aborted.wait(deadline.slice(JOIN_SLICE))
        if self._batch is not None or self._carried is not None:
            log.warning("%s: a batch is not durable in the index at the deadline; it will be redelivered", self._stage)
            self._batch = self._carried = None

    def terminate(self) -> None:
        """Safe from another thread: also wakes a ``join`` that is waiting to retry."""
        self._aborted.set()
        super().terminate()

    def _discard(self) -> None:
        self._batch = self._carried = None
