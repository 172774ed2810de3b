"""One drill of ``bench faults``: the three daemons over the corpus on the bench's private services,
a fault when a stage has done its share of the stream, and what came of it.

A ``Run`` owns one pipeline (its own topics, groups and alias, config and logs in its own folder).
``watch`` starts the daemons, samples each stage's progress counter every ``SAMPLE_EVERY`` s, and
fires the drill's fault in a thread when the trigger stage reaches its fraction of the expected
articles; the fault returns once it is cleared (service back, daemon restarted). The run ends when
every expected article is in the index, or when nothing new reached the index for ``settle`` s
after the fault was cleared. ``tally`` then counts, from the index and the dead-letter topic.

Recovery of a stage: from the fault being cleared to the stage's next progress, i.e. its counter
(``benchmarks.daemons.COUNTERS``, summed over a restarted daemon's generations) rising, to the
sampling step. A stage that did not move after the fault was cleared had nothing left to do if the
run completed; otherwise it is stuck, and shown so.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from benchmarks.daemons import COUNTERS, Proc, start_daemon, topic_messages, write_config

STAGES = ("poll", "enrich", "index")
SAMPLE_EVERY = 0.25
STOP_WAIT = 60.0  # a daemon told to stop that is still there after this long is killed


@dataclass
class Fault:
    """What a drill did: when the fault began and when it was cleared (monotonic seconds)."""

    began: float
    cleared: float
    notes: list[str] = field(default_factory=list)
    outage: bool = True  # False: nothing was down (a poisoned record), so no "down" time


@dataclass
class Stage:
    """One stage's daemon over its generations (a restart is a new one) and its progress."""

    name: str
    procs: list[Proc] = field(default_factory=list)
    carried: float = 0.0  # the counts of the generations before the current one
    rises: list[tuple[float, float]] = field(default_factory=list)  # (when, total) each time the total rose
    gone: set[int] = field(default_factory=set)  # pids the bench stopped on purpose
    spawned: dict[int, float] = field(default_factory=dict)  # pid -> when it was started
    answered: dict[int, float] = field(default_factory=dict)  # pid -> when its metrics endpoint first answered

    @property
    def current(self) -> Proc | None:
        return self.procs[-1] if self.procs else None

    @property
    def total(self) -> float:
        return self.carried + (self.current.count if self.current else 0.0)

    def moved_since(self, t: float) -> float | None:
        """When the total first rose after ``t``; None if it has not."""
        return next((when for when, _ in self.rises if when > t), None)


@dataclass
class Bench:
    """What every drill of one invocation shares: the services, the corpus, the settings."""

    services: Any  # benchmarks.private_services.PrivateServices
    site: Any  # benchmarks.corpus.ArticleSite
    server_port: int
    expected: set[str]  # the article ids the pipeline must index
    enrichers: list[str] | None
    outage: float
    settle: float
    root: Path


