"""`newsflow reprocess`: archived pages back through extraction, enrichment and indexing, with no
network.

The raw archive (ingest/archive_writer.py) is read in file order, local files and, with
archive.s3, the bucket's (a file only there is downloaded for the while it is read); each selected page is rebuilt as
the fetch result and feed entry it was first extracted from, extracted again by the extraction
workers, and sent on the reprocess lane (pipeline/reprocess_lane.py: its own topics and consumer
groups, apart from live news). The article keeps its id (the same page gives the same canonical
url), so the index updates it in place, with the running versions stamped.

Resumable: after every ``CHECKPOINT_EVERY`` acknowledged pages the position (WARC file, offset
past the page) is saved in the state database under the selection; an interrupted run of the same
selection starts after it. A finished run deletes it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

import orjson

from newsflow.core.record import Article
from newsflow.ingest.archive_checkpoint import Checkpoint
from newsflow.ingest.archive_reader import ArchivedPage, files, scan
from newsflow.ingest.archive_s3 import open_store
from newsflow.ingest.archive_writer import archive_dir
from newsflow.ingest.extract.version import EXTRACTOR_VERSION
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.reprocess_lane import ReprocessLane

CHECKPOINT_EVERY = 50


class NoArchive(Exception):
    """There is no archive to reprocess."""


@dataclass(frozen=True)
class Selection:
    since: datetime | None = None
    until: datetime | None = None
    site: str | None = None  # host, e.g. example.org (its subdomains too)
    feed: str | None = None  # feed url
    outdated: bool = False  # only articles whose extractor or enricher versions differ from the running ones

    def key(self) -> str:
        return orjson.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()},
                            option=orjson.OPT_SORT_KEYS).decode()

    def takes(self, page: ArchivedPage) -> bool:
        if page.kind != "page":
            return False
        if self.since is not None and page.fetched_at < self.since:
            return False
        if self.until is not None and page.fetched_at >= self.until:
            return False
        if self.feed is not None and page.feed_url != self.feed:
            return False
        if self.site is not None:
            host = (urlsplit(page.result.url).hostname or "").lower()
            site = self.site.lower()
            if host != site and not host.endswith("." + site):
                return False
        return True


@dataclass
class ReprocessSummary:
    pages: int = 0  # archived pages selected
    sent: int = 0  # articles re-extracted and acknowledged by the bus
    up_to_date: int = 0  # skipped by --outdated
    failed: dict[str, int] = field(default_factory=dict)  # extraction failures by kind
    resumed_after: tuple[str, int] | None = None
    seconds: float = 0.0


def _outdated(index: Any, versions: dict[str, str]) -> Callable[[ArchivedPage], bool]:
    def check(page: ArchivedPage) -> bool:
        link_id = page.meta.get("link_id")
        stored: Article | None = index.get(link_id) if link_id else None
        if stored is None:
            return True  # not in the index (or under another id): extracting it again is the safe side
        enriched = stored.enrichment.versions if stored.enrichment else {}
        return stored.extractor_version != EXTRACTOR_VERSION or enriched != versions

    return check


def reprocess(
    settings: PipelineSettings, selection: Selection, *, stop: threading.Event | None = None,
    track: Callable[[Iterable[ArchivedPage]], Iterator[ArchivedPage]] = iter, restart: bool = False,
    drain_timeout: float = 600.0,
) -> ReprocessSummary:
    """Reprocess the archived pages ``selection`` takes; ``track`` wraps the page iterator (a progress bar)."""
    from newsflow.ingest.extract.site_templates import SiteTemplates, learn_and_strip
    from newsflow.ingest.extract_workers import ExtractWorkers

    root = archive_dir(settings.archive, settings.data_dir)
    store = open_store(settings.archive.s3)
    if not files(root, store):
        where = f"{root} or {settings.archive.s3.location()}" if store is not None else str(root)
        raise NoArchive(f"no archive in {where}: nothing to reprocess (archive.enabled on, then poll)")
    stop = stop or threading.Event()
    started = time.monotonic()
    summary = ReprocessSummary()
    checkpoint = Checkpoint(settings.state_db, selection.key())
    if restart:
        checkpoint.clear()
    after, summary.sent = checkpoint.load()
    summary.resumed_after = after
    lane = ReprocessLane(settings, stop, source="reprocess")
    extract = settings.extract.model_copy(update={"max_page_bytes": settings.poller.max_body_bytes})
    workers = ExtractWorkers(extract, workers=extract.workers, budget=extract.timeout)
    templates = SiteTemplates(settings.data_dir / "site-memory.json") if settings.extract.site_templates else None
    outdated = _outdated(lane.index, lane.chain.versions) if selection.outdated else None
    window: deque[tuple[ArchivedPage, Future[Article]]] = deque()
    in_flight = max(2, extract.workers * 4)

    def finish_one() -> None:
        page, future = window.popleft()
        try:
            article = future.result()
        except Exception as exc:  # the extractor's verdict on the page, now as the first time
            kind = getattr(exc, "kind", None) or type(exc).__name__
            summary.failed[kind] = summary.failed.get(kind, 0) + 1
        else:
            if templates is not None:
                article = learn_and_strip(templates, article)
            feeds = list(dict.fromkeys([*article.feeds, *([page.feed_url] if page.feed_url else [])]))
            article = article.model_copy(update={
                "archive_ref": page.ref, "feeds": feeds, "fetched_at": page.fetched_at,
                "original_url": article.original_url or (page.entry.link if page.entry else None),
            })
            acks.append(lane.send(article))
        finished[0] += 1
        if finished[0] % CHECKPOINT_EVERY == 0:
            acknowledged()
            checkpoint.save(page.file, page.end, summary.sent)

    def acknowledged() -> None:
        """Wait for the bus to take what was sent: a checkpoint never passes an unacknowledged page."""
        while acks:
            acks.pop(0).result(settings.bus.kafka.timeout)
            summary.sent += 1

    finished = [0]
    acks: list[Future[Any]] = []
    last: ArchivedPage | None = None
    try:
        for page in track(scan(root, after, store)):
            if stop.is_set():
                break
            if not selection.takes(page):
                continue
            if outdated is not None and not outdated(page):
                summary.up_to_date += 1
                continue
            summary.pages += 1
            res = page.result
            window.append((page, workers.submit(res.body, res.url, page.entry, page.feed_url or "",
                                                content_type=res.content_type)))
            last = page
            while len(window) >= in_flight:
                finish_one()
        while window:  # stopping too: the pages in flight are a few, and then the checkpoint is exact
            finish_one()
        acknowledged()
        if stop.is_set():
            if last is not None:
                checkpoint.save(last.file, last.end, summary.sent)
            return summary
        lane.drain(drain_timeout)
        checkpoint.clear()
    finally:
        workers.close()
        if templates is not None:
            templates.save()
        lane.close()
        checkpoint.close()
        summary.seconds = time.monotonic() - started
    return summary

