"""One small keep-alive connection pool per host, for a poller that talks to thousands of them.

Why not one ``httpx.AsyncClient``: its connection pool scans every pooled connection on each
request, so a pool big enough to keep a connection to every host a poller visits costs more CPU
than the connections save, and a small one (httpx's default, 20) is thrashed by a round over
hundreds of hosts: each poll opened a new connection. Here each host gets its own
``httpx.AsyncHTTPTransport`` (httpx's public transport API, the layer under the client) capped
at the politeness limit, so lookups stay O(1) and a host's next poll reuses its connection. The
pools of hosts not seen for a while are closed, least recently used first.

Requests go to the transport directly: the fetcher follows redirects itself (politeness per
hop), keeps no cookies and sets its own headers, so the client's layers had nothing to add but
their CPU.
"""

from __future__ import annotations

import ssl
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpcore
import httpx

from newsflow.ingest.address_guard import AddressGuard, GuardedBackend

# Pools kept open at once. A pool holds at most ``per_host`` idle connections; the ones past
# this many hosts are closed, least recently used first (they would have expired anyway).
MAX_HOST_POOLS = 512
# A polite poller comes back to a host after ``per_host_delay``; keep the connection that long.
KEEPALIVE_SECONDS = 30.0


class HostPools:
    """``async with pools.send(origin, request) as response``: the response streams; closing it
    returns the connection to its host's pool."""

    def __init__(self, per_host: int, *, proxy: str | None = None, verify: bool | str = True,
                 max_hosts: int = MAX_HOST_POOLS, guard: AddressGuard | None = None) -> None:
        self.per_host = max(1, per_host)
        self.guard = guard
        self.max_hosts = max(1, max_hosts)
        self._proxy = proxy
        # One TLS context for every pool: building one per host costs milliseconds and memory.
        self._ssl: ssl.SSLContext | bool = httpx.create_ssl_context(verify=verify) if verify is not False else False
        self._pools: OrderedDict[str, httpx.AsyncHTTPTransport] = OrderedDict()
        self._busy: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._pools)

    def _pool(self, origin: str) -> httpx.AsyncHTTPTransport:
        pool = self._pools.get(origin)
        if pool is None:
            limit = self.per_host
            pool = httpx.AsyncHTTPTransport(
                verify=self._ssl,
                proxy=self._proxy,
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit, keepalive_expiry=KEEPALIVE_SECONDS),
            )
            if self.guard is not None and self._proxy is None:
                # httpx has no public hook for httpcore's network backend: its transport's pool is
                # replaced by one that connects through the guard (tests/test_fetcher.py fails
                # if a later httpx stops using it).
                pool._pool = httpcore.AsyncConnectionPool(  # type: ignore[attr-defined]
                    ssl_context=self._ssl if not isinstance(self._ssl, bool) else httpx.create_ssl_context(verify=False),
                    max_connections=limit, max_keepalive_connections=limit, keepalive_expiry=KEEPALIVE_SECONDS,
                    network_backend=GuardedBackend(self.guard),
                )
            self._pools[origin] = pool
        else:
            self._pools.move_to_end(origin)
        return pool

    async def _evict(self) -> None:
        """Close the least recently used idle pools until at most ``max_hosts`` remain."""
        if len(self._pools) <= self.max_hosts:
            return
        for origin in list(self._pools):
            if len(self._pools) <= self.max_hosts:
                break
            if self._busy.get(origin):
                continue  # a request is in flight on it
            await self._pools.pop(origin).aclose()

    @asynccontextmanager
    async def send(self, origin: str, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        pool = self._pool(origin)
        self._busy[origin] = self._busy.get(origin, 0) + 1
        try:
            response = await pool.handle_async_request(request)
            response.request = request
            try:
                yield response
            finally:
                await response.aclose()
        finally:
            left = self._busy[origin] - 1
            if left:
                self._busy[origin] = left
            else:
                del self._busy[origin]
            await self._evict()

    async def aclose(self) -> None:
        pools, self._pools = self._pools, OrderedDict()
        for pool in pools.values():
            await pool.aclose()
