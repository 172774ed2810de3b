"""The poller: due feeds -> new entries -> article pages -> extracted Articles -> the bus.

Per poll of a feed: a conditional GET; a 304 or a body with the same hash as last time
ends the poll there (one state write, no parsing). A sitemap index is the exception: an
unchanged index says nothing about its children, which are asked again conditionally, each
with its own validators (ingest/sitemap_source.py). Otherwise the feed is parsed, and
every entry this feed has not handled yet is fetched, extracted and sent to the sink.
An entry is marked seen only once the bus acknowledged its article (at-least-once: a
crash before the ack means it is fetched again, and the stable article id makes that
harmless), or after a permanent error (404, not HTML, no text, ...), so a broken entry
is not retried forever. Transient errors (timeouts, 5xx) are retried on later polls,
a few times. A failing feed backs off but is never dropped. An article the bus refused is
not left for the next poll: the retry queue (ingest/retry_queue.py) keeps it and sends it
again as soon as the bus takes it.

Over 400 lines on purpose: one state machine (a feed's schedule, its entries, the pages held
between fetch and extraction, the stop) whose steps share the poller's state and semaphores;
split across files its at-least-once rule would be harder to check in one reading. Its data
(PollStats, PollError) lives in ingest/poll_stats.py; what a poll's outcome writes to its feed's
state (validators, health, next poll) in ingest/feed_outcome.py.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

from newsflow.ingest import metrics
from newsflow.ingest.feedparse import FeedEntry, FeedError, ParsedFeed
from newsflow.ingest.sitemap_source import SourceRead, parse_source, recheck_children
from newsflow.ingest.feedstate import FeedState, FeedStateStore
from newsflow.ingest.fetch_result import FetchError, FetchResult
from newsflow.ingest.fetcher import Fetcher
from newsflow.core.record import Article, article_id
from newsflow.core.text import truncate
from newsflow.ingest.shard import take_shard
from newsflow.ingest.schedule import ScheduleParams
from newsflow.ingest.feed_outcome import record_changed, record_failed, record_quiet
from newsflow.ingest.robots import RobotsPolicy, agent_token
from newsflow.ingest.extract.errors import ExtractionError
from newsflow.ingest.poll_stats import PollError, PollStats
from newsflow.ingest.retry_queue import Refused, RetryQueue
from newsflow.ingest.extract_workers import ExtractTimeout
from newsflow.ingest.urls import InvalidURL, canonical_url
from newsflow.ingest.config import FeedConfig, PollerConfig

if TYPE_CHECKING:
    from newsflow.ingest.archive_writer import WarcArchive

log = logging.getLogger(__name__)


class ExtractFn(Protocol):
    """Page bytes -> article. ``content_type`` is the page's HTTP header: its charset is the
    server's word on the encoding, which a page without a <meta charset> needs."""

    def __call__(self, html: bytes, url: str, entry: "FeedEntry | None", feed_url: str, *,
                 content_type: str | None = None) -> Article: ...


class ExtractPool(Protocol):
    """Extraction elsewhere (worker processes, ingest/extract_workers.py), each page with a budget."""

    workers: int

    def submit(self, html: bytes, url: str, entry: "FeedEntry | None", feed_url: str, *,
               content_type: str | None = None) -> "Future[Article]": ...


SinkFn = Callable[[Article], "Future[Any]"]

PRUNE_EVERY = 3600.0  # seconds between prunes of the state's articles table (first one at start)
# Pages fetched ahead of the extractor, per extract worker: enough to hide fetch latency (a
# fetch takes far longer than an extraction), few enough to bound memory.
PAGES_IN_FLIGHT = 16
ENTRY_CONCURRENCY = 4  # entries of one feed in flight (politeness still serialises one host)


