"""Are the bus and the index reachable? A probe every ``daemon.probe_interval`` seconds.

Feeds the daemons' readiness (503 with the reason while a service is unreachable), the
``newsflow_service_up`` gauge, and the fault history: an ``outage`` event when a service stops
answering, a ``recovered`` one with the outage's length when it answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Mapping

from prometheus_client import Gauge

from newsflow.core import faults

log = logging.getLogger(__name__)

SERVICE_UP = Gauge(
    "newsflow_service_up", "1 while the service (kafka, elasticsearch) answers the daemon's probe, else 0", ["service"]
)

Probe = Callable[[], "str | None"]  # None: reachable; else why not


class Reachability:
    def __init__(self, probes: Mapping[str, Probe], stage: str, interval: float = 2.0) -> None:
        self._probes = dict(probes)
        self.stage, self.interval = stage, interval
        self._down: dict[str, tuple[float, str]] = {}  # service -> (since, reason)
        self._lock = threading.Lock()
        for service in self._probes:
            SERVICE_UP.labels(service).set(1)

    def check(self) -> None:
        """Probe every service once; report transitions."""
        for service, probe in self._probes.items():
            try:
                reason = probe()
            except Exception as exc:  # a probe that fails is an unreachable service
                reason = f"{type(exc).__name__}: {exc}"
            with self._lock:
                was = self._down.get(service)
                if reason is not None and was is None:
                    self._down[service] = (time.monotonic(), reason)
                elif reason is None and was is not None:
                    del self._down[service]
            SERVICE_UP.labels(service).set(0 if reason is not None else 1)
            if reason is not None and was is None:
                log.warning("%s unreachable: %s", service, reason, extra={"service": service})
                faults.emit(faults.OUTAGE, self.stage, f"{service} unreachable: {reason}")
            elif reason is None and was is not None:
                seconds = round(time.monotonic() - was[0], 1)
                log.info("%s reachable again after %.1fs", service, seconds, extra={"service": service})
                faults.emit(faults.RECOVERED, self.stage, f"{service} reachable again after {seconds:.0f}s",
                            seconds=seconds)

    def reasons(self) -> list[str]:
        """Why the stage is not ready, one line per unreachable service (empty: all reachable)."""
        with self._lock:
            return [f"{service} unreachable: {reason}" for service, (_since, reason) in sorted(self._down.items())]

    def start(self, stop: threading.Event) -> "Reachability":
        def loop() -> None:
            while True:
                self.check()
                if stop.wait(self.interval):
                    return

        if self._probes:
            threading.Thread(target=loop, name="reachability", daemon=True).start()
        return self
