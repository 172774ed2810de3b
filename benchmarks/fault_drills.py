"""The drills of ``bench faults``: one function a fault, and the table that names them.

Each function is called (in its own thread) when its trigger stage has done its fraction of the
stream; it makes the fault, clears it, and returns when it is cleared: the service answers again
(``services.sh up`` returned: it waits for readiness) or the daemon was started again.
"""

from __future__ import annotations

import re
import signal
import time
import warnings
from dataclasses import dataclass
from typing import Callable

from benchmarks.fault_run import STAGES, Fault, Run, log_events


def kill_broker(run: Run) -> Fault:
    """SIGKILL of the Kafka broker; started again after ``--outage`` s (on the same data)."""
    return _kill_service(run, "kafka")


def kill_elasticsearch(run: Run) -> Fault:
    """SIGKILL of the Elasticsearch node; started again after ``--outage`` s (on the same data)."""
    return _kill_service(run, "elasticsearch")


def _kill_service(run: Run, service: str) -> Fault:
    services = run.bench.services
    began = time.monotonic()
    services.kill(service)
    time.sleep(run.bench.outage)
    started = time.monotonic()
    answered = services.restart(service)
    return Fault(began, answered, [f"{service}: killed, left down {run.bench.outage:.0f} s, answered {answered - started:.1f} s "
                                   f"after its start (services.sh up returned after {services.started[service]:.1f} s)"])


def kill_enrich(run: Run) -> Fault:
    """SIGKILL of the enrich daemon mid-stream; started again at once."""
    return _kill_daemon(run, "enrich")


BULK_WAIT = 20.0  # seconds kill_index waits for a bulk in flight before it kills anyway


def kill_index(run: Run) -> Fault:
    """SIGKILL of the index daemon mid-bulk: while Elasticsearch runs a bulk task on the run's index
    (its task list, read every few ms); started again at once."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(run.bench.services.es_url, request_timeout=2, max_retries=0)
    deadline, caught = time.monotonic() + BULK_WAIT, ""
    try:
        with warnings.catch_warnings():  # the task list API is a "technical preview" to the client
            warnings.simplefilter("ignore")
            while not caught and time.monotonic() < deadline:
                tasks = es.tasks.list(actions="indices:data/write/bulk", detailed=True, group_by="none")["tasks"]
                caught = next((t["description"] for t in tasks if run.alias in t.get("description", "")), "")
    finally:
        es.close()
    fault = _kill_daemon(run, "index")
    fault.notes.append(f"killed during the bulk {caught}" if caught else f"no bulk caught in flight within {BULK_WAIT:.0f} s")
    return fault


def _kill_daemon(run: Run, stage: str) -> Fault:
    began = time.monotonic()
    run.stop((stage,), signal.SIGKILL)
    run.start(stage)
    return Fault(began, time.monotonic())


def sigterm_all(run: Run) -> Fault:
    """SIGTERM of the poll, enrich and index daemons at once; all three started again once they have
    exited (one still there after a minute is killed, and that is noted)."""
    began = time.monotonic()
    exits = run.stop(STAGES, signal.SIGTERM)
    for stage in STAGES:
        run.start(stage)
    shown = ", ".join(f"{stage} exited {code} after {s:.1f} s" if code is not None else f"{stage} KILLED after {s:.0f} s"
                      for stage, (code, s) in exits.items())
    return Fault(began, time.monotonic(), [f"SIGTERM: {shown}"])


POISON_AT = 0.3  # the index daemon starts once enrich has done this share of the stream


def poisoned_bulk(run: Run) -> Fault:
    """A record Elasticsearch refuses (an id over 512 bytes: the whole _bulk comes back HTTP 400) on the
    enriched topic, early in the stream, while the index daemon is held back; it starts once enrich has
    done POISON_AT of the stream, so its first bulks are full of valid records, the poison among them.
    Every valid record must be indexed and the poison alone dead-lettered."""
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.core.record import Article

    bad = Article.new("http://poison.test/refused.html", title="Refused", text="An id Elasticsearch refuses.")
    bad = bad.model_copy(update={"id": "x" * 600})
    producer = KafkaBroker(run.settings.bus).producer()
    try:
        producer.produce(run.topics["enriched"], bad.id.encode(), bad.to_json()).result(30)
    finally:
        producer.close()
    while run.stages["enrich"].total < POISON_AT * run.expected:
        time.sleep(0.1)
    run.start("index")
    started = time.monotonic()
    return Fault(started, started, outage=False)


def poisoned_bulk_report(run: Run) -> list[str]:
    """What the index daemon logged of the refused bulk: its size, and that it was split."""
    refused = log_events(run, "index", "elasticsearch refused a bulk of")
    if not refused:
        return ["the index daemon logged no refused bulk"]
    shown = re.sub(r"\[?x{20,}[^\]]*\]?", "[xxx…]", refused[0]["msg"])  # the 600-character id, as the cluster quoted it
    return [f"index daemon: {shown}" + (f" (and {len(refused) - 1} smaller parts)" if len(refused) > 1 else "")]


@dataclass(frozen=True)
class Drill:
    name: str
    summary: str
    trigger: tuple[str, float] | None  # (stage, share of the expected articles it has done) that fires the fault
    fault: Callable[[Run], Fault] | None
    hold: tuple[str, ...] = ()  # stages the fault starts, not the run
    dead_letters: int = 0  # what a correct pipeline dead-letters
    report: Callable[[Run], list[str]] | None = None  # notes from the daemons' logs, afterwards


BASELINE = Drill("baseline", "undisturbed run", None, None)
DRILLS = {d.name: d for d in (
    Drill("broker-kill", "Kafka broker SIGKILL at 30% polled, down --outage s", ("poll", 0.3), kill_broker),
    Drill("es-kill", "Elasticsearch SIGKILL at 30% indexed, down --outage s", ("index", 0.3), kill_elasticsearch),
    Drill("enrich-kill", "enrich daemon SIGKILL at 30% enriched, restarted at once", ("enrich", 0.3), kill_enrich),
    Drill("index-kill", "index daemon SIGKILL at 30% indexed, while writing, restarted at once", ("index", 0.3), kill_index),
    Drill("sigterm-all", "SIGTERM of poll, enrich and index at 30% polled, restarted once all exited", ("poll", 0.3), sigterm_all),
    Drill("poisoned-bulk", "a record Elasticsearch refuses among the enriched backlog; index starts at 30% enriched",
          ("enrich", 0.05), poisoned_bulk, hold=("index",), dead_letters=1, report=poisoned_bulk_report),
)}
