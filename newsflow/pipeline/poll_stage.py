"""The poll stage: the poller (ingest) with its state, fetcher and extractor, emitting into the bus."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from newsflow.bus.backend import Producer
from newsflow.core.record import Article
from newsflow.ingest.poller import PollStats
from newsflow.pipeline.config import PipelineSettings


class ArticleSink:
    """What the poller emits into: one cleaned article per message, keyed by its stable id.

    ``healthy`` says whether the bus took the last article (the poll daemon's readiness): False
    from a refused or failed produce until one succeeds again.
    """

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self.healthy = True

    def __call__(self, article: Article) -> "Future[Any]":
        try:
            future = self._producer.produce(self._topic, article.id.encode(), article.to_json())
        except Exception:
            self.healthy = False
            raise
        future.add_done_callback(self._delivered)
        return future

    def _delivered(self, future: "Future[Any]") -> None:
        self.healthy = future.exception() is None


def build_poller(settings: PipelineSettings, sink: Any) -> Any:
    """The poller with its state store, fetcher and extractor (the fetcher needs a running loop)."""
    from newsflow.ingest.extract.article import extract_article
    from newsflow.ingest.feedstate import FeedStateStore
    from newsflow.ingest.fetcher import Fetcher
    from newsflow.ingest.poller import Poller
    from newsflow.ingest.extract.site_templates import SiteMemory, learn_and_strip

    # Per-site template learning (ingest/site_memory.py), persisted in the data dir.
    memory = SiteMemory(settings.data_dir / "site-memory.json") if settings.extract.site_templates else None

    def extract(html: bytes, url: str, entry: Any, feed_url: str, *, content_type: str | None = None) -> Any:
        article = extract_article(html, url, entry, feed_url, settings.extract, content_type=content_type)
        return learn_and_strip(memory, article) if memory is not None else article

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = FeedStateStore(settings.state_db, seen_ids_per_feed=settings.poller.seen_ids_per_feed)
    poller = Poller(settings.poller, store, Fetcher(settings.poller), extract, sink, feeds=settings.feeds)
    if memory is not None:
        poller.on_close(memory.save)  # between timed saves, what was learnt since the last one
    return poller


async def close_after(poller: Any, work: Any) -> PollStats:
    try:
        return await work
    finally:
        await poller.fetcher.aclose()


async def run_until(poller: Any, stop: threading.Event) -> PollStats:
    """Bridge the thread-level stop (signals) to the poller's asyncio event."""
    astop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(astop.set)), daemon=True).start()
    return await poller.run_forever(astop)


