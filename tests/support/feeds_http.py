"""Test helpers for the feed/poller tests: a real HTTP server on 127.0.0.1 with routes the
test controls, a request log, the seed site served with its base rewritten, a stub
extractor and a collecting sink."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from newsflow.ingest.extract.errors import ExtractionError
from newsflow.core.record import Article
from newsflow.ingest.urls import canonical_url

REPO = Path(__file__).resolve().parents[2]
SEED_SITE = REPO / "seeds" / "site"
SEED_BASE = "https://example-news.blogspot.com/"

Handler = Callable[["Request"], None]


@dataclass
class Request:
    handler: BaseHTTPRequestHandler
    method: str
    path: str  # path + query, also for proxy-style absolute request lines
    host: str  # the host the client asked for (from an absolute url, else the Host header)
    headers: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    client_port: int = 0  # the client's end of the connection: one per kept-alive connection

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, length: bool = True) -> None:
        h = self.handler
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and self.method != "HEAD":
            h.wfile.write(body)


class LocalServer:
    """ThreadingHTTPServer in a thread. ``routes`` maps a path (with query) to a handler.
    ``keep_alive`` speaks HTTP/1.1 and keeps connections open between requests."""

    def __init__(self, keep_alive: bool = False) -> None:
        self.routes: dict[str, Handler] = {}
        self.fallback: Handler | None = None  # for paths without a route (default: 404)
        self.log: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_HEAD(self) -> None:
                server._dispatch(self, "HEAD")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "LocalServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def requests(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def static(self, path: str, body: bytes, content_type: str = "application/xml", status: int = 200,
               headers: dict[str, str] | None = None) -> None:
        self.routes[path] = lambda r: r.send(status, body, {"Content-Type": content_type, **(headers or {})})

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        raw = h.path
        host = h.headers.get("Host", "")
        if raw.startswith(("http://", "https://")):  # proxy-style request line
            parts = urlsplit(raw)
            host = parts.netloc
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
            if host != f"127.0.0.1:{self.port}":
                raw = f"//{host}{raw}"  # foreign host: routes see "//host/path"
        req = Request(h, method, raw, host, {k.lower(): v for k, v in h.headers.items()}, client_port=h.client_address[1])
        with self._lock:
            self.log.append(req)
        handler = self.routes.get(raw) or self.fallback
        try:
            if handler is None:
                req.send(404, b"not found", {"Content-Type": "text/plain"})
            else:
                handler(req)
        except (BrokenPipeError, ConnectionResetError):
            pass


def rewrite_seed(data: bytes, base: str) -> bytes:
    return data.replace(SEED_BASE.encode(), (base.rstrip("/") + "/").encode())


def serve_seed_site(server: LocalServer, rewrite: bool = True) -> None:
    """Every file of seeds/site at its path, with the blogspot base rewritten to the server's (or not)."""
    for path in SEED_SITE.rglob("*"):
        if path.is_file() and path.suffix in (".xml", ".html"):
            rel = "/" + path.relative_to(SEED_SITE).as_posix()
            ctype = "text/html; charset=utf-8" if path.suffix == ".html" else "application/xml"
            if rel == "/feeds/posts/default.xml":
                ctype = "application/atom+xml"
            elif rel == "/rss.xml":
                ctype = "application/rss+xml"
            data = path.read_bytes()
            server.static(rel, rewrite_seed(data, server.base) if rewrite else data, ctype)


def page_canonical(html: bytes) -> str | None:
    m = re.search(rb'<link[^>]+href="([^"]+)"[^>]+rel="canonical"', html) or re.search(
        rb'<link[^>]+rel="canonical"[^>]+href="([^"]+)"', html
    )
    return m.group(1).decode() if m else None


def stub_extract(html: bytes, url: str, entry, feed_url: str, *, content_type: str | None = None) -> Article:
    """A minimal extractor: the page's canonical link (or url), its <p> text, the entry's title."""
    text = " ".join(m.decode("utf-8", "replace") for m in re.findall(rb"<p>(.*?)</p>", html, re.S))
    if not text.strip():
        raise ExtractionError("no extractable text", kind="no_text")
    canonical = page_canonical(html) or url
    cu = canonical_url(canonical)
    return Article.new(cu, original_url=url, title=entry.title if entry else None, text=text,
                       categories=list(entry.categories) if entry else [], feeds=[feed_url])


class CollectingSink:
    """The bus stand-in: records articles; its futures resolve (or fail) from another thread, like an ack."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.fail = False
        self._lock = threading.Lock()

    def __call__(self, article: Article) -> Future:
        fut: Future = Future()

        def ack() -> None:
            if self.fail:
                fut.set_exception(ConnectionError("broker unavailable"))
            else:
                with self._lock:
                    self.articles.append(article)
                fut.set_result(None)

        threading.Timer(0.001, ack).start()
        return fut

    @property
    def ids(self) -> list[str]:
        return [a.id for a in self.articles]


def atom_feed(entries: list[tuple[str, str, str]], title: str = "Test feed") -> bytes:
    """A small Atom feed; entries are (id, link, title)."""
    items = "".join(
        f"<entry><id>{i}</id><title>{t}</title><link rel='alternate' href='{link}'/>"
        f"<updated>2024-01-0{n % 9 + 1}T10:00:00Z</updated></entry>"
        for n, (i, link, t) in enumerate(entries)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>{title}</title><id>urn:test</id><updated>2024-01-09T10:00:00Z</updated>{items}</feed>"
    ).encode()


def html_page(title: str, paragraphs: int = 3) -> bytes:
    ps = "".join(f"<p>Paragraph {n} of {title}, with enough words to count as text.</p>" for n in range(paragraphs))
    return f"<!doctype html><html><head><title>{title}</title></head><body>{ps}</body></html>".encode()
