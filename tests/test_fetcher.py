"""The HTTP edge against a real server on 127.0.0.1: statuses, caps, redirects, politeness."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from newsflow.ingest.fetch_result import FetchError, parse_max_age, parse_retry_after
from newsflow.ingest.fetcher import Fetcher, looks_binary
from newsflow.ingest.politeness import HostLimiter
from newsflow.ingest.config import PollerConfig
from tests.support.feeds_http import LocalServer, Request, html_page

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def cfg(**kw) -> PollerConfig:
    # The test servers listen on 127.0.0.1: allowed past the SSRF guard here, on purpose.
    base = dict(per_host_delay=0.0, timeout=30.0, max_body_bytes=200_000, max_redirects=3, user_agent="newsflow-test/1.0 (+test)",
                allow_addresses=["127.0.0.1"])
    base.update(kw)
    return PollerConfig(**base)


def fetch(coro_fn, config: PollerConfig | None = None):
    async def main():
        async with Fetcher(config or cfg()) as f:
            return await coro_fn(f)
    return asyncio.run(main())


def fetch_error(coro_fn, config: PollerConfig | None = None) -> FetchError:
    with pytest.raises(FetchError) as err:
        fetch(coro_fn, config)
    return err.value


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def test_ok_result_and_user_agent(server: LocalServer) -> None:
    server.static("/feed.xml", FEED, "application/rss+xml", headers={"ETag": '"v1"', "Cache-Control": "public, max-age=600"})
    res = fetch(lambda f: f.fetch_feed(server.url("/feed.xml")))
    assert res.status == 200 and res.body == FEED and res.url == server.url("/feed.xml")
    assert res.etag == '"v1"' and res.max_age == 600 and res.content_type == "application/rss+xml"
    sent = server.requests("/feed.xml")[0].headers
    assert sent["user-agent"] == "newsflow-test/1.0 (+test)"
    assert "application/atom+xml" in sent["accept"]
    assert "if-none-match" not in sent


def test_conditional_get_gives_304(server: LocalServer) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"

    def conditional(r: Request) -> None:
        if r.headers.get("if-none-match") == '"v1"' or r.headers.get("if-modified-since") == stamp:
            r.send(304, headers={"ETag": '"v1"'}, length=False)
        else:
            r.send(200, FEED, {"ETag": '"v1"', "Last-Modified": stamp})

    server.route("/feed.xml", conditional)
    first = fetch(lambda f: f.fetch_feed(server.url("/feed.xml")))
    assert first.status == 200 and first.last_modified == stamp
    again = fetch(lambda f: f.fetch_feed(server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified))
    assert again.not_modified and again.body == b""
    sent = server.requests("/feed.xml")[1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == stamp


@pytest.mark.parametrize(
    ("status", "kind", "permanent"),
    [(404, "http_404", True), (410, "http_410", True), (403, "http_4xx", True), (500, "http_5xx", False),
     (502, "http_5xx", False), (429, "http_429", False)],
)
def test_status_kinds(server: LocalServer, status: int, kind: str, permanent: bool) -> None:
    server.static("/x", b"nope", "text/plain", status=status)
    err = fetch_error(lambda f: f.fetch_page(server.url("/x")))
    assert err.kind == kind and err.status == status and err.permanent is permanent
    assert str(status) in str(err) and err.url == server.url("/x")


def test_retry_after_is_surfaced(server: LocalServer) -> None:
    server.static("/busy", b"", "text/plain", status=503, headers={"Retry-After": "120"})
    err = fetch_error(lambda f: f.fetch_feed(server.url("/busy")))
    assert err.kind == "http_5xx" and err.retry_after == 120


def test_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_max_age("no-store, max-age=60") is None
    assert parse_max_age('max-age="30"') == 30


def test_429_defers_the_host(server: LocalServer) -> None:
    calls = []

    def limited(r: Request) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            r.send(429, b"", {"Retry-After": "1"})
        else:
            r.send(200, html_page("ok"), {"Content-Type": "text/html"})

    server.route("/p", limited)

    async def both(f: Fetcher):
        with pytest.raises(FetchError):
            await f.fetch_page(server.url("/p"))
        return await f.fetch_page(server.url("/p"))

    assert fetch(both).status == 200
    assert calls[1] - calls[0] >= 0.9  # the host's Retry-After held the next request back


def test_redirects_followed_and_recorded(server: LocalServer) -> None:
    server.static("/old", b"", "text/plain", status=301, headers={"Location": "/mid"})
    server.static("/mid", b"", "text/plain", status=302, headers={"Location": server.url("/new")})
    server.static("/new", html_page("new"), "text/html")
    res = fetch(lambda f: f.fetch_page(server.url("/old")))
    assert res.url == server.url("/new") and res.requested_url == server.url("/old")
    assert res.redirects == (server.url("/mid"), server.url("/new"))
    assert not res.moved  # a 302 on the way: the url has not moved for good


@pytest.mark.parametrize("statuses, moved", [((), False), ((301,), True), ((308,), True), ((302,), False),
                                             ((307,), False), ((301, 308), True), ((301, 302), False)])
def test_moved_only_when_every_redirect_is_permanent(server: LocalServer, statuses, moved) -> None:
    hops = [f"/hop{i}" for i in range(len(statuses))] + ["/feed"]
    for path, status, target in zip(hops, statuses, hops[1:]):
        server.static(path, b"", "text/plain", status=status, headers={"Location": target})
    server.static("/feed", b"<rss/>", "application/rss+xml")
    res = fetch(lambda f: f.fetch_feed(server.url(hops[0])))
    assert res.url == server.url("/feed") and res.moved is moved


def test_redirect_loop_named(server: LocalServer) -> None:
    server.static("/a", b"", "text/plain", status=302, headers={"Location": "/b"})
    server.static("/b", b"", "text/plain", status=302, headers={"Location": "/a"})
    err = fetch_error(lambda f: f.fetch_page(server.url("/a")))
    assert err.kind == "redirect_loop" and err.permanent
    assert "redirect loop" in str(err) and "/a -> " in str(err)


def test_too_many_redirects(server: LocalServer) -> None:
    for n in range(10):
        server.static(f"/r{n}", b"", "text/plain", status=302, headers={"Location": f"/r{n + 1}"})
    err = fetch_error(lambda f: f.fetch_page(server.url("/r0")), cfg(max_redirects=3))
    assert err.kind == "too_many_redirects" and "more than 3 redirects" in str(err)


def test_declared_oversize_refused_before_reading(server: LocalServer) -> None:
    server.static("/big", b"x" * 300_000, "text/html")
    err = fetch_error(lambda f: f.fetch_page(server.url("/big")))
    assert err.kind == "too_large" and "not downloaded" in str(err)


def test_streamed_oversize_aborted(server: LocalServer) -> None:
    # No Content-Length; the server would send 200 MB. The client must hang up, which the
    # server sees as a failed write long before the end.
    outcome: dict[str, object] = {}
    done = threading.Event()

    def endless(r: Request) -> None:
        r.send(200, b"", {"Content-Type": "text/html"}, length=False)
        sent = 0
        try:
            while sent < 200_000_000:
                r.handler.wfile.write(b"<p>" + b"x" * 65530 + b"</p>")
                sent += 65537
            outcome["aborted"] = False
        except OSError:
            outcome["aborted"] = True
        outcome["sent"] = sent
        done.set()

    server.route("/endless", endless)
    err = fetch_error(lambda f: f.fetch_page(server.url("/endless")))
    assert err.kind == "too_large" and "download stopped" in str(err)
    assert done.wait(20)
    assert outcome["aborted"] is True and outcome["sent"] < 200_000_000


def test_gzip_bomb_capped_after_decompression(server: LocalServer) -> None:
    packed = gzip.compress(b"<p>" + b"a" * 5_000_000 + b"</p>")
    assert len(packed) < 200_000
    server.static("/bomb", packed, "text/html", headers={"Content-Encoding": "gzip"})
    assert fetch_error(lambda f: f.fetch_page(server.url("/bomb"))).kind == "too_large"


def _zeros_gzipped(n: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1 << 20)
    return b"".join(z.compress(block) for _ in range(n >> 20)) + z.flush()


def test_a_bomb_is_stopped_at_the_cap_while_it_inflates(server: LocalServer) -> None:
    """300 MB of zeros in ~300 kB of gzip: decoding stops at the 5 MB cap, and the memory it
    took stays a small multiple of the cap (a whole network read is never inflated at once)."""
    packed = _zeros_gzipped(300 << 20)
    assert len(packed) < 400_000
    server.static("/bomb", packed, "text/html", headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        err = fetch_error(lambda f: f.fetch_page(server.url("/bomb")), cfg(max_body_bytes=5_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.kind == "too_large" and "decoding stopped" in str(err)
    assert peak < 25_000_000, f"peak {peak / 1e6:.0f} MB while refusing a bomb (cap 5 MB)"


@pytest.mark.parametrize(
    ("encoding", "words"),
    [("gzip, gzip", "stacked"), ("gzip,deflate", "stacked"), ("zstd", "not asked for"), ("br", "not asked for")],
)
def test_encodings_not_asked_for_or_stacked_are_refused(server: LocalServer, encoding: str, words: str) -> None:
    body = gzip.compress(gzip.compress(html_page("t", 40)))
    server.static("/page", body, "text/html", headers={"Content-Encoding": encoding})
    err = fetch_error(lambda f: f.fetch_page(server.url("/page")))
    assert err.kind == "decoding" and words in str(err) and err.permanent
    assert server.requests("/page")[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS, zlib.MAX_WBITS | 16])
def test_gzip_and_both_deflate_forms_decode(server: LocalServer, wbits: int) -> None:
    page = html_page("Title", 300)
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    server.static("/page", z.compress(page) + z.flush(), "text/html",
                  headers={"Content-Encoding": "gzip" if wbits > zlib.MAX_WBITS else "deflate"})
    assert fetch(lambda f: f.fetch_page(server.url("/page"))).body == page


def test_a_corrupt_gzip_body_is_a_decoding_error(server: LocalServer) -> None:
    server.static("/page", b"\x1f\x8b\x08\x00garbage-not-deflate" * 10, "text/html", headers={"Content-Encoding": "gzip"})
    assert fetch_error(lambda f: f.fetch_page(server.url("/page"))).kind == "decoding"


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
        ("application/pdf", b"%PDF-1.4 ..."),
        ("application/octet-stream", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
        ("text/html", b"<html>\x00\x00\x01\x02 binary</html>"),
        ("text/plain", b"just some words, no markup at all"),
        ("", b"GIF89a......"),
    ],
)
def test_not_html(server: LocalServer, ctype: str, body: bytes) -> None:
    server.static("/file", body, ctype)
    err = fetch_error(lambda f: f.fetch_page(server.url("/file")))
    assert err.kind == "not_html" and err.permanent


def test_html_behind_vague_content_type_is_accepted(server: LocalServer) -> None:
    server.static("/vague", html_page("vague"), "application/octet-stream")
    assert fetch(lambda f: f.fetch_page(server.url("/vague"))).status == 200
    assert not looks_binary("<p>ü</p>".encode("utf-16"))


def test_feed_fetch_does_not_apply_the_html_check(server: LocalServer) -> None:
    server.static("/feed", FEED, "text/plain")
    assert fetch(lambda f: f.fetch_feed(server.url("/feed"))).body == FEED


def test_timeout(server: LocalServer) -> None:
    def slow(r: Request) -> None:
        time.sleep(2)
        r.send(200, FEED)

    server.route("/slow", slow)
    err = fetch_error(lambda f: f.fetch_feed(server.url("/slow")), cfg(timeout=0.3))
    assert err.kind == "timeout" and not err.permanent


def test_connect_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = fetch_error(lambda f: f.fetch_feed(f"http://127.0.0.1:{port}/feed"))
    assert err.kind == "connect" and "127.0.0.1" in str(err)


def test_bad_url() -> None:
    assert fetch_error(lambda f: f.fetch_page("ftp://a.example/x")).kind == "bad_url"


def test_politeness_serialises_and_spaces_one_host(server: LocalServer) -> None:
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def timed(r: Request) -> None:
        start = time.monotonic()
        time.sleep(0.1)
        with lock:
            spans.append((start, time.monotonic()))
        r.send(200, html_page("t"), {"Content-Type": "text/html"})

    server.route("/a", timed)
    server.route("/b", timed)

    async def two(f: Fetcher):
        return await asyncio.gather(f.fetch_page(server.url("/a")), f.fetch_page(server.url("/b")))

    fetch(two, cfg(per_host_concurrency=1, per_host_delay=0.2))
    (s1, e1), (s2, _) = sorted(spans)
    assert s2 >= e1  # never overlapping (server-side times; the spacing is checked on the limiter below)


def test_limiter_spaces_request_starts() -> None:
    async def main() -> list[float]:
        limiter = HostLimiter(per_host_concurrency=2, per_host_delay=0.2, concurrency=8)
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def job() -> None:
            async with limiter.slot("a.example"):
                starts.append(loop.time())

        await asyncio.gather(*(job() for _ in range(4)))
        return starts

    starts = asyncio.run(main())
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == 3 and min(gaps) >= 0.19  # even with two slots, starts are delay apart


def test_limiter_per_host_and_global_caps() -> None:
    async def main() -> tuple[int, int, int]:
        limiter = HostLimiter(per_host_concurrency=2, per_host_delay=0, concurrency=3)
        active: dict[str, int] = {}
        peak_host = peak_all = 0

        async def job(host: str) -> None:
            nonlocal peak_host, peak_all
            async with limiter.slot(host):
                active[host] = active.get(host, 0) + 1
                peak_host = max(peak_host, active[host])
                peak_all = max(peak_all, sum(active.values()))
                await asyncio.sleep(0.02)
                active[host] -= 1

        await asyncio.gather(*(job(h) for h in ["a"] * 6 + ["b"] * 6 + ["c"] * 6))
        return peak_host, peak_all, len(limiter._hosts)

    peak_host, peak_all, hosts_left = asyncio.run(main())
    assert peak_host == 2 and peak_all == 3
    assert hosts_left == 0  # idle hosts are forgotten


def test_limiter_other_hosts_not_blocked() -> None:
    async def main() -> bool:
        limiter = HostLimiter(per_host_concurrency=1, per_host_delay=10.0, concurrency=4)
        async with limiter.slot("slow.example"):
            pass
        # slow.example now waits 10 s before its next request; other.example must not.
        waiter = asyncio.create_task(_enter(limiter, "slow.example"))
        await asyncio.wait_for(_enter(limiter, "other.example"), 1.0)
        done = waiter.done()
        waiter.cancel()
        return done

    assert asyncio.run(main()) is False


async def _enter(limiter: HostLimiter, host: str) -> None:
    async with limiter.slot(host):
        pass


def test_host_map_fetches_elsewhere_but_keeps_logical_urls(server: LocalServer) -> None:
    server.static("/post.html", html_page("post"), "text/html")
    server.static("/old.html?id=1", b"", "text/plain", 301, {"Location": server.url("/post.html")})
    config = cfg(host_map={"https://News.Example:443": server.base})
    res = fetch(lambda f: f.fetch_page("https://news.example/old.html?id=1#top"), config)
    assert res.status == 200 and res.body == html_page("post")
    assert res.url == "https://news.example/post.html"  # the redirect target, mapped back
    assert res.redirects == ("https://news.example/post.html",)
    assert [r.path for r in server.log] == ["/old.html?id=1", "/post.html"]
    err = fetch_error(lambda f: f.fetch_page("https://news.example/missing"), config)
    assert err.kind == "http_404" and err.url == "https://news.example/missing"


def test_fetch_page_sync(server: LocalServer) -> None:
    from newsflow.ingest.fetcher import fetch_page_sync

    server.static("/p", html_page("sync"), "text/html")
    assert fetch_page_sync(server.url("/p"), cfg()).body == html_page("sync")


def test_keep_alive_survives_304_and_redirect() -> None:
    """A 304 or a redirect is read to its end, so the host's next request reuses the connection."""
    with LocalServer(keep_alive=True) as server:
        server.static("/feed.xml", FEED, "application/rss+xml", headers={"ETag": '"v1"'})
        server.route("/old.xml", lambda r: r.send(301, b"moved", {"Location": "/feed.xml"}))

        def not_modified(r: Request) -> None:
            r.send(304, b"", {"ETag": '"v1"'}, length=False)

        server.route("/same.xml", not_modified)

        async def polls(f: Fetcher):
            return [await f.fetch_feed(server.url("/feed.xml")),
                    await f.fetch_feed(server.url("/same.xml"), etag='"v1"'),
                    await f.fetch_feed(server.url("/old.xml")),
                    await f.fetch_feed(server.url("/same.xml"), etag='"v1"')]

        results = fetch(polls)
        assert [r.status for r in results] == [200, 304, 200, 304]
        ports = {r.client_port for r in server.log}
        assert len(server.log) == 5 and len(ports) == 1, ports


