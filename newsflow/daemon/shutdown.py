"""The backstop of a stop: the process is gone shortly after ``daemon.shutdown_timeout``.

Every step of a stop is bounded on its own (the drain, the final commit, the producer's close);
this covers what is not: a client library call that waits longer than it was asked to, a thread
the interpreter joins at exit. Exiting then loses nothing: what was not committed is delivered
again, and the poller's unacknowledged entries are fetched again.
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)

OVERRUN_EXIT_CODE = 1  # documented in docs/operators-guide.md, "Health, logs, stopping"
GRACE = 5.0  # seconds past shutdown_timeout before the backstop acts


def exit_when_overdue(stop: threading.Event, timeout: float, grace: float = GRACE) -> threading.Thread:
    """Once ``stop`` is set, wait ``timeout + grace`` seconds; if the process is still here, exit it."""

    def watch() -> None:
        stop.wait()
        threading.Event().wait(timeout + grace)
        log.error(
            "shutdown still running %.0fs after the stop (daemon.shutdown_timeout %.0fs); exiting without the "
            "rest: what was not committed is delivered again", timeout + grace, timeout,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(OVERRUN_EXIT_CODE)

    thread = threading.Thread(target=watch, name="shutdown-backstop", daemon=True)
    thread.start()
    return thread


class StopDeadline:
    """``timeout`` seconds from the moment ``stop`` is set (noted by a helper thread), so steps
    that begin later, e.g. after a grace period, share what is left of the one budget."""

    def __init__(self, stop: threading.Event, timeout: float) -> None:
        self._timeout = timeout
        self._stopped_at: float | None = None

        def note() -> None:
            stop.wait()
            self._stopped_at = time.monotonic()

        threading.Thread(target=note, name="stop-clock", daemon=True).start()

    def remaining(self) -> float:
        started = self._stopped_at if self._stopped_at is not None else time.monotonic()
        return max(0.0, self._timeout - (time.monotonic() - started))
