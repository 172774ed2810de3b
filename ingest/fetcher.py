"""The HTTP edge: polite, capped, guarded, redirect-checked GETs over httpx, a keep-alive pool
per host. Results and failures (FetchError and its ``kind``) are in ingest/fetch_result.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

import httpx

from newsflow.core.text import truncate
from newsflow.ingest.address_guard import AddressGuard, BlockedAddress
from newsflow.ingest.decompress import ACCEPT_HEADER, DecodingRefused, OverCap, decoder
from newsflow.ingest.fetch_result import (
    BadURL,
    ConnectFailed,
    Disallowed,
    FetchError,
    FetchResult,
    FetchTimeout,
    HTTPStatusError,
    NotHTML,
    RedirectError,
    TooLarge,
    parse_retry_after,
)
from newsflow.ingest.host_pools import HostPools
from newsflow.ingest.politeness import HostLimiter, Ready
from newsflow.ingest.urls import host_of
from newsflow.ingest.config import PollerConfig
from newsflow.ingest.extract.decoding import BYTE_ORDER_MARKS

log = logging.getLogger(__name__)

# May this url be requested? Asked about each redirect target of a page (robots.txt).
Allow = Callable[[str], Awaitable[bool]]

FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types that servers put on anything; the body decides.
_SNIFF_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream", "application/xml", "text/xml", "application/unknown"})
_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"OggS", b"ID3", b"RIFF")
_BOMS = tuple(bom for bom, _ in BYTE_ORDER_MARKS)  # the extractor's table: one list of the marks
# A redirect's body bigger than this is not read to keep its connection: the connection is dropped.
_DRAIN_MAX = 64 * 1024


def looks_binary(head: bytes) -> bool:
    """True for bodies that are certainly not a web page: known file signatures or NUL bytes."""
    if head.startswith(_BOMS):
        return False  # a UTF-16 page has NULs but is text
    return head.startswith(_MAGIC) or b"\x00" in head[:1024]


def _origin(url: str) -> str:
    """The origin of a url, ``scheme://host[:port]``, lowercased, default port dropped."""
    parts = urlsplit(url.strip().rstrip("/"))
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}".removesuffix(":443" if parts.scheme == "https" else ":80")