def test_host_pools_close_the_least_recently_used() -> None:
    import httpx

    from newsflow.ingest.host_pools import HostPools

    with LocalServer(keep_alive=True) as server:
        server.static("/feed.xml", FEED, "application/rss+xml")

        async def main() -> list[int]:
            pools = HostPools(1, max_hosts=2)
            sizes = []
            for host in ("a", "b", "c", "a"):
                async with pools.send(host, httpx.Request("GET", server.url("/feed.xml"))) as resp:
                    await resp.aread()
                sizes.append(len(pools))
            await pools.aclose()
            return sizes

        assert asyncio.run(main()) == [1, 2, 2, 2]
        # "a" was evicted by "c" and came back on a new connection; "c" never shared one with "b".
        assert len({r.client_port for r in server.log}) == 4


def test_limiter_set_delay_spaces_one_host_more_and_can_be_lifted() -> None:
    async def main() -> tuple[list[float], list[float], list[float]]:
        limiter = HostLimiter(per_host_concurrency=1, per_host_delay=0.05, concurrency=8)
        limiter.set_delay("slow.example", 0.3)
        loop = asyncio.get_running_loop()
        starts: dict[str, list[float]] = {"slow.example": [], "fast.example": []}

        async def job(host: str) -> None:
            async with limiter.slot(host):
                starts[host].append(loop.time())

        await asyncio.gather(*(job(h) for h in ["slow.example", "fast.example"] * 3))
        slow, fast = starts["slow.example"], starts["fast.example"]
        limiter.set_delay("slow.example", None)
        await asyncio.sleep(0.3)
        lifted: list[float] = []
        for _ in range(3):
            async with limiter.slot("slow.example"):
                lifted.append(loop.time())
        return slow, fast, lifted

    slow, fast, lifted = asyncio.run(main())
    gaps = lambda xs: [b - a for a, b in zip(xs, xs[1:])]  # noqa: E731
    assert min(gaps(slow)) >= 0.29
    assert max(gaps(fast)) < 0.25  # the other host keeps per_host_delay
    assert max(gaps(lifted)) < 0.25 and min(gaps(lifted)) >= 0.04