class _PageRoom:
    """One of the places for pages held between their fetch and their extraction, taken when the
    page's request may start (its host's turn has come, see HostLimiter.slot), so an entry that
    waits on a host's politeness delay holds none. Taken before that wait, the places sat in
    politeness delays and starved the extractor (docs/performance.md has the measurement)."""

    __slots__ = ("_places", "_held")

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = False

    async def take(self) -> None:
        if not self._held:  # a redirect's next hop comes here again
            await self._places.acquire()
            self._held = True

    def release(self) -> None:
        if self._held:
            self._places.release()
            self._held = False


@dataclass
class _EntriesOutcome:
    emitted: int = 0
    pending: int = 0  # left for a later poll: over max_entries_per_poll, or a transient failure


class Poller:
    def __init__(
        self,
        config: PollerConfig,
        store: FeedStateStore,
        fetcher: Fetcher,
        extract: ExtractFn | ExtractPool,
        sink: SinkFn,
        *,
        feeds: Sequence[FeedConfig] | None = None,
        extract_workers: int = 1,
        extract_timeout: float | None = None,
        after_extract: Callable[[Article], Article] | None = None,
        max_entry_attempts: int = 3,
        sink_timeout: float = 120.0,
        clock: Callable[[], float] = time.time,
        archive: "WarcArchive | None" = None,
        keep_refused: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.robots = RobotsPolicy(fetcher, agent_token(self.config.user_agent)) if self.config.obey_robots else None
        self._extract = extract
        self._after_extract = after_extract
        # In threads (an ExtractFn) a page over the budget is given up but runs on; an ExtractPool
        # kills its worker instead.
        self.extract_timeout = extract_timeout
        extract_workers = getattr(extract, "workers", extract_workers)
        self._sink = sink
        self.max_entry_attempts = max_entry_attempts
        self.sink_timeout = sink_timeout
        self._clock = clock
        # Extraction is CPU work: off the event loop, so fetch timers and politeness keep ticking.
        self._executor = ThreadPoolExecutor(max_workers=extract_workers, thread_name_prefix="newsflow-extract")
        self._extract_workers = extract_workers
        # Pages waiting for the extractor wait here, not in the executor's queue, where a stop
        # could not reach them: hundreds of fetched pages would all be extracted before exit.
        self._extract_slots: asyncio.Semaphore | None = None
        self._pages: asyncio.Semaphore | None = None
        self._stop: asyncio.Event | None = None  # run_forever's: set, entries not begun are left
        self.stats = PollStats()  # totals over run_forever
        self._wake: asyncio.Event | None = None
        self._article_locks: dict[str, list[Any]] = {}  # article id -> [lock, users]
        self.feeds: dict[str, FeedConfig] = {}
        self._on_close: list[Callable[[], None]] = []
        # The raw archive's writes (ingest/archive_writer.py): one thread, off the event loop,
        # overlapping the page's extraction.
        self.archive = archive
        self._archive_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsflow-archive") if archive else None
        self.set_feeds(feeds or [])
        self.refused = RetryQueue(
            store, sink, memory=config.bus_retry_memory, initial=config.bus_retry_initial,
            maximum=config.bus_retry_max, sink_timeout=sink_timeout, clock=clock, persist=keep_refused,
        )

    def set_feeds(self, feeds: Iterable[FeedConfig]) -> None:
        """Replace the feed list (state of removed feeds is kept in the store); with
        ``poller.shard`` set, only this poller's share of it."""
        self.feeds = {f.url: f for f in take_shard(feeds, self.config.shard)}
        self.store.ensure_feeds(self.feeds, now=self._clock())
        if self._wake is not None:
            self._wake.set()

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` at ``close()``, after the last extraction (e.g. save what the extractor learnt)."""
        self._on_close.append(fn)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.refused.close()
        if self._archive_executor is not None and self.archive is not None:
            self._archive_executor.shutdown(wait=True)
            self.archive.close()
        for fn in self._on_close:
            try:
                fn()
            except Exception:  # shutting down: say so, and close the rest
                log.exception("poller: a close hook failed")

    # -- driving -----------------------------------------------------------------

    async def poll_once(self, stop: asyncio.Event | None = None) -> PollStats:
        """Poll every feed once, whatever its schedule (``newsflow run --once``). ``stop``: feeds not
        begun are left, and in-flight work gets ``poller.stop_grace`` seconds before it is cut off."""
        stats = PollStats()
        self._stop = stop
        limit = asyncio.Semaphore(self.config.concurrency)
        self._new_slots()
        retry_stop = asyncio.Event()
        retry = asyncio.create_task(self.refused.run(retry_stop, lambda item: self._resent(item, stats)))
        tasks = [asyncio.create_task(self._guarded(limit, feed, stats, stop)) for feed in list(self.feeds.values())]
        await self._finish(tasks, stop)
        # Articles the bus refused get one sink_timeout more; what still waits is kept for the next run.
        await self.refused.wait_empty(stop or retry_stop, self.sink_timeout)
        await self._stop_retries(retry, retry_stop)
        stats.articles_waiting = self.refused.pending
        return stats

    async def take_entries(self, feed_url: str, entries: Sequence[FeedEntry], stop: asyncio.Event,
                           stats: PollStats) -> None:
        """Entries found elsewhere than in a poll of the feed (`newsflow backfill`), handled as a
        poll's, counted in ``stats``: in rounds of ``max_entries_per_poll`` until none is left but failures."""
        self._stop = stop
        self._new_slots()
        retry_stop = asyncio.Event()
        retry = asyncio.create_task(self.refused.run(retry_stop, lambda item: self._resent(item, stats)))
        parsed = ParsedFeed(title=None, link=feed_url, entries=self._unknown(feed_url, entries, stats))
        rounds = len(parsed.entries) // self.config.max_entries_per_poll + self.max_entry_attempts + 1
        try:
            for _ in range(rounds):  # a transient failure is tried again next round, up to its attempts
                if stop.is_set():
                    break
                outcome = await self._entries(feed_url, parsed, feed_url, stats)
                await self.refused.wait_empty(stop, self.sink_timeout)
                if self.refused.pending or self.refused.dropped or not outcome.pending:
                    break  # done, or the bus refuses: no more pages fetched for it to refuse
        finally:
            await self._stop_retries(retry, retry_stop)
        stats.articles_waiting = self.refused.pending + self.refused.dropped

    def _unknown(self, feed_url: str, entries: Sequence[FeedEntry], stats: PollStats) -> list[FeedEntry]:
        """Those of ``entries`` whose article no feed has sent yet: a backfill does not fetch a page
        again that the live poller (or another source) already sent. The others count as duplicates."""
        seen = self.store.seen_among(feed_url, [e.entry_id for e in entries])
        unknown = []
        for entry in entries:
            if entry.entry_id in seen:
                stats.duplicates += 1
                continue
            try:
                aid = article_id(canonical_url(entry.link or "", base=feed_url))
            except InvalidURL:
                unknown.append(entry)  # its failure is recorded on the way
                continue
            if self.store.article_feeds(aid):
                self.store.mark_seen(feed_url, entry.entry_id, "duplicate", now=self._clock())
                stats.duplicates += 1
            else:
                unknown.append(entry)
        return unknown

    async def _stop_retries(self, retry: "asyncio.Task[None]", retry_stop: asyncio.Event) -> None:
        """Stop the retry loop; sends in flight get ``stop_grace`` seconds, then are cut off (their
        articles stay kept, and are sent again next run: the bus may then hold them twice, harmless)."""
        retry_stop.set()
        _done, pending = await asyncio.wait({retry}, timeout=self.config.stop_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(retry, return_exceptions=True)

    def _resent(self, item: Refused, stats: PollStats) -> None:
        stats.articles_emitted += 1
        metrics.ARTICLES_EXTRACTED.inc()
        log.info("article %s (sent again)", item.article.url,
                 extra={"feed": item.feed_url, "url": item.article.url, "article_id": item.article.id})

    async def _finish(self, tasks: Sequence["asyncio.Task[None]"], stop: asyncio.Event | None) -> None:
        """Wait for ``tasks``; once ``stop`` is set, for ``stop_grace`` more seconds, then cancel them.
        A cancelled entry was not marked seen: the next run fetches it again."""
        if not tasks:
            return
        pending = set(tasks)
        if stop is not None:
            stopped = asyncio.ensure_future(stop.wait())
            try:
                while pending and not stop.is_set():
                    done, pending = await asyncio.wait(pending | {stopped}, return_when=asyncio.FIRST_COMPLETED)
                    pending.discard(stopped)
            finally:
                stopped.cancel()
            if pending:
                _done, pending = await asyncio.wait(pending, timeout=self.config.stop_grace)
            for task in pending:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_forever(self, stop: asyncio.Event) -> PollStats:
        """Poll feeds as they come due until ``stop`` is set; then return once the entries being
        extracted are done. Entries not begun, and pages fetched but not yet extracted, are left
        unseen: the next run polls their feed again (at-least-once, and a bounded shutdown)."""
        self._wake = asyncio.Event()
        self._stop = stop
        self._new_slots()
        limit = asyncio.Semaphore(self.config.concurrency)
        in_flight: dict[str, asyncio.Task[None]] = {}
        # Every schedule is at least min_interval; this in-memory floor also holds when a
        # poll could not write its state, so a broken feed can never be polled in a tight loop.
        not_before: dict[str, float] = {}
        pruned_at: float | None = None
        retry = asyncio.create_task(self.refused.run(stop, lambda item: self._resent(item, self.stats)))
        while not stop.is_set():
            now = self._clock()
            if pruned_at is None or now - pruned_at >= PRUNE_EVERY:
                pruned_at = now
                self._prune_articles()
            try:
                due_at = self.store.next_polls(list(self.feeds))
            except Exception:  # e.g. the state file is locked or the disk is full: wait, retry
                log.exception("cannot read the feed schedule; retrying in 5s")
                await self._sleep(stop, 5.0)
                continue
            for url, feed in list(self.feeds.items()):
                when = max(due_at.get(url) or 0.0, not_before.get(url, 0.0))
                if url not in in_flight and when <= now:
                    not_before[url] = now + ScheduleParams.from_config(self.config, feed).min_interval
                    task = asyncio.create_task(self._guarded(limit, feed, self.stats, stop), name=f"poll {url}")
                    in_flight[url] = task
                    task.add_done_callback(lambda _t, u=url: (in_flight.pop(u, None), self._wake and self._wake.set()))
            upcoming = [
                max(t or 0.0, not_before.get(u, 0.0)) for u, t in due_at.items() if u not in in_flight and u in self.feeds
            ]
            upcoming = [t for t in upcoming if t > now]
            sleep = min(max((min(upcoming) - now) if upcoming else 60.0, 0.01), 60.0)
            await self._sleep(stop, sleep)
        # Retries in flight get the same grace as the entries; their articles stay kept if cut off.
        await self._finish([*in_flight.values(), retry], stop)
        self.stats.articles_waiting = self.refused.pending
        return self.stats

    def _prune_articles(self) -> None:
        try:
            forgotten = self.store.prune_articles(self.config.article_memory_days * 86400.0)
        except Exception:  # housekeeping: a locked or full state file must not stop polling
            log.exception("could not prune the articles table of the feed state; next try in an hour")
            return
        if forgotten:
            log.info("forgot %d articles unseen for %g days", forgotten, self.config.article_memory_days)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        assert self._wake is not None
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            self._wake.clear()

    async def _guarded(
        self, limit: asyncio.Semaphore, feed: FeedConfig, stats: PollStats, stop: asyncio.Event | None = None
    ) -> None:
        async with limit:
            if stop is not None and stop.is_set():
                return  # queued behind the concurrency limit when the daemon was told to stop: still due next run
            try:
                async with asyncio.timeout(self.config.feed_deadline):
                    await self.poll_feed(feed, stats)
            except TimeoutError:  # a slow or dripping server: what is not done is left for the next poll
                message = f"poll stopped after its {self.config.feed_deadline:g}s deadline (poller.feed_deadline); the rest waits for the next poll"
                stats.feed_errors["deadline"] += 1
                stats.add_error(PollError(feed.url, feed.url, "deadline", message))
                metrics.FEED_ERRORS.labels("deadline").inc()
                log.warning("feed %s: %s", feed.url, message, extra={"feed": feed.url, "url": feed.url, "kind": "deadline"})
            except Exception as exc:  # a bug must not stop the other feeds or the daemon
                log.exception("internal error polling %s", feed.url, extra={"feed": feed.url, "url": feed.url})
                message = f"internal error: {type(exc).__name__}: {exc}"
                try:  # back the feed off like any failing feed, so it is listed with its error
                    state = self.store.get(feed.url) or FeedState(url=feed.url, added_at=self._clock())
                    record_failed(self.store, state, ScheduleParams.from_config(self.config, feed), "internal", message, None, stats, self._clock())
                except Exception:
                    log.exception("cannot record the error of %s", feed.url, extra={"feed": feed.url, "url": feed.url})
                    stats.feed_errors["internal"] += 1
                    stats.add_error(PollError(feed.url, feed.url, "internal", message))

    # -- one feed ------------------------------------------------------------------

    async def poll_feed(self, feed: FeedConfig, stats: PollStats) -> str:
        """Poll one feed now. Returns the result: not_modified, unchanged, changed or error."""
        url = feed.url
        params = ScheduleParams.from_config(self.config, feed)
        state = self.store.get(url) or FeedState(url=url, added_at=self._clock())
        stats.feeds_polled += 1
        fetch_url = state.moved_to or url  # a feed that moved for good is polled at its new home
        try:
            res = await self.fetcher.fetch_feed(fetch_url, state.etag, state.last_modified)
        except FetchError as exc:
            if state.moved_to and exc.kind in ("http_404", "http_410"):
                log.warning("feed %s: its new url %s is gone (%s); back to the listed url", url, state.moved_to, exc,
                            extra={"feed": url, "url": state.moved_to, "kind": exc.kind})
                state.moved_to = None
            record_failed(self.store, state, params, exc.kind, str(exc), exc.retry_after, stats, self._clock())
            return "error"
        if res.moved and res.url != fetch_url:
            log.warning("feed %s moved permanently to %s: polled there from now on; update the feed list", url, res.url,
                        extra={"feed": url, "url": res.url})
            state.moved_to = None if res.url == url else res.url
        now = self._clock()
        state.last_poll = now
        if res.not_modified:
            if state.children:  # a sitemap index: a child may have changed under it
                return await self._children_rechecked(state, params, res, "not_modified", stats)
            stats.not_modified += 1
            record_quiet(self.store, state, params, res, "not_modified", now)
            return "not_modified"
        digest = hashlib.sha256(res.body).hexdigest()
        if digest == state.body_hash:
            # Same bytes under new validators (or none): nothing to parse.
            if state.children:
                return await self._children_rechecked(state, params, res, "unchanged", stats)
            stats.unchanged += 1
            record_quiet(self.store, state, params, res, "unchanged", now)
            return "unchanged"
        try:
            known = self.store.sitemap_children(url) if state.children else {}
            read = await parse_source(self.fetcher, res, self.config, source=url, known=known)  # a feed, or a sitemap
        except FeedError as exc:
            record_failed(self.store, state, params, exc.kind, str(exc), res.retry_after, stats, self._clock())
            return "error"
        parsed = read.feed
        assert parsed is not None  # a changed source always gives its entries
        stats.feeds_changed += 1
        if self._archive_executor is not None and self.archive is not None:  # a changed feed: its snapshot
            self._archive_executor.submit(self.archive.write_feed, res, feed_url=url, fetched_at=now)
        if parsed.bozo:
            stats.bozo_feeds += 1
            log.warning("ill-formed feed %s, used anyway: %s", url, parsed.bozo_reason, extra={"feed": url, "url": res.url})
        outcome = await self._entries(url, parsed, res.url, stats)
        self._remember_children(state, read, outcome)
        record_changed(self.store, state, params, res, parsed, digest, outcome.emitted, outcome.pending, self._clock(),
                       stopping=self._stopping())
        return "changed"

    async def _children_rechecked(
        self, state: FeedState, params: ScheduleParams, res: FetchResult, result: str, stats: PollStats
    ) -> str:
        """A sitemap index that answered 304 or the same bytes: its remembered children are asked
        conditionally; the urls of those that changed are handled like a changed feed's."""
        try:
            read = await recheck_children(self.fetcher, state.url, res.url, self.config, self.store.sitemap_children(state.url))
        except FeedError as exc:
            record_failed(self.store, state, params, exc.kind, str(exc), res.retry_after, stats, self._clock())
            return "error"
        if read.feed is None:
            if result == "not_modified":
                stats.not_modified += 1
            else:
                stats.unchanged += 1
            self._remember_children(state, read, _EntriesOutcome())
            record_quiet(self.store, state, params, res, result, self._clock())
            return result
        stats.feeds_changed += 1
        outcome = await self._entries(state.url, read.feed, res.url, stats)
        self._remember_children(state, read, outcome)
        record_changed(self.store, state, params, res, read.feed, state.body_hash, outcome.emitted, outcome.pending,
                       self._clock(), stopping=self._stopping())
        return "changed"

    def _remember_children(self, state: FeedState, read: SourceRead, outcome: _EntriesOutcome) -> None:
        """Write a sitemap index's children once their entries were handled (a feed's: none);
        those read anew forget their validators while entries are pending, so they are read again."""
        if not (read.children or state.children):
            return  # a feed: nothing to write
        children = read.children_to_keep(bool(outcome.pending))
        self.store.save_sitemap_children(state.url, children)
        state.children = len(children)

    # -- entries -------------------------------------------------------------------

    async def _entries(self, feed_url: str, parsed: ParsedFeed, base_url: str, stats: PollStats) -> _EntriesOutcome:
        # Ill-formed feeds repeat ids; the first occurrence wins.
        ids: set[str] = set()
        entries = [e for e in parsed.entries if not (e.entry_id in ids or ids.add(e.entry_id))]
        seen = self.store.seen_among(feed_url, [e.entry_id for e in entries])
        unseen = [e for e in entries if e.entry_id not in seen]
        # Entries whose article waits in the retry queue are not fetched again. Those held in
        # memory alone count as pending: the feed's validators stay cleared until the bus took
        # them, so after a crash the next poll reads the feed and fetches them again.
        held = self.refused.holds(feed_url, [e.entry_id for e in unseen])
        fresh = [e for e in unseen if e.entry_id not in held]
        todo = fresh[: self.config.max_entries_per_poll]
        outcome = _EntriesOutcome(pending=len(fresh) - len(todo) + self.refused.only_in_memory(feed_url, list(held)))
        limit = asyncio.Semaphore(ENTRY_CONCURRENCY)

        async def one(entry: FeedEntry) -> str:
            async with limit:
                return await self._entry(feed_url, entry, base_url, stats)

        for result in await asyncio.gather(*(one(e) for e in todo)):
            if result == "emitted":
                outcome.emitted += 1
            elif result == "retry":
                outcome.pending += 1
        return outcome

    async def _entry(self, feed_url: str, entry: FeedEntry, base_url: str, stats: PollStats) -> str:
        """Handle one new entry. Returns emitted, duplicate, failed (permanent) or retry."""
        if not entry.link:
            return self._entry_failed(feed_url, entry, None, "no_link", "entry has no link", True, stats)
        try:
            url = canonical_url(entry.link, base=base_url)
        except InvalidURL as exc:
            return self._entry_failed(feed_url, entry, entry.link, "bad_url", str(exc), True, stats)
        aid = article_id(url)
        # One entry per article at a time: a second feed carrying the same post waits for the
        # first one's ack, then sees it in ``carried`` and sends the union of both feeds.
        slot = self._article_locks.setdefault(aid, [asyncio.Lock(), 0])
        slot[1] += 1  # users, waiting or holding: the lock is dropped when the last one leaves
        try:
            async with slot[0]:
                return await self._new_entry(feed_url, entry, url, aid, stats)
        finally:
            slot[1] -= 1
            if slot[1] == 0:
                del self._article_locks[aid]

    def _new_slots(self) -> None:
        """This run's semaphores (an asyncio primitive belongs to the loop that first waits on it)."""
        self._pages = asyncio.Semaphore(PAGES_IN_FLIGHT * self._extract_workers)
        self._extract_slots = asyncio.Semaphore(self._extract_workers + 1)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _new_entry(self, feed_url: str, entry: FeedEntry, url: str, aid: str, stats: PollStats) -> str:
        if self._stopping():
            return "retry"  # not begun: the daemon is stopping, the next run takes it
        carried = self.store.article_feeds(aid)
        if feed_url in carried:
            self.store.mark_seen(feed_url, entry.entry_id, "duplicate", now=self._clock())
            stats.duplicates += 1
            return "duplicate"
        stats.entries_new += 1
        if self._pages is None or self._extract_slots is None:  # poll_feed called on its own
            self._new_slots()
        assert self._pages is not None and self._extract_slots is not None
        if self.robots is not None and not await self.robots.allowed(url):
            return self._entry_failed(feed_url, entry, url, "robots_disallowed",
                                      "the site's robots.txt disallows this page", True, stats)
        # A page is held from its fetch to its extraction: bounded, or a poller with 128 feeds
        # in flight holds 500 fetched pages waiting for the one extractor (tens of MB).
        room = _PageRoom(self._pages)
        try:
            try:
                page = await self.fetcher.fetch_page(
                    url, self.robots.allowed if self.robots is not None else None, ready=room.take)
            except FetchError as exc:
                return self._entry_failed(feed_url, entry, url, exc.kind, str(exc), exc.permanent, stats)

            archived = self._archive_page(page, feed_url, entry, aid)
            async with self._extract_slots:
                if self._stopping():
                    return "retry"  # fetched, not extracted: fetched again next run
                started = time.perf_counter()
                try:
                    article = await self._extract_page(page, entry, feed_url)
                    if archived is not None:
                        article = article.model_copy(update={"archive_ref": await archived})
                except Exception as exc:  # the extractor's "no text" and its bugs alike must not stop the poll
                    kind, permanent = _extraction_failure(exc)
                    if not permanent:
                        log.exception("extractor crashed on %s", url, extra={"feed": feed_url, "url": url})
                    return self._entry_failed(feed_url, entry, url, kind, f"{type(exc).__name__}: {exc}", permanent, stats)
                finally:
                    metrics.EXTRACTION_SECONDS.observe(time.perf_counter() - started)
        finally:
            room.release()

        # Every feed that ever carried it, under the link's id and the page's own id.
        ids = list(dict.fromkeys([aid, article.id]))
        known = [f for i in ids for f in (carried if i == aid else self.store.article_feeds(i))]
        feeds = list(dict.fromkeys([*known, *article.feeds, feed_url]))
        article = article.model_copy(update={"feeds": feeds, "original_url": article.original_url or entry.link})
        if self.refused.pending:
            # The bus is refusing: queue behind the articles already waiting rather than hold this
            # feed's poll for a sink_timeout per article (its deadline then cut the rest off).
            stats.article_errors["sink"] += 1
            metrics.ARTICLE_ERRORS.labels("sink").inc()
            self.refused.add(Refused(feed_url, entry.entry_id, ids, article))
            log.info("bus refusing; %s queued for a retry", url, extra={"feed": feed_url, "url": url, "article_id": article.id})
            return "retry"
        try:
            future = await asyncio.to_thread(self._sink, article)  # may block: bus backpressure
            await asyncio.wait_for(asyncio.wrap_future(future), self.sink_timeout)
        except Exception as exc:  # not acked: not seen; the retry queue sends it again
            stats.article_errors["sink"] += 1
            metrics.ARTICLE_ERRORS.labels("sink").inc()
            stats.add_error(PollError(feed_url, url, "sink", f"bus did not accept the article: {type(exc).__name__}: {exc}"))
            log.error("bus did not accept %s, kept for a retry: %s", url, exc,
                      extra={"feed": feed_url, "url": url, "article_id": article.id})
            self.refused.add(Refused(feed_url, entry.entry_id, ids, article))
            return "retry"
        self.store.mark_seen(feed_url, entry.entry_id, "ok", article_ids=ids, article_url=article.url, now=self._clock())
        stats.articles_emitted += 1
        metrics.ARTICLES_EXTRACTED.inc()
        log.info("article %s", url, extra={"feed": feed_url, "url": url, "article_id": article.id})
        return "emitted"

    def _archive_page(self, page: FetchResult, feed_url: str, entry: FeedEntry, aid: str) -> "asyncio.Future[str | None] | None":
        """The page's archive write, started now on the archive thread; its ref once written."""
        if self._archive_executor is None or self.archive is None:
            return None
        write = functools.partial(self.archive.write_page, page, feed_url=feed_url, entry=entry, link_id=aid,
                                  fetched_at=self._clock())
        return asyncio.get_running_loop().run_in_executor(self._archive_executor, write)

    async def _extract_page(self, page: Any, entry: FeedEntry, feed_url: str) -> Article:
        loop = asyncio.get_running_loop()
        submit = getattr(self._extract, "submit", None)
        if submit is not None:
            article = await asyncio.wrap_future(submit(page.body, page.url, entry, feed_url, content_type=page.content_type))
        else:
            begun: asyncio.Future[None] = loop.create_future()

            def run() -> Article:
                loop.call_soon_threadsafe(lambda: begun.done() or begun.set_result(None))
                return self._extract(page.body, page.url, entry, feed_url, content_type=page.content_type)

            work = loop.run_in_executor(self._executor, run)
            # The budget runs from when the page starts, not while it waits for the thread.
            await asyncio.wait({begun, work}, return_when=asyncio.FIRST_COMPLETED)
            try:
                article = await asyncio.wait_for(asyncio.shield(work), self.extract_timeout)
            except TimeoutError as exc:
                raise ExtractTimeout(f"extraction took over {self.extract_timeout:g}s (given up)") from exc
        if self._after_extract is not None:
            article = await loop.run_in_executor(self._executor, self._after_extract, article)
        return article

    def _entry_failed(
        self, feed_url: str, entry: FeedEntry, url: str | None, kind: str, message: str, permanent: bool, stats: PollStats
    ) -> str:
        url = truncate(url, 300) if url is not None else None  # a 4 MB link is quoted, not kept or logged whole
        stats.article_errors[kind] += 1
        stats.add_error(PollError(feed_url, url, kind, message))
        metrics.ARTICLE_ERRORS.labels(kind).inc()
        if permanent:
            outcome, result = kind, "failed"
        elif self.store.record_attempt(feed_url, entry.entry_id, kind) >= self.max_entry_attempts:
            outcome, result = f"gave_up:{kind}", "failed"
        else:
            outcome, result = None, "retry"
        if outcome is not None:
            self.store.mark_seen(feed_url, entry.entry_id, outcome, now=self._clock())
        log.warning(
            "entry %s of feed %s: %s (%s)%s", url or entry.entry_id, feed_url, message, kind,
            "" if result == "failed" else ", will retry", extra={"feed": feed_url, "url": url, "kind": kind},
        )
        return result


def _extraction_failure(exc: BaseException) -> tuple[str, bool]:
    """(kind, permanent): the extractor's own errors are verdicts on the page; other exceptions are bugs."""
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str) and kind:
        return kind, True
    if isinstance(exc, ExtractionError):
        return "no_text", True
    return "extract_crash", False
