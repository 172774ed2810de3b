"""A site's url -> its feeds, found and verified through the poller's Fetcher (SSRF guard, size
cap, politeness, robots.txt, user agent): ``newsflow feeds discover`` and ``feeds add SITE``.

The page is fetched once. A url that already is a feed (or a sitemap) is that source. Else
its candidates (ingest/discovery.py: what the page declares, trafilatura's finder over the same
bytes) are each fetched and parsed; only when none is a main feed are the common feed paths
probed, one after another, stopping at the first main feed, so a site costs a few requests. A
site with no feed at all may still list sitemaps in its robots.txt: those are verified and
offered (a news sitemap first).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import lxml.html
from lxml.etree import ParserError

from newsflow.ingest.discovery import (
    Candidate,
    VerifiedFeed,
    candidates_from_html,
    choose,
    common_path_candidates,
    merge,
    rank,
    trafilatura_candidates,
)
from newsflow.ingest.feedparse import FeedError, parse_feed
from newsflow.ingest.fetch_result import Disallowed, FetchError, FetchResult
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.robots import RobotsPolicy, agent_token
from newsflow.ingest.sitemap import is_sitemap, parse_sitemap

# The url may be a page or a feed: either is welcome.
_ANY_ACCEPT = ("text/html, application/xhtml+xml;q=0.9, application/atom+xml;q=0.9, application/rss+xml;q=0.9, "
               "application/xml;q=0.8, */*;q=0.5")
MAX_DECLARED = 12  # candidates from the page verified at most (a page may list hundreds of tag feeds)
MAX_SITEMAPS = 3  # sitemaps of robots.txt verified at most


@dataclass
class Discovery:
    url: str  # the page asked about, after redirects
    is_feed: bool = False  # the url itself is a feed or sitemap
    feeds: list[VerifiedFeed] = field(default_factory=list)  # verified, ranked
    chosen: list[VerifiedFeed] = field(default_factory=list)  # what `feeds add` adds
    note: str | None = None  # why the choice is a fallback, when it is
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (candidate url, why it is no feed)


async def discover(fetcher: Fetcher, url: str, *, obey_robots: bool = True) -> Discovery:
    """Find and verify the feeds of the site at ``url``. FetchError when the page itself fails."""
    robots = RobotsPolicy(fetcher, agent_token(fetcher.config.user_agent)) if obey_robots else None
    if robots is not None and not await robots.allowed(url):
        raise Disallowed("the site's robots.txt disallows this page", url)
    page = await fetcher.fetch(url, headers={"Accept": _ANY_ACCEPT},
                               allow=robots.allowed if robots is not None else None)
    itself = await asyncio.to_thread(_as_feed, page, Candidate(url, "link"))
    if isinstance(itself, VerifiedFeed):
        return Discovery(page.url, is_feed=True, feeds=[itself], chosen=[itself])
    found = Discovery(page.url)
    try:
        tree = lxml.html.document_fromstring(page.body)
    except (ParserError, ValueError):
        tree = None
    declared = candidates_from_html(tree, page.url) if tree is not None else []
    html = page.body.decode("utf-8", "replace")
    candidates = [c for c in merge(declared, trafilatura_candidates(html, page.url)) if c.url != page.url]
    verified = await _verify_all(fetcher, robots, candidates[:MAX_DECLARED], found)
    if not any(f.role == "main" and f.pollable for f in verified):
        tried = {c.url for c in candidates}
        for candidate in common_path_candidates(page.url):
            if candidate.url in tried:
                continue
            feed = await _verify(fetcher, robots, candidate, found)
            if feed is not None:
                verified.append(feed)
                if feed.role == "main" and feed.pollable:
                    break
    if not any(f.pollable for f in verified):
        # No feed at all: the sitemaps robots.txt lists (a news sitemap is a source too).
        reader = robots or RobotsPolicy(fetcher, agent_token(fetcher.config.user_agent))
        for sitemap in (await reader.sitemaps(page.url))[:MAX_SITEMAPS]:
            feed = await _verify(fetcher, robots, Candidate(sitemap, "robots"), found)
            if feed is not None:
                verified.append(feed)
    found.feeds = rank(verified, page.url)
    found.chosen, found.note = choose(found.feeds)
    return found


async def _verify_all(fetcher: Fetcher, robots: RobotsPolicy | None, candidates: list[Candidate],
                      found: Discovery) -> list[VerifiedFeed]:
    feeds = await asyncio.gather(*(_verify(fetcher, robots, c, found) for c in candidates))
    return [f for f in feeds if f is not None]


async def _verify(fetcher: Fetcher, robots: RobotsPolicy | None, candidate: Candidate,
                  found: Discovery) -> VerifiedFeed | None:
    if robots is not None and not await robots.allowed(candidate.url):
        found.rejected.append((candidate.url, "disallowed by the site's robots.txt"))
        return None
    try:
        res = await fetcher.fetch_feed(candidate.url)
    except FetchError as exc:
        if candidate.source != "path":  # a guessed path that is not there is no news
            found.rejected.append((candidate.url, f"{exc.kind}: {exc}"))
        return None
    outcome = await asyncio.to_thread(_as_feed, res, candidate)
    if isinstance(outcome, str):
        if candidate.source != "path":
            found.rejected.append((candidate.url, outcome))
        return None
    return outcome


def _as_feed(res: FetchResult, candidate: Candidate) -> VerifiedFeed | str:
    """The fetched body as a verified feed, or why it is none."""
    body = res.body
    if is_sitemap(body):
        try:
            parsed = parse_sitemap(body, res.url)
        except FeedError as exc:
            return str(exc)
        links = frozenset(e.link for e in parsed.feed.entries if e.link) if parsed.feed else frozenset()
        return VerifiedFeed(candidate, res.url, "sitemap", None, links)
    if body.lstrip()[:1] == b"{":
        return _json_feed(body, res.url, candidate)
    try:
        feed = parse_feed(body, res.url, res.content_type)
    except FeedError as exc:
        return str(exc)
    fmt = "atom" if (feed.version or "").startswith("atom") else "rss"
    return VerifiedFeed(candidate, res.url, fmt, feed.title, frozenset(e.link for e in feed.entries if e.link))


def _json_feed(body: bytes, url: str, candidate: Candidate) -> VerifiedFeed | str:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        return f"not a feed: invalid JSON ({exc})"
    if not isinstance(doc, dict) or "jsonfeed.org/version" not in str(doc.get("version", "")):
        return "not a feed: JSON without a jsonfeed.org version"
    items = doc.get("items") if isinstance(doc.get("items"), list) else []
    links = frozenset(i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str))
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    # feedparser reads RSS, Atom and RDF only: a JSON Feed is listed, never added.
    return VerifiedFeed(candidate, url, "json", title, links, pollable=False)
