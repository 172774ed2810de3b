"""Articles the bus refused (ingest/retry_queue.py): kept, sent again as soon as the bus takes them
(not after the feed's min_interval), bounded in memory with the rest in the state database,
and sent after a restart without fetching their pages again. The sink refuses for a while, then
takes; the feed and its pages are served over real HTTP, the state is the real SQLite store.
The same on a real Kafka broker: tests/test_retry_queue_kafka.py."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from newsflow.ingest.config import FeedConfig, PollerConfig
from newsflow.ingest.feedstate import STATUS_DEGRADED, STATUS_OK, FeedStateStore
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.poll_stats import PollStats
from newsflow.ingest.poller import Poller
from tests.support.feeds_http import CollectingSink, LocalServer, atom_feed, html_page, stub_extract

MIN_INTERVAL = 3600.0  # no second poll of the feed within any test: what arrives came from the queue


def _config(**over: object) -> PollerConfig:
    base: dict[str, object] = dict(per_host_delay=0.0, min_interval=MIN_INTERVAL, max_interval=7200.0,
                                   default_interval=MIN_INTERVAL, allow_addresses=["127.0.0.1"],
                                   bus_retry_initial=0.05, bus_retry_max=0.2)
    base.update(over)
    return PollerConfig(**base)


def _site(server: LocalServer, n: int, prefix: str = "p") -> str:
    entries = [(f"{prefix}{i}", server.url(f"/{prefix}/{i}"), f"Article {prefix}{i}") for i in range(n)]
    server.static(f"/{prefix}-feed", atom_feed(entries), "application/atom+xml")
    for i in range(n):
        server.static(f"/{prefix}/{i}", html_page(f"{prefix}{i}"), "text/html")
    return server.url(f"/{prefix}-feed")


def _page_fetches(server: LocalServer, n: int, prefix: str = "p") -> int:
    return sum(len(server.requests(f"/{prefix}/{i}")) for i in range(n))


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Running:
    """A poller's run_forever in a thread of its own (its own loop), stopped on exit."""

    def __init__(self, config: PollerConfig, db: Path, sink, feeds: list[str]) -> None:
        self.config, self.db, self.sink, self.feeds = config, db, sink, feeds
        self.poller: Poller | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: (self._stop.wait(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
        async with Fetcher(self.config) as fetcher:
            with FeedStateStore(self.db) as store:
                self.poller = Poller(self.config, store, fetcher, stub_extract, self.sink,
                                     feeds=[FeedConfig(url=u) for u in self.feeds])
                self._ready.set()
                try:
                    await self.poller.run_forever(stop)
                finally:
                    self.poller.close()

    def __enter__(self) -> "Running":
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def _state(db: Path, url: str):
    with FeedStateStore(db) as store:
        return store.get(url), store.spilled(limit=1000)


def test_refused_articles_are_sent_again_once_the_bus_takes_them_without_another_poll(tmp_path: Path) -> None:
    n = 6
    sink = CollectingSink()
    sink.fail = True
    acked_before = _sample("newsflow_bus_retries_total", result="acked")
    with LocalServer() as server:
        feed = _site(server, n)
        with Running(_config(), tmp_path / "state.sqlite3", sink, [feed]) as run:
            assert run.poller is not None
            _wait(lambda: run.poller.refused.pending == n, 30, "every article refused and kept")
            state = run.poller.store.get(feed)
            assert state is not None and state.status == STATUS_DEGRADED and state.waiting == n
            assert _sample("newsflow_articles_waiting_for_bus") == n

            sink.fail = False  # the bus is back
            _wait(lambda: len(set(sink.ids)) == n, 30, "the kept articles to reach the bus")
            _wait(lambda: run.poller.refused.pending == 0, 30, "the queue to empty")
            state = run.poller.store.get(feed)
            assert state is not None and state.status == STATUS_OK and state.waiting == 0
            assert run.poller.store.seen_count(feed) == n
            assert len(server.requests("/p-feed")) == 1, "the articles came from the queue, not from another poll"
            assert _page_fetches(server, n) == n, "no page was fetched twice"
    assert _sample("newsflow_bus_retries_total", result="acked") - acked_before == n
    assert _sample("newsflow_bus_retries_total", result="refused") > 0


def test_over_the_memory_cap_they_wait_in_the_state_and_a_restarted_poller_sends_them(tmp_path: Path) -> None:
    n, cap = 7, 2
    db = tmp_path / "state.sqlite3"
    config = _config(bus_retry_memory=cap)
    spilled_before = _sample("newsflow_articles_spilled_total")
    refusing = CollectingSink()
    refusing.fail = True
    with LocalServer() as server:
        feed = _site(server, n)
        with Running(config, db, refusing, [feed]) as run:
            assert run.poller is not None
            most_in_memory = 0
            deadline = time.monotonic() + 30
            while run.poller.refused.pending < n:
                most_in_memory = max(most_in_memory, run.poller.refused.in_memory)
                assert time.monotonic() < deadline, "the articles were not all refused and kept"
                time.sleep(0.01)
            assert most_in_memory <= cap and run.poller.refused.in_memory <= cap
            assert _sample("newsflow_articles_spilled_total") - spilled_before == n - cap
        # Stopped while the bus refused: every kept article is in the state, the feed degraded.
        state, kept = _state(db, feed)
        assert state is not None and state.status == STATUS_DEGRADED and state.waiting == n
        assert sorted(row[2].rsplit("/", 1)[1] for row in kept) == sorted(f"p{i}" for i in range(n))  # entry ids

        taking = CollectingSink()
        with Running(config, db, taking, [feed]) as run:  # a restart, the bus back
            _wait(lambda: len(set(taking.ids)) == n, 30, "the kept articles to reach the bus after the restart")
            _wait(lambda: run.poller is not None and run.poller.refused.pending == 0, 30, "the queue to empty")
        state, kept = _state(db, feed)
        assert state is not None and state.status == STATUS_OK and state.waiting == 0 and kept == []
        assert len(server.requests("/p-feed")) == 1 and _page_fetches(server, n) == n, "something was fetched again"
        assert {a.title for a in taking.articles} == {f"Article p{i}" for i in range(n)}


def test_run_once_returns_while_the_bus_refuses_and_the_next_run_sends_what_waits(tmp_path: Path) -> None:
    n = 3
    db = tmp_path / "state.sqlite3"
    config = _config()

    async def once(sink: CollectingSink, feed: str):
        async with Fetcher(config) as fetcher:
            with FeedStateStore(db) as store:
                poller = Poller(config, store, fetcher, stub_extract, sink, feeds=[FeedConfig(url=feed)])
                try:
                    return await poller.poll_once()
                finally:
                    poller.close()

    with LocalServer() as server:
        feed = _site(server, n)
        refusing = CollectingSink()
        refusing.fail = True
        first = asyncio.run(once(refusing, feed))
        assert first.articles_emitted == 0 and first.article_errors["sink"] == n and first.articles_waiting == n
        taking = CollectingSink()
        second = asyncio.run(once(taking, feed))
        assert second.articles_emitted == n and second.articles_waiting == 0
        assert sorted(taking.ids) == sorted(set(taking.ids)) and len(taking.ids) == n
        assert _page_fetches(server, n) == n, "a page was fetched again"


class SlowRefusingSink(CollectingSink):
    """A bus that is down: each produce fails only after ``delay`` (the producer's delivery timeout)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.calls = 0

    def __call__(self, article):
        self.calls += 1
        if not self.fail:
            return super().__call__(article)
        fut: Future = Future()
        threading.Timer(self.delay, lambda: fut.set_exception(TimeoutError("delivery timed out"))).start()
        return fut


def test_while_the_bus_refuses_new_articles_queue_without_waiting_a_delivery_timeout_each(tmp_path: Path) -> None:
    """An outage longer than the delivery timeout must not hold each feed's poll for one timeout
    per article (its deadline then cut off the rest, left for the next poll minutes later)."""
    n = 8
    sink = SlowRefusingSink(delay=1.0)
    sink.fail = True
    with LocalServer() as server:
        feeds = [_site(server, n, prefix=f"f{k}") for k in range(2)]
        with Running(_config(), tmp_path / "state.sqlite3", sink, feeds) as run:
            assert run.poller is not None
            _wait(lambda: run.poller.refused.pending == 2 * n, 30, "every article kept")
            # Produced: the articles in flight when the first refusal came, and the queue's probes;
            # the others were queued at once.
            assert sink.calls < 2 * n, f"{sink.calls} produce attempts for {2 * n} articles"
            sink.fail = False
            _wait(lambda: len(set(sink.ids)) == 2 * n, 30, "the kept articles to reach the bus")
            assert all(len(server.requests(f"/f{k}-feed")) == 1 for k in range(2)), "a feed was polled again"


def test_a_backfill_queue_keeps_nothing_in_the_state_and_leaves_refused_entries_unseen(tmp_path: Path) -> None:
    """keep_refused=False (`newsflow backfill`): what the bus refused is not written for the live
    poller to send on its topic, and does not touch the live feeds' kept articles; its entries stay
    unseen, so the same backfill run again sends them."""
    from newsflow.ingest.feedparse import parse_feed

    n, live_kept = 4, 3
    db = tmp_path / "state.sqlite3"
    config = _config(bus_retry_memory=2)
    refusing = CollectingSink()
    refusing.fail = True
    with LocalServer() as server:
        live = _site(server, live_kept, prefix="live")
        with Running(config, db, refusing, [live]) as run:  # the live poller leaves articles kept in the state
            _wait(lambda: run.poller is not None and run.poller.refused.pending == live_kept, 30, "live articles kept")
        past = _site(server, n, prefix="old")
        entries = parse_feed(atom_feed([(f"old{i}", server.url(f"/old/{i}"), f"Old {i}") for i in range(n)]), past).entries

        async def backfill(sink: CollectingSink) -> int:
            async with Fetcher(config) as fetcher:
                with FeedStateStore(db) as store:
                    poller = Poller(config, store, fetcher, stub_extract, sink, keep_refused=False, sink_timeout=2.0)
                    stats = PollStats()
                    await poller.take_entries(past, entries, asyncio.Event(), stats)
                    poller.close()
                    return stats.articles_emitted

        assert asyncio.run(backfill(refusing)) == 0
        assert _page_fetches(server, n, prefix="old") == n  # each page once: no more rounds while the bus refuses
        state, kept = _state(db, live)
        assert state is not None and state.waiting == live_kept and len(kept) == live_kept  # the live feed's, untouched
        with FeedStateStore(db) as store:
            assert store.spilled_counts() == {live: live_kept}  # nothing of the backfill's
            assert store.seen_among(past, [e.entry_id for e in entries]) == set()
        taking = CollectingSink()
        assert asyncio.run(backfill(taking)) == n
        assert sorted(a.title for a in taking.articles) == sorted(f"Old {i}" for i in range(n))
