"""Fault events: what the daemons tell the operator happened (`newsflow status` history, metrics).

A leaf, so every layer may report: ``emit(kind, stage, detail)`` hands the event to the sinks the
process registered (the pipeline registers one that counts it and records it to the status
store), or to none: a library used without a daemon reports into the void. ``emit`` never raises
and never blocks on I/O: a sink only queues.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, Sequence

log = logging.getLogger(__name__)

# The kinds an event may have (the metric label ``kind``, the history's "what").
OUTAGE = "outage"  # a service became unreachable (detail: which and why)
RECOVERED = "recovered"  # reachable again (seconds: how long it was down)
START = "start"  # a daemon or stage started
STOP = "stop"  # ... stopped (detail: clean or not)
ASSIGN = "assign"  # the group gave this member partitions (a rebalance ended)
REVOKE = "revoke"  # the group took them back (a rebalance began)
BUS_REFUSAL = "bus_refusal"  # the bus refused or failed articles (a burst, counted)
DEAD_LETTERS = "dead_letters"  # messages dead-lettered (a burst, counted)
ARCHIVE_FAILED = "archive_failed"  # pages the raw archive could not write (a burst, counted)
ARCHIVE_UPLOAD_FAILED = "archive_upload_failed"  # tries to upload a WARC file to archive.s3 that failed (a burst)
KINDS = (OUTAGE, RECOVERED, START, STOP, ASSIGN, REVOKE, BUS_REFUSAL, DEAD_LETTERS, ARCHIVE_FAILED, ARCHIVE_UPLOAD_FAILED)


@dataclass(frozen=True)
class FaultEvent:
    kind: str
    stage: str
    detail: str
    time: float = field(default_factory=time.time)
    seconds: float | None = None  # a duration: how long an outage lasted
    count: int = 1  # events a burst stands for
    host: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaultEvent":
        return cls(**{k: data.get(k) for k in ("kind", "stage", "detail", "time", "seconds", "count", "host")})


class EventStore(Protocol):
    """Where fault events are kept (bounded by count and age) for `newsflow status`."""

    def write(self, events: Sequence[FaultEvent]) -> None:
        """Store events; raises when the store cannot be reached (the caller keeps them)."""

    def recent(self, limit: int, since: float | None = None) -> list[FaultEvent]:
        """The newest ``limit`` events (at or after ``since``), oldest first."""

    def close(self) -> None: ...


Sink = Callable[[FaultEvent], None]
_sinks: list[Sink] = []
_lock = threading.Lock()


def add_sink(sink: Sink) -> Callable[[], None]:
    """Register ``sink`` for every event of this process; returns its removal."""
    with _lock:
        _sinks.append(sink)

    def remove() -> None:
        with _lock:
            if sink in _sinks:
                _sinks.remove(sink)

    return remove


def emit(kind: str, stage: str, detail: str = "", seconds: float | None = None) -> None:
    event = FaultEvent(kind, stage, detail, seconds=seconds)
    with _lock:
        sinks = list(_sinks)
    for sink in sinks:
        try:
            sink(event)
        except Exception:  # reporting a fault must never become one
            log.exception("fault event sink failed")
