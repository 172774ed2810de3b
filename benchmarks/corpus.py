"""The generated news sites of the benchmarks and the tests: real article pages under distinct
urls, and RSS feeds listing them.

Two sites, one server (``python -m benchmarks.corpus``, a separate process so its CPU is not
counted as newsflow's), for the benchmarks:

* **articles** (``bench pipeline``): article ``n`` is ``/a/<n>.html``, a real page of
  ``<shared>/bench/extraction/*/html`` (``<shared>`` is ``$NEWSFLOW_SHARED`` or ``<repo>/../shared``)
  taken in a fixed order and repeated to reach N, with a ``<link rel="canonical">`` naming its
  own url inserted first in ``<head>`` (else the extractor takes copies of one page as one
  article). Feed ``k`` is ``/feeds/<k>.xml`` (RSS 2.0) and lists articles ``k*per_feed ..``.
* **feeds** (``bench poll``): feed ``k`` is ``/pf/<k>.xml``, 20-60 KB of RSS, with one of five
  server behaviours (``feed_kind``): ETag + Last-Modified honoured, Last-Modified only honoured,
  no validators and a fixed body, a fixed ETag that is ignored while the body changes on every
  request, and no validators with a changing body.

Hosts: feed ``k`` and its articles live on the logical origin ``http://news-<k % hosts>.test``,
which the poller's ``host_map`` sends to ``127.0.0.<2 + k % hosts>:PORT``. Politeness is keyed on
the physical host, so each logical site really is a separate host to the poller (Linux routes
all of 127/8 to the loopback device; nothing needs configuring). Pages are generated from
memory on each request: a 50,000-article corpus costs no disk.

For the end-to-end tests, the same article site written to a folder (same url layout, same
pages, same feeds, on named hosts) and served by ``newsflow.static_site.serve``::

    site = build_site(tmp_path / "site", 300)            # deterministic: same inputs, same bytes
    with serve_site(site) as served:
        settings.feeds = served.feed_configs()
        settings.poller.host_map = served.host_map        # logical origin -> http://127.0.0.1:PORT
        ...
    site.expected_ids                                     # the article ids the pipeline must produce
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import html
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import escape

from newsflow.core.record import article_id
from newsflow.ingest.config import FeedConfig
from newsflow.ingest.urls import canonical_url
from newsflow.static_site import serve

REPO = Path(__file__).resolve().parent.parent
EXTRACTION_SETS = Path("bench") / "extraction"
FIRST_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
MAX_HOSTS = 250  # 127.0.0.2 .. 127.0.0.251
SEED_PAGES = REPO / "seeds" / "site"

_HEAD = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def shared_dir() -> Path | None:
    env = os.environ.get("NEWSFLOW_SHARED")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared"]:
        if (candidate / EXTRACTION_SETS).is_dir():
            return candidate
    return None


def page_files(sets: tuple[str, ...] | None = None) -> list[Path]:
    """Every page of the extraction sets (or of the ``sets`` named), in a fixed order; the seed
    blog's posts without them."""
    shared = shared_dir()
    files: list[Path] = []
    if shared is not None:
        for dataset in sorted((shared / EXTRACTION_SETS).iterdir()):
            if (dataset / "html").is_dir() and (sets is None or dataset.name in sets):
                files += sorted((dataset / "html").iterdir())
    return files or sorted(SEED_PAGES.glob("post-*.html"))


def load_pages(limit: int | None = None, sets: tuple[str, ...] | None = None) -> list[bytes]:
    """The page bytes, decompressed; ``limit`` takes only the first pages (a small corpus needs few)."""
    return [_read(f) for f in page_files(sets)[:limit]]


def _read(file: Path) -> bytes:
    data = file.read_bytes()
    return gzip.decompress(data) if file.name.endswith(".gz") else data


def origin(k: int, hosts: int) -> str:
    return f"http://news-{k % hosts}.test"


def host_map(hosts: int, port: int) -> dict[str, str]:
    """Logical origin -> the loopback address that serves it: one physical host per site."""
    return {origin(i, hosts): f"http://127.0.0.{2 + i}:{port}" for i in range(hosts)}


