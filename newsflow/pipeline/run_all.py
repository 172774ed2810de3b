"""All three stages in one process (`newsflow run`, `newsflow demo`): the poller in the main
thread, enrich and index consumers in threads, over the same bus and index as the daemons."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import REGISTRY

from newsflow.bus.backend import Broker
from newsflow.bus.processor import StreamProcessor
from newsflow.daemon.shutdown import StopDeadline
from newsflow.ingest.poll_stats import PollStats
from newsflow.pipeline.backends import group, open_broker, open_index, topic_partitions
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.daemons import HealthFactory, index_ready
from newsflow.pipeline.enrich_stage import enrich_processor
from newsflow.pipeline.index_stage import index_processor
from newsflow.pipeline.poll_stage import ArticleSink, build_poller, close_after, poll_once_until, run_until
from newsflow.pipeline.watch import readiness, watched


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


def wait_drained(broker: Broker, settings: PipelineSettings, stop: threading.Event, timeout: float = 600.0) -> None:
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


def run_all(
    settings: PipelineSettings, *, once: bool, stop: threading.Event | None = None, health: HealthFactory | None = None
) -> RunSummary:
    """Poller, enrich and index in one process. ``once``: poll every feed once, drain, return.

    ``health`` (the daemons' factory, see pipeline/daemons.py) serves /metrics and /health/*
    while it runs: ready while the bus takes what the poller emits, the index answers, and both
    consumer stages run and own partitions."""
    from newsflow.processors.enrich import build_chain

    stop = stop or threading.Event()
    started = time.monotonic()
    chain = build_chain(settings.enrich)  # loads the models now: a missing one fails at start-up
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    index = open_index(settings)
    producer = broker.producer()
    stage_stop = threading.Event()
    processors = [
        enrich_processor(settings, broker, producer, chain),
        index_processor(settings, broker, producer, index),
    ]
    with watched(settings, "run", index=True) as reach:
        threads = [start_thread(p, stage_stop) for p in processors]
        sink = ArticleSink(producer, settings.bus.topics.cleaned)
        poller = build_poller(settings, sink)

        def ready() -> "bool | str":
            return readiness(reach, (
                not stop.is_set()
                and sink.healthy
                and all(t.is_alive() and p.owns_partitions for t, p in zip(threads, processors))
                and index_ready(index)
            ))

        server = health(settings, ready) if health is not None else None
        # One budget from the signal (--once: from the end of the drain); the stages stop side by side.
        deadline = StopDeadline(stage_stop if once else stop, settings.daemon.shutdown_timeout)
        try:
            if once:
                stats = asyncio.run(close_after(poller, poll_once_until(poller, stop)))
                wait_drained(broker, settings, stop)
            else:
                stats = asyncio.run(close_after(poller, run_until(poller, stop)))
        finally:
            stage_stop.set()
            for thread in threads:
                thread.join(deadline.remaining())
            poller.close()
            producer.close(deadline.remaining())
            if hasattr(index, "write_feed_status"):  # Elasticsearch: feed health for Kibana
                from newsflow.pipeline.feed_status import FeedStatusPublisher

                FeedStatusPublisher(poller.store, index, {f.url: f.name for f in settings.feeds}).publish()
            refresh = getattr(index, "refresh", None)  # Elasticsearch counts are near-real-time
            if refresh:
                refresh()
            indexed = index.count()
            index.close()
            close = getattr(broker, "close", None)
            if close:
                close()
            if server is not None:
                server.stop()
    return RunSummary(stats, indexed, dead_letter_counts(), time.monotonic() - started)


def start_thread(processor: StreamProcessor, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=processor.run, args=(stop,), name=f"stage-{processor.stage}", daemon=True)
    thread.start()
    return thread
