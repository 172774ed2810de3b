"""What `newsflow status` reports: feed health, topic lag per consumer group, dead letters and index counts.

Each section is read on its own: when a service is down, its section reports the error and
the others still print (the exit code is then 1). Works on either bus and either index; it
creates nothing (no topics, index or state file) as a side effect.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from newsflow.settings import Settings
from newsflow.pipeline.backends import group

# The stage groups and the topic each consumes.
STAGES = (("enrich", "cleaned"), ("index", "enriched"))


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


def topic_lag(settings: Settings) -> list[dict[str, Any]]:
    """Per stage group and partition of the topic it consumes: messages not committed yet."""
    topics = settings.bus.topics
    rows = []
    for stage, attr in STAGES:
        grp, topic = group(settings, stage), getattr(topics, attr)
        for partition, lag in sorted(_group_lag(settings, grp, topic).items()):
            rows.append({"group": grp, "topic": topic, "partition": partition, "lag": lag})
    return rows


def _group_lag(settings: Settings, grp: str, topic: str) -> dict[int, int]:
    if settings.bus.backend == "kafka":
        from newsflow.bus.kafka import KafkaBroker

        return {p.index: n for p, n in KafkaBroker(settings.bus).group_lag(grp, [topic]).items()}
    broker = _local_broker(settings)
    if broker is None:
        return {}
    try:
        committed = broker.committed(grp, topic)
        return {p.index: max(0, end - committed.get(p, 0)) for p, end in broker.end_offsets(topic).items()}
    finally:
        broker.close()


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


SECTIONS: dict[str, Callable[[Settings], Any]] = {
    "feeds": feed_health,
    "lag": topic_lag,
    "dead_letters": dead_letters,
    "index": index_counts,
}


def collect(settings: Settings) -> dict[str, Any]:
    """Every section; one that cannot be read is None, with its error under ``errors``."""
    report: dict[str, Any] = {"bus": settings.bus.backend, "errors": {}}
    for name, read in SECTIONS.items():
        try:
            report[name] = read(settings)
        except Exception as exc:  # a service that is down must not hide the other sections
            report[name] = None
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
    return report
