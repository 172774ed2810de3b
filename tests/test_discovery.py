"""Feed discovery: candidates and ranking on parsed pages, then sites on 127.0.0.1 that declare
their feeds in several ways (head links for RSS, Atom, JSON Feed and comments; a body link only;
a common path only; nothing), and `newsflow feeds discover` / `feeds add SITE` through the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest

from newsflow.feedlist import read_feeds
from newsflow.ingest.config import PollerConfig
from newsflow.ingest.discover_feeds import Discovery, discover
from newsflow.ingest.discovery import Candidate, VerifiedFeed, candidates_from_html, choose, feed_role, rank
from newsflow.ingest.fetcher import Fetcher
from tests.support.feeds_http import SEED_SITE, LocalServer, atom_feed, rewrite_seed, serve_seed_site

PY = [sys.executable, "-m", "newsflow"]
CONFIG = PollerConfig(per_host_delay=0.0, allow_addresses=["127.0.0.1"])  # the test servers, allowed on purpose
PLAIN = b"<!doctype html><html><head><title>%s</title></head><body><p>Welcome.</p>%s</body></html>"


# -- pure: candidates, roles, ranking -------------------------------------------------------


def test_candidates_from_head_links_and_body_anchors() -> None:
    tree = lxml.html.document_fromstring(
        b"<html><head><base href='https://b.example/blog/'>"
        b"<link rel='alternate' type='application/rss+xml; charset=utf-8' href='rss.xml' title='Main'>"
        b"<link rel='alternate' type='application/atom+xml' href='/atom.xml'>"
        b"<link rel='alternate' type='application/feed+json' href='/feed.json'>"
        b"<link rel='alternate' hreflang='de' href='/de/'><link rel='stylesheet' href='/s.css'></head>"
        b"<body><a href='/rss.xml#top'>RSS</a><a href='/about'>About</a><a href='/podcast'>Atom</a></body></html>")
    found = {c.url: c for c in candidates_from_html(tree, "https://b.example/")}
    assert set(found) == {"https://b.example/blog/rss.xml", "https://b.example/atom.xml", "https://b.example/feed.json",
                          "https://b.example/rss.xml", "https://b.example/podcast"}
    assert found["https://b.example/blog/rss.xml"] == Candidate("https://b.example/blog/rss.xml", "link", "rss", "Main")
    assert found["https://b.example/feed.json"].declared_type == "json"
    assert found["https://b.example/rss.xml"].source == "anchor"


@pytest.mark.parametrize("url,title,role", [
    ("https://b.example/feed/", None, "main"),
    ("https://b.example/comments/feed/", None, "comments"),
    ("https://b.example/?feed=comments-rss2", None, "comments"),
    ("https://b.example/feeds/posts/default", "Blog - Comments", "comments"),
    ("https://b.example/tag/politics/feed/", None, "topic"),
    ("https://b.example/category/world/feed", None, "topic"),
    ("https://b.example/feeds/posts/default/-/Europe", None, "topic"),
    ("https://b.example/feed?tag=x", None, "topic"),
    ("https://commentary.example/feed", "Commentary Magazine", "main"),
])
def test_feed_roles(url: str, title: str | None, role: str) -> None:
    assert feed_role(url, title) == role


def _vf(url: str, source: str = "link", links: tuple[str, ...] = (), fmt: str = "rss", title: str | None = None,
        pollable: bool = True) -> VerifiedFeed:
    return VerifiedFeed(Candidate(url, source), url, fmt, title, frozenset(links), pollable)


def test_rank_and_choose_main_feed_over_comments_tags_json_and_its_twin() -> None:
    posts = ("https://b.example/p1", "https://b.example/p2", "https://b.example/p3")
    feeds = [
        _vf("https://b.example/comments/feed", links=("https://b.example/p1#c1",)),
        _vf("https://b.example/tag/x/feed", links=posts[:1]),
        _vf("https://b.example/feed.json", fmt="json", links=posts, pollable=False),
        _vf("https://b.example/atom.xml", fmt="atom", links=posts),
        _vf("https://b.example/rss.xml", links=posts[:2]),
        _vf("https://other.example/b/rss", source="path", links=("https://b.example/elsewhere",)),
    ]
    ranked = rank(feeds, "https://b.example/")
    assert [f.url for f in ranked] == ["https://b.example/rss.xml", "https://b.example/atom.xml", "https://other.example/b/rss",
                                       "https://b.example/feed.json", "https://b.example/tag/x/feed",
                                       "https://b.example/comments/feed"]
    chosen, note = choose(ranked)
    # The Atom twin carries the same posts; the off-site feed carries others and is kept too.
    assert [f.url for f in chosen] == ["https://b.example/rss.xml", "https://other.example/b/rss"] and note is None


def test_choose_falls_back_to_comment_feeds_and_says_so() -> None:
    chosen, note = choose(rank([_vf("https://b.example/comments/feed", links=("https://b.example/p1",))], "https://b.example/"))
    assert [f.url for f in chosen] == ["https://b.example/comments/feed"] and note and "no main feed" in note
    assert choose([_vf("https://b.example/feed.json", fmt="json", pollable=False)]) == ([], None)


# -- sites on 127.0.0.1 -------------------------------------------------------------------


def blog_site(server: LocalServer) -> None:
    """The seed blog (head links to its Atom and RSS feeds, twins), at "/" with a comment feed and
    a JSON Feed declared too."""
    serve_seed_site(server)
    page = rewrite_seed((SEED_SITE / "post-2.html").read_bytes(), server.base)
    extra = (b'<link rel="alternate" type="application/rss+xml" title="Example News - Comments" href="/feeds/comments/default">'
             b'<link rel="alternate" type="application/feed+json" title="Example News - JSON" href="/feed.json">')
    server.static("/", page.replace(b"</head>", extra + b"</head>", 1), "text/html; charset=utf-8")
    server.static("/feeds/comments/default", atom_feed([("c1", server.url("/post-2.html#c1"), "Re: snow")], "Comments"),
                  "application/atom+xml")
    server.static("/feed.json", json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Example News",
                                            "items": [{"id": "1", "url": server.url("/post-2.html")}]}).encode(),
                  "application/feed+json")


def run_discover(url: str) -> Discovery:
    async def go() -> Discovery:
        async with Fetcher(CONFIG) as fetcher:
            return await discover(fetcher, url)
    return asyncio.run(go())


def test_blog_main_feed_wins_over_its_twin_comments_and_json() -> None:
    with LocalServer() as server:
        blog_site(server)
        found = run_discover(server.url("/"))
        probed_paths = [r.path for r in server.log if r.path in ("/feed", "/rss", "/atom.xml")]
    by_url = {f.url: f for f in found.feeds}
    assert set(by_url) == {server.url(p) for p in ("/rss.xml", "/feeds/posts/default.xml", "/feeds/comments/default", "/feed.json")}
    assert [f.url for f in found.chosen] == [server.url("/rss.xml")]
    assert found.feeds[0].url == server.url("/rss.xml") and found.feeds[-1].role == "comments"
    assert by_url[server.url("/feed.json")].format == "json" and not by_url[server.url("/feed.json")].pollable
    assert not found.is_feed and found.note is None
    assert probed_paths == []  # a main feed was declared: no guessing


def test_body_link_only() -> None:
    with LocalServer() as server:
        server.static("/", PLAIN % (b"Body link", b'<p>Follow us: <a href="/news/latest.rss">RSS</a></p>'), "text/html")
        server.static("/news/latest.rss", atom_feed([("1", server.url("/a"), "A")], "Latest"), "application/rss+xml")
        found = run_discover(server.url("/"))
    assert [(f.url, f.candidate.source) for f in found.chosen] == [(server.url("/news/latest.rss"), "anchor")]


def test_common_path_only_and_none() -> None:
    with LocalServer() as server:
        server.static("/", PLAIN % (b"No declared feed", b""), "text/html")
        server.static("/rss.xml", atom_feed([("1", server.url("/a"), "A")], "Hidden"), "application/rss+xml")
        found = run_discover(server.url("/"))
        after_hit = [r.path for r in server.log].index("/rss.xml")
        later = [r.path for r in server.log][after_hit + 1:]
    assert [(f.url, f.candidate.source) for f in found.chosen] == [(server.url("/rss.xml"), "path")]
    assert later == []  # probing stops at the first main feed
    with LocalServer() as server:
        server.static("/", PLAIN % (b"Nothing", b'<a href="/feed">Feed</a>'), "text/html")
        server.static("/feed", PLAIN % (b"Not a feed", b""), "text/html")
        found = run_discover(server.url("/"))
    assert found.feeds == [] and found.chosen == []
    assert [u for u, _why in found.rejected] == [server.url("/feed")]


def test_a_feed_url_is_itself() -> None:
    with LocalServer() as server:
        serve_seed_site(server)
        found = run_discover(server.url("/rss.xml"))
    assert found.is_feed and [f.url for f in found.chosen] == [server.url("/rss.xml")]


# -- the CLI -----------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSFLOW_POLLER__ALLOW_ADDRESSES": "127.0.0.1", "NEWSFLOW_POLLER__PER_HOST_DELAY": "0"}
    return subprocess.run([*PY, "feeds", *args], capture_output=True, text=True, timeout=120, env=env)


def test_cli_discover_and_add_site(tmp_path: Path) -> None:
    cfg = tmp_path / "newsflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n')
    with LocalServer() as server:
        blog_site(server)
        shown = _cli("discover", server.url("/"), "--json", "-c", str(cfg))
        listed = _cli("discover", server.url("/"), "-c", str(cfg))
        after_discover = read_feeds(cfg)
        added = _cli("add", server.url("/"), "-c", str(cfg))
        again = _cli("add", server.url("/feeds/posts/default.xml"), "-c", str(cfg))
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert [f["url"] for f in doc["feeds"] if f["chosen"]] == [server.url("/rss.xml")]
    assert {f["role"] for f in doc["feeds"]} == {"main", "comments"}
    assert listed.returncode == 0 and "skipped: comment feed" in listed.stdout and "would be added" in listed.stdout
    assert after_discover == []  # discover adds nothing
    assert added.returncode == 0, added.stderr
    assert "added: " + server.url("/rss.xml") in added.stdout and "skipped: comment feed" in added.stdout
    # A feed url is added as given, as before discovery existed.
    assert again.returncode == 0, again.stderr
    assert [f.url for f in read_feeds(cfg)] == [server.url("/rss.xml"), server.url("/feeds/posts/default.xml")]


def test_cli_add_site_without_feeds_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "newsflow.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n')
    with LocalServer() as server:
        server.static("/", PLAIN % (b"Nothing", b""), "text/html")
        proc = _cli("add", server.url("/"), "-c", str(cfg))
    assert proc.returncode == 1 and "no feed found" in proc.stderr and "Traceback" not in proc.stderr
    assert read_feeds(cfg) == []


def test_robots_txt_is_obeyed_for_candidates() -> None:
    with LocalServer() as server:
        server.static("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain")
        server.static("/", PLAIN % (b"Robots", b'<a href="/private/feed.xml">RSS</a><a href="/public/rss.xml">RSS</a>'), "text/html")
        server.static("/private/feed.xml", atom_feed([("1", server.url("/a"), "A")], "Private"), "application/atom+xml")
        server.static("/public/rss.xml", atom_feed([("2", server.url("/b"), "B")], "Public"), "application/atom+xml")
        found = run_discover(server.url("/"))
        private_requests = server.requests("/private/feed.xml")
    assert [f.url for f in found.feeds] == [server.url("/public/rss.xml")]
    assert private_requests == [] and any("robots.txt" in why for u, why in found.rejected if u.endswith("/private/feed.xml"))


def test_site_without_feeds_offers_the_news_sitemap_of_its_robots_txt() -> None:
    sm = "http://www.sitemaps.org/schemas/sitemap/0.9"
    with LocalServer() as server:
        server.static("/robots.txt", f"User-agent: *\nSitemap: {server.url('/sitemap.xml')}\nSitemap: /news-sitemap.xml\n".encode(),
                      "text/plain")
        server.static("/", PLAIN % (b"No feeds", b""), "text/html")
        server.static("/sitemap.xml", f"<sitemapindex xmlns='{sm}'><sitemap><loc>{server.url('/s1.xml')}</loc></sitemap></sitemapindex>".encode())
        server.static("/news-sitemap.xml", f"<urlset xmlns='{sm}'><url><loc>{server.url('/a')}</loc></url></urlset>".encode())
        found = run_discover(server.url("/"))
    assert [(f.url, f.format, f.candidate.source) for f in found.feeds] == [
        (server.url("/news-sitemap.xml"), "sitemap", "robots"), (server.url("/sitemap.xml"), "sitemap", "robots")]
    assert [f.url for f in found.chosen] == [server.url("/news-sitemap.xml")]
