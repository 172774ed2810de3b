"""A polled body -> the entries to handle, whether it is a feed or a sitemap: the poller's one parse step.

The body is sniffed (sitemap.is_sitemap): a feed goes to feedparse, a sitemap to sitemap.py. A
sitemap index is read here, because its children are more fetches: through the poller's own
Fetcher (its SSRF guard, size cap, politeness and user agent), newest ``lastmod`` first, only
those within ``poller.sitemap_recent_days``, at most ``poller.sitemap_max_children`` of them
over at most ``poller.sitemap_max_depth`` levels of indexes. The urls of the children that
changed become one entry list, so "seen" tracking, page fetches and extraction are the feed's.

Each child keeps its own validators (ETag, Last-Modified), body hash and listed ``lastmod`` in
the state (feedstate.SitemapChild), and is asked like a feed: a conditional GET, and a 304 or the
same bytes means unchanged, not parsed, no entries (its urls were handled when it was read). The
rule for which children are asked:

- An index that is unchanged (the source's 304 or same hash, or a nested index found so) says
  nothing about its children: sites often leave the index and its ``lastmod`` as they are while a
  child changes. Its remembered children are all asked, conditionally, newest first within the
  same bounds: an unchanged site costs one conditional request per child
  (``recheck_children``; the poller calls it instead of stopping at the index's 304).
- An index read anew lists each child's ``lastmod``. A child whose listed ``lastmod`` is present
  and not newer than the one listed when it was last read or confirmed is not asked at all,
  unless that check is ``poller.sitemap_child_recheck`` (3600 s) old or more: a ``lastmod`` only
  postpones a check, since it is often absent or wrong. Any other child is asked.
- A child that fails is skipped with a warning and keeps what was remembered of it (and of its
  own children); the index fails only when none of its children could be asked.

What is remembered is the children considered this poll (those within the bounds), so a child no
longer listed is forgotten. The poller writes it only after the entries were handled, and without
the validators of the children read anew when entries were left pending: those are read again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Mapping

from newsflow.ingest.config import PollerConfig
from newsflow.ingest.feedparse import FeedEntry, FeedError, ParsedFeed, parse_feed
from newsflow.ingest.feedstate import SitemapChild
from newsflow.ingest.fetch_result import FetchError, FetchResult
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.sitemap import (
    GZIP_MAGIC,
    MAX_SITEMAP_URLS,
    ChildSitemap,
    gunzip,
    is_sitemap,
    newest_first,
    parse_sitemap,
)

log = logging.getLogger(__name__)


@dataclass
class SourceRead:
    """One read of a source. ``feed``: the entries to handle (None: no child changed under an
    unchanged index). ``children``: what to remember of its child sitemaps (empty for a feed or a
    urlset). ``fresh``: the children read anew, whose validators are dropped if entries stay pending."""

    feed: ParsedFeed | None
    children: list[SitemapChild] = field(default_factory=list)
    fresh: set[str] = field(default_factory=set)

    def children_to_keep(self, pending: bool) -> list[SitemapChild]:
        if not pending:
            return self.children
        return [replace(c, read_lastmod=None, etag=None, last_modified=None, body_hash=None, checked_at=None)
                if c.url in self.fresh else c for c in self.children]


async def read_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """A feed's bytes (a .rss.gz inflated, capped) parsed off the loop: a big feed takes feedparser
    a while, and fetches must keep moving."""
    body = gunzip(body) if body.startswith(GZIP_MAGIC) else body
    return await asyncio.to_thread(parse_feed, body, url, content_type)


async def parse_source(
    fetcher: Fetcher, res: FetchResult, config: PollerConfig, *, source: str | None = None,
    known: Mapping[str, SitemapChild] | None = None,
) -> SourceRead:
    """The entries of a fetched feed or sitemap; FeedError when the body is neither. ``source``:
    the source's url in the state (default: the fetched url); ``known``: its remembered children."""
    if not is_sitemap(res.body):
        return SourceRead(await read_feed(res.body, res.url, res.content_type))
    walk = _Walk(fetcher, config, known or {})
    parsed = await asyncio.to_thread(parse_sitemap, res.body, res.url, now=walk.now, recent_days=config.sitemap_recent_days)
    if parsed.feed is not None:
        return SourceRead(parsed.feed)
    await walk.listing(source or res.url, res.url, parsed.children, depth=0, listed_anew=True)
    return walk.read(res.url, changed=True)


async def recheck_children(
    fetcher: Fetcher, source: str, link: str, config: PollerConfig, known: Mapping[str, SitemapChild]
) -> SourceRead:
    """A sitemap index that answered 304 or the same bytes: its remembered children asked again,
    conditionally. ``feed`` is None when none of them changed."""
    walk = _Walk(fetcher, config, known)
    await walk.listing(source, link, walk.remembered(source), depth=0, listed_anew=False)
    return walk.read(link, changed=False)