class Run:
    def __init__(self, bench: Bench, drill: str) -> None:
        self.bench = bench
        self.drill = drill
        self.id = uuid.uuid4().hex[:8]
        self.dir = bench.root / drill
        self.dir.mkdir(parents=True)
        self.config = self.dir / "newsflow.toml"
        self.topics = {"cleaned": f"bench-{self.id}.cleaned", "enriched": f"bench-{self.id}.enriched",
                       "dead_letters": f"bench-{self.id}.dead-letters"}
        self.alias = f"bench-{self.id}-articles"
        # Production settings where they matter here: the shutdown timeout's default, and static group
        # membership as the systemd units set it (a restarted member takes its partitions back at once).
        overrides = {"bus": {"kafka": {"bootstrap_servers": [bench.services.bootstrap]}},
                     "index": {"elasticsearch": {"hosts": [bench.services.es_url]}},
                     "daemon": {"log_format": "json", "log_level": "INFO", "shutdown_timeout": 30.0}}
        write_config(self.config, self.id, bench.site, bench.server_port, "kafka", self.dir / "data", 1, 4,
                     bench.enrichers, overrides)
        from newsflow.settings import load

        self.settings = load(self.config)
        self.stages = {name: Stage(name) for name in STAGES}
        self.troubles: list[str] = []  # what went wrong with the drill itself (a daemon died, the fault never fired)
        self.lock = threading.Lock()  # the fault's thread starts and stops daemons while we sample them

    @property
    def expected(self) -> int:
        return len(self.bench.expected)

    # -- the daemons ------------------------------------------------------------------------

    def start(self, stage: str) -> Proc:
        env = {"NEWSFLOW_BUS__KAFKA__GROUP_INSTANCE_ID": f"bench-{self.id}-{stage}"} if stage != "poll" else {}
        spawned = time.monotonic()
        proc = start_daemon(stage, stage, self.config, self.dir, env)
        with self.lock:
            s = self.stages[stage]
            s.carried = s.total
            s.procs.append(proc)
            s.spawned[proc.popen.pid] = spawned
        return proc

    def stop(self, stages: tuple[str, ...], sig: int) -> dict[str, tuple[int | None, float]]:
        """Send ``sig`` to the stages' daemons at once; wait for them to exit (killed after STOP_WAIT s).
        Returns stage -> (exit code, or None if it had to be killed; seconds to exit)."""
        procs = {}
        with self.lock:
            for stage in stages:
                proc = self.stages[stage].current
                if proc is not None and proc.popen.poll() is None:
                    self.stages[stage].gone.add(proc.popen.pid)
                    procs[stage] = proc
        began = time.monotonic()
        for proc in procs.values():
            proc.popen.send_signal(sig)
        exits: dict[str, tuple[int | None, float]] = {}
        for stage, proc in procs.items():
            try:
                code: int | None = proc.popen.wait(max(0.1, STOP_WAIT - (time.monotonic() - began)))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
                code = None
            exits[stage] = (code, time.monotonic() - began)
        return exits

    def sample(self, now: float) -> str | None:
        """Read every daemon's counter; returns what went wrong if a daemon exited on its own."""
        with self.lock:
            for s in self.stages.values():
                proc = s.current
                if proc is None:
                    continue
                if proc.popen.poll() is not None:
                    if proc.popen.pid not in s.gone:
                        return f"the {s.name} daemon exited with {proc.popen.returncode} (see {self.dir / s.name}.log)"
                    continue
                m = proc.metrics()
                if m is not None:
                    s.answered.setdefault(proc.popen.pid, now)
                if m is not None and m.get(COUNTERS[s.name], 0.0) > proc.count:
                    proc.count = m[COUNTERS[s.name]]
                    s.rises.append((now, s.total))
        return None

    def wait_ready(self, stages: tuple[str, ...], timeout: float = 180.0) -> None:
        """Until the stages' daemons answer ready (enrich and index: partitions assigned)."""
        deadline = time.monotonic() + timeout
        for stage in stages:
            proc = self.stages[stage].current
            assert proc is not None
            while not proc.ready():
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{stage} exited with {proc.popen.returncode} at start-up (see {self.dir / stage}.log)")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{stage} was not ready within {timeout:.0f}s (see {self.dir / stage}.log)")
                time.sleep(0.1)

    def close(self) -> None:
        self.stop(STAGES, signal.SIGTERM)


# -- a drill, watched -----------------------------------------------------------------------------


@dataclass
class Watched:
    t0: float  # the poller's start
    end: float  # the last expected document, or the last document before the run stalled
    complete: bool
    fault: Fault | None


def watch(run: Run, trigger: tuple[str, float] | None, fault: Callable[[Run], Fault] | None,
          hold: tuple[str, ...], es: Any) -> Watched:
    """Run the pipeline; fire ``fault`` (in a thread) when ``trigger`` = (stage, fraction) is reached."""
    consumers = tuple(s for s in ("enrich", "index") if s not in hold)
    for stage in consumers:
        run.start(stage)
    run.wait_ready(consumers)
    run.start("poll")
    poll = run.stages["poll"].current
    assert poll is not None
    while poll.metrics() is None:  # its metrics endpoint opens as it starts polling
        if poll.popen.poll() is not None:
            raise RuntimeError(f"poll exited with {poll.popen.returncode} at start-up (see {run.dir / 'poll'}.log)")
        time.sleep(0.05)
    t0 = time.monotonic()
    outcome: dict[str, Any] = {}
    thread: threading.Thread | None = None

    def fire() -> None:
        try:
            outcome["fault"] = fault(run)  # type: ignore[misc]
        except BaseException as exc:  # handed to the main thread, which raises it
            outcome["error"] = exc

    indexed, last_doc = 0, t0
    while True:
        now = time.monotonic()
        trouble = run.sample(now)
        if trouble:
            run.troubles.append(trouble)
            break
        if fault is not None and trigger is not None and thread is None:
            stage, fraction = trigger
            if run.stages[stage].total >= fraction * run.expected:
                thread = threading.Thread(target=fire, name=f"fault-{run.drill}", daemon=True)
                thread.start()
        try:
            count = int(es.count(index=run.alias)["count"])
        except Exception:  # the node is down (a drill) or the alias not made yet
            count = indexed
        if count > indexed:
            indexed, last_doc = count, now
        if "error" in outcome:
            raise outcome["error"]
        settled = fault is None or "fault" in outcome
        if fault is not None and thread is None and indexed >= run.expected:
            run.troubles.append(f"the fault never fired: the run completed before {trigger[0]} reached its trigger")  # type: ignore[index]
            break
        if settled and indexed >= run.expected:
            break
        cleared = outcome["fault"].cleared if "fault" in outcome else t0
        if settled and now - max(last_doc, cleared) > run.bench.settle:
            break
        time.sleep(SAMPLE_EVERY)
    if thread is not None:  # a daemon died mid-drill: the fault is cleared before the next drill all the same
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
    run.sample(time.monotonic())
    return Watched(t0, last_doc, indexed >= run.expected, outcome.get("fault"))


