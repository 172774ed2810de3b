"""Articles the bus refused, kept and sent again as soon as it takes them: not left for the next poll.

When the sink refuses an article (its produce raised, failed, or was not acknowledged within
the poller's ``sink_timeout``), the poller hands the extracted article here instead of dropping
it. The queue sends the oldest one again after a backoff (exponential with jitter, from
``poller.bus_retry_initial`` up to ``poller.bus_retry_max`` seconds): one article at a time
while the bus refuses, so an outage costs one probe per backoff; once one goes through, the
rest follow in batches. An entry is marked seen only when the bus acknowledged its article, so
a crash at any point fetches it again (at-least-once).

Memory is bounded: ``poller.bus_retry_memory`` articles are held in memory; beyond that they
are written to the poller's state database (``waiting_articles``) and read back, oldest first, as
room frees. At a clean stop those still in memory are written there too, so after a restart they
are sent again without fetching their pages. A queue without ``persist`` (a backfill, whose
articles belong on another topic than the live poller's) keeps nothing in the state: what it
cannot hold is dropped unseen, and the next run of the same command fetches it again. Each feed's count of waiting articles is kept in its
state (``FeedState.waiting``, status "degraded").

Knows nothing of Kafka: the sink is any callable returning a future, as for the poller.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from newsflow.core.record import Article
from newsflow.ingest import metrics
from newsflow.ingest.feedstate import FeedStateStore

log = logging.getLogger(__name__)

SinkFn = Callable[[Article], "Future[Any]"]

BATCH = 64  # articles sent at once once the bus takes them again


@dataclass
class Refused:
    feed_url: str
    entry_id: str
    article_ids: Sequence[str]  # the ids the feed's entry is recorded under once acknowledged
    article: Article
    seq: int = 0  # its row in the state database (0: in memory only)

    @property
    def key(self) -> tuple[str, str]:
        return self.feed_url, self.entry_id


class RetryBackoff:
    """Exponential delays with full jitter between half and all of the step, capped."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum
        self.attempts = 0

    def next(self) -> float:
        step = min(self.maximum, self.initial * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return step * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempts = 0


class RetryQueue:
    def __init__(
        self, store: FeedStateStore, sink: SinkFn, *, memory: int, initial: float, maximum: float,
        sink_timeout: float, clock: Callable[[], float], persist: bool = True,
    ) -> None:
        self._store, self._sink = store, sink
        self._persist = persist
        self._memory_cap = memory
        self._backoff = RetryBackoff(initial, maximum)
        self._sink_timeout = sink_timeout
        self._clock = clock
        self._memory: dict[tuple[str, str], Refused] = {}  # insertion order: oldest first
        spilled = store.spilled_counts() if persist else {}
        self._stored = sum(spilled.values())  # rows in the state database
        self._loaded_to = 0  # the highest row read back into memory
        self._by_feed: Counter[str] = Counter(spilled)
        if persist:
            store.set_waiting(dict(self._by_feed), others_zero=True)  # a crash may have left counts behind
        self._added: asyncio.Event | None = None
        self._refusals = 0  # retries the bus refused, so far
        self._dropped: set[tuple[str, str]] = set()  # not kept (no ``persist``): left unseen for the next run
        metrics.ARTICLES_WAITING.set(self.pending)

    @property
    def pending(self) -> int:
        """Articles waiting for the bus, in memory and in the state database."""
        return self._stored + sum(1 for r in self._memory.values() if not r.seq)

    @property
    def dropped(self) -> int:
        """Refused articles a queue without ``persist`` had no room for (their entries stay unseen)."""
        return len(self._dropped)

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    def waiting(self, feed_url: str) -> int:
        return self._by_feed.get(feed_url, 0)

    def holds(self, feed_url: str, entry_ids: Sequence[str]) -> set[str]:
        """Those of ``entry_ids`` waiting here: not fetched again while their article waits."""
        held = {e for e in entry_ids if (feed_url, e) in self._memory}
        if self._stored and self._by_feed.get(feed_url):
            held |= self._store.spilled_among(feed_url, [e for e in entry_ids if e not in held])
        return held

    def only_in_memory(self, feed_url: str, entry_ids: Sequence[str]) -> int:
        """How many of ``entry_ids`` wait in memory alone: a crash would lose them."""
        return sum(1 for e in entry_ids if (r := self._memory.get((feed_url, e))) is not None and not r.seq)

    def add(self, item: Refused) -> None:
        """Keep an article the bus refused: in memory while there is room, else in the state."""
        if item.key in self._memory:
            return
        if len(self._memory) < self._memory_cap:
            self._memory[item.key] = item
        elif not self._persist:
            self._dropped.add(item.key)
            return
        else:
            if not self._store.spill([(item.feed_url, item.entry_id, item.article_ids, item.article.to_json())],
                                      now=self._clock()):
                return  # already kept there
            self._stored += 1
            metrics.ARTICLES_SPILLED.inc()
        self._count(item.feed_url, +1)
        if self._added is not None:
            self._added.set()

    def close(self) -> None:
        """At a stop: what waits in memory goes to the state database, sent again after a restart."""
        rows = [(r.feed_url, r.entry_id, r.article_ids, r.article.to_json()) for r in self._memory.values() if not r.seq]
        if not self._persist:
            if rows or self._dropped:
                log.warning("%d articles the bus refused were not sent; their entries stay unseen: run the same "
                            "command again to send them", len(rows) + len(self._dropped))
        elif rows:
            self._stored += self._store.spill(rows, now=self._clock())
            log.info("%d articles the bus refused are kept in the state for the next run", len(rows))
        self._memory.clear()

    # -- the retry loop ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event, acked: Callable[[Refused], None]) -> None:
        """Until ``stop``: send waiting articles again; ``acked(item)`` once the bus took one."""
        self._added = asyncio.Event()
        refusing = False
        while not stop.is_set():
            batch = self._take(1 if refusing else BATCH)
            if not batch:
                self._added.clear()
                await _wait_any(stop, self._added, None)
                continue
            results = await asyncio.gather(*(self._send(item) for item in batch))
            for item, ok in zip(batch, results):
                metrics.BUS_RETRIES.labels("acked" if ok else "refused").inc()
                if ok:
                    self._acked(item)
                    acked(item)
            refusing = not all(results)
            if refusing:
                self._refusals += 1
                delay = self._backoff.next()
                log.info("the bus still refuses articles; %d waiting, next try in %.1fs", self.pending, delay)
                await _wait_any(stop, None, delay)
            else:
                self._backoff.reset()

    async def wait_empty(self, stop: asyncio.Event, timeout: float) -> None:
        """Until nothing waits, the bus refuses a retry once more, ``stop``, or ``timeout`` seconds
        (``run --once``, before it returns: what still waits is kept for the next run)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        refusals = self._refusals
        while self.pending and self._refusals == refusals and not stop.is_set() and loop.time() < end:
            await _wait_any(stop, None, min(0.2, max(0.0, end - loop.time())))

    def _take(self, n: int) -> list[Refused]:
        self._refill()
        return list(self._memory.values())[:n]

    def _refill(self) -> None:
        room = self._memory_cap - len(self._memory)
        if room <= 0 or self._stored <= sum(1 for r in self._memory.values() if r.seq):
            return
        for seq, feed_url, entry_id, ids, payload in self._store.spilled(self._loaded_to, room):
            self._loaded_to = seq
            try:
                article = Article.from_json(payload)
            except ValueError:  # written by this code, so only a newer major schema: leave it for that version
                log.error("a kept article of %s cannot be read; left in the state", feed_url)
                continue
            self._memory.setdefault((feed_url, entry_id), Refused(feed_url, entry_id, ids, article, seq))

    async def _send(self, item: Refused) -> bool:
        try:
            future = await asyncio.to_thread(self._sink, item.article)
            await asyncio.wait_for(asyncio.wrap_future(future), self._sink_timeout)
        except Exception as exc:  # refused again: it stays, the loop backs off
            log.debug("retry of %s refused: %s", item.article.url, exc)
            return False
        return True

    def _acked(self, item: Refused) -> None:
        self._store.mark_seen(item.feed_url, item.entry_id, "ok", article_ids=item.article_ids,
                              article_url=item.article.url, now=self._clock())
        self._memory.pop(item.key, None)
        if item.seq:
            self._stored -= 1
        self._count(item.feed_url, -1)

    def _count(self, feed_url: str, delta: int) -> None:
        self._by_feed[feed_url] += delta
        n = max(0, self._by_feed[feed_url])
        if not n:
            del self._by_feed[feed_url]
        if self._persist:
            self._store.set_waiting({feed_url: n})
        metrics.ARTICLES_WAITING.set(self.pending)


async def _wait_any(stop: asyncio.Event, other: asyncio.Event | None, timeout: float | None) -> None:
    waits = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waits.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
