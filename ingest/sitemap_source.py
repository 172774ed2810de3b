"""A polled body -> ParsedFeed, whether it is a feed or a sitemap: the poller's one parse step.

The body is sniffed (sitemap.is_sitemap): a feed goes to feedparse, a sitemap to sitemap.py. A
sitemap index is read here, because its children are more fetches: through the poller's own
Fetcher (its SSRF guard, size cap, politeness and user agent), newest ``lastmod`` first, only
those within ``poller.sitemap_recent_days``, at most ``poller.sitemap_max_children`` of them
over at most ``poller.sitemap_max_depth`` levels of indexes. Their urls become one entry list,
so "seen" tracking, page fetches and extraction are the feed's.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from newsflow.ingest.config import PollerConfig
from newsflow.ingest.feedparse import FeedEntry, FeedError, ParsedFeed, parse_feed
from newsflow.ingest.fetch_result import FetchError, FetchResult
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.sitemap import GZIP_MAGIC, MAX_SITEMAP_URLS, ChildSitemap, gunzip, is_sitemap, parse_sitemap

log = logging.getLogger(__name__)


async def parse_source(fetcher: Fetcher, res: FetchResult, config: PollerConfig) -> ParsedFeed:
    """The entries of a fetched feed or sitemap; FeedError when the body is neither."""
    if not is_sitemap(res.body):
        body = gunzip(res.body) if res.body.startswith(GZIP_MAGIC) else res.body  # a .rss.gz, capped
        # Off the loop: a big feed takes feedparser a while, and fetches must keep moving.
        return await asyncio.to_thread(parse_feed, body, res.url, res.content_type)
    return await _read_sitemap(fetcher, res.body, res.url, config, depth=0, budget=[config.sitemap_max_children])


async def _read_sitemap(
    fetcher: Fetcher, body: bytes, url: str, config: PollerConfig, *, depth: int, budget: list[int]
) -> ParsedFeed:
    now = datetime.now(timezone.utc)
    parsed = await asyncio.to_thread(parse_sitemap, body, url, now=now, recent_days=config.sitemap_recent_days)
    if parsed.feed is not None:
        return parsed.feed
    if depth >= config.sitemap_max_depth:
        raise FeedError(f"sitemap index nested deeper than {config.sitemap_max_depth} levels (poller.sitemap_max_depth)",
                        kind="malformed")
    entries: list[FeedEntry] = []
    read = failed = 0
    for child in parsed.children:
        if budget[0] <= 0 or len(entries) >= MAX_SITEMAP_URLS:
            break
        budget[0] -= 1
        try:
            feed = await _read_child(fetcher, child, config, depth=depth + 1, budget=budget)
        except (FetchError, FeedError) as exc:  # one bad child does not hide the others' news
            failed += 1
            log.warning("sitemap %s: child %s skipped: %s", url, child.url, exc, extra={"feed": url, "url": child.url})
            continue
        read += 1
        entries += feed.entries
    if failed and not read:
        raise FeedError(f"sitemap index: none of its {failed} child sitemaps could be read", kind="malformed")
    skipped = len(parsed.children) - read - failed
    if skipped:
        log.info("sitemap %s: %d child sitemaps left unread (poller.sitemap_max_children)", url, skipped,
                 extra={"feed": url, "url": url})
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    unique = list({e.entry_id: e for e in reversed(entries)}.values())  # the first (newest child's) copy wins
    unique.sort(key=lambda e: e.published or e.updated or oldest, reverse=True)
    return ParsedFeed(title=None, link=url, entries=unique[:MAX_SITEMAP_URLS], version="sitemapindex")


async def _read_child(fetcher: Fetcher, child: ChildSitemap, config: PollerConfig, *, depth: int, budget: list[int]) -> ParsedFeed:
    res = await fetcher.fetch_feed(child.url)
    if not is_sitemap(res.body):
        raise FeedError(f"child {child.url} is not a sitemap", kind="not_a_feed")
    return await _read_sitemap(fetcher, res.body, res.url, config, depth=depth, budget=budget)