# -- what came of it ------------------------------------------------------------------------------


@dataclass
class DrillResult:
    drill: str
    summary: str
    served: int
    indexed: int
    lost: int
    duplicated: int  # documents beyond the first of one article (the same url under two ids)
    rewritten: int  # documents written more than once (at-least-once redelivery, absorbed by the id)
    unexpected: int  # documents of no expected article
    dead_letters: int
    down: float | None  # fault began -> cleared
    recovery: dict[str, float | None]  # stage -> cleared -> next progress; None: no progress after
    idle: dict[str, bool]  # stage -> it had nothing left to do when the fault was cleared
    seconds: float  # first poll -> last expected document (or the last document, if incomplete)
    complete: bool
    notes: list[str]
    troubles: list[str]  # the drill itself went wrong: a daemon died, the fault never fired
    fault_utc: tuple[str, str] | None = None  # when the fault began and was cleared
    restart_seconds: dict[str, float] = field(default_factory=dict)  # restarted stage -> spawn to its metrics answering
    expected_dead_letters: int = 0


def tally(run: Run, summary: str, watched: Watched, es: Any) -> DrillResult:
    """Count the index's documents and the dead letters; recovery per stage."""
    docs = _documents(es, run.alias)
    by_url: dict[str, int] = {}
    for doc in docs.values():
        by_url[doc["url"]] = by_url.get(doc["url"], 0) + 1
    expected = run.bench.expected
    fault = watched.fault
    recovery: dict[str, float | None] = {}
    idle: dict[str, bool] = {}
    for name, stage in run.stages.items():
        if fault is None:
            continue
        moved = stage.moved_since(fault.cleared)
        recovery[name] = None if moved is None else moved - fault.cleared
        idle[name] = moved is None and watched.complete
    restarts = {name: stage.answered[p.popen.pid] - stage.spawned[p.popen.pid]
                for name, stage in run.stages.items() for p in stage.procs[1:] if p.popen.pid in stage.answered}
    return DrillResult(
        fault_utc=None if fault is None else (_utc(fault.began), _utc(fault.cleared)), restart_seconds=restarts,
        drill=run.drill, summary=summary, served=len(expected), indexed=len(docs),
        lost=len(expected - docs.keys()), duplicated=sum(n - 1 for n in by_url.values()),
        rewritten=sum(1 for d in docs.values() if d["version"] > 1), unexpected=len(docs.keys() - expected),
        dead_letters=topic_messages([run.bench.services.bootstrap], run.topics["dead_letters"]),
        down=None if fault is None or not fault.outage else fault.cleared - fault.began, recovery=recovery, idle=idle,
        seconds=watched.end - watched.t0, complete=watched.complete,
        notes=list(fault.notes) if fault else [], troubles=run.troubles)


def _utc(monotonic: float) -> str:
    wall = time.time() - (time.monotonic() - monotonic)
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds")


def _documents(es: Any, alias: str, attempts: int = 30) -> dict[str, dict[str, Any]]:
    """id -> {url, version} of every document under ``alias`` (after a refresh)."""
    from elasticsearch.helpers import scan

    for attempt in range(attempts):  # the node may still be recovering from a drill
        try:
            if not es.indices.exists_alias(name=alias):
                return {}  # the index daemon never wrote
            es.indices.refresh(index=alias)
            return {h["_id"]: {"url": h["_source"]["url"], "version": h.get("_version", 1)}
                    for h in scan(es, index=alias, query={"query": {"match_all": {}}}, _source=["url"], version=True)}
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(2.0)
    return {}


def log_events(run: Run, stage: str, message: str) -> list[dict[str, Any]]:
    """The JSON log records of a stage's daemons (every generation) whose message starts with ``message``."""
    found = []
    for line in (run.dir / f"{stage}.log").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if str(record.get("msg", "")).startswith(message):
                found.append(record)
    return found
