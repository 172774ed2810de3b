"""robots.txt rules for article pages (ingest/robots.py), against a local HTTP server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.urls import host_of
from newsflow.ingest.robots import RETRY_SECONDS, TTL_SECONDS, RobotsPolicy, agent_token
from newsflow.ingest.config import PollerConfig
from tests.support.feeds_http import LocalServer, atom_feed, html_page
from tests.test_poller import Harness

ROBOTS = b"""User-agent: *
Disallow: /private/

User-agent: newsflow
Disallow: /no-bots/
Allow: /no-bots/but-this/
"""


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _check(server: LocalServer, paths: list[str], clock: Clock | None = None, advance: float = 0.0) -> list[bool]:
    async def main() -> list[bool]:
        async with Fetcher(PollerConfig(allow_addresses=["127.0.0.1"], per_host_delay=0.0)) as fetcher:
            policy = RobotsPolicy(fetcher, "newsflow", clock or Clock())
            first = [await policy.allowed(server.url(p)) for p in paths]
            if clock is not None and advance:
                clock.now += advance
                first += [await policy.allowed(server.url(p)) for p in paths]
            return first

    return asyncio.run(main())


def test_agent_token_is_the_product_name():
    assert agent_token("newsflow/0.1 (+https://example.org; news ingestion bot)") == "newsflow"
    assert agent_token("MyCrawler") == "MyCrawler"


def test_rules_for_our_token_win_over_the_star_group(server: LocalServer):
    server.static("/robots.txt", ROBOTS, "text/plain")
    got = _check(server, ["/news/1", "/no-bots/2", "/no-bots/but-this/3", "/private/4"])
    # Our own group replaces the * group (RFC 9309 2.2.1), so /private/ is allowed to us.
    assert got == [True, False, True, True]
    assert len(server.requests("/robots.txt")) == 1  # fetched once for the four pages


def test_star_group_applies_when_no_group_names_us(server: LocalServer):
    server.static("/robots.txt", b"User-agent: *\nDisallow: /\n", "text/plain")
    assert _check(server, ["/news/1", "/"]) == [False, False]


def test_a_missing_robots_txt_allows_everything(server: LocalServer):
    assert _check(server, ["/news/1", "/private/2"]) == [True, True]  # the server answers 404


def test_a_failing_robots_txt_does_not_block_and_is_asked_again(server: LocalServer):
    server.static("/robots.txt", b"oops", "text/plain", status=503)
    clock = Clock()
    assert _check(server, ["/news/1"], clock, advance=RETRY_SECONDS + 1) == [True, True]
    assert len(server.requests("/robots.txt")) == 2  # retried after RETRY_SECONDS, not a day


def test_rules_are_kept_for_a_day_then_fetched_again(server: LocalServer):
    server.static("/robots.txt", b"User-agent: *\nDisallow: /x/\n", "text/plain")
    clock = Clock()
    assert _check(server, ["/x/1"], clock, advance=TTL_SECONDS - 60) == [False, False]
    assert len(server.requests("/robots.txt")) == 1
    assert _check(server, ["/x/1"], clock, advance=TTL_SECONDS + 1) == [False, False]
    assert len(server.requests("/robots.txt")) == 3  # a fresh policy, then the expiry


def test_the_poller_skips_disallowed_pages_and_counts_them(server: LocalServer, tmp_path: Path):
    server.static("/robots.txt", b"User-agent: *\nDisallow: /members/\n", "text/plain")
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "Open"), ("e2", server.url("/members/2"), "Closed")]),
                  "application/atom+xml")
    server.static("/p/1", html_page("open page"), "text/html")
    server.static("/members/2", html_page("members only"), "text/html")
    h = Harness(tmp_path)
    stats = h.poll(server.url("/feed"))
    assert stats.articles_emitted == 1 and dict(stats.article_errors) == {"robots_disallowed": 1}
    assert server.requests("/members/2") == []  # never fetched
    assert h.poll(server.url("/feed")).article_errors == {}  # a verdict, not retried every poll


def test_a_redirect_to_a_disallowed_page_is_not_followed(server: LocalServer, tmp_path: Path):
    server.static("/robots.txt", b"User-agent: *\nDisallow: /members/\n", "text/plain")
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "Moved"), ("e2", server.url("/p/2"), "Open")]),
                  "application/atom+xml")
    server.static("/p/1", b"", "text/plain", 301, {"Location": server.url("/members/1")})
    server.static("/members/1", html_page("members only"), "text/html")
    server.static("/p/2", b"", "text/plain", 302, {"Location": server.url("/news/2")})
    server.static("/news/2", html_page("open page"), "text/html")
    h = Harness(tmp_path)
    stats = h.poll(server.url("/feed"))
    assert stats.articles_emitted == 1 and dict(stats.article_errors) == {"robots_disallowed": 1}
    assert server.requests("/members/1") == []  # the redirect was checked, not followed
    assert len(server.requests("/news/2")) == 1  # an allowed target is followed as before
    assert "/members/1" in stats.errors[0].message
    assert h.poll(server.url("/feed")).article_errors == {}  # permanent: not retried every poll


def test_obey_robots_false_fetches_everything(server: LocalServer, tmp_path: Path):
    server.static("/robots.txt", b"User-agent: *\nDisallow: /\n", "text/plain")
    server.static("/feed", atom_feed([("e1", server.url("/p/1"), "One")]), "application/atom+xml")
    server.static("/p/1", html_page("one"), "text/html")
    h = Harness(tmp_path, obey_robots=False)
    assert h.poll(server.url("/feed")).articles_emitted == 1
    assert server.requests("/robots.txt") == []


def _crawl(server: LocalServer, config: PollerConfig, pages: list[str]) -> float:
    """Check ``pages`` against robots.txt, fetch them; the site's spacing as the limiter holds it."""
    async def main() -> float:
        async with Fetcher(config) as fetcher:
            policy = RobotsPolicy(fetcher, "newsflow", Clock())
            for p in pages:
                assert await policy.allowed(server.url(p))
                await fetcher.fetch_page(server.url(p))
            return fetcher.limiter.delay(host_of(server.base))

    return asyncio.run(main())


