"""A site's page -> its feed candidates, and the verified feeds ranked. Pure: lxml trees and
data in, no I/O (the probing is ingest/discover_feeds.py).

Where candidates come from, strongest first: ``<link rel="alternate">`` with a feed type in the
page head (how sites declare feeds), ``<a>`` links in the body that look like feeds,
trafilatura's feed finder over the same page (its own heuristics, e.g. feed-looking hrefs
without a type), the paths blog engines serve feeds at, and last, for a site without feeds, the
sitemaps its robots.txt lists. Each is verified by fetching and parsing it before it counts.

Ranking puts the site's main feed first: comment feeds, and per-tag / category / author feeds,
come after every main feed and are chosen only when the site has nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import etree
from trafilatura.feeds import FeedParameters, determine_feed

# Declared source of a candidate, strongest first (its index is its rank).
SOURCES = ("link", "anchor", "trafilatura", "path", "robots")
ROLES = ("main", "topic", "comments")
FEED_TYPES = {
    "application/rss+xml": "rss", "application/atom+xml": "atom", "application/feed+json": "json",
    "application/rdf+xml": "rss", "application/x-rss+xml": "rss", "application/x-atom+xml": "atom",
    "application/json": "json", "text/xml": None, "application/xml": None,
}
# Where blog engines and CMSs serve their main feed (WordPress, Blogger, Hugo, Jekyll, Ghost, ...).
COMMON_PATHS = (
    "/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feeds/posts/default",
    "/feed/atom", "/?feed=rss2", "/index.rss", "/feed.json",
)
_FEEDISH_HREF = re.compile(
    r"(?:\.(?:rss|atom|rdf)(?:\?|$)|(?:rss|atom|feed)\.(?:xml|json)(?:\?|$)|/feeds?/?(?:\?|$)|/rss/?(?:\?|$)"
    r"|/feeds/posts/default|[?&]feed=(?:rss2?|atom|rdf))",
    re.I,
)
_FEEDISH_TEXT = re.compile(r"^\s*(?:rss|atom|feed|rss feed|atom feed|subscribe(?: via rss)?)\s*$", re.I)
_COMMENTS = re.compile(r"(?<![a-z])comments?(?![a-z])", re.I)  # not "commentary"
_TOPIC_SEGMENTS = frozenset({"tag", "tags", "category", "categories", "topic", "topics", "label", "labels", "author", "authors", "-"})
_TOPIC_QUERY = re.compile(r"(?:^|&)(?:tag|category|cat|label|author)=", re.I)


@dataclass(frozen=True)
class Candidate:
    url: str
    source: str  # one of SOURCES
    declared_type: str | None = None  # the format the page claims: rss, atom, json
    title: str | None = None


@dataclass(frozen=True)
class VerifiedFeed:
    """A candidate that was fetched and parsed as a feed."""

    candidate: Candidate
    url: str  # where it was found after redirects
    format: str  # rss, atom, json, sitemap
    title: str | None = None
    links: frozenset[str] = field(default_factory=frozenset)  # its entries' links, to spot twins
    pollable: bool = True  # newsflow polls RSS, Atom and sitemaps; a JSON Feed is listed only

    @property
    def role(self) -> str:
        return feed_role(self.url, self.title or self.candidate.title)


def feed_role(url: str, title: str | None = None) -> str:
    """main, topic (one tag, category, label or author) or comments."""
    parts = urlsplit(url)
    if _COMMENTS.search(parts.path) or _COMMENTS.search(parts.query) or (title and _COMMENTS.search(title)):
        return "comments"
    segments = [s.lower() for s in parts.path.split("/") if s]
    if _TOPIC_SEGMENTS.intersection(segments) or _TOPIC_QUERY.search(parts.query):
        return "topic"
    return "main"


def candidates_from_html(tree: etree._Element, base_url: str) -> list[Candidate]:
    """Feed candidates a page declares: ``<link rel=alternate>`` with a feed type, then body
    ``<a>`` links that look like feeds. Relative urls are resolved against ``<base href>`` or
    ``base_url``; duplicates keep their strongest source."""
    base = urljoin(base_url, (tree.xpath("string(//base/@href)") or "").strip())
    found: list[Candidate] = []
    for link in tree.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        mime = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rel and mime in FEED_TYPES and mime not in ("text/xml", "application/xml", "application/json"):
            found.append(Candidate(_absolute(base, link.get("href")), "link", FEED_TYPES[mime], _clean(link.get("title"))))
        elif "alternate" in rel and mime in ("text/xml", "application/xml") and _FEEDISH_HREF.search(link.get("href") or ""):
            found.append(Candidate(_absolute(base, link.get("href")), "link", None, _clean(link.get("title"))))
    for a in tree.xpath("//body//a[@href]"):
        href = a.get("href") or ""
        mime = (a.get("type") or "").split(";")[0].strip().lower()
        text = _clean(a.text_content() if hasattr(a, "text_content") else "".join(a.itertext()))
        if _FEEDISH_HREF.search(href) or FEED_TYPES.get(mime) or (text and _FEEDISH_TEXT.match(text)):
            found.append(Candidate(_absolute(base, href), "anchor", FEED_TYPES.get(mime), text))
    return _dedupe(c for c in found if c.url.startswith(("http://", "https://")))


def trafilatura_candidates(html: str, page_url: str) -> list[Candidate]:
    """trafilatura's feed finder on the page already fetched (``determine_feed``: no network)."""
    parts = urlsplit(page_url)
    params = FeedParameters(f"{parts.scheme}://{parts.netloc}", parts.hostname or "", page_url)
    try:
        urls = determine_feed(html, params)
    except Exception:  # noqa: BLE001 - a third party's heuristics on hostile HTML: its miss is no candidate
        return []
    return [Candidate(u, "trafilatura") for u in urls if u.startswith(("http://", "https://"))]


