"""robots.txt: may the poller fetch this article page? (RFC 9309 rules, parsed by protego.)

Feeds are not checked: an operator listed each feed url on purpose, and feeds are published for
machines. Article pages are, once per site and day: the rules are fetched through the same
``Fetcher`` (so per-host politeness and ``host_map`` apply) and kept in memory.

What a site's robots.txt answer means here:
- 2xx: its rules, for our product token (``newsflow``, from ``poller.user_agent``) or ``*``;
- 4xx (404 above all): no rules, everything allowed (RFC 9309 2.3.1.3);
- 5xx, timeouts, refused connections: the rules we last had for the site, or none, asked
  again in ``RETRY_SECONDS``. The RFC would have a crawler assume "disallow all" here; for a
  news poller that would hold back every article of a site whose robots.txt is flaky, for
  pages the site still serves, so we keep the last known rules instead.

A Crawl-delay in the group that applies to us spaces every request to the site's server (feeds
included) that many seconds apart, up to ``poller.max_crawl_delay`` (RFC 9309 leaves the field
out; many sites still set it, and polite crawlers honour it with a cap).

The entry's url is checked before it is fetched, and so is every redirect target before it is
followed (``Fetcher.fetch_page(url, allow=policy.allowed)``): a page that moved onto a disallowed
path, or to another site that disallows it, is not fetched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from protego import Protego

from newsflow.ingest.fetch_result import FetchError
from newsflow.ingest.fetcher import Fetcher

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600.0  # how long a site's rules (or their absence) are trusted
RETRY_SECONDS = 600.0  # after a failed fetch of robots.txt
MAX_SITES = 10_000  # rules kept in memory, least recently used forgotten first
MAX_ROBOTS_CHARS = 500 * 1024  # RFC 9309 2.5: parse at least the first 500 KiB


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: "newsflow/0.1 (+...)" -> "newsflow"."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


class _Rules:
    __slots__ = ("parser", "expires")

    def __init__(self, parser: Protego | None, expires: float) -> None:
        self.parser = parser  # None: no rules, everything allowed
        self.expires = expires


class RobotsPolicy:
    """Cached robots.txt rules per site (scheme://host:port), fetched on first need."""

    def __init__(self, fetcher: Fetcher, agent: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._agent = agent
        self._clock = clock
        self._sites: OrderedDict[str, _Rules] = OrderedDict()
        self._pending: dict[str, asyncio.Future[_Rules]] = {}

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return True  # not ours to judge: the fetcher rejects it with a clear error
        rules = await self._rules(f"{parts.scheme}://{parts.netloc}")
        return rules.parser is None or bool(rules.parser.can_fetch(url, self._agent))

    async def sitemaps(self, url: str) -> list[str]:
        """The absolute urls of the ``Sitemap:`` lines of ``url``'s site (feed discovery's last resort)."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        rules = await self._rules(site)
        if rules.parser is None:
            return []
        return list(dict.fromkeys(urljoin(site + "/", s.strip()) for s in rules.parser.sitemaps if s.strip()))

    async def _rules(self, site: str) -> _Rules:
        now = self._clock()
        cached = self._sites.get(site)
        if cached is not None and cached.expires > now:
            self._sites.move_to_end(site)
            return cached
        pending = self._pending.get(site)
        if pending is not None:  # another entry of this site is fetching them: wait for it
            return await asyncio.shield(pending)
        future: asyncio.Future[_Rules] = asyncio.get_running_loop().create_future()
        self._pending[site] = future
        try:
            rules = await self._fetch(site, cached)
            future.set_result(rules)
        except BaseException as exc:  # cancelled while fetching: waiters must not hang
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            del self._pending[site]
        self._sites[site] = rules
        self._sites.move_to_end(site)
        while len(self._sites) > MAX_SITES:
            self._sites.popitem(last=False)
        return rules

    async def _fetch(self, site: str, stale: _Rules | None) -> _Rules:
        url = f"{site}/robots.txt"
        try:
            result = await self._fetcher.fetch(url, headers={"Accept": "text/plain"})
        except FetchError as exc:
            status = getattr(exc, "status", None)
            if status is not None and 400 <= status < 500 and status != 429:  # 429: a busy site, not "no rules"
                self._fetcher.set_crawl_delay(url, None)
                return _Rules(None, self._clock() + TTL_SECONDS)
            log.info("robots.txt of %s unavailable (%s); %s", site, exc,
                     "keeping its last rules" if stale and stale.parser else "no rules for now",
                     extra={"url": url, "kind": getattr(exc, "kind", None)})
            return _Rules(stale.parser if stale else None, self._clock() + RETRY_SECONDS)
        text = result.body.decode("utf-8", errors="replace")[:MAX_ROBOTS_CHARS]
        parser = Protego.parse(text)
        self._apply_crawl_delay(site, url, parser)
        return _Rules(parser, self._clock() + TTL_SECONDS)

    def _apply_crawl_delay(self, site: str, url: str, parser: Protego) -> None:
        try:
            delay = parser.crawl_delay(self._agent)
        except (TypeError, ValueError):  # a malformed value is no delay, not a failed poll
            delay = None
        limit = self._fetcher.config.max_crawl_delay
        if delay is None or delay <= 0 or limit <= 0:
            self._fetcher.set_crawl_delay(url, None)
            return
        if delay > limit:
            log.warning("robots.txt of %s asks for %.0f s between requests; using poller.max_crawl_delay %.0f s",
                        site, delay, limit, extra={"url": url})
        self._fetcher.set_crawl_delay(url, min(delay, limit))