def fetch_page_sync(url: str, config: PollerConfig | None = None) -> FetchResult:
    """One article page, politely, from synchronous code (``newsflow extract URL``)."""

    async def once() -> FetchResult:
        async with Fetcher(config) as fetcher:
            return await fetcher.fetch_page(url)

    return asyncio.run(once())


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Fetcher:
    """Polite HTTP GETs. One instance per event loop; close it with ``aclose()`` (or ``async with``)."""

    def __init__(
        self,
        config: PollerConfig | None = None,
        *,
        limiter: HostLimiter | None = None,
        proxy: str | None = None,
        verify: bool | str = True,
    ) -> None:
        self.config = config or PollerConfig()
        self._limiter = limiter
        self._proxy = proxy
        self._verify = verify
        self._pools: HostPools | None = None
        self._base_headers = {"User-Agent": self.config.user_agent, "Accept-Encoding": ACCEPT_HEADER}
        self._timeouts = httpx.Timeout(self.config.timeout).as_dict()
        # host_map: logical origin -> the origin that really serves it (demo, mirrors). Urls in
        # results and errors stay logical, so article ids do not depend on where we fetched.
        self._to_physical = {_origin(k): _origin(v) for k, v in self.config.host_map.items()}
        self._to_logical = {v: k for k, v in self._to_physical.items()}
        # Per-phase timeouts catch a stalled peer; this deadline catches one that drips.
        self.total_timeout = self.config.request_deadline

    @property
    def limiter(self) -> HostLimiter:
        if self._limiter is None:
            c = self.config
            self._limiter = HostLimiter(c.per_host_concurrency, c.per_host_delay, c.concurrency)
        return self._limiter

    def _http(self) -> HostPools:
        if self._pools is None:
            # A connection per host at most per_host_concurrency, kept alive between polls. No
            # cookie jar: a crawler's jar over many sites only grows, and feeds need none.
            guard = AddressGuard(self.config.allow_addresses)
            self._pools = HostPools(self.config.per_host_concurrency, proxy=self._proxy, verify=self._verify, guard=guard)
        return self._pools

    async def aclose(self) -> None:
        if self._pools is not None:
            await self._pools.aclose()
            self._pools = None

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def fetch_feed(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET a feed, conditionally when validators are known. A 304 comes back as a result, not an error."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self.fetch(url, headers=headers)

    async def fetch_page(self, url: str, allow: Allow | None = None, ready: Ready | None = None) -> FetchResult:
        """GET an article page. A non-HTML content type raises NotHTML before the body is read;
        a binary body behind a vague or wrong type is caught by sniffing its first bytes.
        ``allow`` is asked about every redirect target before it is requested (robots.txt);
        ``ready`` is awaited before each request once it is its turn on the host (HostLimiter.slot)."""
        return await self.fetch(url, headers={"Accept": PAGE_ACCEPT}, html_only=True, allow=allow, ready=ready)

    async def fetch(
        self, url: str, *, headers: dict[str, str] | None = None, html_only: bool = False, allow: Allow | None = None,
        ready: Ready | None = None,
    ) -> FetchResult:
        chain = [url]
        elapsed = 0.0
        current = url
        permanent = True
        while True:
            outcome, spent = await self._hop(current, headers or {}, html_only, ready)
            elapsed += spent
            if isinstance(outcome, FetchResult):
                outcome.elapsed = elapsed
                outcome.requested_url = url
                outcome.redirects = tuple(chain[1:])
                outcome.moved = len(chain) > 1 and permanent
                return outcome
            target, status = outcome
            permanent = permanent and status in _PERMANENT_REDIRECTS
            if target in chain:
                loop = " -> ".join([*chain[chain.index(target):], target])
                raise RedirectError(f"redirect loop: {loop}", url, kind="redirect_loop")
            chain.append(target)
            if len(chain) - 1 > self.config.max_redirects:
                raise RedirectError(
                    f"more than {self.config.max_redirects} redirects: {' -> '.join(chain)}", url, kind="too_many_redirects"
                )
            if allow is not None and not await allow(target):
                raise Disallowed(f"redirected to {target}, which its site's robots.txt disallows", url)
            current = target

    def set_crawl_delay(self, url: str, seconds: float | None) -> None:
        """Space requests to ``url``'s server ``seconds`` apart (a robots.txt Crawl-delay), never
        below ``per_host_delay``; ``None`` lifts it."""
        self.limiter.set_delay(host_of(self._remap(url, self._to_physical)), seconds)

    async def _hop(
        self, url: str, headers: dict[str, str], html_only: bool, ready: Ready | None = None
    ) -> tuple[FetchResult | tuple[str, int], float]:
        """One request. Returns a result, or (the absolute url a redirect points to, its status)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadURL(f"not an http(s) url: {url!r}", url)
        physical = self._remap(url, self._to_physical)
        host = host_of(physical)  # politeness is owed to the server we really talk to
        async with self.limiter.slot(host, ready):
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.total_timeout):
                    request = httpx.Request("GET", physical, headers={**self._base_headers, **headers},
                                            extensions={"timeout": self._timeouts})
                    async with self._http().send(host, request) as resp:
                        outcome = await self._handle(resp, url, host, html_only)
                        if isinstance(outcome, str):  # a redirect, resolved against the physical url
                            target = self._remap(urljoin(physical, outcome), self._to_logical)
                            return (target, resp.status_code), time.perf_counter() - started
                        return outcome, time.perf_counter() - started
            except FetchError:
                raise
            except BlockedAddress as exc:
                log.warning("blocked %s: %s", truncate(url, 300), exc, extra={"url": truncate(url, 300), "kind": "blocked_address"})
                raise FetchError(str(exc), url, kind="blocked_address") from exc
            except (httpx.TimeoutException, TimeoutError) as exc:
                raise FetchTimeout(f"timed out after {time.perf_counter() - started:.1f}s ({type(exc).__name__})", url) from exc
            except (httpx.ConnectError, httpx.ProxyError) as exc:
                raise ConnectFailed(f"cannot connect to {host}: {exc}", url) from exc
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise BadURL(f"bad url {url!r}: {exc}", url) from exc
            except httpx.DecodingError as exc:
                raise FetchError(f"cannot decode the response body: {exc}", url, kind="decoding") from exc
            except httpx.HTTPError as exc:  # protocol errors, resets mid-body, ...
                raise FetchError(f"{type(exc).__name__}: {exc}", url, kind="network") from exc

    async def _handle(self, resp: httpx.Response, url: str, host: str, html_only: bool) -> FetchResult | str:
        status = resp.status_code
        if status in _REDIRECTS:
            location = resp.headers.get("location")
            if not location:
                raise HTTPStatusError(f"HTTP {status} redirect without a Location header", url, kind="http_4xx", status=status)
            await self._drain(resp)
            return location.strip()
        if status == 304:
            await self._drain(resp)
            return FetchResult(url, status, resp.headers, b"", 0.0)
        if status >= 400 or status < 200 or 300 <= status < 400:
            raise self._status_error(resp, url, host)
        ctype = _media_type(resp.headers.get("content-type"))
        if html_only and ctype not in _HTML_TYPES and ctype not in _SNIFF_TYPES:
            raise NotHTML(f"not an HTML page: content-type {ctype}", url, status=status)
        cap = self.config.max_body_bytes
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"body of {int(declared)} bytes is over the {cap}-byte cap (not downloaded)", url, status=status)
        # Raw bytes, decoded here with the cap applied to what decoding produces (ingest/decompress.py):
        # httpx would inflate a whole network read first, whatever its size, and decode any coding.
        try:
            decode = decoder(resp.headers.get("content-encoding"), cap)
        except DecodingRefused as exc:
            raise FetchError(str(exc), url, kind="decoding", status=status) from exc
        body = bytearray()
        received = 0
        try:
            async for chunk in resp.aiter_raw():
                received += len(chunk)
                if received > cap:
                    raise TooLarge(f"body is over the {cap}-byte cap (download stopped)", url, status=status)
                body += decode.feed(chunk)
        except OverCap as exc:
            raise TooLarge(f"{exc} (decoding stopped: a compression bomb or a huge page)", url, status=status) from exc
        except zlib.error as exc:
            raise FetchError(f"cannot decode the {decode.coding} body: {exc}", url, kind="decoding", status=status) from exc
        data = bytes(body)
        if html_only:
            self._check_html(data, ctype, url)
        return FetchResult(url, status, resp.headers, data, 0.0)

    @staticmethod
    async def _drain(resp: httpx.Response) -> None:
        """Read a bodiless answer (304, redirect) to its end, so its connection is kept alive
        for the host's next request; one with a real body is closed with its connection instead."""
        read = 0
        async for chunk in resp.aiter_raw():
            read += len(chunk)
            if read > _DRAIN_MAX:
                return

    @staticmethod
    def _remap(url: str, mapping: dict[str, str]) -> str:
        if not mapping:
            return url
        target = mapping.get(_origin(url))
        if not target:
            return url
        parts = urlsplit(url)
        return target + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _status_error(self, resp: httpx.Response, url: str, host: str) -> HTTPStatusError:
        status = resp.status_code
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        if retry_after and status == 429:
            # Rate limited: the pause is for the whole host, so its other urls wait too (capped
            # by the limiter's max_defer). A 503's Retry-After is left to the scheduler of that url.
            self.limiter.defer(host, retry_after)
        if status in (404, 410):
            kind = f"http_{status}"
        elif status == 429:
            kind = "http_429"
        elif status == 408:
            kind = "timeout"
        elif status >= 500:
            kind = "http_5xx"
        elif status >= 400:
            kind = "http_4xx"
        else:
            kind = "http_3xx"  # 300/305/...: a redirect we cannot follow
        reason = resp.reason_phrase or ""
        return HTTPStatusError(f"HTTP {status} {reason}".rstrip(), url, kind=kind, status=status, retry_after=retry_after)

    @staticmethod
    def _check_html(body: bytes, ctype: str, url: str) -> None:
        head = body[:2048]
        if looks_binary(head):
            raise NotHTML(f"binary body (content-type {ctype or 'none'})", url)
        if ctype not in _HTML_TYPES and b"<" not in head.lstrip()[:1024]:
            raise NotHTML(f"no HTML markup in the body (content-type {ctype or 'none'})", url)
