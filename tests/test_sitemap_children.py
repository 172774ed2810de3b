"""Per-child validators of a sitemap index source (ingest/sitemap_source.py), on a real HTTP server
on 127.0.0.1: an index that answers 304 still has its children asked, each conditionally with its
own ETag and Last-Modified; a changed child's new url is fetched, an unchanged one is not parsed;
a child's unmoved <lastmod> in a re-read index postpones its check; a child the index drops is
forgotten; a child whose entries were left pending is read again in full."""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import newsflow.ingest.sitemap_source as source_module
from newsflow.ingest.feedstate import FeedStateStore, SitemapChild
from tests.support.feeds_http import LocalServer, Request, serve_seed_site
from tests.test_poller import Harness
from tests.test_sitemap import SM, _iso, urlset

NOW = datetime.now(timezone.utc).replace(microsecond=0)
POSTS = ("/post-2.html", "/post-3.html", "/post-us-russia-talks.html")


class Versioned:
    """An XML resource with an ETag and a Last-Modified per version; a matching If-None-Match gets a 304."""

    def __init__(self, body: bytes) -> None:
        self.version = 0
        self.set(body)

    def set(self, body: bytes) -> None:
        self.version += 1
        self.body = body
        self.etag = f'"v{self.version}"'
        self.modified = email.utils.formatdate(1_700_000_000 + self.version * 60, usegmt=True)

    def __call__(self, r: Request) -> None:
        if r.headers.get("if-none-match") == self.etag:
            r.send(304, b"", {"ETag": self.etag})
        else:
            r.send(200, self.body, {"Content-Type": "application/xml", "ETag": self.etag, "Last-Modified": self.modified})


def index(children: list[tuple[str, datetime | None]]) -> bytes:
    items = "".join(f"<sitemap><loc>{loc}</loc>{f'<lastmod>{_iso(when)}</lastmod>' if when else ''}</sitemap>"
                    for loc, when in children)
    return f"<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='{SM}'>{items}</sitemapindex>".encode()


def remembered(harness: Harness, source: str) -> dict[str, SitemapChild]:
    with FeedStateStore(harness.db) as store:
        return store.sitemap_children(source)