def common_path_candidates(page_url: str) -> list[Candidate]:
    parts = urlsplit(page_url)
    root = f"{parts.scheme}://{parts.netloc}"
    return [Candidate(root + path, "path") for path in COMMON_PATHS]


def merge(*groups: list[Candidate]) -> list[Candidate]:
    """Candidates of every source, each url once under its strongest source."""
    return _dedupe(c for group in groups for c in group)


def rank(feeds: list[VerifiedFeed], site_url: str) -> list[VerifiedFeed]:
    """Main feeds first, then topic, then comment feeds; within a role: pollable before not,
    the page's declaration before guesses, the site's own host first, the shortest url."""
    host = (urlsplit(site_url).hostname or "").removeprefix("www.")
    unique = {f.url: f for f in reversed(feeds)}.values()  # one per final url, the first one found
    return sorted(unique, key=lambda f: (
        ROLES.index(f.role), not f.pollable, SOURCES.index(f.candidate.source),
        (urlsplit(f.url).hostname or "").removeprefix("www.") != host,
        f.format == "sitemap" and "news" not in f.url.lower(),  # a news sitemap before the site's whole map
        len(f.url),
    ))


def choose(ranked: list[VerifiedFeed]) -> tuple[list[VerifiedFeed], str | None]:
    """The feeds to add, with a note when the choice is a fallback. Among the best role present
    (main, else topic, else comments), the pollable feeds whose entries are not mostly another
    chosen feed's (the RSS and Atom twins of one blog are one feed)."""
    pollable = [f for f in ranked if f.pollable]
    if not pollable:
        return [], None
    role = pollable[0].role
    chosen: list[VerifiedFeed] = []
    for feed in (f for f in pollable if f.role == role):
        if any(_twins(feed, other) for other in chosen):
            continue
        if feed.format == "sitemap" and any(c.format == "sitemap" for c in chosen):
            continue  # one sitemap: the site's others list the same pages
        chosen.append(feed)
    note = None
    if role != "main":
        what = "comment" if role == "comments" else "per-tag/category"
        note = f"the site has no main feed: only {what} feeds, added as the best there is"
    return chosen, note


def _twins(a: VerifiedFeed, b: VerifiedFeed) -> bool:
    if not a.links or not b.links:
        return a.title is not None and a.title == b.title
    return len(a.links & b.links) * 2 >= min(len(a.links), len(b.links))


def _absolute(base: str, href: str | None) -> str:
    return urljoin(base, (href or "").strip()).split("#", 1)[0]


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(value.split())
    return value or None


def _dedupe(items) -> list[Candidate]:  # type: ignore[no-untyped-def]
    best: dict[str, Candidate] = {}
    for c in items:
        held = best.get(c.url)
        if held is None or SOURCES.index(c.source) < SOURCES.index(held.source):
            best[c.url] = c if held is None else Candidate(c.url, c.source, c.declared_type or held.declared_type,
                                                          c.title or held.title)
    return list(best.values())
