"""A news site with a past, served on 127.0.0.1 (tests of `newsflow backfill` and `feeds add`).

30 posts, one every three days from 2026-09-02 to 2026-11-28, each a page of its own text. The
site shows its past every way the backfill reads it:
- ``/`` declares its feeds in the head (Atom and RSS) and ``/robots.txt`` names the sitemap index;
- ``/feeds/posts/default``: a paged Atom feed, Blogger style: 5 entries a page, ``rel="next"``
  to ``?start-index=6&max-results=5`` and so on;
- ``/rss.xml``: an RFC 5005 archived feed: the current month, ``rel="prev-archive"`` to
  ``/archive/2026-10.xml``, then ``/archive/2026-09.xml`` (each ``<fh:archive/>``);
- ``/sitemap.xml``: a sitemap index of one urlset per month, each child's ``lastmod`` its
  newest post's date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.support.feeds_http import LocalServer

FIRST = datetime(2026, 9, 2, 9, 0, tzinfo=timezone.utc)
POSTS = 30
PAGE_SIZE = 5
MONTHS = ("2026-09", "2026-10", "2026-11")

_WORDS = (
    "council harbour budget vote ministers river bridge festival court ruling drought farmers rail strike "
    "hospital nurses election turnout museum archive storm coast engineers school teachers market prices "
    "energy grid wind solar airport runway police inquiry library volunteers mayor district housing rent "
    "factory workers union contract ferry island tourism season researchers study vaccine clinic water "
    "supply reservoir forest wildfire crews bakery village orchestra concert stadium league coach transfer"
).split()


@dataclass(frozen=True)
class Post:
    n: int
    published: datetime

    @property
    def month(self) -> str:
        return self.published.strftime("%Y-%m")

    @property
    def path(self) -> str:
        return f"/{self.published:%Y/%m}/post-{self.n:02d}.html"

    @property
    def title(self) -> str:
        rng = random.Random(self.n)
        return f"Post {self.n}: the {rng.choice(_WORDS)} and the {rng.choice(_WORDS)}"


def posts() -> list[Post]:
    """Newest first."""
    return sorted((Post(n, FIRST + timedelta(days=3 * n)) for n in range(POSTS)), key=lambda p: p.published, reverse=True)


def page(post: Post) -> bytes:
    rng = random.Random(1000 + post.n)
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(28, 45))).capitalize() + ".</p>" for _ in range(5)
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{post.title}</title>"
        f"<meta property='article:published_time' content='{post.published.isoformat()}'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<article><h1>{post.title}</h1><p class='byline'>By Sam Writer</p>{paragraphs}</article>"
        "<footer>Copyright The History Gazette</footer></body></html>"
    ).encode()


def _atom_page(base: str, items: list[Post], start: int, total: int) -> bytes:
    entries = "".join(
        f"<entry><id>tag:history.example,2026:post-{p.n}</id><title>{p.title}</title>"
        f"<link rel='alternate' type='text/html' href='{base}{p.path}'/>"
        f"<published>{p.published.isoformat()}</published><updated>{p.published.isoformat()}</updated></entry>"
        for p in items
    )
    after = start + PAGE_SIZE
    nxt = (f"<link rel='next' href='{base}/feeds/posts/default?start-index={after}&amp;max-results={PAGE_SIZE}'/>"
           if after <= total else "")
    return (
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<id>tag:history.example,2026:blog</id><title>The History Gazette</title><updated>{items[0].published.isoformat()}</updated>"
        f"<link rel='alternate' type='text/html' href='{base}/'/>{nxt}{entries}</feed>"
    ).encode()


def _rss(base: str, items: list[Post], *, prev: str | None, archive: bool) -> bytes:
    entries = "".join(
        f"<item><guid isPermaLink='false'>post-{p.n}</guid><title>{p.title}</title><link>{base}{p.path}</link>"
        f"<pubDate>{p.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for p in items
    )
    links = (f"<atom:link rel='prev-archive' href='{base}{prev}'/>" if prev else "") + ("<fh:archive/>" if archive else "")
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' xmlns:atom='http://www.w3.org/2005/Atom' "
        "xmlns:fh='http://purl.org/syndication/history/1.0'><channel><title>The History Gazette</title>"
        f"<link>{base}/</link><description>News</description>{links}{entries}</channel></rss>"
    ).encode()


def _urlset(base: str, items: list[Post]) -> bytes:
    urls = "".join(f"<url><loc>{base}{p.path}</loc><lastmod>{p.published.date().isoformat()}</lastmod></url>" for p in items)
    return ("<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"{urls}</urlset>").encode()


def _index(base: str, months: dict[str, list[Post]]) -> bytes:
    children = "".join(
        f"<sitemap><loc>{base}/sitemap-{m}.xml</loc><lastmod>{items[0].published.isoformat()}</lastmod></sitemap>"
        for m, items in months.items()
    )
    return ("<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"{children}</sitemapindex>").encode()


def home(base: str) -> bytes:
    return (
        "<!doctype html><html><head><title>The History Gazette</title>"
        f"<link rel='alternate' type='application/atom+xml' title='The History Gazette - Atom' href='{base}/feeds/posts/default'>"
        f"<link rel='alternate' type='application/rss+xml' title='The History Gazette - RSS' href='{base}/rss.xml'>"
        "</head><body><h1>The History Gazette</h1><p>Local news, every three days.</p></body></html>"
    ).encode()


def serve_history_site(server: LocalServer) -> list[Post]:
    """Route the whole site on ``server``; its posts, newest first."""
    base = server.base
    all_posts = posts()
    server.static("/", home(base), "text/html; charset=utf-8")
    server.static("/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode(), "text/plain")
    for p in all_posts:
        server.static(p.path, page(p), "text/html; charset=utf-8")
    for start in range(1, POSTS + 1, PAGE_SIZE):
        body = _atom_page(base, all_posts[start - 1:start - 1 + PAGE_SIZE], start, POSTS)
        path = "/feeds/posts/default" + (f"?start-index={start}&max-results={PAGE_SIZE}" if start > 1 else "")
        server.static(path, body, "application/atom+xml")
    months = {m: [p for p in all_posts if p.month == m] for m in reversed(MONTHS)}
    ordered = list(months)
    for i, m in enumerate(ordered):
        prev = f"/archive/{ordered[i + 1]}.xml" if i + 1 < len(ordered) else None
        path = "/rss.xml" if i == 0 else f"/archive/{m}.xml"
        server.static(path, _rss(base, months[m], prev=prev, archive=i > 0), "application/rss+xml")
        server.static(f"/sitemap-{m}.xml", _urlset(base, months[m]))
    server.static("/sitemap.xml", _index(base, months))
    return all_posts
