"""What a fetch gives: its result, and every failure as a FetchError with a short ``kind``
("http_404", "timeout", "too_large", "blocked_address", ...) that callers count without parsing
messages; ``permanent`` tells whether asking again later can help. Pure data, no I/O."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from newsflow.core.text import truncate

# Kinds where the same request later gives the same answer: an entry that failed so is not retried.
PERMANENT_KINDS = frozenset(
    {"http_404", "http_410", "http_4xx", "http_3xx", "not_html", "too_large", "redirect_loop", "too_many_redirects", "bad_url",
     "decoding", "robots_disallowed", "blocked_address"}
)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.I)


class FetchError(Exception):
    kind = "fetch_error"

    def __init__(self, message: str, url: str, *, kind: str | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        # Messages quote what servers sent (urls, headers): kept short for logs and state rows.
        super().__init__(truncate(message, 1000))
        self.url = url
        if kind:
            self.kind = kind
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait, if it did

    @property
    def permanent(self) -> bool:
        return self.kind in PERMANENT_KINDS


class HTTPStatusError(FetchError):
    pass


class FetchTimeout(FetchError):
    kind = "timeout"


class TooLarge(FetchError):
    kind = "too_large"


class RedirectError(FetchError):
    kind = "redirect_loop"


class Disallowed(FetchError):
    """A redirect pointed at a url the caller's ``allow`` refused (its site's robots.txt)."""

    kind = "robots_disallowed"


class NotHTML(FetchError):
    kind = "not_html"


class ConnectFailed(FetchError):
    kind = "connect"


class BadURL(FetchError):
    kind = "bad_url"


@dataclass
class FetchResult:
    url: str  # final url, after redirects
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float  # seconds on the network, politeness waits excluded
    requested_url: str = ""
    redirects: tuple[str, ...] = field(default=())
    # Every redirect on the way was permanent (301/308): the requested url has moved for good.
    moved: bool = False

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))

    @property
    def max_age(self) -> float | None:
        return parse_max_age(self.headers.get("cache-control"))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    if not cache_control or "no-store" in cache_control.lower():
        return None
    m = _MAX_AGE.search(cache_control)
    return float(m.group(1)) if m else None
