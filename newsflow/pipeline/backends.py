"""Pick the edge implementations the config names: the embedded default or the real services."""

from __future__ import annotations

import threading
from typing import Any, Callable

from newsflow.bus.backend import Broker
from newsflow.bus.metrics import DEAD_LETTERS
from newsflow.bus.processor import StreamProcessor
from newsflow.core.faults import EventStore
from newsflow.index.base import Index
from newsflow.pipeline.config import PipelineSettings

# Consumer groups: every copy of a stage joins the same group and shares the partitions.
# These are the names under the default ``bus.group_prefix``; use ``group()`` for the configured ones.
ENRICH_GROUP = "newsflow-enrich"
INDEX_GROUP = "newsflow-index"
REPLAY_GROUP = "newsflow-dlq-replay"


def group(settings: PipelineSettings, stage: str) -> str:
    """The consumer group of a stage ("enrich", "index", "dlq-replay") under ``bus.group_prefix``."""
    return f"{settings.bus.group_prefix}-{stage}"


def open_broker(settings: PipelineSettings, stop: threading.Event | None = None) -> Broker:
    """``stop`` lets a producer blocked on a full local backlog give up at shutdown."""
    if settings.bus.backend == "kafka":
        from newsflow.bus.kafka import KafkaBroker

        return KafkaBroker(settings.bus)
    from newsflow.bus.local import LocalBroker

    return LocalBroker(settings.bus_db, max_backlog=settings.bus.max_backlog, stop=stop)


def open_index(settings: PipelineSettings, *, create: bool = True) -> Index:
    """``create=False`` for read-only commands: no tables or templates are made as a side effect."""
    if settings.index.backend == "elasticsearch":
        from newsflow.index.elastic import ElasticIndex

        idx: Index = ElasticIndex(settings.index.elasticsearch)
    else:
        from newsflow.index.sqlite_fts import SqliteIndex

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        idx = SqliteIndex(settings.index_db)
    if create:
        idx.setup()
    return idx


def service_probes(settings: PipelineSettings, *, index: bool) -> dict[str, Callable[[], "str | None"]]:
    """The reachability probes of the services a stage depends on (``index``: it writes to the
    index); the embedded bus and index are files, always there."""
    timeout = settings.daemon.probe_timeout
    probes: dict[str, Callable[[], str | None]] = {}
    if settings.bus.backend == "kafka":
        from newsflow.bus.kafka.probe import unreachable as kafka_down

        kafka = settings.bus.kafka
        probes["kafka"] = lambda: kafka_down(kafka, timeout)
    if index and settings.index.backend == "elasticsearch":
        from newsflow.index.elastic_probe import unreachable as es_down

        cfg = settings.index.elasticsearch
        probes["elasticsearch"] = lambda: es_down(cfg, timeout)
    return probes


def open_event_store(settings: PipelineSettings, *, readonly: bool = False) -> EventStore:
    """The status store of the fault history: the events index beside an Elasticsearch index, the
    state database on the embedded default (index/events_elastic.py says why)."""
    keep = {"max_events": settings.daemon.history_events, "max_age": settings.daemon.history_days * 86400}
    if settings.index.backend == "elasticsearch":
        from newsflow.index.events_elastic import ElasticEventStore

        return ElasticEventStore(settings.index.elasticsearch, **keep, timeout=settings.daemon.probe_timeout * 2)
    from newsflow.index.events_sqlite import SqliteEventStore

    return SqliteEventStore(settings.state_db, **keep, readonly=readonly)


def topic_partitions(settings: PipelineSettings) -> dict[str, int]:
    t = settings.bus.topics
    return {t.cleaned: t.partitions, t.enriched: t.partitions, t.dead_letters: 1}


def stage_processor(settings: PipelineSettings, broker: Broker, stage: str, topic: str,
                    factory: Callable[..., Any]) -> StreamProcessor:
    """One consumer of ``topic`` in ``stage``'s group; ``factory`` builds its strategies."""
    DEAD_LETTERS.labels(stage)  # export the count from the start, 0 included, so alerts can use it
    # Kept from the drain at a stop for the final commit and leaving the group, each bounded by
    # commit_timeout: the whole stop fits in shutdown_timeout even with the broker down.
    reserve = 2 * settings.bus.kafka.commit_timeout if settings.bus.backend == "kafka" else 0.0
    return StreamProcessor(broker.consumer(group(settings, stage)), [topic], factory, stage=stage,
                           shutdown_timeout=settings.daemon.shutdown_timeout, close_reserve=reserve)
