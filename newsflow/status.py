"""What `newsflow status` reports: the services' reachability, feed health, consumer groups (state,
members, lag), dead letters, index counts, and the daemons' recent fault history.

Answers within seconds whatever is down: the services are probed first, all at once, with short
timeouts (``PROBE_TIMEOUT``); the sections of an unreachable service are skipped (one line names
the service), the others are read concurrently with short client timeouts (``READ_TIMEOUT``),
and a section still unfinished at ``DEADLINE`` is reported as timed out. Works on either bus and
either index; it creates nothing (no topics, index or state file) as a side effect.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from newsflow.settings import Settings
from newsflow.pipeline.backends import group

# The stage groups and the topic each consumes.
STAGES = (("enrich", "cleaned"), ("index", "enriched"))
PROBE_TIMEOUT = 2.0  # seconds a reachability probe may take
READ_TIMEOUT = 5.0  # seconds a client request of a section may take
DEADLINE = 15.0  # seconds after which a section still reading is given up
HISTORY = 20  # fault events shown by default


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


# -- the sections (pure reads) -------------------------------------------------------------------


def feed_health(settings: Settings) -> list[dict[str, Any]]:
    """Configured feeds (in config order) with their poll state, then feeds only the store knows."""
    from newsflow.ingest.feedstate import STATUS_NEW, FeedStateStore

    states = {}
    if settings.state_db.exists():
        store = FeedStateStore(settings.state_db)
        try:
            states = {st.url: st for st in store.all()}
        finally:
            store.close()
    names = {f.url: f.name for f in settings.feeds}
    urls = list(names) + [u for u in states if u not in names]
    rows = []
    for url in urls:
        st = states.get(url)
        rows.append(
            {
                "url": url,
                "name": names.get(url) or (st.title if st else None),
                "configured": url in names,
                "status": st.status if st else STATUS_NEW,
                "waiting": st.waiting if st else 0,  # articles the bus refused, kept for a retry ("degraded")
                "last_success": _iso(st.last_success) if st else None,
                "last_error": st.last_error if st else None,
                "last_error_kind": st.last_error_kind if st else None,
                "consecutive_failures": st.consecutive_errors if st else 0,
                "next_poll": _iso(st.next_poll) if st else None,
                "items_per_day": round(st.items_per_day, 2) if st and st.items_per_day is not None else None,
                "moved_to": st.moved_to if st else None,
            }
        )
    return rows


def groups(settings: Settings) -> list[dict[str, Any]]:
    """The stage groups: state (stable, rebalancing, empty, dead), members and their partitions,
    lag per partition of the topic each consumes."""
    topics = settings.bus.topics
    wanted = {group(settings, stage): [getattr(topics, attr)] for stage, attr in STAGES}
    if settings.bus.backend == "kafka":
        from newsflow.bus.kafka import KafkaBroker

        views = KafkaBroker(settings.bus).describe_groups(wanted)
    else:
        broker = _local_broker(settings)
        if broker is None:
            return []
        try:
            views = broker.describe_groups(wanted)
        finally:
            broker.close()
    return [
        {
            "group": v.name,
            "state": v.state,
            "members": [
                {"member_id": m.member_id, "client_id": m.client_id, "host": m.host, "alive": m.alive,
                 "partitions": [f"{p.topic}[{p.index}]" for p in m.partitions]}
                for m in v.members
            ],
            "lag": [{"topic": p.topic, "partition": p.index, "lag": n} for p, n in sorted(v.lag.items())],
        }
        for v in views
    ]


def lag_rows(group_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stage group and partition of the topic it consumes: messages not committed yet."""
    return [{"group": g["group"], **row} for g in group_rows for row in g["lag"]]


def dead_letters(settings: Settings) -> dict[str, Any]:
    """Messages in the dead-letter topic, and how many the replay group has not replayed yet."""
    topic = settings.bus.topics.dead_letters
    replay = group(settings, "dlq-replay")
    if settings.bus.backend == "kafka":
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition

        from newsflow.bus.kafka import KafkaBroker, client_config

        probe = KafkaConsumer(**client_config(settings.bus.kafka), enable_auto_commit=False)
        try:
            tps = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or ()]
            end = probe.end_offsets(tps) if tps else {}
            begin = probe.beginning_offsets(tps) if tps else {}
        finally:
            probe.close()
        total = sum(end[tp] - begin[tp] for tp in tps)
        pending = sum(KafkaBroker(settings.bus).group_lag(replay, [topic]).values()) if tps else 0
        return {"topic": topic, "count": total, "not_replayed": min(pending, total)}
    broker = _local_broker(settings)
    if broker is None:
        return {"topic": topic, "count": 0, "not_replayed": 0}
    try:
        ends = broker.end_offsets(topic)
        committed = broker.committed(replay, topic)
    finally:
        broker.close()
    total = sum(ends.values())
    return {"topic": topic, "count": total, "not_replayed": sum(max(0, e - committed.get(p, 0)) for p, e in ends.items())}