def with_canonical(page: bytes, url: str) -> bytes:
    link = f'<link rel="canonical" href="{html.escape(url)}">'.encode()
    head = _HEAD.search(page)
    return link + page if head is None else page[: head.end()] + link + page[head.end():]


def page_title(page: bytes, n: int) -> str:
    m = _TITLE.search(page[:20000])
    text = " ".join(html.unescape(m.group(1).decode("utf-8", "replace")).split()) if m else ""
    return text[:200] or f"Article {n}"


def rss(origin: str, k: int, items: list[tuple[int, str, str]]) -> bytes:
    """RSS 2.0 for feed ``k``: items (n, url, title), newest first as feeds list them; item ``n``
    is dated ``n`` minutes after FIRST_DATE."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0"><channel>',
           f"<title>News site {k}</title><link>{escape(origin)}/</link><description>Generated feed {k}</description>"]
    for n, url, title in sorted(items, reverse=True):
        date = format_datetime(FIRST_DATE + timedelta(minutes=n))
        out.append(f"<item><title>{escape(title)}</title><link>{escape(url)}</link>"
                   f'<guid isPermaLink="true">{escape(url)}</guid><pubDate>{date}</pubDate></item>')
    out.append("</channel></rss>")
    return "\n".join(out).encode()


@dataclass(frozen=True)
class ArticleSite:
    """N articles in feeds of ``per_feed``; feed ``k`` and its articles on host ``k % hosts``
    (``http://news-<i>.test``, or the i-th of ``names``)."""

    articles: int
    per_feed: int = 20
    hosts: int = 100
    names: tuple[str, ...] = ()

    @property
    def n_feeds(self) -> int:
        return -(-self.articles // self.per_feed)

    def origin(self, k: int) -> str:
        """Feed ``k``'s origin (its articles' too)."""
        return f"http://{self.names[k % len(self.names)]}" if self.names else origin(k, self.hosts)

    def origins(self) -> list[str]:
        return [self.origin(i) for i in range(self.hosts)]

    def feed_url(self, k: int) -> str:
        return f"{self.origin(k)}/feeds/{k}.xml"

    def article_url(self, n: int) -> str:
        return f"{self.origin(n // self.per_feed)}/a/{n}.html"

    def feed_urls(self) -> list[str]:
        return [self.feed_url(k) for k in range(self.n_feeds)]

    def article_urls(self) -> list[str]:
        return [self.article_url(n) for n in range(self.articles)]

    def page(self, pages: list[bytes], n: int) -> bytes:
        return with_canonical(pages[n % len(pages)], self.article_url(n))

    def feed(self, titles: list[str], k: int) -> bytes:
        """Feed ``k``; ``titles[i]`` is the title of source page ``i``."""
        items = [(n, self.article_url(n), titles[n % len(titles)])
                 for n in range(k * self.per_feed, min(self.articles, (k + 1) * self.per_feed))]
        return rss(self.origin(k), k, items)


# --- the tests' site: the article site written to a folder ---------------------------------------

TEST_SET = ("scrapinghub-dev",)  # the tests expect an article from every page: this set's pages all have one


@dataclass(frozen=True)
class SiteInfo:
    root: Path
    feeds: list[str]  # logical feed urls
    article_urls: list[str]  # logical article urls, article n at index n
    origins: list[str]  # logical origins, e.g. "http://news-a.test"
    source: str  # where the pages came from: "scrapinghub-dev", "seeds" or "given"
    host_map: dict[str, str] = field(default_factory=dict)  # empty until served (see serve_site)

    @property
    def expected_ids(self) -> set[str]:
        """The ids the pipeline gives these articles (each page names its own url as canonical)."""
        return {article_id(canonical_url(u)) for u in self.article_urls}

    def feed_configs(self) -> list[FeedConfig]:
        return [FeedConfig(url=u, name=f"newsite feed {k}") for k, u in enumerate(self.feeds)]

    def served_at(self, base: str) -> "SiteInfo":
        """This site with every logical origin mapped to ``base`` (``http://127.0.0.1:PORT``)."""
        return replace(self, host_map={origin: base for origin in self.origins})


def build_site(
    dir: Path | str,
    n_articles: int,
    per_feed: int = 50,
    hosts: tuple[str, ...] = ("news-a.test", "news-b.test"),
    *,
    pages: list[bytes] | None = None,
) -> SiteInfo:
    """Write the article site into ``dir`` (created; existing files are overwritten) and describe it.

    ``pages`` overrides the source pages (repeated in order): by default the scrapinghub set's,
    else the seed blog's posts.
    """
    if n_articles < 1 or per_feed < 1 or not hosts:
        raise ValueError("n_articles and per_feed must be at least 1, and hosts non-empty")
    source = "given"
    if pages is None:
        files = page_files(TEST_SET)
        source = "seeds" if files and files[0].parent == SEED_PAGES else TEST_SET[0]
        pages = [_read(f) for f in files]
    if not pages:
        raise ValueError("no source pages")
    site = ArticleSite(n_articles, per_feed, len(hosts), tuple(hosts))
    root = Path(dir)
    (root / "a").mkdir(parents=True, exist_ok=True)
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    for n in range(n_articles):
        (root / "a" / f"{n}.html").write_bytes(site.page(pages, n))
    titles = [page_title(p, i) for i, p in enumerate(pages)]
    for k in range(site.n_feeds):
        (root / "feeds" / f"{k}.xml").write_bytes(site.feed(titles, k))
    return SiteInfo(root=root, feeds=site.feed_urls(), article_urls=site.article_urls(), origins=site.origins(), source=source)


@contextlib.contextmanager
def serve_site(site: SiteInfo) -> Iterator[SiteInfo]:
    """Serve the site on 127.0.0.1 (a free port); yields it with ``host_map`` filled in."""
    with serve(site.root) as base:
        yield site.served_at(base)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server started next, e.g. a daemon's metrics)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the poll bench's feeds ------------------------------------------------------------------

FEED_KINDS = ("etag_lm", "etag_lm", "etag_lm", "etag_lm", "lm_only", "lm_only", "plain", "plain", "fixed_etag_changing", "changing")
_WORDS = ("the minister said talks would resume next week after a long pause in negotiations over trade "
          "energy prices and the regional security agreement that officials described as fragile but "
          "workable while analysts warned markets remain volatile ahead of elections").split()
_LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


def feed_kind(k: int) -> str:
    """How feed ``k``'s server behaves; 60% answer 304, 20% send the same bytes, 20% new bytes."""
    return FEED_KINDS[k % len(FEED_KINDS)]


def poll_feed_entries(k: int) -> int:
    """Items in poll-bench feed ``k``: 15..44, so bodies run from about 20 to 60 KB."""
    return 15 + int(hashlib.blake2b(str(k).encode(), digest_size=2).hexdigest(), 16) % 30


def poll_entry_guid(hosts: int, k: int, i: int) -> str:
    return f"{origin(k, hosts)}/pf/{k}/{i}"


def poll_feed_url(hosts: int, k: int) -> str:
    return f"{origin(k, hosts)}/pf/{k}.xml"


def poll_feed_body(hosts: int, k: int, version: int) -> bytes:
    """Feed ``k`` as served for the ``version``-th time (only lastBuildDate depends on it)."""
    o = origin(k, hosts)
    build = format_datetime(FIRST_DATE + timedelta(seconds=version))
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<rss version="2.0"><channel>',
           f"<title>Feed {k}</title><link>{o}/</link><description>Generated feed {k}</description>",
           f"<lastBuildDate>{build}</lastBuildDate>"]
    n = len(_WORDS)
    for i in range(poll_feed_entries(k)):
        guid = poll_entry_guid(hosts, k, i)
        start = (k * 7 + i * 13) % n
        desc = " ".join(_WORDS[(start + j) % n] for j in range(170))  # ~1 KB of text per item
        date = format_datetime(FIRST_DATE + timedelta(hours=i))
        out.append(f"<item><title>Story {i} of feed {k}</title><link>{guid}</link><guid>{guid}</guid>"
                   f"<pubDate>{date}</pubDate><description>{desc}</description></item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode()


# --- the server ------------------------------------------------------------------------------

_ARTICLE = re.compile(r"^/a/(\d+)\.html$")
_FEED = re.compile(r"^/feeds/(\d+)\.xml$")
_POLL_FEED = re.compile(r"^/pf/(\d+)\.xml$")


class CorpusServer:
    """A small HTTP/1.1 server (keep-alive, GET only) for both sites; requests are counted per path kind."""

    def __init__(self, site: ArticleSite, poll_hosts: int, pages: list[bytes]) -> None:
        self.site = site
        self.poll_hosts = poll_hosts
        self.pages = pages
        self.titles = [page_title(p, n) for n, p in enumerate(pages)]
        self.versions: dict[int, int] = {}

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if m := _ARTICLE.match(path):
            n = int(m.group(1))
            if n < self.site.articles:
                return 200, {"Content-Type": "text/html; charset=utf-8"}, self.site.page(self.pages, n)
        elif m := _FEED.match(path):
            k = int(m.group(1))
            if k < self.site.n_feeds:
                return 200, {"Content-Type": "application/rss+xml"}, self.site.feed(self.titles, k)
        elif m := _POLL_FEED.match(path):
            return self._poll_feed(int(m.group(1)), headers)
        return 404, {"Content-Type": "text/plain"}, b"not found\n"

    def _poll_feed(self, k: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        kind = feed_kind(k)
        out = {"Content-Type": "application/rss+xml"}
        etag = f'"f{k}"'
        if kind == "etag_lm":
            out.update({"ETag": etag, "Last-Modified": _LAST_MODIFIED})
            if headers.get("if-none-match") == etag:
                return 304, out, b""
        if kind == "lm_only":
            out["Last-Modified"] = _LAST_MODIFIED
            if headers.get("if-modified-since") == _LAST_MODIFIED:
                return 304, out, b""
        if kind == "fixed_etag_changing":
            out["ETag"] = etag  # never changes, never honoured: a broken server's
        version = 0
        if kind in ("fixed_etag_changing", "changing"):
            version = self.versions[k] = self.versions.get(k, 0) + 1
        return 200, out, poll_feed_body(self.poll_hosts, k, version)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                status, out, body = self.respond(target.split("?", 1)[0], headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                out["Content-Length"] = str(len(body))
                writer.write(f"HTTP/1.1 {status} {reason}\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in out.items()).encode() + b"\r\n")
                if method != "HEAD":
                    writer.write(body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()


async def _serve(server: CorpusServer, hosts: int) -> None:
    addresses = [f"127.0.0.{2 + i}" for i in range(hosts)]
    srv = await asyncio.start_server(server.handle, addresses[0], 0, backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    servers = [srv] + [await asyncio.start_server(server.handle, a, port, backlog=1024) for a in addresses[1:]]
    assert servers
    print(port, flush=True)
    # Until the parent closes our stdin (or dies).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    os._exit(0)  # open keep-alive connections need no goodbye


class ServerProcess:
    """``with ServerProcess(...) as s``: ``s.port``; on exit the process is stopped and ``s.rusage`` kept."""

    def __init__(self, articles: int = 0, per_feed: int = 20, hosts: int = 100, poll_hosts: int = 0) -> None:
        self.hosts = max(hosts, poll_hosts, 1)
        if self.hosts > MAX_HOSTS:
            raise ValueError(f"at most {MAX_HOSTS} hosts")
        self.args = [sys.executable, "-m", "benchmarks.corpus", str(articles), str(per_feed), str(hosts), str(poll_hosts)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.rusage = None

    def __enter__(self) -> "ServerProcess":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError("the corpus server did not start")
        self.port = int(line)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            _, _, self.rusage = os.wait4(self.proc.pid, 0)
        except ChildProcessError:
            pass
        self.proc.returncode = 0


def main(argv: list[str]) -> None:
    articles, per_feed, hosts, poll_hosts = (int(a) for a in argv)
    site = ArticleSite(articles, per_feed, max(hosts, 1))
    pages = load_pages(limit=articles or 1)
    asyncio.run(_serve(CorpusServer(site, max(poll_hosts, 1), pages), max(hosts, poll_hosts, 1)))


def iter_pages(site: ArticleSite, pages: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """(url, page) of every article, as the server sends them (for the extraction-only ceiling)."""
    for n in range(site.articles):
        yield site.article_url(n), site.page(pages, n)


if __name__ == "__main__":
    main(sys.argv[1:])
