"""A local news corpus for end-to-end tests and the pipeline benchmark: N article pages under
distinct urls, plus RSS feeds listing them, on a few logical hostnames served by one local server.

    site = build_site(tmp_path / "site", 300)            # deterministic: same inputs, same bytes
    with serve_site(site) as served:                      # newsflow.static_site.serve underneath
        settings.feeds = served.feed_configs()
        settings.poller.host_map = served.host_map        # logical origin -> http://127.0.0.1:PORT
        ...
    site.expected_ids                                     # the article ids the pipeline must produce

Pages are real: the scrapinghub extraction dev set (``<shared>/bench/extraction/scrapinghub-dev/
html/*.html.gz``; ``<shared>`` is ``$NEWSFLOW_SHARED`` or ``<repo>/../shared``), repeated in order
to reach N. Without it, the seed blog's three posts are repeated instead. Each copy gets a
``<link rel="canonical">`` naming its own url (first in ``<head>``, so it wins over the page's
original one): otherwise the extractor would take copies of one page as one article. Every copy
is a file (about 110 KB each for the scrapinghub pages), so a big N costs disk, not memory.

Layout: article ``n`` is ``/a/<n>.html``; feed ``k`` is ``/feeds/<k>.xml`` and lists articles
``k*per_feed .. (k+1)*per_feed-1``; feed ``k`` and its articles live on ``hosts[k % len(hosts)]``.
Paths are unique over all hosts, so one server can answer for every logical host.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import escape

from newsflow.core.record import article_id
from newsflow.ingest.urls import canonical_url
from newsflow.ingest.config import FeedConfig
from newsflow.static_site import serve

REPO = Path(__file__).resolve().parents[2]
SEED_PAGES = sorted((REPO / "seeds" / "site").glob("post-*.html"))
SHARED_PAGES = Path("bench") / "extraction" / "scrapinghub-dev" / "html"
FIRST_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
LABELS = ("World", "Politics", "Economy", "Science", "Sports")

_HEAD = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class SiteInfo:
    root: Path
    feeds: list[str]  # logical feed urls
    article_urls: list[str]  # logical article urls, article n at index n
    origins: list[str]  # logical origins, e.g. "http://news-a.test"
    source: str  # where the pages came from: "scrapinghub-dev" or "seeds"
    host_map: dict[str, str] = field(default_factory=dict)  # empty until served (see serve_site)

    @property
    def expected_ids(self) -> set[str]:
        """The ids the pipeline gives these articles (each page names its own url as canonical)."""
        return {article_id(canonical_url(u)) for u in self.article_urls}

    def feed_configs(self) -> list[FeedConfig]:
        return [FeedConfig(url=u, name=f"newsite feed {k}") for k, u in enumerate(self.feeds)]

    def served_at(self, base: str) -> "SiteInfo":
        """This site with every logical origin mapped to ``base`` (``http://127.0.0.1:PORT``)."""
        return replace(self, host_map={origin: base for origin in self.origins})


def shared_dir() -> Path | None:
    env = os.environ.get("NEWSFLOW_SHARED")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared"]:
        if (candidate / SHARED_PAGES).is_dir():
            return candidate
    return None


def source_pages() -> tuple[str, list[bytes]]:
    """(source name, page bytes in a fixed order): the scrapinghub pages, else the seed posts."""
    shared = shared_dir()
    if shared is not None:
        files = sorted((shared / SHARED_PAGES).glob("*.html.gz"))
        if files:
            return "scrapinghub-dev", [gzip.decompress(f.read_bytes()) for f in files]
    return "seeds", [p.read_bytes() for p in SEED_PAGES]


def _with_canonical(page: bytes, url: str) -> bytes:
    link = f'<link rel="canonical" href="{html.escape(url)}">'.encode()
    head = _HEAD.search(page)
    if head is None:
        return link + page
    return page[: head.end()] + link + page[head.end() :]


def _title(page: bytes, n: int) -> str:
    m = _TITLE.search(page)
    text = html.unescape(m.group(1).decode("utf-8", "replace")) if m else ""
    text = " ".join(text.split())
    return text[:200] or f"Article {n}"


def _rss(origin: str, k: int, items: list[tuple[int, str, str]]) -> bytes:
    """RSS 2.0 for feed ``k``: items (n, url, title), newest first as feeds list them."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>Newsite feed {k}</title><link>{escape(origin)}/</link>",
        f"<description>Generated test feed {k}</description><language>en</language>",
    ]
    for n, url, title in sorted(items, reverse=True):
        date = format_datetime(FIRST_DATE + timedelta(hours=n))
        out.append(
            f"<item><title>{escape(title)}</title><link>{escape(url)}</link>"
            f'<guid isPermaLink="true">{escape(url)}</guid><pubDate>{date}</pubDate>'
            f"<category>{LABELS[n % len(LABELS)]}</category></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def build_site(
    dir: Path | str,
    n_articles: int,
    per_feed: int = 50,
    hosts: tuple[str, ...] = ("news-a.test", "news-b.test"),
    *,
    pages: list[bytes] | None = None,
) -> SiteInfo:
    """Write the site into ``dir`` (created; existing files are overwritten) and describe it.

    ``pages`` overrides the source pages (repeated in order); by default see ``source_pages``.
    """
    if n_articles < 1 or per_feed < 1 or not hosts:
        raise ValueError("n_articles and per_feed must be at least 1, and hosts non-empty")
    source = "given"
    if pages is None:
        source, pages = source_pages()
    if not pages:
        raise ValueError("no source pages")
    root = Path(dir)
    (root / "a").mkdir(parents=True, exist_ok=True)
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    origins = [f"http://{h}" for h in hosts]
    article_urls: list[str] = []
    feeds: list[str] = []
    n_feeds = -(-n_articles // per_feed)
    for k in range(n_feeds):
        origin = origins[k % len(origins)]
        items = []
        for n in range(k * per_feed, min(n_articles, (k + 1) * per_feed)):
            url = f"{origin}/a/{n}.html"
            page = pages[n % len(pages)]
            (root / "a" / f"{n}.html").write_bytes(_with_canonical(page, url))
            article_urls.append(url)
            items.append((n, url, _title(page, n)))
        (root / "feeds" / f"{k}.xml").write_bytes(_rss(origin, k, items))
        feeds.append(f"{origin}/feeds/{k}.xml")
    return SiteInfo(root=root, feeds=feeds, article_urls=article_urls, origins=origins, source=source)


@contextlib.contextmanager
def serve_site(site: SiteInfo) -> Iterator[SiteInfo]:
    """Serve the site on 127.0.0.1 (a free port); yields it with ``host_map`` filled in."""
    with serve(site.root) as base:
        yield site.served_at(base)