def _local_broker(settings: Settings) -> Any:
    if not settings.bus_db.exists():
        return None  # nothing ran yet; opening it would create it
    from newsflow.bus.local import LocalBroker

    return LocalBroker(settings.bus_db)


def index_counts(settings: Settings) -> dict[str, Any]:
    from newsflow.pipeline.backends import open_index

    if settings.index.backend == "elasticsearch":
        name = settings.index.elasticsearch.alias
    else:
        name = str(settings.index_db)
        if not settings.index_db.exists():
            return {"backend": "sqlite", "name": name, "count": 0}
    idx = open_index(settings, create=False)
    try:
        return {"backend": settings.index.backend, "name": name, "count": idx.count()}
    finally:
        idx.close()


def history(settings: Settings, limit: int = HISTORY, since: float | None = None) -> list[dict[str, Any]]:
    """The daemons' recent fault events, oldest first (pipeline/fault_log.py records them)."""
    from newsflow.pipeline.backends import open_event_store

    if settings.index.backend != "elasticsearch" and not settings.state_db.exists():
        return []  # nothing ran yet
    store = open_event_store(settings, readonly=True)
    try:
        events = store.recent(limit, since)
    finally:
        store.close()
    return [{**e.to_dict(), "time": _iso(e.time)} for e in events]


def unreachable(settings: Settings) -> dict[str, str]:
    """The configured services that do not answer (service -> why), probed concurrently."""
    from newsflow.pipeline.backends import service_probes

    probes = service_probes(settings, index=True)  # imports the clients before the clock starts
    # A Kafka probe may wait PROBE_TIMEOUT to connect and as long for the answer; the margin is for
    # a loaded host. A probe still running then counts as "no answer".
    results = _concurrently(probes, 2 * PROBE_TIMEOUT + 2)
    return {name: reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
            for name, reason in results.items() if reason is not None}


# The service each section needs; a section of an unreachable one is skipped.
NEEDS = {"groups": "kafka", "dead_letters": "kafka", "index": "elasticsearch"}


def _quick(settings: Settings) -> Settings:
    """The settings with short client timeouts: status must answer in seconds."""
    kafka = settings.bus.kafka.model_copy(update={"timeout": min(settings.bus.kafka.timeout, READ_TIMEOUT)})
    es = settings.index.elasticsearch.model_copy(
        update={"request_timeout": min(settings.index.elasticsearch.request_timeout, READ_TIMEOUT)})
    return settings.model_copy(update={
        "bus": settings.bus.model_copy(update={"kafka": kafka}),
        "index": settings.index.model_copy(update={"elasticsearch": es}),
    })


def _concurrently(calls: dict[str, Callable[[], Any]], deadline: float) -> dict[str, Any]:
    """Run every call in its own daemon thread (a hung client must not hold the exit); a call
    still running at ``deadline`` raises TimeoutError in its place, one that failed its error."""
    results: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            results[name] = call()
        except Exception as exc:
            results[name] = exc

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in calls.items()]
    for t in threads:
        t.start()
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return {name: results.get(name, TimeoutError(f"no answer within {deadline:.0f}s")) for name in calls}


def collect(settings: Settings, *, limit: int = HISTORY, since: float | None = None) -> dict[str, Any]:
    """Every section; one that cannot be read is None, with its error under ``errors``; the
    services that did not answer are under ``unreachable`` (their sections are not tried)."""
    down = unreachable(settings)
    report: dict[str, Any] = {"bus": settings.bus.backend, "unreachable": down, "errors": {}}
    quick = _quick(settings)
    sections: dict[str, Callable[[], Any]] = {
        "feeds": lambda: feed_health(quick),
        "groups": lambda: groups(quick),
        "dead_letters": lambda: dead_letters(quick),
        "index": lambda: index_counts(quick),
        "history": lambda: history(quick, limit, since),
    }
    needs = {**NEEDS, "history": "elasticsearch"} if settings.index.backend == "elasticsearch" else NEEDS
    for name, service in needs.items():
        if service in down:
            del sections[name]
            report[name] = None
            report["errors"][name] = f"{service} unreachable"
    for name, result in _concurrently(sections, DEADLINE).items():
        if isinstance(result, Exception):  # a service that fails must not hide the other sections
            report[name] = None
            report["errors"][name] = f"{type(result).__name__}: {result}"
        else:
            report[name] = result
    report["lag"] = lag_rows(report["groups"]) if report.get("groups") is not None else None
    if "groups" in report["errors"]:
        report["errors"]["lag"] = report["errors"]["groups"]
    return report
