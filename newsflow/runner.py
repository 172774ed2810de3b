"""Run the stages: all three in one process (`newsflow run`), or one per daemon
(`newsflow poll|enrich|index`). The same code drives the embedded bus and Kafka."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY

from newsflow.bus.backend import Broker
from newsflow.ingest.poller import PollStats
from newsflow.settings import Settings
from newsflow.stages import ArticleSink, enrich_processor, index_processor, start_thread
from newsflow.wiring import group, open_broker, open_index, topic_partitions

log = logging.getLogger(__name__)


class DrainTimeout(Exception):
    pass


@dataclass
class RunSummary:
    poll: PollStats
    indexed_total: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        p = self.poll
        out = [
            f"feeds polled: {p.feeds_polled} (changed {p.feeds_changed}, not modified {p.not_modified}, "
            f"unchanged {p.unchanged}, ill-formed but used {p.bozo_feeds})",
            f"new entries: {p.entries_new}; articles sent: {p.articles_emitted}; duplicates skipped: {p.duplicates}",
        ]
        if p.feed_errors:
            out.append("feed errors: " + ", ".join(f"{k} {v}" for k, v in sorted(p.feed_errors.items())))
        if p.article_errors:
            out.append("article errors: " + ", ".join(f"{k} {v}" for k, v in sorted(p.article_errors.items())))
        if any(self.dead_letters.values()):
            out.append("dead letters: " + ", ".join(f"{k} {v}" for k, v in sorted(self.dead_letters.items()) if v))
        out.append(f"articles in the index: {self.indexed_total}  ({self.seconds:.1f}s)")
        return out


def dead_letter_counts() -> dict[str, int]:
    return {
        stage: int(REGISTRY.get_sample_value("newsflow_dead_letters_total", {"stage": stage}) or 0)
        for stage in ("enrich", "index")
    }


def build_poller(settings: Settings, sink: Any) -> Any:
    """The poller with its state store, fetcher and extractor (the fetcher needs a running loop)."""
    from newsflow.ingest.extractor import extract_article
    from newsflow.ingest.feedstate import FeedStateStore
    from newsflow.ingest.fetcher import Fetcher
    from newsflow.ingest.poller import Poller
    from newsflow.ingest.site_memory import SiteMemory, learn_and_strip

    # Per-site template learning (ingest/site_memory.py), persisted in the data dir.
    memory = SiteMemory(settings.data_dir / "site-memory.json") if settings.extract.site_templates else None

    def extract(html: bytes, url: str, entry: Any, feed_url: str, *, content_type: str | None = None) -> Any:
        article = extract_article(html, url, entry, feed_url, settings.extract, content_type=content_type)
        return learn_and_strip(memory, article) if memory is not None else article

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = FeedStateStore(settings.state_db, seen_ids_per_feed=settings.poller.seen_ids_per_feed)
    poller = Poller(settings, store, Fetcher(settings.poller), extract, sink)
    if memory is not None:
        poller.on_close(memory.save)  # between timed saves, what was learnt since the last one
    return poller


def wait_drained(broker: Broker, settings: Settings, stop: threading.Event, timeout: float = 600.0) -> None:
    """Block until enrich and index have committed everything produced so far."""
    t = settings.bus.topics
    deadline = time.monotonic() + timeout
    caught_up = getattr(broker, "caught_up")
    while not stop.is_set():
        if caught_up(group(settings, "enrich"), [t.cleaned]) and caught_up(group(settings, "index"), [t.enriched]):
            return
        if time.monotonic() > deadline:
            raise DrainTimeout(f"the stages did not catch up within {timeout:.0f}s")
        stop.wait(0.2)


def run_all(settings: Settings, *, once: bool, stop: threading.Event | None = None) -> RunSummary:
    """Poller, enrich and index in one process. ``once``: poll every feed once, drain, return."""
    from newsflow.processors.enrich import build_chain

    stop = stop or threading.Event()
    started = time.monotonic()
    chain = build_chain(settings.enrich)  # loads the models now: a missing one fails at start-up
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    index = open_index(settings)
    producer = broker.producer()
    stage_stop = threading.Event()
    threads = [
        start_thread(enrich_processor(settings, broker, producer, chain), stage_stop),
        start_thread(index_processor(settings, broker, producer, index), stage_stop),
    ]
    poller = build_poller(settings, ArticleSink(producer, settings.bus.topics.cleaned))
    try:
        if once:
            stats = asyncio.run(_close_after(poller, poller.poll_once()))
            wait_drained(broker, settings, stop)
        else:
            stats = asyncio.run(_close_after(poller, _run_until(poller, stop)))
    finally:
        stage_stop.set()
        for thread in threads:
            thread.join(settings.daemon.shutdown_timeout)
        poller.close()
        producer.close()
        if hasattr(index, "write_feed_status"):  # Elasticsearch: feed health for Kibana
            from newsflow.feed_status import FeedStatusPublisher

            FeedStatusPublisher(poller.store, index, {f.url: f.name for f in settings.feeds}).publish()
        refresh = getattr(index, "refresh", None)  # Elasticsearch counts are near-real-time
        if refresh:
            refresh()
        indexed = index.count()
        index.close()
        close = getattr(broker, "close", None)
        if close:
            close()
    return RunSummary(stats, indexed, dead_letter_counts(), time.monotonic() - started)


async def _close_after(poller: Any, work: Any) -> PollStats:
    try:
        return await work
    finally:
        await poller.fetcher.aclose()


async def _run_until(poller: Any, stop: threading.Event) -> PollStats:
    """Bridge the thread-level stop (signals) to the poller's asyncio event."""
    astop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(astop.set)), daemon=True).start()
    return await poller.run_forever(astop)


