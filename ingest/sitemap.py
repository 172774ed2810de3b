"""Sitemap bytes -> the poller's entries. Pure: no I/O, the fetcher hands us the body.

A source may be a sitemap (sitemaps.org ``<urlset>``, often with the Google News extension
``<news:news>`` carrying a title and a publication date) or a sitemap index (``<sitemapindex>``
listing child sitemaps). ``is_sitemap`` sniffs the body so the poller picks this parser or the
feed parser; ``parse_sitemap`` gives either a ParsedFeed of FeedEntry (a urlset), so the rest of
the poll path is the feed's, or the index's children, which the caller fetches (ingest/sitemap_source.py).

Hostile input gets the feed's treatment: a gzip body is inflated under a cap (the spec's
50 MB, through ingest/decompress.py), a DTD's entities are refused or expanded by the feed
policy (feedparse.expand_declared_entities) before lxml sees them, and lxml never resolves
an entity or touches the network. Malformed XML is a FeedError, counted like a feed's.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

from newsflow.ingest.decompress import Decoder, OverCap
from newsflow.ingest.feedparse import MAX_ID_CHARS, FeedEntry, FeedError, ParsedFeed, expand_declared_entities

# The sitemaps.org limits: one sitemap holds at most 50,000 urls and 50 MB uncompressed.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
MAX_SITEMAP_URLS = 50_000

GZIP_MAGIC = b"\x1f\x8b"
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(urlset|sitemapindex)[\s>/]")
_PROLOG = re.compile(rb"^(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S)


@dataclass(frozen=True)
class ChildSitemap:
    url: str
    lastmod: datetime | None


@dataclass(frozen=True)
class ParsedSitemap:
    feed: ParsedFeed | None = None  # a <urlset>
    children: list[ChildSitemap] = field(default_factory=list)  # a <sitemapindex>

    @property
    def is_index(self) -> bool:
        return self.feed is None


def is_sitemap(body: bytes) -> bool:
    """True for an XML document whose root is <urlset> or <sitemapindex>, gzipped (a .xml.gz
    served without Content-Encoding) or not."""
    head = body[:4096]
    if body.startswith(GZIP_MAGIC):
        try:  # only the head is inflated: the sniff costs no more than 4 kB
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(body, 4096)
        except zlib.error:
            return False
    head = head.lstrip(b"\xef\xbb\xbf")
    m = _PROLOG.match(head)
    return _ROOT.match(head, m.end() if m else 0) is not None


def gunzip(body: bytes, cap: int = MAX_SITEMAP_BYTES) -> bytes:
    """A .xml.gz sitemap inflated, refusing past ``cap`` (a compression bomb stops there)."""
    decoder = Decoder("gzip", cap)
    try:
        return decoder.feed(body)
    except OverCap as exc:
        raise FeedError(f"gzipped sitemap inflates past {cap} bytes (the sitemap limit): refused", kind="too_large") from exc
    except zlib.error as exc:
        raise FeedError(f"gzipped sitemap is corrupt: {exc}", kind="malformed") from exc


def parse_sitemap(
    body: bytes, url: str, *, now: datetime | None = None, recent_days: float | None = None,
    max_urls: int = MAX_SITEMAP_URLS,
) -> ParsedSitemap:
    """Parse a sitemap or sitemap index fetched from ``url``. Entries (and children) come newest
    first; with ``recent_days``, those dated older than that are left out (undated ones are kept)."""
    if body.startswith(GZIP_MAGIC):
        body = gunzip(body)
    elif len(body) > MAX_SITEMAP_BYTES:
        raise FeedError(f"sitemap of {len(body)} bytes is over the {MAX_SITEMAP_BYTES}-byte limit", kind="too_large")
    body = expand_declared_entities(body)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"malformed sitemap: {exc}", kind="malformed") from exc
    if root is None:
        raise FeedError("empty sitemap", kind="empty")
    kind = etree.QName(root).localname
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=recent_days) if recent_days else None
    if kind == "sitemapindex":
        children = []
        for node in _children(root, "sitemap")[:max_urls]:
            loc = _text(node, "loc")
            if loc:
                children.append(ChildSitemap(loc, _date(_text(node, "lastmod"))))
        return ParsedSitemap(children=newest_first(children, lambda c: c.lastmod, cutoff))
    if kind != "urlset":
        raise FeedError(f"not a sitemap: XML root <{kind}> is not <urlset> or <sitemapindex>", kind="not_a_feed")
    entries = [e for e in (_entry(node) for node in _children(root, "url")[:max_urls]) if e is not None]
    entries = newest_first(entries, lambda e: e.published or e.updated, cutoff)
    return ParsedSitemap(feed=ParsedFeed(title=None, link=url, entries=entries, version="sitemap"))


def newest_first(items: list, when, cutoff: datetime | None) -> list:  # type: ignore[no-untyped-def]
    """``items`` newest first by ``when(item)``, undated last; those dated before ``cutoff`` left out."""
    if cutoff is not None:
        items = [i for i in items if when(i) is None or when(i) >= cutoff]
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    # Undated after dated: a news sitemap dates its urls, a plain one often does not.
    return sorted(items, key=lambda i: when(i) or oldest, reverse=True)


def _children(root: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in root if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _text(node: etree._Element, name: str, namespace_part: str | None = None) -> str | None:
    for child in node:
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        if q.localname == name and (namespace_part is None or namespace_part in (q.namespace or "")):
            value = " ".join("".join(child.itertext()).split())
            return value or None
    return None


def _news(node: etree._Element) -> etree._Element | None:
    for child in node:
        if isinstance(child.tag, str) and etree.QName(child).localname == "news":
            return child
    return None


def _entry(node: etree._Element) -> FeedEntry | None:
    loc = _text(node, "loc")
    if not loc or len(loc) > MAX_ID_CHARS:
        return None
    news = _news(node)
    title = published = language = None
    if news is not None:
        title = _text(news, "title")
        published = _date(_text(news, "publication_date"))
        publication = next((c for c in news if isinstance(c.tag, str) and etree.QName(c).localname == "publication"), None)
        if publication is not None:
            language = _text(publication, "language")
    return FeedEntry(entry_id=loc, link=loc, title=title, published=published,
                     updated=_date(_text(node, "lastmod")), language=language)


def _date(value: str | None) -> datetime | None:
    """A W3C datetime (YYYY, YYYY-MM-DD, or full with a zone) as an aware UTC datetime."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    for candidate in (text, text[:10]):
        try:
            when = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if re.fullmatch(r"\d{4}(-\d{2})?", text):
        year, _, month = text.partition("-")
        return datetime(int(year), int(month or 1), 1, tzinfo=timezone.utc)
    return None
