"""One stage per process: the poll, enrich and index daemons (`newsflow poll|enrich|index`), each
until SIGTERM, with readiness for the health endpoint."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from newsflow.daemon.shutdown import StopDeadline
from newsflow.pipeline.backends import open_broker, open_index, topic_partitions
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.enrich_stage import enrich_processor
from newsflow.pipeline.index_stage import index_processor
from newsflow.pipeline.poll_stage import ArticleSink, build_poller, close_after, run_until
from newsflow.pipeline.watch import readiness, watched

log = logging.getLogger(__name__)

HealthFactory = Any  # (settings, ready: () -> bool) -> HealthServer | None


def index_ready(index: Any) -> bool:
    """Readiness of a stage that writes to the index: the cluster answers and is not red."""
    if index is None:
        return True
    check = getattr(index, "health", None)  # Elasticsearch; the embedded index is a local file
    return check is None or check() in ("green", "yellow")


def poll_forever(settings: PipelineSettings, stop: threading.Event, health: HealthFactory) -> None:
    """The poll daemon: feeds -> cleaned topic, until SIGTERM; pages being extracted finish first."""
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    producer = broker.producer()
    sink = ArticleSink(producer, settings.bus.topics.cleaned)
    poller = build_poller(settings, sink)
    publisher = None
    if settings.index.backend == "elasticsearch":  # Kibana's "Feed health" reads the feed-status index
        from newsflow.pipeline.feed_status import FeedStatusPublisher

        names = {f.url: f.name for f in settings.feeds}
        publisher = FeedStatusPublisher(poller.store, open_index(settings), names).start(stop)
    log.info("poller started", extra={"feeds": len(settings.feeds), "bus": settings.bus.backend})
    deadline = StopDeadline(stop, settings.daemon.shutdown_timeout)
    with watched(settings, "poll", index=False) as reach:
        # Ready while polling, the bus is reachable and takes what it emits; not ready once stopping.
        server = health(settings, lambda: readiness(reach, not stop.is_set() and sink.healthy))
        try:
            asyncio.run(close_after(poller, run_until(poller, stop)))
        finally:
            if publisher is not None:
                publisher.publish()  # the last word on each feed before we go
                publisher.index.close()
            poller.close()
            producer.close(deadline.remaining())  # flushes first; what the bus did not ack stays unseen
            if server:
                server.stop()
    log.info("poller stopped")


def consume_forever(settings: PipelineSettings, stage: str, stop: threading.Event, health: HealthFactory) -> None:
    """The enrich or index daemon: one consumer in its stage's group, until SIGTERM.

    On stop the processor stops consuming, lets the steps finish what they hold, commits, and
    returns; what it could not finish in ``daemon.shutdown_timeout`` is redelivered later."""
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    producer = broker.producer()
    index = None
    pool = None
    if stage == "enrich":
        if settings.enrich.workers > 1:  # the chain runs in worker processes (pipeline/enrich_pool.py)
            from newsflow.pipeline.enrich_pool import start_pool

            pool = start_pool(settings.enrich)
            processor = enrich_processor(settings, broker, producer, None, pool=pool)
        else:
            from newsflow.processors.enrich import build_chain

            processor = enrich_processor(settings, broker, producer, build_chain(settings.enrich))
    else:
        index = open_index(settings)
        processor = index_processor(settings, broker, producer, index)
    log.info("%s stage started", stage, extra={"bus": settings.bus.backend})
    with watched(settings, stage, index=index is not None) as reach:
        # Ready while the bus (and the index) are reachable, the group has assigned this member
        # partitions (StreamProcessor.owns_partitions) and the index is not red; not once stopping.
        server = health(settings, lambda: readiness(
            reach, not stop.is_set() and processor.owns_partitions and index_ready(index)))
        try:
            processor.run(stop)
        finally:
            producer.close(processor.shutdown_left())
            if index is not None:
                index.close()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if server:
                server.stop()
    log.info("%s stage stopped", stage)