@pytest.fixture
def server():
    with LocalServer() as s:
        serve_seed_site(s)
        yield s


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The urls of the sitemap bodies parsed, in order."""
    seen: list[str] = []
    real = source_module.parse_sitemap

    def counting(body: bytes, url: str, **kw):  # type: ignore[no-untyped-def]
        seen.append(url)
        return real(body, url, **kw)

    monkeypatch.setattr(source_module, "parse_sitemap", counting)
    return seen


def test_a_changed_child_of_a_304_index_is_found_and_its_new_url_fetched(server: LocalServer, tmp_path: Path) -> None:
    u = server.url
    news = Versioned(urlset([(u(POSTS[0]), NOW - timedelta(hours=2))]))
    archive = Versioned(urlset([(u(POSTS[2]), NOW - timedelta(days=1))]))
    # The site leaves its index (and the lastmods in it) as they are when a child changes.
    top = Versioned(index([(u("/news.xml"), NOW - timedelta(days=2)), (u("/archive.xml"), NOW - timedelta(days=3))]))
    server.route("/index.xml", top)
    server.route("/news.xml", news)
    server.route("/archive.xml", archive)
    harness = Harness(tmp_path)
    first = harness.poll(u("/index.xml"))
    assert first.articles_emitted == 2
    news.set(urlset([(u(POSTS[1]), NOW - timedelta(minutes=5)), (u(POSTS[0]), NOW - timedelta(hours=2))]))
    second = harness.poll(u("/index.xml"))
    index_asks = server.requests("/index.xml")
    news_asks = server.requests("/news.xml")
    assert [r.headers.get("if-none-match") for r in index_asks] == [None, '"v1"']  # the index: a 304
    assert [r.headers.get("if-none-match") for r in news_asks] == [None, '"v1"']  # asked anyway, conditionally
    assert len(server.requests(POSTS[1])) == 1 and len(server.requests(POSTS[0])) == 1  # only the new url
    assert second.articles_emitted == 1 and second.feeds_changed == 1
    assert sorted(a.url for a in harness.sink.articles) == sorted(u(p) for p in POSTS)
    state = harness.state(u("/index.xml"))
    assert state.etag == '"v1"' and state.children == 2
    assert remembered(harness, u("/index.xml"))[u("/news.xml")].etag == '"v2"'


def test_an_unchanged_child_is_asked_conditionally_answered_304_and_not_parsed(
    server: LocalServer, tmp_path: Path, parses: list[str]
) -> None:
    u = server.url
    child = Versioned(urlset([(u(POSTS[0]), NOW - timedelta(hours=2))]))
    server.route("/index.xml", Versioned(index([(u("/child.xml"), None)])))
    server.route("/child.xml", child)
    harness = Harness(tmp_path)
    harness.poll(u("/index.xml"))
    assert parses == [u("/index.xml"), u("/child.xml")]
    second = harness.poll(u("/index.xml"))
    asked = server.requests("/child.xml")
    assert len(asked) == 2
    assert asked[1].headers.get("if-none-match") == child.etag
    assert asked[1].headers.get("if-modified-since") == child.modified
    assert parses == [u("/index.xml"), u("/child.xml")]  # neither parsed again
    assert second.not_modified == 1 and second.feeds_changed == 0 and second.entries_new == 0
    assert harness.state(u("/index.xml")).last_result == "not_modified"


def test_an_unmoved_lastmod_in_a_reread_index_postpones_the_child_a_moved_one_does_not(
    server: LocalServer, tmp_path: Path
) -> None:
    u = server.url
    steady, busy = NOW - timedelta(days=3), NOW - timedelta(days=2)
    server.route("/steady.xml", Versioned(urlset([(u(POSTS[2]), steady)])))
    server.route("/busy.xml", Versioned(urlset([(u(POSTS[0]), busy)])))
    top = Versioned(index([(u("/steady.xml"), steady), (u("/busy.xml"), busy)]))
    server.route("/index.xml", top)
    harness = Harness(tmp_path)
    harness.poll(u("/index.xml"))
    # The index changes: busy.xml's lastmod moved, steady.xml's did not.
    top.set(index([(u("/steady.xml"), steady), (u("/busy.xml"), NOW - timedelta(hours=1))]))
    harness.poll(u("/index.xml"))
    assert len(server.requests("/steady.xml")) == 1  # not asked at all
    busy_asks = server.requests("/busy.xml")
    assert len(busy_asks) == 2 and busy_asks[1].headers.get("if-none-match") == '"v1"'
    # A lastmod only postpones a check: with no grace, the unmoved child is asked too.
    top.set(index([(u("/steady.xml"), steady), (u("/busy.xml"), NOW)]))
    Harness(tmp_path, sitemap_child_recheck=0).poll(u("/index.xml"))
    steady_asks = server.requests("/steady.xml")
    assert len(steady_asks) == 2 and steady_asks[1].headers.get("if-none-match") == '"v1"'


def test_a_child_dropped_from_the_index_is_forgotten(server: LocalServer, tmp_path: Path) -> None:
    u = server.url
    server.route("/a.xml", Versioned(urlset([(u(POSTS[0]), NOW - timedelta(hours=2))])))
    server.route("/b.xml", Versioned(urlset([(u(POSTS[1]), NOW - timedelta(hours=3))])))
    top = Versioned(index([(u("/a.xml"), NOW - timedelta(hours=2)), (u("/b.xml"), NOW - timedelta(hours=3))]))
    server.route("/index.xml", top)
    harness = Harness(tmp_path)
    harness.poll(u("/index.xml"))
    assert sorted(remembered(harness, u("/index.xml"))) == [u("/a.xml"), u("/b.xml")]
    top.set(index([(u("/a.xml"), NOW - timedelta(hours=2))]))
    harness.poll(u("/index.xml"))
    assert sorted(remembered(harness, u("/index.xml"))) == [u("/a.xml")]
    assert harness.state(u("/index.xml")).children == 1
    harness.poll(u("/index.xml"))  # a 304: only the child still listed is asked
    assert len(server.requests("/b.xml")) == 1 and len(server.requests("/a.xml")) == 2


def test_a_child_with_entries_left_pending_is_read_again_in_full(server: LocalServer, tmp_path: Path) -> None:
    u = server.url
    child = Versioned(urlset([(u(POSTS[0]), NOW - timedelta(hours=2)), (u(POSTS[1]), NOW - timedelta(hours=1))]))
    server.route("/index.xml", Versioned(index([(u("/child.xml"), NOW - timedelta(hours=1))])))
    server.route("/child.xml", child)
    harness = Harness(tmp_path, max_entries_per_poll=1)
    assert harness.poll(u("/index.xml")).articles_emitted == 1
    assert remembered(harness, u("/index.xml"))[u("/child.xml")].etag is None  # not kept: read again
    assert harness.poll(u("/index.xml")).articles_emitted == 1
    asks = server.requests("/child.xml")
    assert [r.headers.get("if-none-match") for r in asks] == [None, None]
    assert sorted(a.url for a in harness.sink.articles) == sorted(u(p) for p in POSTS[:2])


def test_a_changed_grandchild_under_304_indexes_is_found(server: LocalServer, tmp_path: Path) -> None:
    u = server.url
    leaf = Versioned(urlset([(u(POSTS[0]), NOW - timedelta(hours=2))]))
    server.route("/index.xml", Versioned(index([(u("/nested.xml"), NOW - timedelta(days=1))])))
    server.route("/nested.xml", Versioned(index([(u("/leaf.xml"), NOW - timedelta(days=1))])))
    server.route("/leaf.xml", leaf)
    harness = Harness(tmp_path)
    harness.poll(u("/index.xml"))
    leaf.set(urlset([(u(POSTS[1]), NOW - timedelta(minutes=5))]))
    second = harness.poll(u("/index.xml"))
    assert [r.headers.get("if-none-match") for r in server.requests("/nested.xml")] == [None, '"v1"']
    assert [r.headers.get("if-none-match") for r in server.requests("/leaf.xml")] == [None, '"v1"']
    assert second.articles_emitted == 1 and len(server.requests(POSTS[1])) == 1
    assert set(remembered(harness, u("/index.xml"))) == {u("/nested.xml"), u("/leaf.xml")}
