"""`newsflow backfill`: a source's past fetched now and sent on the reprocess lane, not the live one.

The source's history (ingest/feed_history.py: RFC 5005 archives and pages, sitemaps) gives the
entries; the poller takes them as if a poll had found them (Poller.take_entries): robots.txt,
politeness, the SSRF guard, the raw archive, extraction in worker processes, and "seen" per
source in the state database. So an entry the live poller already sent is not fetched again,
nor one a previous backfill sent: a run cut short is resumed by running it again. The articles
go on the reprocess lane (pipeline/reprocess_lane.py), so a backfill of thousands of pages never
delays live news in a topic partition; its refused articles are not kept in the state for the
live poller to send on the live topic (Poller ``keep_refused``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from newsflow.ingest.feed_history import MAX_DOCUMENTS, MAX_ENTRIES, History, Window, read_history
from newsflow.ingest.feedparse import FeedEntry, FeedError
from newsflow.ingest.site_history import read_site_history
from newsflow.ingest.poll_stats import PollStats
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.poll_stage import bridge, build_poller
from newsflow.pipeline.reprocess_lane import ReprocessLane

BATCH = 50  # entries handed to the poller at once: the progress bar moves, a stop waits for one batch


@dataclass
class BackfillSummary:
    history: History
    poll: PollStats = field(default_factory=PollStats)
    listed_only: bool = False
    seconds: float = 0.0


def backfill(
    settings: PipelineSettings, source: str, window: Window, *, stop: threading.Event | None = None,
    track: Callable[[Iterable[FeedEntry], int], Iterator[FeedEntry]] = lambda entries, total: iter(entries),
    list_only: bool = False, max_documents: int = MAX_DOCUMENTS, max_entries: int = MAX_ENTRIES,
    drain_timeout: float = 600.0,
) -> BackfillSummary:
    """Read ``source``'s history in ``window``, then fetch, extract, enrich and index its entries
    (``list_only``: read the history and stop). FetchError/FeedError when the source cannot be read."""
    stop = stop or threading.Event()
    return asyncio.run(_backfill(settings, source, window, stop, track, list_only, max_documents, max_entries,
                                 drain_timeout))


async def _backfill(
    settings: PipelineSettings, source: str, window: Window, stop: threading.Event,
    track: Callable[[Iterable[FeedEntry], int], Iterator[FeedEntry]], list_only: bool, max_documents: int,
    max_entries: int, drain_timeout: float,
) -> BackfillSummary:
    started = time.monotonic()
    astop = bridge(stop)
    lane = None if list_only else ReprocessLane(settings, stop, source="backfill")
    try:
        poller = build_poller(settings.model_copy(update={"feeds": []}), lane.send if lane else _no_sink,
                              keep_refused=False)
    except BaseException:
        if lane is not None:
            lane.close()
        raise
    summary: BackfillSummary | None = None
    try:
        limits = {"max_documents": max_documents, "max_entries": max_entries}
        try:
            history = await read_history(poller.fetcher, source, window, settings.poller, **limits)
        except FeedError as exc:
            if exc.kind != "not_a_feed":
                raise
            # A web page: the site's address. Its sitemaps or feeds are the source.
            history = await read_site_history(poller.fetcher, source, window, settings.poller, **limits)
        summary = BackfillSummary(history, listed_only=list_only)
        if lane is None:
            return summary
        batch: list[FeedEntry] = []
        for entry in track(history.entries, len(history.entries)):
            batch.append(entry)
            if len(batch) >= BATCH:
                await poller.take_entries(history.source, batch, astop, summary.poll)
                batch = []
            if stop.is_set() or summary.poll.articles_waiting:
                break  # stopped, or the bus refuses: what is left stays unseen for the next run
        if batch and not stop.is_set() and not summary.poll.articles_waiting:
            await poller.take_entries(history.source, batch, astop, summary.poll)
        if not stop.is_set() and not summary.poll.articles_waiting:
            await asyncio.to_thread(lane.drain, drain_timeout)
        return summary
    finally:
        await poller.fetcher.aclose()
        await asyncio.to_thread(poller.close)
        if lane is not None:
            lane.close()
        if summary is not None:
            summary.seconds = time.monotonic() - started


def _no_sink(article: object) -> None:
    raise RuntimeError("backfill --list sends nothing")
