"""The daemons' fault history: events (``newsflow.core.faults``) counted as metrics and recorded
to the status store that `newsflow status` reads.

The store may be the very thing that is down (the Elasticsearch cluster), so ``emit`` only
queues: a thread writes the queue every ``interval`` seconds and keeps it, bounded (oldest
dropped, counted), until the store takes it. A stage never waits for its history.

Dead letters and bus refusals come one per message; they are recorded as bursts: one event per
stage and kind with its count, closed after ``quiet`` seconds without another (or a minute).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

from prometheus_client import Counter, Gauge

from newsflow.core import faults
from newsflow.core.faults import EventStore, FaultEvent

log = logging.getLogger(__name__)

FAULT_EVENTS = Counter(
    "newsflow_fault_events_total",
    "Fault events by kind (outage, recovered, start, stop, assign, revoke, bus_refusal, dead_letters, "
    "archive_failed, archive_upload_failed) and stage; "
    "bursty kinds count each message",
    ["kind", "stage"],
)
EVENTS_PENDING = Gauge("newsflow_fault_events_pending", "Fault events held in memory until the status store takes them")
EVENTS_DROPPED = Counter("newsflow_fault_events_dropped_total", "Fault events dropped: the status store was away too long")

BURSTY = (faults.DEAD_LETTERS, faults.BUS_REFUSAL, faults.ARCHIVE_FAILED, faults.ARCHIVE_UPLOAD_FAILED)
_BURST_MAX = 60.0
_BURST_WHAT = {faults.DEAD_LETTERS: "messages dead-lettered", faults.ARCHIVE_FAILED: "pages not archived",
               faults.ARCHIVE_UPLOAD_FAILED: "archive uploads failed"}


class _Burst:
    def __init__(self, event: FaultEvent) -> None:
        self.first, self.last, self.count, self.detail = event.time, event.time, 0, event.detail

    def add(self, event: FaultEvent) -> None:
        self.last, self.count, self.detail = event.time, self.count + event.count, event.detail or self.detail


class FaultRecorder:
    """A sink of ``core.faults`` for one process; ``open_store`` is retried until it works."""

    def __init__(self, open_store: Callable[[], EventStore], *, capacity: int = 1000, interval: float = 2.0,
                 quiet: float = 5.0) -> None:
        self._open_store = open_store
        self._store: EventStore | None = None
        self._pending: deque[FaultEvent] = deque()
        self._capacity, self.interval, self.quiet = capacity, interval, quiet
        self._bursts: dict[tuple[str, str], _Burst] = {}
        self._lock = threading.Lock()
        self._remove: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def __call__(self, event: FaultEvent) -> None:
        FAULT_EVENTS.labels(event.kind, event.stage).inc(event.count)
        with self._lock:
            if event.kind in BURSTY:
                self._bursts.setdefault((event.kind, event.stage), _Burst(event)).add(event)
            else:
                self._queue(event)

    def _queue(self, event: FaultEvent) -> None:
        if len(self._pending) >= self._capacity:
            self._pending.popleft()
            EVENTS_DROPPED.inc()
        self._pending.append(event)
        EVENTS_PENDING.set(len(self._pending))

    def _close_bursts(self, everything: bool) -> None:
        now = time.time()
        for key, burst in list(self._bursts.items()):
            if everything or now - burst.last >= self.quiet or now - burst.first >= _BURST_MAX:
                del self._bursts[key]
                kind, stage = key
                what = _BURST_WHAT.get(kind, "articles refused by the bus")
                self._queue(FaultEvent(kind, stage, f"{burst.count} {what} in {burst.last - burst.first:.0f}s; "
                                       f"last: {burst.detail}"[:500], time=burst.first,
                                       seconds=round(burst.last - burst.first, 3), count=burst.count))

    def flush(self, everything: bool = False) -> bool:
        """Write what is pending; False when the store could not take it (kept for next time)."""
        with self._lock:
            self._close_bursts(everything)
            batch = list(self._pending)
        if not batch:
            return True
        try:
            if self._store is None:
                self._store = self._open_store()
            self._store.write(batch)
        except Exception as exc:
            log.debug("fault history not written (%d pending): %s", len(batch), exc)
            store, self._store = self._store, None
            if store is not None:
                try:
                    store.close()
                except Exception:
                    pass
            return False
        written = {id(e) for e in batch}
        with self._lock:  # by identity: the queue may have dropped some of them meanwhile
            self._pending = deque(e for e in self._pending if id(e) not in written)
            EVENTS_PENDING.set(len(self._pending))
        return True

    def start(self) -> "FaultRecorder":
        self._remove = faults.add_sink(self)

        def loop() -> None:
            while not self._stopped.wait(self.interval):
                self.flush()

        self._thread = threading.Thread(target=loop, name="fault-log", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop recording; one last write of everything (bursts included), given ``timeout``
        seconds at most: a daemon stopping while the store is down must still stop in time."""
        self._stopped.set()
        if self._remove is not None:
            self._remove()

        def last() -> None:
            if self._thread is not None:
                self._thread.join()
            if not self.flush(everything=True):
                log.warning("fault history: %d events could not be written to the status store", len(self._pending))
            if self._store is not None:
                self._store.close()

        closer = threading.Thread(target=last, name="fault-log-close", daemon=True)
        closer.start()
        closer.join(timeout)
