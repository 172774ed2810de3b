"""CommitOffsets: the last step of every chain, and the only place offsets are committed."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from newsflow.bus.metrics import PROCESSOR_ERRORS
from newsflow.bus.strategies.base import ProcessingStrategy, merge_committable
from newsflow.bus.types import Message, Partition

log = logging.getLogger(__name__)


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