class _Walk:
    """One poll's walk down an index: the children asked, their entries, what to remember."""

    def __init__(self, fetcher: Fetcher, config: PollerConfig, known: Mapping[str, SitemapChild]) -> None:
        self.fetcher = fetcher
        self.config = config
        self.known = known
        self.now = datetime.now(timezone.utc)
        self.cutoff = self.now - timedelta(days=config.sitemap_recent_days)
        self.budget = config.sitemap_max_children
        self.rows: dict[str, SitemapChild] = {}
        self.fresh: set[str] = set()
        self.entries: list[FeedEntry] = []

    def remembered(self, parent: str) -> list[ChildSitemap]:
        """The children ``parent`` listed when last read, as it listed them."""
        kids = [ChildSitemap(c.url, _when(c.lastmod)) for c in self.known.values() if c.parent == parent]
        return newest_first(kids, lambda c: c.lastmod, self.cutoff)

    def read(self, link: str, *, changed: bool) -> SourceRead:
        feed = None
        if changed or self.fresh:
            oldest = datetime.min.replace(tzinfo=timezone.utc)
            unique = list({e.entry_id: e for e in reversed(self.entries)}.values())  # the first (newest child's) copy wins
            unique.sort(key=lambda e: e.published or e.updated or oldest, reverse=True)
            feed = ParsedFeed(title=None, link=link, entries=unique[:MAX_SITEMAP_URLS], version="sitemapindex")
        return SourceRead(feed, list(self.rows.values()), self.fresh)

    async def listing(self, parent: str, url: str, children: list[ChildSitemap], *, depth: int, listed_anew: bool) -> None:
        """Ask the children of the index ``parent`` (fetched at ``url``), newest first, within the budget."""
        asked = failed = 0
        for child in children:
            if self.budget <= 0 or len(self.entries) >= MAX_SITEMAP_URLS:
                break
            if child.url in self.rows:  # listed twice, or an index listing itself
                continue
            self.budget -= 1
            try:
                await self._child(parent, child, depth=depth + 1, listed_anew=listed_anew)
            except (FetchError, FeedError) as exc:  # one bad child does not hide the others' news
                failed += 1
                self.fresh.discard(child.url)
                self._keep(parent, child, depth + 1)
                log.warning("sitemap %s: child %s skipped: %s", url, child.url, exc, extra={"feed": url, "url": child.url})
                continue
            asked += 1
        if failed and not asked:
            raise FeedError(f"sitemap index: none of its {failed} child sitemaps could be read", kind="malformed")
        left = len(children) - asked - failed
        if left:
            log.info("sitemap %s: %d child sitemaps left unread (poller.sitemap_max_children)", url, left,
                     extra={"feed": url, "url": url})

    async def _child(self, parent: str, child: ChildSitemap, *, depth: int, listed_anew: bool) -> None:
        old = self.known.get(child.url)
        listed = _epoch(child.lastmod)
        if listed_anew and old is not None and self._lastmod_unmoved(old, listed):
            self.rows[child.url] = replace(old, parent=parent, lastmod=listed)
            await self._unchanged(child.url, child.url, depth)
            return
        res = await self.fetcher.fetch_feed(child.url, old.etag if old else None, old.last_modified if old else None)
        digest = None if res.not_modified else hashlib.sha256(res.body).hexdigest()
        if old is not None and (res.not_modified or digest == old.body_hash):
            self.rows[child.url] = replace(
                old, parent=parent, lastmod=listed, read_lastmod=listed, checked_at=self.now.timestamp(),
                etag=res.etag or old.etag, last_modified=res.last_modified or old.last_modified,
            )
            await self._unchanged(child.url, res.url, depth)
            return
        if res.not_modified:  # with nothing remembered, no validators were sent
            raise FeedError(f"child {child.url} answered 304 to an unconditional request", kind="malformed")
        if not is_sitemap(res.body):
            raise FeedError(f"child {child.url} is not a sitemap", kind="not_a_feed")
        parsed = await asyncio.to_thread(parse_sitemap, res.body, res.url, now=self.now,
                                         recent_days=self.config.sitemap_recent_days)
        self.rows[child.url] = SitemapChild(child.url, parent, listed, listed, res.etag, res.last_modified, digest,
                                            self.now.timestamp())
        self.fresh.add(child.url)
        if parsed.feed is not None:
            self.entries += parsed.feed.entries
            return
        self._check_depth(depth)
        await self.listing(child.url, res.url, parsed.children, depth=depth, listed_anew=True)

    def _lastmod_unmoved(self, old: SitemapChild, listed: float | None) -> bool:
        """The index's word that a child is as it was when last checked, and that check recent enough."""
        return (listed is not None and old.read_lastmod is not None and listed <= old.read_lastmod
                and old.checked_at is not None and self.now.timestamp() - old.checked_at < self.config.sitemap_child_recheck)

    async def _unchanged(self, index: str, url: str, depth: int) -> None:
        """An unchanged child: a urlset gives nothing; an index's remembered children are asked."""
        children = self.remembered(index)
        if children:
            self._check_depth(depth)
            await self.listing(index, url, children, depth=depth, listed_anew=False)

    def _keep(self, parent: str, child: ChildSitemap, depth: int) -> None:
        """A child that could not be asked: what was remembered of it (and its children) stays."""
        old = self.known.get(child.url)
        listed = _epoch(child.lastmod)
        self.rows[child.url] = (replace(old, parent=parent, lastmod=listed) if old is not None
                                else SitemapChild(child.url, parent, lastmod=listed))
        if depth >= self.config.sitemap_max_depth:
            return
        for grandchild in self.remembered(child.url):
            if self.budget <= 0:
                return
            if grandchild.url not in self.rows:
                self.budget -= 1
                self._keep(child.url, grandchild, depth + 1)

    def _check_depth(self, depth: int) -> None:
        if depth >= self.config.sitemap_max_depth:
            raise FeedError(f"sitemap index nested deeper than {self.config.sitemap_max_depth} levels "
                            "(poller.sitemap_max_depth)", kind="malformed")


def _epoch(when: datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, timezone.utc) if epoch is not None else None
