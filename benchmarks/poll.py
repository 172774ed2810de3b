"""`newsflow bench poll`: one Poller against 10,000 generated feeds on a local server.

The server (``benchmarks.corpus``, its own process, so its CPU is not ours) answers on one
loopback address per host, and ``poller.host_map`` sends each logical site to its address:
politeness is keyed on the physical host, so ``--hosts`` really are separate hosts with
``per_host_concurrency = 1`` and ``per_host_delay = --delay`` each. Feeds only: every entry of
every feed is marked seen in the state store before the first pass (as after a poller's first
day), so no article page is fetched and the figures are the cost of polling feeds alone.

Passes, all through ``Poller.poll_once`` and CPU time of this process (poller thread + feed-parse
threads): 1. every feed 200 and parsed; 2. as a real second poll: 60% 304, 20% same bytes,
20% new bytes (a changing lastBuildDate, some behind a fixed ETag the server ignores), parsed,
nothing new; 3. only the 304/same-bytes feeds: the quiet poll's own cost.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


out = Console()


@dataclass
class PassResult:
    name: str
    feeds: int
    seconds: float
    cpu: float
    counts: dict[str, int]

    @property
    def rate(self) -> float:
        return self.feeds / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.feeds if self.feeds else 0.0


def seed_seen(store: object, hosts: int, n_feeds: int) -> int:
    """Mark every entry of every feed as seen, in one transaction (bench setup, not the poll path)."""
    from benchmarks.corpus import poll_entry_guid, poll_feed_entries, poll_feed_url

    rows = [
        (poll_feed_url(hosts, k), poll_entry_guid(hosts, k, i), "ok", 0.0)
        for k in range(n_feeds)
        for i in range(poll_feed_entries(k))
    ]
    db = store._db  # type: ignore[attr-defined]  # one bulk insert: mark_seen commits entry by entry
    db.execute("BEGIN")
    db.executemany("INSERT OR IGNORE INTO seen (feed_url, entry_id, outcome, seen_at) VALUES (?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    return len(rows)


def _polled_total() -> float:
    from newsflow.ingest.metrics import FEEDS_POLLED

    return sum(s.value for m in FEEDS_POLLED.collect() for s in m.samples if s.name.endswith("_total"))


async def _timed(poller: object, name: str, n: int, progress: object) -> PassResult:
    task = progress.add_task(name, total=n) if progress is not None else None  # type: ignore[attr-defined]
    base = _polled_total()

    async def tick() -> None:
        while True:
            progress.update(task, completed=_polled_total() - base)  # type: ignore[attr-defined]
            await asyncio.sleep(0.5)

    ticker = asyncio.create_task(tick()) if progress is not None else None
    wall, cpu = time.perf_counter(), time.process_time()
    stats = await poller.poll_once()  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if ticker is not None:
        ticker.cancel()
        progress.update(task, completed=n)  # type: ignore[attr-defined]
    counts = {"changed": stats.feeds_changed, "not_modified": stats.not_modified, "unchanged": stats.unchanged,
              "errors": sum(stats.feed_errors.values()), "entries_new": stats.entries_new}
    return PassResult(name, stats.feeds_polled, wall, cpu, counts)


def run_bench(n_feeds: int, hosts: int, delay: float, concurrency: int, data_dir: Path, show_progress: bool) -> list[PassResult]:
    from newsflow.ingest.feedstate import FeedStateStore
    from newsflow.ingest.fetcher import Fetcher
    from newsflow.ingest.poller import Poller
    from benchmarks.corpus import ServerProcess, feed_kind, host_map, poll_feed_url
    from newsflow.ingest.config import FeedConfig, PollerConfig

    def no_articles(*_: object) -> object:
        raise AssertionError("bench poll fetches no articles: every entry is seen")

    with ServerProcess(poll_hosts=hosts) as server:
        config = PollerConfig(
            allow_addresses=["127.0.0.0/8"],  # the corpus hosts are loopback addresses
            host_map=host_map(hosts, server.port), per_host_delay=delay, per_host_concurrency=1, concurrency=concurrency,
        )
        store = FeedStateStore(data_dir / "state.sqlite3")
        feeds = [FeedConfig(url=poll_feed_url(hosts, k)) for k in range(n_feeds)]
        quiet = [f for k, f in enumerate(feeds) if feed_kind(k) in ("etag_lm", "lm_only", "plain")]
        poller = Poller(config, store, Fetcher(config), no_articles, no_articles, feeds=feeds)  # type: ignore[arg-type]
        seed_seen(store, hosts, n_feeds)

        async def passes() -> list[PassResult]:
            from contextlib import nullcontext

            from rich.progress import Progress

            ctx = Progress(console=out, transient=True) if show_progress else nullcontext()
            try:
                with ctx as progress:
                    results = [await _timed(poller, "first pass (all 200, parsed)", n_feeds, progress)]
                    results.append(await _timed(poller, "second pass (304 / same bytes / new bytes)", n_feeds, progress))
                    poller.set_feeds(quiet)
                    results.append(await _timed(poller, "quiet feeds only (304 / same bytes)", len(quiet), progress))
                return results
            finally:
                await poller.fetcher.aclose()

        try:
            return asyncio.run(passes())
        finally:
            poller.close()
            store.close()


def bench_poll(
    feeds: int = typer.Option(10_000, min=1, help="Feeds to poll."),
    hosts: int = typer.Option(200, min=1, max=250, help="Hosts (one loopback address each) the feeds are spread over."),
    delay: float = typer.Option(0.2, min=0.0, help="poller.per_host_delay, seconds between requests to one host."),
    concurrency: int = typer.Option(64, min=1, help="poller.concurrency: feeds in flight."),
) -> None:
    """One poller, N generated feeds on a local server: feeds/s and CPU per feed, first and second pass."""
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-poll-") as tmp:
        results = run_bench(feeds, hosts, delay, concurrency, Path(tmp), sys.stdout.isatty())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor = -(-feeds // hosts) * delay
    table = Table("pass", "feeds", "seconds", "feeds/s", "CPU ms/feed", "outcomes")
    for r in results:
        outcomes = ", ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        table.add_row(r.name, str(r.feeds), f"{r.seconds:.1f}", f"{r.rate:.0f}", f"{r.cpu_ms:.2f}", outcomes)
    out.print(table)
    out.print(f"{feeds} feeds over {hosts} hosts, per_host_delay {delay}s, per_host_concurrency 1, concurrency {concurrency}: "
              f"politeness alone needs >= {floor:.1f}s a pass", highlight=False)
    first, second, quiet = results
    for r, label in ((first, "first pass"), (second, "second pass"), (quiet, "quiet poll")):
        out.print(f"{label}: {r.rate:.0f} feeds/s, {r.cpu_ms:.2f} ms CPU per feed", highlight=False)
    out.print(f"peak RSS: {rss_mb:.0f} MB (the poller's process; the server runs in its own)", highlight=False)
    out.print(f"load average at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", highlight=False)
