"""Sitemap sources: the parser on good and hostile bytes, the poller on a sitemap (a feed error
when malformed), and the embedded pipeline end to end over a sitemap index on 127.0.0.1 with a
gzipped child and a Google News child through `newsflow run --once`; the second run's
conditional requests (the index's, then each child's) fetch no page. Per-child validators in
detail: tests/test_sitemap_children.py."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.index.base import SearchQuery
from newsflow.ingest.feedparse import FeedError
from newsflow.ingest.sitemap import MAX_SITEMAP_BYTES, is_sitemap, parse_sitemap
from newsflow.pipeline.backends import open_index
from newsflow.settings import load
from tests.support.daemons import LIGHT_ENRICHERS
from tests.support.feeds_http import SEED_SITE, LocalServer, Request, atom_feed, serve_seed_site
from tests.test_poller import Harness

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SM = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def urlset(urls: list[tuple[str, datetime | None]], *, news_titles: dict[str, str] | None = None) -> bytes:
    items = []
    for loc, when in urls:
        news = ""
        if news_titles and loc in news_titles:
            news = (f"<news:news><news:publication><news:name>Example News</news:name><news:language>en</news:language>"
                    f"</news:publication><news:publication_date>{_iso(when)}</news:publication_date>"
                    f"<news:title>{news_titles[loc]}</news:title></news:news>") if when else ""
        lastmod = f"<lastmod>{_iso(when)}</lastmod>" if when and not news else ""
        items.append(f"<url><loc>{loc}</loc>{lastmod}{news}</url>")
    return (f"<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='{SM}' xmlns:news='{NEWS}'>{''.join(items)}</urlset>").encode()


def sitemap_index(children: list[tuple[str, datetime]]) -> bytes:
    items = "".join(f"<sitemap><loc>{loc}</loc><lastmod>{_iso(when)}</lastmod></sitemap>" for loc, when in children)
    return f"<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='{SM}'>{items}</sitemapindex>".encode()


# -- the parser -------------------------------------------------------------------------


def test_news_sitemap_entries_carry_title_date_language_newest_first() -> None:
    body = urlset([("https://n.example/a", NOW - timedelta(hours=5)), ("https://n.example/b", NOW - timedelta(hours=1))],
                  news_titles={"https://n.example/a": "Older story", "https://n.example/b": "Newer story"})
    assert is_sitemap(body)
    feed = parse_sitemap(body, "https://n.example/news.xml").feed
    assert feed is not None
    assert [e.link for e in feed.entries] == ["https://n.example/b", "https://n.example/a"]
    newest = feed.entries[0]
    assert newest.title == "Newer story" and newest.published == NOW - timedelta(hours=1) and newest.language == "en"
    assert newest.entry_id == "https://n.example/b"


def test_recent_window_drops_old_urls_keeps_undated() -> None:
    body = urlset([("https://n.example/old", NOW - timedelta(days=30)), ("https://n.example/new", NOW - timedelta(days=1)),
                   ("https://n.example/undated", None)])
    feed = parse_sitemap(body, "https://n.example/s.xml", now=NOW, recent_days=7).feed
    assert feed is not None and [e.link for e in feed.entries] == ["https://n.example/new", "https://n.example/undated"]


def test_index_children_newest_first_within_the_window() -> None:
    body = sitemap_index([("https://n.example/2019.xml", datetime(2019, 5, 1, tzinfo=timezone.utc)),
                          ("https://n.example/a.xml", NOW - timedelta(days=2)), ("https://n.example/b.xml", NOW)])
    parsed = parse_sitemap(body, "https://n.example/index.xml", now=NOW, recent_days=7)
    assert parsed.is_index and [c.url for c in parsed.children] == ["https://n.example/b.xml", "https://n.example/a.xml"]


def test_gzip_sitemap_is_sniffed_and_read() -> None:
    body = gzip.compress(urlset([("https://n.example/a", NOW)]))
    assert is_sitemap(body)
    feed = parse_sitemap(body, "https://n.example/s.xml.gz").feed
    assert feed is not None and [e.link for e in feed.entries] == ["https://n.example/a"]


def test_feeds_are_not_sniffed_as_sitemaps() -> None:
    assert not is_sitemap(atom_feed([("1", "https://n.example/a", "A")]))
    assert not is_sitemap((SEED_SITE / "rss.xml").read_bytes())


def test_gzip_bomb_refused_at_the_sitemap_limit() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_SITEMAP_BYTES + 10))
    with pytest.raises(FeedError) as info:
        parse_sitemap(bomb, "https://n.example/bomb.xml.gz")
    assert info.value.kind == "too_large"


def test_entity_expansion_refused_like_feeds() -> None:
    laughs = (b"<?xml version='1.0'?><!DOCTYPE urlset [<!ENTITY a 'lol'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
              b"<urlset xmlns='" + SM.encode() + b"'><url><loc>https://n.example/&b;</loc></url></urlset>")
    assert is_sitemap(laughs)
    with pytest.raises(FeedError) as info:
        parse_sitemap(laughs, "https://n.example/s.xml")
    assert info.value.kind == "entity_expansion"


def test_malformed_and_foreign_roots_are_feed_errors() -> None:
    with pytest.raises(FeedError) as info:
        parse_sitemap(b"<urlset xmlns='" + SM.encode() + b"'><url><loc>https://n.example/a</loc>", "https://n.example/s.xml")
    assert info.value.kind == "malformed"
    with pytest.raises(FeedError) as info:
        parse_sitemap(b"<html><body>hi</body></html>", "https://n.example/s.xml")
    assert info.value.kind == "not_a_feed"


# -- the poller -----------------------------------------------------------------------------


def test_malformed_sitemap_counts_as_a_feed_error(tmp_path: Path) -> None:
    with LocalServer() as server:
        server.static("/sitemap.xml", b"<?xml version='1.0'?><urlset xmlns='" + SM.encode() + b"'><url><loc>x</url>")
        harness = Harness(tmp_path)
        stats = harness.poll(server.url("/sitemap.xml"))
    assert stats.feed_errors["malformed"] == 1 and harness.sink.articles == []
    assert harness.state(server.url("/sitemap.xml")).last_error_kind == "malformed"


def test_index_bounded_by_max_children(tmp_path: Path) -> None:
    with LocalServer() as server:
        serve_seed_site(server)
        children = [(server.url(f"/child-{n}.xml"), NOW - timedelta(hours=n)) for n in range(3)]
        server.static("/index.xml", sitemap_index(children))
        for n, (loc, when) in enumerate(children):
            page = ("/post-2.html", "/post-3.html", "/post-us-russia-talks.html")[n]
            server.static(f"/child-{n}.xml", urlset([(server.url(page), when)]))
        harness = Harness(tmp_path, sitemap_max_children=2)
        stats = harness.poll(server.url("/index.xml"))
        assert [len(server.requests(f"/child-{n}.xml")) for n in range(3)] == [1, 1, 0]  # the oldest child is left
    assert stats.articles_emitted == 2
    assert sorted(a.url for a in harness.sink.articles) == sorted(server.url(p) for p in ("/post-2.html", "/post-3.html"))


# -- end to end on the embedded default ---------------------------------------------------


def _conditional(body: bytes, etag: str, ctype: str = "application/xml"):  # type: ignore[no-untyped-def]
    def handle(r: Request) -> None:
        if r.headers.get("if-none-match") == etag:
            r.send(304, b"", {"ETag": etag})
        else:
            r.send(200, body, {"Content-Type": ctype, "ETag": etag})
    return handle


def _run_once(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsflow", "run", "--once", "-c", str(cfg)],
                          capture_output=True, text=True, timeout=300)


def test_sitemap_index_source_indexes_the_pages_then_fetches_nothing_new(tmp_path: Path) -> None:
    pages = ("/post-2.html", "/post-3.html", "/post-us-russia-talks.html")
    with LocalServer() as server:
        serve_seed_site(server)
        post = server.url
        news = urlset([(post("/post-us-russia-talks.html"), NOW - timedelta(hours=1))],
                      news_titles={post("/post-us-russia-talks.html"): "US and Russia hold talks"})
        posts = gzip.compress(urlset([(post("/post-2.html"), NOW - timedelta(hours=3)), (post("/post-3.html"), NOW - timedelta(hours=2))]))
        server.route("/sitemap_index.xml", _conditional(sitemap_index([
            (post("/sitemap-news.xml"), NOW), (post("/sitemap-posts.xml.gz"), NOW - timedelta(days=1)),
            (post("/sitemap-2019.xml"), datetime(2019, 1, 1, tzinfo=timezone.utc)),
        ]), '"idx-1"'))
        server.route("/sitemap-news.xml", _conditional(news, '"news-1"'))
        server.route("/sitemap-posts.xml.gz", _conditional(posts, '"posts-1"', "application/x-gzip"))
        cfg = tmp_path / "newsflow.toml"
        # The test server is on 127.0.0.1: allowed past the SSRF guard on purpose. The light enrichers:
        # this is about the sitemap source, and the full chain loads the spaCy model in each run.
        cfg.write_text(f'data_dir = "{tmp_path}"\n[poller]\nper_host_delay = 0.0\nallow_addresses = ["127.0.0.1"]\n'
                       f'[enrich]\nenrichers = {json.dumps(LIGHT_ENRICHERS)}\n'
                       f'[[feeds]]\nurl = "{post("/sitemap_index.xml")}"\n')
        first = _run_once(cfg)
        child_requests = [len(server.requests(p)) for p in ("/sitemap-news.xml", "/sitemap-posts.xml.gz", "/sitemap-2019.xml")]
        pages_before = sum(len(server.requests(p)) for p in pages)
        second = _run_once(cfg)
        pages_after = sum(len(server.requests(p)) for p in pages)
        index_requests = server.requests("/sitemap_index.xml")
        children_after = [[r.headers.get("if-none-match") for r in server.requests(p)]
                          for p in ("/sitemap-news.xml", "/sitemap-posts.xml.gz")]
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert child_requests == [1, 1, 0]  # the 2019 child is outside the recent window
    assert pages_before == 3
    idx = open_index(load(cfg), create=False)
    try:
        hits = idx.search(SearchQuery(limit=50)).hits
    finally:
        idx.close()
    assert sorted(h.url for h in hits) == sorted(post(p) for p in pages)
    # The second run asks with the ETag and gets a 304; each child is asked with its own ETag, gets
    # a 304 too, and no page is fetched.
    assert [r.headers.get("if-none-match") for r in index_requests] == [None, '"idx-1"']
    assert children_after == [[None, '"news-1"'], [None, '"posts-1"']]
    assert pages_after == pages_before