HealthFactory = Any  # (settings, ready: () -> bool) -> HealthServer | None


def index_ready(index: Any) -> bool:
    """Readiness of a stage that writes to the index: the cluster answers and is not red."""
    if index is None:
        return True
    check = getattr(index, "health", None)  # Elasticsearch; the embedded index is a local file
    return check is None or check() in ("green", "yellow")


def poll_forever(settings: Settings, stop: threading.Event, health: HealthFactory) -> None:
    """The poll daemon: feeds -> cleaned topic, until SIGTERM; pages being extracted finish first."""
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    producer = broker.producer()
    sink = ArticleSink(producer, settings.bus.topics.cleaned)
    poller = build_poller(settings, sink)
    publisher = None
    if settings.index.backend == "elasticsearch":  # Kibana's "Feed health" reads the feed-status index
        from newsflow.feed_status import FeedStatusPublisher

        names = {f.url: f.name for f in settings.feeds}
        publisher = FeedStatusPublisher(poller.store, open_index(settings), names).start(stop)
    # Ready while polling and while the bus takes what it emits; not ready once stopping.
    server = health(settings, lambda: not stop.is_set() and sink.healthy)
    log.info("poller started", extra={"feeds": len(settings.feeds), "bus": settings.bus.backend})
    try:
        asyncio.run(_close_after(poller, _run_until(poller, stop)))
    finally:
        if publisher is not None:
            publisher.publish()  # the last word on each feed before we go
            publisher.index.close()
        poller.close()
        producer.flush(settings.daemon.shutdown_timeout)
        producer.close()
        if server:
            server.stop()
    log.info("poller stopped")


def consume_forever(settings: Settings, stage: str, stop: threading.Event, health: HealthFactory) -> None:
    """The enrich or index daemon: one consumer in its stage's group, until SIGTERM.

    On stop the processor stops consuming, lets the steps finish what they hold, commits, and
    returns; what it could not finish in ``daemon.shutdown_timeout`` is redelivered later."""
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    producer = broker.producer()
    index = None
    pool = None
    if stage == "enrich":
        if settings.enrich.workers > 1:  # the chain runs in worker processes (newsflow/enrich_pool.py)
            from newsflow.enrich_pool import start_pool

            pool = start_pool(settings.enrich)
            processor = enrich_processor(settings, broker, producer, None, pool=pool)
        else:
            from newsflow.processors.enrich import build_chain

            processor = enrich_processor(settings, broker, producer, build_chain(settings.enrich))
    else:
        index = open_index(settings)
        processor = index_processor(settings, broker, producer, index)
    server = health(settings, lambda: not stop.is_set() and index_ready(index))
    log.info("%s stage started", stage, extra={"bus": settings.bus.backend})
    try:
        processor.run(stop)
    finally:
        producer.close()
        if index is not None:
            index.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if server:
            server.stop()
    log.info("%s stage stopped", stage)