# -- the SSRF guard: 127.0.0.2 and friends stand for internal hosts; only 127.0.0.1 is allowed --


def test_internal_addresses_are_refused_by_default_before_any_request(server: LocalServer) -> None:
    server.static("/feed.xml", FEED, "application/rss+xml")
    err = fetch_error(lambda f: f.fetch_feed(server.url("/feed.xml")), cfg(allow_addresses=[]))
    assert err.kind == "blocked_address" and err.permanent and "loopback" in str(err) and "allow_addresses" in str(err)
    assert server.requests("/feed.xml") == []


@pytest.mark.parametrize("target", ["127.0.0.2", "127.1.2.3", "[::ffff:127.0.0.2]"])
def test_a_redirect_to_an_internal_address_is_refused(server: LocalServer, target: str) -> None:
    port = server.base.rsplit(":", 1)[1]
    server.route("/page", lambda r: r.send(302, headers={"Location": f"http://{target}:{port}/admin"}))
    err = fetch_error(lambda f: f.fetch_page(server.url("/page")))
    assert err.kind == "blocked_address" and "loopback" in str(err)
    assert server.requests("/admin") == []


def test_the_allow_list_takes_networks(server: LocalServer) -> None:
    server.static("/feed.xml", FEED, "application/rss+xml")
    assert fetch(lambda f: f.fetch_feed(server.url("/feed.xml")), cfg(allow_addresses=["127.0.0.0/8"])).status == 200
    url = server.url("/feed.xml").replace("127.0.0.1", "127.0.0.2")
    assert fetch_error(lambda f: f.fetch_feed(url), cfg(allow_addresses=["127.0.0.1/32"])).kind == "blocked_address"


def test_host_map_is_checked_where_it_really_connects(server: LocalServer) -> None:
    """A logical origin mapped to a physical one: the guard judges the address it connects to."""
    server.static("/feed.xml", FEED, "application/rss+xml")
    mapped = {"https://news.example": server.base}
    assert fetch(lambda f: f.fetch_feed("https://news.example/feed.xml"), cfg(host_map=mapped)).status == 200
    err = fetch_error(lambda f: f.fetch_feed("https://news.example/feed.xml"), cfg(host_map=mapped, allow_addresses=[]))
    assert err.kind == "blocked_address"