def test_crawl_delay_spaces_every_request_to_the_site(server: LocalServer):
    server.static("/robots.txt", b"User-agent: *\nCrawl-delay: 0.4\n", "text/plain")
    pages = [f"/news/{i}" for i in range(3)]
    for p in pages:
        server.static(p, html_page(p), "text/html")
    delay = _crawl(server, PollerConfig(allow_addresses=["127.0.0.1"], per_host_delay=0.0), pages)
    assert delay == 0.4
    starts = sorted(r.started for p in pages for r in server.requests(p))
    assert len(starts) == 3
    assert min(b - a for a, b in zip(starts, starts[1:])) >= 0.38  # server-side request times


def test_crawl_delay_is_capped_and_can_be_ignored(server: LocalServer, caplog):
    server.static("/robots.txt", b"User-agent: newsflow\nCrawl-delay: 3600\nDisallow: /x/\n", "text/plain")
    server.static("/news/1", html_page("1"), "text/html")
    with caplog.at_level("WARNING", logger="newsflow.ingest.robots"):
        assert _crawl(server, PollerConfig(allow_addresses=["127.0.0.1"], per_host_delay=0.0, max_crawl_delay=0.25), ["/news/1"]) == 0.25
    assert "3600 s between requests; using poller.max_crawl_delay" in caplog.text
    assert _crawl(server, PollerConfig(allow_addresses=["127.0.0.1"], per_host_delay=0.0, max_crawl_delay=0), ["/news/1"]) == 0.0
    # A delay below per_host_delay changes nothing: ours is the floor.
    server.static("/robots.txt", b"User-agent: *\nCrawl-delay: 0.1\n", "text/plain")
    assert _crawl(server, PollerConfig(allow_addresses=["127.0.0.1"], per_host_delay=0.3), ["/news/1"]) == 0.3
