"""The poll stage: the poller (ingest) with its state, fetcher and extractor, emitting into the bus."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from newsflow.bus.backend import Producer
from newsflow.core import faults
from newsflow.core.record import Article, article_headers
from newsflow.ingest.poll_stats import PollStats
from newsflow.pipeline.config import PipelineSettings


class ArticleSink:
    """What the poller emits into: one cleaned article per message, keyed by its stable id, with
    the article headers (``newsflow.core.record.article_headers``).

    ``healthy`` says whether the bus took the last article (the poll daemon's readiness): False
    from a refused or failed produce until one succeeds again.
    """

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._headers = article_headers("poll")
        self.healthy = True

    def __call__(self, article: Article) -> "Future[Any]":
        try:
            future = self._producer.produce(self._topic, article.id.encode(), article.to_json(), self._headers)
        except Exception as exc:
            self._refused(exc)
            raise
        future.add_done_callback(self._delivered)
        return future

    def _delivered(self, future: "Future[Any]") -> None:
        if future.cancelled():  # given up by the poll (its deadline), not refused by the bus
            return
        error = future.exception()
        if error is not None:
            self._refused(error)
        else:
            self.healthy = True

    def _refused(self, error: BaseException) -> None:
        self.healthy = False
        faults.emit(faults.BUS_REFUSAL, "poll", f"{type(error).__name__}: {error}"[:300])  # recorded as bursts


def build_poller(settings: PipelineSettings, sink: Any, *, keep_refused: bool = True) -> Any:
    """The poller with its state store, fetcher and extraction workers (the fetcher needs a running loop).
    ``keep_refused``: articles the bus refused are kept in the state for the next run (the live poller's)."""
    from newsflow.ingest.extract_workers import ExtractWorkers
    from newsflow.ingest.feedstate import FeedStateStore
    from newsflow.ingest.fetcher import Fetcher
    from newsflow.ingest.poller import Poller
    from newsflow.ingest.extract.site_templates import SiteTemplates, learn_and_strip

    # Per-site template learning (ingest/extract/site_templates.py), persisted in the data dir. It learns
    # across pages, so it runs here, after each page came back from its worker.
    templates = SiteTemplates(settings.data_dir / "site-memory.json") if settings.extract.site_templates else None
    after = (lambda article: learn_and_strip(templates, article)) if templates is not None else None

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = FeedStateStore(settings.state_db, seen_ids_per_feed=settings.poller.seen_ids_per_feed)
    # The extractor takes what the fetcher may bring, and no more.
    extract = settings.extract.model_copy(update={"max_page_bytes": settings.poller.max_body_bytes})
    workers = ExtractWorkers(extract, workers=extract.workers, budget=extract.timeout)
    poller = Poller(settings.poller, store, Fetcher(settings.poller), workers, sink, feeds=settings.feeds, after_extract=after,
                    archive=open_archive(settings), keep_refused=keep_refused)
    poller.on_close(workers.close)
    if templates is not None:
        poller.on_close(templates.save)  # between timed saves, what was learnt since the last one
    return poller


def open_archive(settings: PipelineSettings) -> Any:
    """The raw archive's writer, or None when ``archive.enabled`` is off."""
    from newsflow.ingest.archive_writer import WarcArchive, archive_dir

    if not settings.archive.enabled:
        return None
    return WarcArchive(settings.archive, archive_dir(settings.archive, settings.data_dir))


async def close_after(poller: Any, work: Any) -> PollStats:
    try:
        return await work
    finally:
        await poller.fetcher.aclose()


def bridge(stop: threading.Event) -> asyncio.Event:
    """The thread-level stop (signals) as an asyncio event of the running loop."""
    astop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wait() -> None:
        stop.wait()
        try:
            loop.call_soon_threadsafe(astop.set)
        except RuntimeError:  # the loop finished first
            pass

    threading.Thread(target=wait, daemon=True).start()
    return astop


async def run_until(poller: Any, stop: threading.Event) -> PollStats:
    """Poll feeds as they come due until ``stop`` (the daemons, `newsflow run`)."""
    return await poller.run_forever(bridge(stop))


async def poll_once_until(poller: Any, stop: threading.Event) -> PollStats:
    """Every feed once (`newsflow run --once`); a stop cuts the run short."""
    return await poller.poll_once(bridge(stop))
