"""The poller end to end over real HTTP on 127.0.0.1, with a stub extractor and a collecting sink."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

import newsflow.ingest.poller as poller_module
import newsflow.ingest.sitemap_source as source_module
from newsflow.ingest.feedstate import FeedState, FeedStateStore
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.poll_stats import PollStats
from newsflow.ingest.poller import Poller
from newsflow.core.record import Article, article_id
from newsflow.ingest.urls import canonical_url
from newsflow.ingest.config import FeedConfig, PollerConfig
from tests.support.feeds_http import (
    CollectingSink,
    LocalServer,
    Request,
    atom_feed,
    html_page,
    serve_seed_site,
    stub_extract,
)


class Harness:
    """Each poll runs in a fresh event loop with a fresh fetcher and store on the same file: a restart."""

    def __init__(self, tmp_path: Path, **config: object) -> None:
        base = dict(per_host_delay=0.0, min_interval=60.0, max_interval=3600.0, default_interval=600.0, timeout=30.0,
                    allow_addresses=["127.0.0.1"])  # the test servers, past the SSRF guard on purpose
        base.update(config)
        self.config = PollerConfig(**base)
        self.db = tmp_path / "state.sqlite3"
        self.sink = CollectingSink()
        self.extract: Callable = stub_extract
        self.extract_timeout: float | None = None

    def poll(self, *feed_urls: str) -> PollStats:
        async def main() -> PollStats:
            async with Fetcher(self.config) as fetcher:
                with FeedStateStore(self.db, self.config.seen_ids_per_feed) as store:
                    poller = Poller(self.config, store, fetcher, self.extract, self.sink,
                                    feeds=[FeedConfig(url=u) for u in feed_urls], extract_timeout=self.extract_timeout)
                    try:
                        return await poller.poll_once()
                    finally:
                        poller.close()

        return asyncio.run(main())

    def state(self, url: str) -> FeedState:
        with FeedStateStore(self.db) as store:
            state = store.get(url)
        assert state is not None
        return state


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def test_seed_site_atom_then_rss_same_ids(server: LocalServer, tmp_path: Path) -> None:
    serve_seed_site(server)
    atom, rss = server.url("/feeds/posts/default.xml"), server.url("/rss.xml")
    expected = {article_id(canonical_url(server.url(p))) for p in ("/post-2.html", "/post-3.html", "/post-us-russia-talks.html")}
    h = Harness(tmp_path)

    first = h.poll(atom)
    assert first.articles_emitted == 3 and first.entries_new == 3 and not first.article_errors and not first.feed_errors
    assert set(h.sink.ids) == expected and len(h.sink.ids) == 3
    assert all(a.feeds == [atom] for a in h.sink.articles)
    talks = next(a for a in h.sink.articles if a.url.endswith("post-us-russia-talks.html"))
    assert talks.categories == ["NATO", "Russia", "Ukraine", "USA", "World"]
    assert talks.original_url == server.url("/post-us-russia-talks.html")

    second = h.poll(atom, rss)
    assert second.unchanged == 1  # the Atom feed: same bytes, no validators
    assert second.articles_emitted == 3
    rss_articles = h.sink.articles[3:]
    assert {a.id for a in rss_articles} == expected
    assert all(a.feeds == [atom, rss] for a in rss_articles)

    third = h.poll(atom, rss)
    assert third.unchanged == 2 and third.articles_emitted == 0 and third.entries_new == 0
    assert len(h.sink.articles) == 6
    assert h.state(rss).title == "Example News" and h.state(rss).status == "ok"


def test_conditional_get_not_modified(server: LocalServer, tmp_path: Path) -> None:
    body = atom_feed([("e1", server.url("/p/1"), "One")])

    def feed(r: Request) -> None:
        if r.headers.get("if-none-match") == '"v1"':
            r.send(304, headers={"ETag": '"v1"'}, length=False)
        else:
            r.send(200, body, {"Content-Type": "application/atom+xml", "ETag": '"v1"'})

    server.route("/feed", feed)
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)
    assert h.poll(server.url("/feed")).articles_emitted == 1
    assert h.state(server.url("/feed")).etag == '"v1"'
    again = h.poll(server.url("/feed"))
    assert again.not_modified == 1 and again.articles_emitted == 0 and again.feeds_changed == 0
    assert server.requests("/feed")[1].headers["if-none-match"] == '"v1"'
    state = h.state(server.url("/feed"))
    assert state.last_result == "not_modified" and state.quiet_polls == 1
    assert len(server.requests("/p/1")) == 1


def test_unchanged_validators_on_a_changed_feed(server: LocalServer, tmp_path: Path) -> None:
    # This server never answers 304 and sends the same ETag and Last-Modified whatever it serves.
    entries = [("e1", server.url("/p/1"), "One")]
    stale = {"Content-Type": "application/atom+xml", "ETag": '"forever"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
    server.route("/feed", lambda r: r.send(200, atom_feed(entries), stale))
    for n in (1, 2):
        server.static(f"/p/{n}", html_page(f"page {n}"), "text/html")
    h = Harness(tmp_path)
    assert h.poll(server.url("/feed")).articles_emitted == 1
    same = h.poll(server.url("/feed"))
    assert same.unchanged == 1 and same.feeds_changed == 0
    entries.insert(0, ("e2", server.url("/p/2"), "Two"))
    changed = h.poll(server.url("/feed"))
    assert changed.feeds_changed == 1 and changed.articles_emitted == 1
    assert h.sink.articles[-1].url == server.url("/p/2")
    assert len(server.requests("/p/1")) == 1


def test_quiet_polls_do_not_parse(server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)
    h.poll(server.url("/feed"))

    def no_parsing(*args: object, **kw: object) -> None:
        raise AssertionError("parsed an unchanged feed")

    monkeypatch.setattr(source_module, "parse_feed", no_parsing)  # the poller parses through it
    stats = h.poll(server.url("/feed"))
    assert stats.unchanged == 1 and not stats.feed_errors


def test_entry_errors_counted_logged_and_not_retried_forever(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pages = {
        "ok": lambda r: r.send(200, html_page("ok"), {"Content-Type": "text/html"}),
        "gone": lambda r: r.send(410, b"gone", {"Content-Type": "text/plain"}),
        "broken": lambda r: r.send(500, b"oops", {"Content-Type": "text/plain"}),
        "image": lambda r: r.send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, {"Content-Type": "image/png"}),
        "huge": lambda r: r.send(200, b"<p>" + b"x" * 100_000 + b"</p>", {"Content-Type": "text/html"}),
        "loop": lambda r: r.send(302, b"", {"Location": "/p/loop2"}),
        "loop2": lambda r: r.send(302, b"", {"Location": "/p/loop"}),
        "empty": lambda r: r.send(200, b"<html><body><div>menu</div></body></html>", {"Content-Type": "text/html"}),
    }
    for name, handler in pages.items():
        server.route(f"/p/{name}", handler)
    names = ["ok", "missing", "gone", "broken", "image", "huge", "loop", "empty"]
    server.static("/feed", atom_feed([(f"e-{n}", server.url(f"/p/{n}"), n) for n in names]), "application/atom+xml")
    h = Harness(tmp_path, max_body_bytes=50_000)
    feed = server.url("/feed")

    with caplog.at_level(logging.WARNING, logger="newsflow.ingest.poller"):
        first = h.poll(feed)
    assert first.articles_emitted == 1
    assert dict(first.article_errors) == {
        "http_404": 1, "http_410": 1, "http_5xx": 1, "not_html": 1, "too_large": 1, "redirect_loop": 1, "no_text": 1,
    }
    by_kind = {e.kind: e for e in first.errors}
    assert by_kind["http_404"].feed == feed and by_kind["http_404"].url == server.url("/p/missing")
    assert "404" in by_kind["http_404"].message
    record = next(r for r in caplog.records if getattr(r, "kind", None) == "http_404")
    assert record.feed == feed and record.url == server.url("/p/missing")

    # The transient 500 keeps the feed "open": it is re-read and only that entry is tried again,
    # until max_entry_attempts (3); permanent failures are never fetched again.
    second, third = h.poll(feed), h.poll(feed)
    assert dict(second.article_errors) == {"http_5xx": 1} and dict(third.article_errors) == {"http_5xx": 1}
    fourth = h.poll(feed)
    assert fourth.unchanged == 1 and not fourth.article_errors
    assert len(server.requests("/p/broken")) == 3
    for once in ("missing", "gone", "image", "huge", "loop", "empty", "ok"):
        assert len(server.requests(f"/p/{once}")) == 1, once
    assert len(h.sink.articles) == 1


def test_feed_errors_back_off_flag_failing_and_recover(server: LocalServer, tmp_path: Path) -> None:
    feed = server.url("/feed")
    h = Harness(tmp_path, failing_after=3, min_interval=60.0, max_interval=3600.0, error_backoff_max=7200.0)
    gaps = []
    for n in range(1, 4):
        stats = h.poll(feed)
        assert dict(stats.feed_errors) == {"http_404": 1}
        state = h.state(feed)
        assert state.consecutive_errors == n and state.last_error_kind == "http_404" and "404" in state.last_error
        gaps.append(state.next_poll - state.last_poll)
    assert h.state(feed).status == "failing"
    assert gaps[0] >= 60 and gaps[1] >= 120 and gaps[2] >= 3600  # exponential, then probed rarely
    assert all(g <= 7200 for g in gaps)
    server.static("/feed", atom_feed([]), "application/atom+xml")
    h.poll(feed)
    state = h.state(feed)
    assert state.status == "ok" and state.consecutive_errors == 0 and state.last_error is None


@pytest.mark.parametrize(
    ("setup", "kind", "words"),
    [
        (lambda s: s.static("/feed", b"<!doctype html><html><body>hi</body></html>", "text/html"), "not_a_feed", "HTML"),
        (lambda s: s.static("/feed", b"", "application/xml"), "empty", "empty"),
        (lambda s: (s.static("/feed", b"", "text/plain", 301, {"Location": "/feed2"}),
                    s.static("/feed2", b"", "text/plain", 301, {"Location": "/feed"})), "redirect_loop", "loop"),
        (lambda s: s.static("/feed", b"x" * 300_000, "application/xml"), "too_large", "cap"),
    ],
)
def test_feed_level_errors(server: LocalServer, tmp_path: Path, setup, kind: str, words: str) -> None:
    setup(server)
    h = Harness(tmp_path, max_body_bytes=100_000)
    stats = h.poll(server.url("/feed"))
    assert dict(stats.feed_errors) == {kind: 1}
    assert words in stats.errors[0].message and stats.errors[0].feed == server.url("/feed")
    assert h.state(server.url("/feed")).status == "error"


def test_retry_after_and_max_age_set_the_next_poll(server: LocalServer, tmp_path: Path) -> None:
    server.static("/busy", b"", "text/plain", 503, {"Retry-After": "5000"})
    server.static("/cached", atom_feed([]), "application/atom+xml", headers={"Cache-Control": "max-age=1800"})
    h = Harness(tmp_path, min_interval=60.0, max_interval=7200.0)
    h.poll(server.url("/busy"), server.url("/cached"))
    busy, cached = h.state(server.url("/busy")), h.state(server.url("/cached"))
    assert busy.next_poll - busy.last_poll >= 5000
    assert cached.next_poll - cached.last_poll >= 1800


def test_unacked_articles_are_not_marked_seen(server: LocalServer, tmp_path: Path) -> None:
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "One"), ("e2", server.url("/p/2"), "Two")]),
                  "application/atom+xml")
    for n in (1, 2):
        server.static(f"/p/{n}", html_page(str(n)), "text/html")
    h = Harness(tmp_path)
    h.sink.fail = True
    failed = h.poll(server.url("/feed"))
    assert failed.articles_emitted == 0 and failed.article_errors["sink"] == 2
    h.sink.fail = False
    retried = h.poll(server.url("/feed"))
    assert retried.articles_emitted == 2 and retried.feeds_changed == 1
    assert h.poll(server.url("/feed")).unchanged == 1


def test_extractor_crash_is_retried(server: LocalServer, tmp_path: Path) -> None:
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)

    def crashing(*args: object, **kw: object) -> None:
        raise RuntimeError("bug in extractor")

    h.extract = crashing
    assert dict(h.poll(server.url("/feed")).article_errors) == {"extract_crash": 1}
    h.extract = stub_extract
    assert h.poll(server.url("/feed")).articles_emitted == 1


def test_bozo_feed_used_and_flagged(server: LocalServer, tmp_path: Path) -> None:
    body = (b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Bozo &bogus;</title>'
            b'<item><title>One</title><link>' + server.url("/p/1").encode() + b'</link></item></channel></rss>')
    server.static("/feed", body, "application/rss+xml")
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)
    stats = h.poll(server.url("/feed"))
    assert stats.bozo_feeds == 1 and stats.articles_emitted == 1
    assert "undefined entity" in (h.state(server.url("/feed")).bozo_reason or "")


def test_entries_over_the_per_poll_cap_wait_for_the_next_poll(server: LocalServer, tmp_path: Path) -> None:
    server.static("/feed", atom_feed([(f"e{n}", server.url(f"/p/{n}"), str(n)) for n in range(5)]), "application/atom+xml")
    for n in range(5):
        server.static(f"/p/{n}", html_page(str(n)), "text/html")
    h = Harness(tmp_path, max_entries_per_poll=2)
    assert [h.poll(server.url("/feed")).articles_emitted for _ in range(3)] == [2, 2, 1]
    assert h.poll(server.url("/feed")).unchanged == 1
    assert len(set(h.sink.ids)) == 5


def test_new_guid_for_a_known_link_is_a_duplicate(server: LocalServer, tmp_path: Path) -> None:
    entries = [("guid-1", server.url("/p/1?utm_source=rss"), "One")]
    server.route("/feed", lambda r: r.send(200, atom_feed(entries), {"Content-Type": "application/atom+xml"}))
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)
    assert h.poll(server.url("/feed")).articles_emitted == 1
    entries[0] = ("guid-1-renamed", server.url("/p/1#comments"), "One")
    stats = h.poll(server.url("/feed"))
    assert stats.duplicates == 1 and stats.articles_emitted == 0 and stats.entries_new == 0
    assert len(server.requests("/p/1")) == 1


def test_run_forever_polls_when_due_and_on_stop_leaves_unextracted_entries_for_the_next_run(
    server: LocalServer, tmp_path: Path
) -> None:
    entries = [("e1", server.url("/p/1"), "One")]
    server.route("/feed", lambda r: r.send(200, atom_feed(entries), {"Content-Type": "application/atom+xml"}))
    server.static("/p/1", html_page("one"), "text/html")
    server.static("/p/3", html_page("three"), "text/html")
    page2_started = threading.Event()

    def slow_page(r: Request) -> None:
        page2_started.set()
        time.sleep(0.5)
        r.send(200, html_page("two"), {"Content-Type": "text/html"})

    server.route("/p/2", slow_page)
    h = Harness(tmp_path, min_interval=0.2, max_interval=0.3, default_interval=0.2)

    async def main() -> PollStats:
        stop = asyncio.Event()
        async with Fetcher(h.config) as fetcher:
            with FeedStateStore(h.db) as store:
                poller = Poller(h.config, store, fetcher, stub_extract, h.sink, feeds=[FeedConfig(url=server.url("/feed"))])
                runner = asyncio.create_task(poller.run_forever(stop))
                for _ in range(200):
                    if h.sink.articles:
                        break
                    await asyncio.sleep(0.05)
                entries[:0] = [("e2", server.url("/p/2"), "Two"), ("e3", server.url("/p/3"), "Three")]
                assert await asyncio.to_thread(page2_started.wait, 10)
                stop.set()  # while /p/2 is being fetched
                stats = await asyncio.wait_for(runner, 10)
                poller.close()
                return stats

    stats = asyncio.run(main())
    # /p/2 was fetched when the stop came, so it was not extracted; neither was /p/3 if it had
    # not begun. Neither is marked seen: the next run (a restart) sends them, nothing is lost.
    assert [a.url for a in h.sink.articles] == [server.url("/p/1")]
    assert stats.articles_emitted == 1
    assert len(server.requests("/feed")) >= 2
    state = h.state(server.url("/feed"))
    assert state.etag is None and state.body_hash is None  # pending entries: re-read the feed next time
    assert state.next_poll <= time.time()  # and at once: they were left only because of the stop
    after = h.poll(server.url("/feed"))
    assert after.articles_emitted == 2
    assert sorted(a.url for a in h.sink.articles) == [server.url(f"/p/{n}") for n in (1, 2, 3)]


def test_repeated_guid_in_one_feed_handled_once(server: LocalServer, tmp_path: Path) -> None:
    entries = [("same", server.url("/p/1"), "One"), ("other", server.url("/p/2"), "Two"), ("same", server.url("/p/3"), "Three")]
    server.static("/feed", atom_feed(entries), "application/atom+xml")
    for n in (1, 2, 3):
        server.static(f"/p/{n}", html_page(str(n)), "text/html")
    h = Harness(tmp_path)
    assert h.poll(server.url("/feed")).articles_emitted == 2
    assert sorted(a.url for a in h.sink.articles) == [server.url("/p/1"), server.url("/p/2")]


def test_settings_give_config_and_feed_list(server: LocalServer, tmp_path: Path) -> None:
    from newsflow.settings import Settings

    server.static("/feed", atom_feed([]), "application/atom+xml")
    settings = Settings(data_dir=tmp_path, feeds=[{"url": server.url("/feed")}], poller={"per_host_delay": 0, "allow_addresses": ["127.0.0.1"]})

    async def main() -> PollStats:
        async with Fetcher(settings.poller) as fetcher:
            with FeedStateStore(settings.state_db) as store:
                poller = Poller(settings.poller, store, fetcher, stub_extract, CollectingSink(), feeds=settings.feeds)
                assert list(poller.feeds) == [server.url("/feed")]
                try:
                    return await poller.poll_once()
                finally:
                    poller.close()

    assert asyncio.run(main()).feeds_changed == 1


def test_seed_site_with_the_real_extractor(server: LocalServer, tmp_path: Path) -> None:
    extractor = pytest.importorskip("newsflow.ingest.extract.article")
    serve_seed_site(server)
    atom, rss = server.url("/feeds/posts/default.xml"), server.url("/rss.xml")
    h = Harness(tmp_path)
    h.extract = extractor.extract_article
    stats = h.poll(atom, rss)
    assert not stats.article_errors and stats.articles_emitted == 6
    assert len(set(h.sink.ids)) == 3
    talks = [a for a in h.sink.articles if a.url == server.url("/post-us-russia-talks.html")]
    assert len(talks) == 2 and sorted(len(a.feeds) for a in talks) == [1, 2]
    assert talks[0].published_at is not None and talks[0].published_at.date().isoformat() == "2022-01-10"
    assert "Stoltenberg" in talks[0].text


def test_two_feeds_polled_together_union_their_feeds(server: LocalServer, tmp_path: Path) -> None:
    serve_seed_site(server)
    atom, rss = server.url("/feeds/posts/default.xml"), server.url("/rss.xml")
    h = Harness(tmp_path)
    stats = h.poll(atom, rss)  # both feeds in flight at once
    assert stats.articles_emitted == 6 and len(set(h.sink.ids)) == 3
    for aid in set(h.sink.ids):
        sent = [a.feeds for a in h.sink.articles if a.id == aid]
        # whichever feed went second sent the article with both feeds
        assert sorted(map(len, sent)) == [1, 2] and set(sent[1]) == {atom, rss}


def test_internal_error_backs_the_feed_off(server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")

    def broken(*args: object, **kw: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(source_module, "parse_feed", broken)
    h = Harness(tmp_path)
    stats = h.poll(server.url("/feed"))
    assert dict(stats.feed_errors) == {"internal": 1} and "KeyError" in stats.errors[0].message
    state = h.state(server.url("/feed"))
    assert state.status == "error" and state.next_poll - state.last_poll >= 60


def test_seed_site_under_its_real_urls_through_host_map(server: LocalServer, tmp_path: Path) -> None:
    # As `newsflow demo` runs it: the files unchanged, requests for the blogspot origin sent to 127.0.0.1.
    serve_seed_site(server, rewrite=False)
    origin = "https://example-news.blogspot.com"
    h = Harness(tmp_path, host_map={origin: server.base})
    stats = h.poll(origin + "/feeds/posts/default.xml", origin + "/rss.xml")
    assert stats.articles_emitted == 6 and not stats.article_errors and not stats.feed_errors
    assert set(h.sink.ids) == {article_id(f"{origin}/{p}") for p in ("post-2.html", "post-3.html", "post-us-russia-talks.html")}
    assert all(a.url.startswith(origin + "/") for a in h.sink.articles)
    assert {r.path for r in server.log} >= {"/feeds/posts/default.xml", "/rss.xml", "/post-2.html"}


def test_the_pages_http_charset_reaches_the_extractor(server: LocalServer, tmp_path: Path) -> None:
    """A page whose only encoding label is its Content-Type header (no <meta charset>): short
    Czech text in ISO-8859-2 is mis-guessed without the header, so the poller must pass it on."""
    extractor = pytest.importorskip("newsflow.ingest.extract.article")
    from newsflow.ingest.extract.decoding import decode_html

    text = ("Vláda v pondělí oznámila nová hospodářská opatření. Ministr financí řekl, že rozpočet je dostatečně "
            "zajištěn. Odborníci upozorňují, že domácnosti potřebují pomoc, protože ceny dále rostou.")
    page = f"<html><head><title>Opatření</title></head><body><article><h1>Vláda oznámila opatření</h1><p>{text}</p></article></body></html>"
    body = page.encode("iso8859_2")
    assert text not in decode_html(body)  # the case this test is about: no header, wrong guess
    server.static("/feed", atom_feed([("e1", server.url("/cz/1"), "Opatření")]), "application/atom+xml")
    server.static("/cz/1", body, "text/html; charset=ISO-8859-2")
    h = Harness(tmp_path)
    h.extract = extractor.extract_article
    stats = h.poll(server.url("/feed"))
    assert stats.articles_emitted == 1, stats.errors
    assert text in h.sink.articles[0].text


def test_a_running_poller_prunes_articles_unseen_for_article_memory_days(tmp_path: Path) -> None:
    config = PollerConfig(per_host_delay=0.0, article_memory_days=30, allow_addresses=["127.0.0.1"])
    db = tmp_path / "state.sqlite3"
    with FeedStateStore(db) as store:
        store.add_article_feed("old", "http://a/old", "feed-1", now=time.time() - 31 * 86400)
        store.add_article_feed("recent", "http://a/new", "feed-1", now=time.time() - 29 * 86400)

    async def main() -> None:
        async with Fetcher(config) as fetcher:
            with FeedStateStore(db) as store:
                poller = Poller(config, store, fetcher, stub_extract, CollectingSink(), feeds=[])
                stop = asyncio.Event()
                asyncio.get_running_loop().call_later(0.3, stop.set)
                try:
                    await poller.run_forever(stop)
                finally:
                    poller.close()

    asyncio.run(main())
    with FeedStateStore(db) as store:
        assert store.article_feeds("old") == [] and store.article_feeds("recent") == ["feed-1"]


def test_a_feed_that_moved_for_good_is_polled_at_its_new_url(server: LocalServer, tmp_path: Path) -> None:
    old, new = server.url("/old-feed"), server.url("/new-feed")
    server.static("/old-feed", b"", "text/plain", status=301, headers={"Location": "/new-feed"})
    server.static("/new-feed", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)
    assert h.poll(old).articles_emitted == 1
    assert h.state(old).moved_to == new
    assert h.sink.articles[0].feeds == [old]  # the feed keeps its listed url as its identity
    h.poll(old)
    assert len(server.requests("/old-feed")) == 1 and len(server.requests("/new-feed")) == 2

    # The new home disappears: back to the listed url, which answers again.
    server.static("/new-feed", b"gone", "text/plain", status=410)
    server.static("/old-feed", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")
    h.poll(old)
    assert h.state(old).moved_to is None
    h.poll(old)
    assert len(server.requests("/old-feed")) == 2 and h.state(old).last_result != "error"


def test_a_temporary_redirect_is_not_remembered(server: LocalServer, tmp_path: Path) -> None:
    server.static("/feed", b"", "text/plain", status=302, headers={"Location": "/elsewhere"})
    server.static("/elsewhere", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path)
    h.poll(server.url("/feed"))
    assert h.state(server.url("/feed")).moved_to is None


def test_waiting_for_a_hosts_turn_holds_no_page_place(server: LocalServer, tmp_path: Path, monkeypatch) -> None:
    """One place for fetched pages, two hosts (127.0.0.1 and localhost reach the same server but
    are two hosts to politeness). The second page of host A waits a second for A's turn; host
    B's page must not wait behind it for the place, and every place is free again afterwards,
    failures included."""
    monkeypatch.setattr(poller_module, "PAGES_IN_FLIGHT", 1)
    other = server.base.replace("127.0.0.1", "localhost")
    server.static("/feed", atom_feed([
        ("a1", server.url("/a/1"), "A one"), ("a2", server.url("/a/2"), "A two"),
        ("b1", f"{other}/b/1", "B one"), ("a3", server.url("/gone"), "A gone"),
    ]), "application/atom+xml")
    for p in ("/a/1", "/a/2", "/b/1"):
        server.static(p, html_page(p), "text/html")
    config = PollerConfig(per_host_delay=1.0, obey_robots=False, timeout=30.0, allow_addresses=["127.0.0.1"])

    async def main() -> tuple[PollStats, int, int]:
        async with Fetcher(config) as fetcher:
            with FeedStateStore(tmp_path / "state.sqlite3", config.seen_ids_per_feed) as store:
                poller = Poller(config, store, fetcher, stub_extract, CollectingSink(), feeds=[FeedConfig(url=server.url("/feed"))])
                try:
                    stats = await poller.poll_once()
                    assert poller._pages is not None
                    return stats, poller._pages._value, poller_module.PAGES_IN_FLIGHT * poller._extract_workers
                finally:
                    poller.close()

    stats, free, total = asyncio.run(main())
    assert stats.articles_emitted == 3 and dict(stats.article_errors) == {"http_404": 1}
    assert free == total == 1  # the 404 gave its place back too
    a1, a2 = (server.requests(p)[0].started for p in ("/a/1", "/a/2"))
    b1 = server.requests("/b/1")[0].started
    assert a2 - a1 >= 0.95  # host A's pages are a second apart (politeness holds)
    assert b1 < a2 - 0.5  # B did not wait behind A's second page for the one place


def test_a_page_over_the_extraction_budget_is_counted_and_the_rest_go_on(server: LocalServer, tmp_path: Path) -> None:
    server.static("/feed", atom_feed([(f"e{i}", server.url(f"/p{i}.html"), f"Post {i}") for i in range(3)]), "application/atom+xml")
    for i in range(3):
        server.static(f"/p{i}.html", html_page(f"Post {i}"), "text/html")
    h = Harness(tmp_path)
    h.extract_timeout = 0.5

    def slow_on_p1(html: bytes, url: str, entry, feed_url: str, *, content_type: str | None = None) -> Article:
        if url.endswith("/p1.html"):
            time.sleep(1.5)
        return stub_extract(html, url, entry, feed_url, content_type=content_type)

    h.extract = slow_on_p1
    stats = h.poll(server.url("/feed"))
    assert stats.article_errors == {"extract_timeout": 1} and stats.articles_emitted == 2
    assert sorted(a.url.rsplit("/", 1)[1] for a in h.sink.articles) == ["p0.html", "p2.html"]
    assert any(e.kind == "extract_timeout" and e.url and e.url.endswith("/p1.html") for e in stats.errors)


def _slow(seconds: float, body: bytes):
    def handler(r) -> None:  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        r.send(200, body, {"Content-Type": "text/html"})

    return handler


def test_a_feed_past_its_deadline_is_cut_and_other_hosts_go_on(tmp_path: Path) -> None:
    with LocalServer() as slow, LocalServer() as good:
        slow.static("/feed", atom_feed([(f"s{i}", slow.url(f"/p{i}.html"), f"Slow {i}") for i in range(4)]), "application/atom+xml")
        for i in range(4):
            slow.route(f"/p{i}.html", _slow(1.0, html_page(f"Slow {i}")))
        good.static("/feed", atom_feed([(f"g{i}", good.url(f"/p{i}.html"), f"Good {i}") for i in range(2)]), "application/atom+xml")
        for i in range(2):
            good.static(f"/p{i}.html", html_page(f"Good {i}"), "text/html")
        h = Harness(tmp_path, feed_deadline=1.5)
        started = time.monotonic()
        stats = h.poll(slow.url("/feed"), good.url("/feed"))
        assert time.monotonic() - started < 6
        assert stats.feed_errors == {"deadline": 1}
        assert any(e.kind == "deadline" and e.feed == slow.url("/feed") and "poller.feed_deadline" in e.message for e in stats.errors)
        titles = sorted(a.title for a in h.sink.articles)
        assert [t for t in titles if t.startswith("Good")] == ["Good 0", "Good 1"]
        assert len([t for t in titles if t.startswith("Slow")]) < 4
        # What was cut off is polled again next time: nothing is lost.
        h.config = h.config.model_copy(update={"feed_deadline": 60.0})
        h.poll(slow.url("/feed"), good.url("/feed"))
        assert {a.title for a in h.sink.articles} >= {f"Slow {i}" for i in range(4)}


def test_a_stop_cuts_a_run_once_short_after_the_grace(server: LocalServer, tmp_path: Path) -> None:
    server.static("/feed", atom_feed([("e0", server.url("/p0.html"), "Post 0")]), "application/atom+xml")
    server.route("/p0.html", _slow(20.0, html_page("Post 0")))
    h = Harness(tmp_path, stop_grace=0.5)

    async def main() -> tuple[PollStats, float]:
        async with Fetcher(h.config) as fetcher:
            with FeedStateStore(h.db, h.config.seen_ids_per_feed) as store:
                poller = Poller(h.config, store, fetcher, h.extract, h.sink, feeds=[FeedConfig(url=server.url("/feed"))])
                stop = asyncio.Event()
                asyncio.get_running_loop().call_later(0.5, stop.set)
                started = time.monotonic()
                try:
                    return await poller.poll_once(stop), time.monotonic() - started
                finally:
                    poller.close()

    stats, seconds = asyncio.run(main())
    assert seconds < 3 and stats.articles_emitted == 0
    with FeedStateStore(h.db) as store:  # not marked seen: the next run fetches it again
        assert store.seen_among(server.url("/feed"), ["e0"]) == set()


def test_links_and_redirects_to_internal_addresses_are_counted_and_the_good_entries_go_on(server: LocalServer, tmp_path: Path) -> None:
    """127.0.0.1 is allowed (the test server); 127.0.0.2 stands for an internal host."""
    port = server.base.rsplit(":", 1)[1]
    internal = f"http://127.0.0.2:{port}"
    server.static("/good.html", html_page("Good"), "text/html")
    server.route("/moved.html", lambda r: r.send(302, headers={"Location": f"{internal}/secret.html"}))
    entries = [("g", server.url("/good.html"), "Good"), ("i", f"{internal}/secret.html", "Internal"),
               ("m", server.url("/moved.html"), "Moved")]
    server.static("/feed", atom_feed(entries), "application/atom+xml")
    server.route("/redirected-feed", lambda r: r.send(301, headers={"Location": f"{internal}/feed"}))
    h = Harness(tmp_path)
    stats = h.poll(server.url("/feed"), server.url("/redirected-feed"))
    assert [a.title for a in h.sink.articles] == ["Good"]
    assert stats.article_errors == {"blocked_address": 2} and stats.feed_errors == {"blocked_address": 1}
    assert not server.requests("/secret.html") and not server.requests("/feed?internal")
    assert h.state(server.url("/redirected-feed")).last_error and "127.0.0.2" in h.state(server.url("/redirected-feed")).last_error


def test_a_4mb_link_is_refused_and_kept_out_of_the_log_and_the_state(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No guid: the link is the entry's id too. It was logged whole (an 8 MB line) and stored whole."""
    long_link = server.url("/" + "a" * (4 << 20))
    server.static("/feed", ("<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
                            f"<item><title>long</title><link>{long_link}</link></item>"
                            f"<item><title>ok</title><link>{server.url('/ok.html')}</link></item></channel></rss>").encode())
    server.static("/ok.html", html_page("ok"), "text/html")
    h = Harness(tmp_path)
    with caplog.at_level(logging.WARNING, logger="newsflow.ingest.poller"):
        first = h.poll(server.url("/feed"))
    assert dict(first.article_errors) == {"bad_url": 1} and first.articles_emitted == 1
    assert all(len(r.getMessage()) < 2000 and len(str(getattr(r, "url", ""))) <= 300 for r in caplog.records)
    assert all(len(e.url or "") <= 300 for e in first.errors)
    assert h.db.stat().st_size < 1 << 20
    server.static("/feed", ("<?xml version='1.0'?><rss version='2.0'><channel><title>t2</title>"
                            f"<item><title>long</title><link>{long_link}</link></item>"
                            "</channel></rss>").encode())
    assert not h.poll(server.url("/feed")).article_errors  # the same entry, known by its hashed id: not tried again
