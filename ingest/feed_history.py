"""A source's past: the entries a feed or sitemap published since a date (`newsflow backfill`).

A feed lists only its latest entries. Its past is reached the ways RFC 5005 describes:
an archived feed links its previous archive document (``rel="prev-archive"``), a paged feed
its next, older, page (``rel="next"``, as Blogger, WordPress plug-ins and most paged Atom feeds
do). The walk follows one chain, prev-archive first, and stops at the first document whose dated
entries are all older than ``since``: both chains run newest to oldest. A WordPress feed links
neither, yet serves its older pages at ``?paged=2``, ``3``...: a feed whose generator is WordPress
is walked that way, up to the first page that is missing or empty. A sitemap's past is its
own: every url of a sitemap, and the children of a sitemap index whose ``lastmod`` is not
older than ``since`` (or which have none), down to ``poller.sitemap_max_depth`` levels.

Entries are kept when their date (published, else updated) is in [since, until); undated ones
are kept too and counted, since many sitemaps date nothing. Every document is fetched through
the poller's Fetcher (SSRF guard, size caps, politeness, user agent); the walk is bounded by
``max_documents`` documents and ``max_entries`` entries, and a link back to a document already
read ends it. Fetching the pages is the poller's work, not this module's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsflow.ingest.config import PollerConfig
from newsflow.ingest.feedparse import FeedEntry, FeedError, ParsedFeed
from newsflow.ingest.fetch_result import FetchError
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.sitemap import is_sitemap, parse_sitemap
from newsflow.ingest.sitemap_source import read_feed

log = logging.getLogger(__name__)

MAX_DOCUMENTS = 500
MAX_ENTRIES = 10_000
# The links to a feed's past, in the order they are followed (RFC 5005 sections 4 and 3).
PAST_RELS = ("prev-archive", "next")
_WORDPRESS = re.compile(r"(^|[/.])wordpress\.(org|com)\b", re.I)


@dataclass
class History:
    source: str
    kind: str = "feed"  # feed or sitemap
    site: str | None = None  # the site's address, when the source was found from it (ingest/site_history.py)
    entries: list[FeedEntry] = field(default_factory=list)  # newest first, undated last
    documents: list[str] = field(default_factory=list)  # urls read, in order
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, why) of documents that could not be read
    undated: int = 0  # entries kept without a date
    older: int = 0  # entries left out: before ``since``
    newer: int = 0  # entries left out: at or after ``until``
    over_limit: int = 0  # entries in the window left out past ``max_entries`` (in the documents read)
    ended: str = ""  # why the walk stopped


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime | None = None

    def place(self, entry: FeedEntry) -> str:
        """in, undated, older or newer."""
        when = entry.published or entry.updated
        if when is None:
            return "undated"
        if when < self.since:
            return "older"
        if self.until is not None and when >= self.until:
            return "newer"
        return "in"


async def read_history(
    fetcher: Fetcher, url: str, window: Window, config: PollerConfig, *,
    max_documents: int = MAX_DOCUMENTS, max_entries: int = MAX_ENTRIES,
) -> History:
    """The entries of ``url`` (a feed or a sitemap) published in ``window``. A FetchError or
    FeedError when ``url`` itself cannot be read; later documents that fail are recorded and skipped."""
    history = History(url)
    walk = _Walk(fetcher, window, config, history, max_documents, max_entries)
    res = await fetcher.fetch_feed(url)
    history.documents.append(res.url)
    walk.visited.update({url, res.url})
    if is_sitemap(res.body):
        history.kind = "sitemap"
        await walk.sitemap(res.body, res.url, depth=0)
    else:
        feed = await read_feed(res.body, res.url, res.content_type)
        await walk.feed(feed)
    _finish(history, walk.kept)
    return history


class _Walk:
    def __init__(self, fetcher: Fetcher, window: Window, config: PollerConfig, history: History, max_documents: int,
                 max_entries: int) -> None:
        self.fetcher, self.window, self.config, self.history = fetcher, window, config, history
        self.max_documents, self.max_entries = max_documents, max_entries
        self.visited: set[str] = set()
        self.kept: dict[str, FeedEntry] = {}  # entry id -> entry, the first copy read wins

    def take(self, entries: list[FeedEntry]) -> tuple[int, int]:
        """Keep those in the window; (dated entries, of them older than ``since``)."""
        dated = older = 0
        for entry in entries:
            place = self.window.place(entry)
            dated += place != "undated"
            if entry.entry_id in self.kept:
                continue
            if place in ("in", "undated"):
                if len(self.kept) >= self.max_entries:  # memory stays bounded whatever the source lists
                    self.history.over_limit += 1
                    continue
                self.kept[entry.entry_id] = entry
                self.history.undated += place == "undated"
            elif place == "older":
                older += 1
                self.history.older += 1
            else:
                self.history.newer += 1
        return dated, older

    def room(self) -> bool:
        """Another document may be read: the walk reads newest first, so what a limit leaves is the oldest."""
        if len(self.kept) >= self.max_entries:
            self.history.ended = f"stopped at {self.max_entries} entries (--max-articles)"
            return False
        if len(self.history.documents) >= self.max_documents:
            self.history.ended = f"stopped at {self.max_documents} documents (--max-documents)"
            return False
        return True

    async def fetch(self, url: str, *, quiet_missing: bool = False) -> "tuple[bytes, str, str | None] | None":
        """``quiet_missing``: a 404 is the end of the pages, not a failure."""
        self.visited.add(url)
        try:
            res = await self.fetcher.fetch_feed(url)
        except FetchError as exc:
            if quiet_missing and exc.kind in ("http_404", "http_410"):
                return None
            self.history.failed.append((url, str(exc)))
            log.warning("backfill: %s skipped: %s", url, exc, extra={"feed": self.history.source, "url": url})
            return None
        self.history.documents.append(res.url)
        self.visited.add(res.url)
        return res.body, res.url, res.content_type

    async def feed(self, feed: ParsedFeed) -> None:
        while True:
            dated, older = self.take(feed.entries)
            if dated and older == dated:
                self.history.ended = "reached entries older than --since"
                return
            links = dict(reversed(feed.links))  # the first link of a rel wins
            past = next((links[rel] for rel in PAST_RELS if rel in links), None)
            paged = past is None and _is_wordpress(feed)
            if paged:
                if not feed.entries:
                    self.history.ended = "reached an empty page"
                    return
                past = _next_paged(self.history.documents[-1])
            if past is None:
                self.history.ended = "no older archive or page is linked"
                return
            if past in self.visited:
                self.history.ended = f"a link leads back to {past}, already read"
                return
            if not self.room():
                return
            got = await self.fetch(past, quiet_missing=paged)
            if got is None:
                missing = not self.history.failed or self.history.failed[-1][0] != past
                self.history.ended = ("reached the last page" if paged and missing
                                      else "an older archive or page could not be read")
                return
            try:
                feed = await read_feed(*got)
            except FeedError as exc:
                self.history.failed.append((got[1], str(exc)))
                self.history.ended = "an older archive or page could not be read"
                return

    async def sitemap(self, body: bytes, url: str, *, depth: int) -> None:
        try:
            parsed = await asyncio.to_thread(parse_sitemap, body, url)
        except FeedError as exc:
            if depth == 0:
                raise
            self.history.failed.append((url, str(exc)))
            return
        if parsed.feed is not None:
            self.take(parsed.feed.entries)
            return
        if depth >= self.config.sitemap_max_depth:
            self.history.failed.append((url, f"sitemap index nested deeper than {self.config.sitemap_max_depth} levels"))
            return
        for child in parsed.children:
            if child.lastmod is not None and child.lastmod < self.window.since:
                continue  # changed last before the window: none of its urls can be in it
            if child.url in self.visited:
                continue
            if not self.room():
                return
            got = await self.fetch(child.url)
            if got is None:
                continue
            if not is_sitemap(got[0]):
                self.history.failed.append((got[1], "not a sitemap"))
                continue
            await self.sitemap(got[0], got[1], depth=depth + 1)
        self.history.ended = self.history.ended or "every child sitemap in the window was read"


def _is_wordpress(feed: ParsedFeed) -> bool:
    return bool(feed.generator and _WORDPRESS.search(feed.generator))


def _next_paged(url: str) -> str:
    """``url`` with its ``paged`` query parameter one higher (2 when absent)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "paged"]
    current = dict(parse_qsl(parts.query)).get("paged", "1")
    page = int(current) + 1 if current.isdigit() else 2
    return urlunsplit(parts._replace(query=urlencode([*query, ("paged", str(page))])))


def _finish(history: History, kept: dict[str, FeedEntry]) -> None:
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    history.entries = sorted(kept.values(), key=lambda e: e.published or e.updated or oldest, reverse=True)
    if history.kind == "sitemap" and not history.ended:
        history.ended = "the sitemap was read"
