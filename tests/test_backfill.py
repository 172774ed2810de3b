"""`newsflow backfill` (issue 18, item 4): a source's past from RFC 5005 archives, paged feeds and
sitemaps, read over real HTTP on 127.0.0.1 (tests/support/history_site.py); then end to end on the
embedded default through the CLI (`feeds add SITE`, `run --once`, `backfill`), and on Kafka +
Elasticsearch, where the backfilled articles travel on the reprocess topics only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchmarks.corpus import free_port
from newsflow.core.record import article_id
from newsflow.index.base import SearchQuery
from newsflow.ingest.config import PollerConfig
from newsflow.ingest.feed_history import History, Window, read_history
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.urls import canonical_url
from newsflow.pipeline.backends import open_broker, open_index
from newsflow.settings import load
from tests.support.daemons import new_pipeline
from tests.support.feeds_http import LocalServer, atom_feed
from tests.support.history_site import Post, serve_history_site

REPO = Path(__file__).resolve().parents[1]
CONFIG = PollerConfig(per_host_delay=0.0, allow_addresses=["127.0.0.1"])  # the test site, allowed on purpose


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def _history(server: LocalServer, path: str, window: Window, **limits: int) -> History:
    async def run() -> History:
        async with Fetcher(CONFIG) as fetcher:
            return await read_history(fetcher, server.url(path), window, CONFIG, **limits)

    return asyncio.run(run())


def _links(history: History) -> list[str]:
    return [e.link or "" for e in history.entries]


def _expected(server: LocalServer, posts: list[Post], since: datetime, until: datetime | None = None) -> list[str]:
    return [server.url(p.path) for p in posts if p.published >= since and (until is None or p.published < until)]


def _asked(server: LocalServer, path: str) -> int:
    return len(server.requests(path))


# -- reading the past ---------------------------------------------------------------------


def test_paged_feed_followed_by_next_links_until_a_page_older_than_since() -> None:
    with LocalServer() as server:
        posts = serve_history_site(server)
        h = _history(server, "/feeds/posts/default", Window(_utc(2026, 10, 15)))
        assert h.kind == "feed" and _links(h) == _expected(server, posts, _utc(2026, 10, 15))
        assert _asked(server, "/feeds/posts/default?start-index=16&max-results=5") == 1  # holds the boundary
        assert _asked(server, "/feeds/posts/default?start-index=21&max-results=5") == 0  # wholly older: not read
        assert h.older > 0 and "older than --since" in h.ended


def test_rfc5005_archives_followed_and_older_archives_left_unread() -> None:
    with LocalServer() as server:
        posts = serve_history_site(server)
        h = _history(server, "/rss.xml", Window(_utc(2026, 11, 1)))
        assert _links(h) == _expected(server, posts, _utc(2026, 11, 1))
        assert _asked(server, "/archive/2026-10.xml") == 1 and _asked(server, "/archive/2026-09.xml") == 0
        h = _history(server, "/rss.xml", Window(_utc(2026, 9, 10)))
        assert _links(h) == _expected(server, posts, _utc(2026, 9, 10))
        assert _asked(server, "/archive/2026-09.xml") == 1


def test_until_closes_the_window() -> None:
    with LocalServer() as server:
        posts = serve_history_site(server)
        h = _history(server, "/rss.xml", Window(_utc(2026, 10, 1), _utc(2026, 11, 1)))
        assert _links(h) == _expected(server, posts, _utc(2026, 10, 1), _utc(2026, 11, 1))
        assert h.newer == sum(p.published >= _utc(2026, 11, 1) for p in posts)


def test_sitemap_index_children_changed_before_since_are_not_fetched() -> None:
    with LocalServer() as server:
        posts = serve_history_site(server)
        h = _history(server, "/sitemap.xml", Window(_utc(2026, 10, 15)))
        assert h.kind == "sitemap"
        assert set(_links(h)) == set(_expected(server, posts, _utc(2026, 10, 15)))
        assert _asked(server, "/sitemap-2026-09.xml") == 0 and _asked(server, "/sitemap-2026-10.xml") == 1


def test_undated_sitemap_urls_are_kept_and_counted() -> None:
    body = (b"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            b"<url><loc>https://u.example/a</loc></url><url><loc>https://u.example/b</loc><lastmod>2020-01-01</lastmod></url>"
            b"<url><loc>https://u.example/c</loc><lastmod>2026-11-02</lastmod></url></urlset>")
    with LocalServer() as server:
        server.static("/s.xml", body)
        h = _history(server, "/s.xml", Window(_utc(2026, 10, 1)))
    assert _links(h) == ["https://u.example/c", "https://u.example/a"]
    assert (h.undated, h.older) == (1, 1)


def _paged(server: LocalServer, n: int, nxt: str | None) -> bytes:
    feed = atom_feed([(f"p{n}", server.url(f"/p{n}"), f"P{n}")]).decode()
    link = f"<link rel='next' href='{nxt}'/>" if nxt else ""
    return feed.replace("<title>Test feed</title>", f"<title>Test feed</title>{link}").encode()


def test_a_link_back_to_a_page_already_read_ends_the_walk() -> None:
    with LocalServer() as server:
        server.static("/a.xml", _paged(server, 1, server.url("/b.xml")))
        server.static("/b.xml", _paged(server, 2, server.url("/a.xml")))
        h = _history(server, "/a.xml", Window(_utc(2020, 1, 1)))
        assert "leads back" in h.ended and len(h.documents) == 2 and len(h.entries) == 2
        assert _asked(server, "/a.xml") == 1


def test_max_articles_bounds_what_is_kept_and_ends_the_walk() -> None:
    with LocalServer() as server:
        posts = serve_history_site(server)
        h = _history(server, "/feeds/posts/default", Window(_utc(2020, 1, 1)), max_entries=7)
        assert _links(h) == [server.url(p.path) for p in posts[:7]]  # the newest
        assert h.over_limit == 3 and "--max-articles" in h.ended
        assert _asked(server, "/feeds/posts/default?start-index=11&max-results=5") == 0


def test_the_walk_stops_at_max_documents() -> None:
    with LocalServer() as server:
        for n in range(50):
            server.static(f"/p{n}.xml", _paged(server, n, server.url(f"/p{n + 1}.xml")))
        h = _history(server, "/p0.xml", Window(_utc(2020, 1, 1)), max_documents=3)
        assert len(h.documents) == 3 and "--max-documents" in h.ended
        assert _asked(server, "/p3.xml") == 0


def test_an_archive_link_to_an_internal_address_is_refused_unfetched() -> None:
    with LocalServer() as server:
        server.static("/a.xml", _paged(server, 1, "http://127.0.0.2:9/internal.xml"))
        h = _history(server, "/a.xml", Window(_utc(2020, 1, 1)))
    assert len(h.entries) == 1 and h.failed and h.failed[0][0] == "http://127.0.0.2:9/internal.xml"
    assert "could not be read" in h.ended


def _wordpress(server: LocalServer, page: int, posts: list[Post]) -> bytes:
    items = "".join(f"<item><title>{p.title}</title><link>{server.url(p.path)}</link>"
                    f"<pubDate>{p.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>" for p in posts)
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>WP</title><link>" + server.url("/") + "</link>"
            f"<generator>https://wordpress.org/?v=6.4.2</generator>{items}</channel></rss>").encode()


def test_a_wordpress_feed_is_walked_by_its_paged_query_until_a_missing_page() -> None:
    with LocalServer() as server:
        posts = serve_history_site(server)  # its pages; the feed is WordPress's, 10 posts a page, no links
        for n in range(3):
            path = "/feed/" + (f"?paged={n + 1}" if n else "")
            server.static(path, _wordpress(server, n + 1, posts[10 * n:10 * n + 10]), "application/rss+xml")
        h = _history(server, "/feed/", Window(_utc(2020, 1, 1)))
        assert _links(h) == [server.url(p.path) for p in posts]
        assert _asked(server, "/feed/?paged=4") == 1 and h.failed == [] and h.ended == "reached the last page"
        before = _asked(server, "/feed/?paged=3")
        h = _history(server, "/feed/", Window(_utc(2026, 11, 1)))
        assert _asked(server, "/feed/?paged=3") == before  # page 2 holds October only: the walk ends there
        assert _links(h) == [server.url(p.path) for p in posts if p.published >= _utc(2026, 11, 1)]


# -- end to end: the embedded default, through the CLI ---------------------------------------


def _newsflow(config: Path, *args: str) -> subprocess.CompletedProcess:
    given = ["-c", str(config)] if "-c" not in args else []
    return subprocess.run([sys.executable, "-m", "newsflow", *args, *given], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={**os.environ, "NO_COLOR": "1"})


def _ids(server: LocalServer, posts: list[Post]) -> set[str]:
    return {article_id(canonical_url(server.url(p.path))) for p in posts}


def _lane_sizes(config: Path) -> tuple[int, int]:
    """Messages on the live topic and on the reprocess topic of the embedded bus."""
    s = load(config)
    broker = open_broker(s)
    try:
        return tuple(sum(broker.end_offsets(t).values()) for t in (s.bus.topics.cleaned, s.bus.topics.reprocess))  # type: ignore[return-value]
    finally:
        getattr(broker, "close", lambda: None)()


def test_feeds_add_site_then_backfill_on_the_embedded_default(tmp_path: Path) -> None:
    config = tmp_path / "newsflow.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n'
                      '[poller]\nper_host_delay = 0.0\nallow_addresses = ["127.0.0.1"]\n')
    since = _utc(2026, 10, 15)
    with LocalServer() as server:
        posts = serve_history_site(server)
        added = _newsflow(config, "feeds", "add", server.url("/"))
        assert added.returncode == 0, added.stderr
        assert f'url = "{server.url("/rss.xml")}"' in config.read_text()  # the site's main feed, not its address
        live = _newsflow(config, "run", "--once")
        assert live.returncode == 0, live.stderr
        current = [p for p in posts if p.month == "2026-11"]  # what the feed lists today
        assert "articles sent: %d" % len(current) in live.stdout, live.stdout + live.stderr[-4000:]

        done = _newsflow(config, "backfill", server.url("/sitemap.xml"), "--since", since.date().isoformat())
        assert done.returncode == 0, done.stderr
        wanted = [p for p in posts if p.published >= since]
        older = [p for p in wanted if p not in current]
        assert f"pages fetched: {len(older)}; articles sent: {len(older)}; already sent before: {len(current)}" in done.stdout
        for p in posts:  # each wanted page fetched once, live or backfilled; none before --since
            assert _asked(server, p.path) == (1 if p in wanted else 0), p.path

        s = load(config)
        idx = open_index(s, create=False)
        try:
            hits = idx.search(SearchQuery(limit=100)).hits
            stored = {h.id: idx.get(h.id) for h in hits}
        finally:
            idx.close()
        assert set(stored) == _ids(server, wanted)
        assert all(a is not None and a.archive_ref for a in stored.values())  # archived like live pages
        assert _lane_sizes(config) == (len(current), len(older))  # the live topic saw none of the backfill

        again = _newsflow(config, "backfill", server.url("/sitemap.xml"), "--since", since.date().isoformat())
        assert again.returncode == 0, again.stderr
        assert f"pages fetched: 0; articles sent: 0; already sent before: {len(wanted)}" in again.stdout
        assert all(_asked(server, p.path) <= 1 for p in posts)

        # The site's address: its robots.txt sitemap is the source; only the pages before are new.
        site = _newsflow(config, "backfill", server.url("/"), "--since", "2026-10-01", "--delay", "0.3")
        assert site.returncode == 0, site.stderr
        assert f"its past read from {server.url('/sitemap.xml')}" in site.stdout
        earlier = [p for p in posts if _utc(2026, 10, 1) <= p.published < since]
        assert f"pages fetched: {len(earlier)}; articles sent: {len(earlier)}" in site.stdout
        assert all(_asked(server, p.path) == (1 if p.published >= _utc(2026, 10, 1) else 0) for p in posts)
        fetched = sorted(r.started for p in earlier for r in server.requests(p.path))
        assert min(b - a for a, b in zip(fetched, fetched[1:])) >= 0.25  # --delay spaces the site's requests


def test_backfill_bad_input_is_one_error_line(tmp_path: Path) -> None:
    config = tmp_path / "newsflow.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[poller]\nper_host_delay = 0.0\nallow_addresses = ["127.0.0.1"]\n')
    with LocalServer() as server, LocalServer() as bare:
        serve_history_site(server)
        bare.static("/", b"<!doctype html><html><head><title>Hi</title></head><body><p>No feeds here.</p></body></html>",
                    "text/html")
        cases = {
            ("backfill", server.url("/rss.xml"), "--since", "last tuesday"): "--since: not an ISO date",
            ("backfill", bare.url("/"), "--since", "2026-10-01"): "no feed or sitemap of its site",  # a page, nothing else
            ("backfill", server.url("/missing.xml"), "--since", "2026-10-01"): "404",
            ("backfill", "nosuchfeed", "--since", "2026-10-01"): "neither an http(s) url",
            ("backfill", server.url("/rss.xml"), "--since", "2026-10-01", "--until", "2026-09-01"): "--until must be later",
        }
        down = tmp_path / "kafka-down.toml"  # a closed port: one line within seconds, not a client's retries
        down.write_text(config.read_text() + f'[bus]\nbackend = "kafka"\n[bus.kafka]\nbootstrap_servers = ["127.0.0.1:{free_port()}"]\n')
        cases[("backfill", server.url("/rss.xml"), "--since", "2026-10-01", "-c", str(down))] = "cannot start: kafka"
        for args, words in cases.items():
            r = _newsflow(config, *args)
            assert r.returncode != 0 and "Traceback" not in r.stderr, (args, r.stderr)
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], (args, r.stderr)


# -- Kafka + Elasticsearch -------------------------------------------------------------------


@pytest.mark.services
def test_backfill_travels_on_the_reprocess_topics_into_elasticsearch(kafka_bus_config, es_hosts, tmp_path) -> None:
    since = _utc(2026, 10, 1)
    with new_pipeline(tmp_path, kafka_bus_config, es_hosts) as p, LocalServer() as server:
        posts = serve_history_site(server)
        config = p.write_config(data_dir=tmp_path / "data")
        done = _newsflow(config, "backfill", server.url("/feeds/posts/default"), "--since", since.isoformat())
        assert done.returncode == 0, done.stderr
        wanted = [x for x in posts if x.published >= since]
        assert f"articles sent: {len(wanted)}" in done.stdout
        indexed = p.indexed()
        assert set(indexed["ids"]) == _ids(server, wanted) and indexed["urls_twice"] == []
        assert p.topic_messages(p.reprocess) == len(wanted) and p.topic_messages(p.reprocess_enriched) == len(wanted)
        assert p.topic_messages(p.cleaned) == 0  # nothing on the live topic
