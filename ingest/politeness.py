"""Per-host politeness shared by feed and article fetches.

Each host gets at most ``per_host_concurrency`` requests in flight and request starts
at least ``per_host_delay`` seconds apart (longer for a host whose robots.txt asks it with
Crawl-delay, see ``set_delay``); a global cap bounds all hosts together.
A host's slot is taken before the global one, so a request waiting for a busy host
never holds a global slot that another host could use.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable


MAX_DELAYED_HOSTS = 10_000
Ready = Callable[[], Awaitable[None]]


@dataclass
class _Host:
    slots: asyncio.Semaphore
    spacing: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0  # monotonic time before which no request may start
    users: int = 0  # requests holding or waiting for this host (for pruning)


class HostLimiter:
    """Create inside the event loop that uses it (asyncio primitives bind to one loop)."""

    def __init__(
        self,
        per_host_concurrency: int = 1,
        per_host_delay: float = 1.0,
        concurrency: int = 32,
        max_defer: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_host_concurrency < 1 or concurrency < 1:
            raise ValueError("concurrency limits must be >= 1")
        self.per_host_concurrency = per_host_concurrency
        self.per_host_delay = max(0.0, per_host_delay)
        self.max_defer = max_defer
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, _Host] = {}
        # Hosts that asked for more spacing than per_host_delay; kept apart from _hosts, which
        # forgets idle hosts. Least recently set dropped first past MAX_DELAYED_HOSTS.
        self._delays: OrderedDict[str, float] = OrderedDict()
        self._clock = clock

    @asynccontextmanager
    async def slot(self, host: str, ready: Ready | None = None) -> AsyncIterator[None]:
        """Hold one request slot for ``host`` for the duration of the block.

        ``ready``, if given, is awaited once it is this request's turn on the host and before it
        takes a global slot: the caller's own limit (the poller's room for one more fetched
        page), so that waiting for a host's turn does not hold that room.
        """
        h = self._hosts.get(host)
        if h is None:
            if len(self._hosts) >= 1024:
                self._sweep()
            h = self._hosts[host] = _Host(asyncio.Semaphore(self.per_host_concurrency))
        h.users += 1
        try:
            async with h.slots:
                async with h.spacing:
                    # Space request starts; the lock makes waiters take turns in order.
                    wait = h.next_start - self._clock()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if ready is not None:
                        await ready()
                    h.next_start = self._clock() + self.delay(host)
                async with self._global:
                    yield
        finally:
            h.users -= 1
            if h.users == 0 and h.next_start <= self._clock():
                # Idle and not deferred: forget it, so a long run over many hosts stays small.
                del self._hosts[host]

    def _sweep(self) -> None:
        now = self._clock()
        for name in [n for n, h in self._hosts.items() if h.users == 0 and h.next_start <= now]:
            del self._hosts[name]

    def set_delay(self, host: str, seconds: float | None) -> None:
        """Space ``host``'s request starts ``seconds`` apart from now on; never less than
        ``per_host_delay``. ``None`` goes back to ``per_host_delay``."""
        if seconds is None or seconds <= self.per_host_delay:
            self._delays.pop(host, None)
            return
        self._delays[host] = seconds
        self._delays.move_to_end(host)
        while len(self._delays) > MAX_DELAYED_HOSTS:
            self._delays.popitem(last=False)

    def delay(self, host: str) -> float:
        """Seconds between request starts on ``host``."""
        return self._delays.get(host, self.per_host_delay)

    def defer(self, host: str, seconds: float) -> None:
        """Let no new request start on ``host`` for ``seconds`` (e.g. after a 429/503 Retry-After)."""
        seconds = min(max(0.0, seconds), self.max_defer)
        h = self._hosts.get(host)
        if h is None:
            h = self._hosts[host] = _Host(asyncio.Semaphore(self.per_host_concurrency))
        h.next_start = max(h.next_start, self._clock() + seconds)

    def deferred_until(self, host: str) -> float:
        h = self._hosts.get(host)
        return h.next_start if h else 0.0
