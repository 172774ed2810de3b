"""The hostile web, on loopback: servers that send what a poller meets from strangers (bombs,
stacked or unasked encodings, entity expansion, endless and dripping bodies, redirect loops,
redirects and links to internal addresses, monstrous links, pages that are slow to extract,
binaries), each class on its own ``LocalServer`` so each has its own politeness slot.

``INTERNAL`` (127.0.0.2) stands for an internal host: a canary server listens there and records
every request, so a test can prove the SSRF guard kept the poller away, not just that nobody
answered."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from tests.support.feeds_http import LocalServer, Request, atom_feed

INTERNAL = "127.0.0.2"
MB = 1024 * 1024


def gzip_bomb(zeros: int = 300 * MB) -> bytes:
    """One gzip member inflating to ``zeros`` zero bytes (~1,000:1), built in 1 MB steps."""
    comp = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(MB)
    parts = [comp.compress(block) for _ in range(zeros // MB)]
    parts.append(comp.flush())
    return b"".join(parts)


def zstd_frame(data: bytes) -> bytes:
    import zstandard  # kafka-python[zstd] brings it

    return zstandard.ZstdCompressor().compress(data)


def billion_laughs() -> bytes:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{n} "{("&lol%s;" % (n - 1 or "")) * 10}">' for n in range(1, 10)]
    return ("<?xml version='1.0'?>\n<!DOCTYPE rss [\n" + "\n".join(ents) + "\n]>\n"
            "<rss version='2.0'><channel><title>&lol9;</title><item><title>&lol9;</title>"
            "<link>http://127.0.0.1/x</link></item></channel></rss>").encode()


def quadratic_blowup(size: int = 100_000, refs: int = 20_000) -> bytes:
    """One big entity referenced many times: no nesting for a parser to count, gigabytes all the same."""
    return ("<?xml version='1.0'?>\n<!DOCTYPE rss [<!ENTITY a \"" + "x" * size + "\">]>\n"
            "<rss version='2.0'><channel><title>q</title><item><title>" + "&a;" * refs + "</title>"
            "<link>http://127.0.0.1/x</link></item></channel></rss>").encode()


def slow_paragraphs(n: int = 60_000) -> bytes:
    """3.4 MB of short paragraphs in an <article> (120,000 tags, under the extractor's MAX_TAGS):
    about 15 s of extraction here, ~190 MB."""
    return (b"<!doctype html><html><head><title>p</title></head><body><article>"
            + b"<p>lorem ipsum dolor sit amet, consectetur adipiscing</p>" * n + b"</article></body></html>")


def slow_table(rows: int = 90_000) -> bytes:
    """~4 MB of plain table markup (under the 5 MB body cap), 540,000 tags: extracted whole it took
    25 s and 630 MB; the extractor refuses it by its tag count."""
    return (b"<!doctype html><html><head><title>t</title></head><body><table>"
            + b"<tr><td>cell text a</td><td>cell b</td></tr>" * rows + b"</table></body></html>")


def rss_link_only(link: str, title: str = "no guid") -> bytes:
    """An RSS item with a link and no guid: the link is its id too."""
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>long links</title>"
            f"<link>http://127.0.0.1/</link><item><title>{title}</title><link>{link}</link></item></channel></rss>").encode()


def stream(req: Request, first: bytes, piece: bytes, every: float, stop: threading.Event, ctype: str = "text/html",
           seconds: float = 120.0) -> None:
    """Headers and ``first``, then ``piece`` every ``every`` seconds (0: as fast as the socket takes
    it) with no length, until the client goes, ``stop`` is set or ``seconds`` passed."""
    h = req.handler
    h.send_response(200)
    h.send_header("Content-Type", ctype)
    h.end_headers()
    h.wfile.write(first)
    h.wfile.flush()
    ends = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < ends:
        h.wfile.write(piece)
        h.wfile.flush()
        if every:
            stop.wait(every)
    h.close_connection = True


class Canary:
    """An HTTP server on INTERNAL that answers 200 to everything and records each request."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                canary.hits.append(self.path)
                body = b"<html><body><p>internal secret</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((INTERNAL, 0), _H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{INTERNAL}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class HostileFeed:
    url: str
    what: str  # a few words for failure messages
    feed_kind: str | None = None  # the kind its feed fails with, if the feed itself is hostile
    pages: dict[str, str] = field(default_factory=dict)  # hostile page url -> the kind it fails with


@dataclass
class HostileWeb:
    feeds: list[HostileFeed]
    canary: Canary
    servers: list[LocalServer]


@contextlib.contextmanager
def hostile_web(drip_pages: int = 4) -> Iterator[HostileWeb]:
    """Every hostile server, started; their feeds, and what each should fail with."""
    stop = threading.Event()
    canary = Canary()
    servers: list[LocalServer] = []
    feeds: list[HostileFeed] = []

    def server() -> LocalServer:
        srv = LocalServer().__enter__()
        servers.append(srv)
        return srv

    def feed_of(srv: LocalServer, path: str, pages: dict[str, str]) -> None:
        srv.static(path, atom_feed([(f"urn:{p}", srv.url(p), p.strip("/")) for p in pages]), "application/atom+xml")

    try:
        # Compression: a bomb as a feed and as a page; stacked and unasked encodings.
        srv = server()
        bomb = gzip_bomb()
        srv.static("/bomb-feed.xml", bomb, "application/atom+xml", headers={"Content-Encoding": "gzip"})
        srv.static("/bomb.html", bomb, "text/html", headers={"Content-Encoding": "gzip"})
        feed_of(srv, "/bomb-pages.xml", {"/bomb.html": ""})
        feeds += [HostileFeed(srv.url("/bomb-feed.xml"), "gzip bomb feed", "too_large"),
                  HostileFeed(srv.url("/bomb-pages.xml"), "gzip bomb page", pages={srv.url("/bomb.html"): "too_large"})]

        srv = server()
        page = b"<html><body>" + b"<p>Compressed words of an article nobody can read.</p>" * 20 + b"</body></html>"
        srv.static("/stacked.html", gzip.compress(gzip.compress(page)), "text/html", headers={"Content-Encoding": "gzip, gzip"})
        srv.static("/zstd.html", zstd_frame(page), "text/html", headers={"Content-Encoding": "zstd"})
        srv.static("/zstd-feed.xml", zstd_frame(atom_feed([("urn:z", srv.url("/z.html"), "z")])), "application/atom+xml",
                   headers={"Content-Encoding": "zstd"})
        feed_of(srv, "/encodings.xml", {"/stacked.html": "", "/zstd.html": ""})
        feeds += [HostileFeed(srv.url("/zstd-feed.xml"), "zstd feed", "decoding"),
                  HostileFeed(srv.url("/encodings.xml"), "stacked and zstd pages",
                              pages={srv.url("/stacked.html"): "decoding", srv.url("/zstd.html"): "decoding"})]

        # XML entities.
        srv = server()
        srv.static("/laughs.xml", billion_laughs(), "application/rss+xml")
        srv.static("/quadratic.xml", quadratic_blowup(), "application/rss+xml")
        feeds += [HostileFeed(srv.url("/laughs.xml"), "billion laughs", "entity_expansion"),
                  HostileFeed(srv.url("/quadratic.xml"), "quadratic blow-up", "entity_expansion")]

        # Bodies without end, as fast as the socket takes them: a feed and a page.
        srv = server()
        srv.route("/endless-feed.xml", lambda r: stream(r, b"<?xml version='1.0'?><rss version='2.0'><channel>",
                                                        b"<title>more</title>" * 4096, 0, stop, "application/rss+xml"))
        srv.route("/endless.html", lambda r: stream(r, b"<html><body>", b"<p>more words</p>" * 4096, 0, stop))
        feed_of(srv, "/endless-pages.xml", {"/endless.html": ""})
        feeds += [HostileFeed(srv.url("/endless-feed.xml"), "endless feed", "too_large"),
                  HostileFeed(srv.url("/endless-pages.xml"), "endless page", pages={srv.url("/endless.html"): "too_large"})]

        # Dripping: a byte a second, forever. A feed (request_deadline), and a feed of dripping
        # pages that together take longer than feed_deadline.
        srv = server()
        srv.route("/drip-feed.xml", lambda r: stream(r, b"<?xml version='1.0'?>", b" ", 1.0, stop, "application/rss+xml"))
        feeds.append(HostileFeed(srv.url("/drip-feed.xml"), "dripping feed", "timeout"))
        srv = server()
        drips = [f"/drip-{n}.html" for n in range(drip_pages)]
        for path in drips:
            srv.route(path, lambda r: stream(r, b"<html><body>", b"<", 1.0, stop))
        feed_of(srv, "/drip-pages.xml", dict.fromkeys(drips, ""))
        feeds.append(HostileFeed(srv.url("/drip-pages.xml"), "feed of dripping pages", "deadline",
                                 pages={srv.url(p): "timeout" for p in drips}))

        # Redirects: a loop, a page and a feed redirecting inside, a link straight inside.
        srv = server()
        loop_b = srv.url("/loop-b")  # bound now: ``srv`` names the next server by the time a request comes
        srv.route("/loop-a", lambda r: r.send(302, headers={"Location": loop_b}))
        srv.route("/loop-b", lambda r: r.send(302, headers={"Location": "/loop-a"}))
        srv.route("/to-internal", lambda r: r.send(302, headers={"Location": f"{canary.base}/admin"}))
        srv.route("/moved-feed.xml", lambda r: r.send(301, headers={"Location": f"{canary.base}/feed.xml"}))
        internal_link = f"{canary.base}/latest/secret.html"
        srv.static("/redirects.xml", atom_feed([("urn:loop", srv.url("/loop-a"), "loop"),
                                                ("urn:to-internal", srv.url("/to-internal"), "to internal"),
                                                ("urn:internal", internal_link, "internal link")]), "application/atom+xml")
        feeds += [HostileFeed(srv.url("/moved-feed.xml"), "feed redirected to an internal host", "blocked_address"),
                  HostileFeed(srv.url("/redirects.xml"), "redirect loop, redirect inside, link inside",
                              pages={srv.url("/loop-a"): "redirect_loop", srv.url("/to-internal"): "blocked_address",
                                     internal_link: "blocked_address"})]

        # A 4 MB link, with no guid: the link is the entry's id as well.
        srv = server()
        long_link = srv.url("/" + "a" * (4 * MB))
        srv.static("/long-link.xml", rss_link_only(long_link), "application/rss+xml")
        feeds.append(HostileFeed(srv.url("/long-link.xml"), "4 MB link", pages={long_link: "bad_url"}))

        # A page over extract.timeout, and one with more markup than the extractor takes on.
        srv = server()
        srv.static("/slow.html", slow_paragraphs(), "text/html; charset=utf-8")
        srv.static("/table.html", slow_table(), "text/html; charset=utf-8")
        feed_of(srv, "/slow.xml", {"/slow.html": "", "/table.html": ""})
        feeds.append(HostileFeed(srv.url("/slow.xml"), "pages slow to extract",
                                 pages={srv.url("/slow.html"): "extract_timeout", srv.url("/table.html"): "too_large"}))

        # Binaries: labelled as such, and behind a vague type.
        srv = server()
        pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 400
        srv.static("/paper.pdf", pdf, "application/pdf")
        srv.static("/blob", pdf, "application/octet-stream")
        feed_of(srv, "/binaries.xml", {"/paper.pdf": "", "/blob": ""})
        feeds.append(HostileFeed(srv.url("/binaries.xml"), "PDF pages",
                                 pages={srv.url("/paper.pdf"): "not_html", srv.url("/blob"): "not_html"}))

        yield HostileWeb(feeds, canary, servers)
    finally:
        stop.set()
        for srv in servers:
            srv.__exit__(None, None, None)
        canary.close()
