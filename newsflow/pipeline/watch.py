"""What every stage process runs beside its work: the fault history recorder, start and stop
events, and the reachability probes its readiness follows."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from newsflow.core import faults
from newsflow.pipeline.backends import open_event_store, service_probes
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.fault_log import FaultRecorder
from newsflow.pipeline.reachability import Reachability


@contextmanager
def watched(settings: PipelineSettings, stage: str, *, index: bool) -> Iterator[Reachability]:
    """Record this process's fault events while the block runs; ``index``: the stage writes to
    the index, so its readiness follows the index's reachability too."""
    recorder = FaultRecorder(lambda: open_event_store(settings), capacity=settings.daemon.history_events).start()
    faults.emit(faults.START, stage, f"started (bus {settings.bus.backend}, index {settings.index.backend})")
    halt = threading.Event()
    reach = Reachability(service_probes(settings, index=index), stage, settings.daemon.probe_interval).start(halt)
    outcome = "stopped by an error"
    try:
        yield reach
        outcome = "stopped"
    finally:
        halt.set()
        faults.emit(faults.STOP, stage, outcome)
        # Short: the stage may have used its whole shutdown budget, and the backstop's grace is
        # not the recorder's; events it cannot write in time are lost, the stage's work is not.
        recorder.close(timeout=2.0)


def readiness(reach: Reachability, ready: bool) -> "bool | str":
    """The health endpoint's verdict: the unreachable services first, then the stage's own."""
    reasons = reach.reasons()
    return "; ".join(reasons) if reasons else ready
