"""What a poll's outcome does to its feed: the state's validators, health and next poll time,
saved, counted and logged. The poller (ingest/poller.py) calls one of these per poll."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from newsflow.ingest import metrics
from newsflow.ingest.feedparse import ParsedFeed
from newsflow.ingest.feedstate import STATUS_ERROR, STATUS_FAILING, STATUS_OK, FeedState, FeedStateStore
from newsflow.ingest.fetch_result import FetchResult
from newsflow.ingest.poll_stats import PollError, PollStats
from newsflow.ingest.schedule import (
    ScheduleParams,
    error_interval,
    is_failing,
    items_per_day_from_dates,
    items_per_day_observed,
    next_interval,
)

log = logging.getLogger("newsflow.ingest.poller")  # the poller's lines, under its name


def record_quiet(store: FeedStateStore, state: FeedState, params: ScheduleParams, res: FetchResult, result: str,
                 now: float) -> None:
    """A 304 or the same bytes: the hot path, no parsing, one write."""
    state.etag = res.etag or state.etag
    state.last_modified = res.last_modified or state.last_modified
    state.quiet_polls += 1
    _succeeded(state, result, now)
    state.next_poll = now + next_interval(
        params, items_per_day=state.items_per_day, quiet_polls=state.quiet_polls,
        max_age=res.max_age, retry_after=res.retry_after, key=state.url,
    )
    store.save(state)
    metrics.FEEDS_POLLED.labels(result).inc()
    log.debug("feed %s: %s", state.url, result, extra={"feed": state.url, "url": state.url})


def record_changed(
    store: FeedStateStore, state: FeedState, params: ScheduleParams, res: FetchResult, parsed: ParsedFeed,
    digest: str | None, emitted: int, pending: int, now: float, *, stopping: bool,
) -> None:
    """A parsed feed whose entries were handled: ``emitted`` sent, ``pending`` left for later."""
    elapsed = now - (state.last_success or state.added_at or now)
    rate = items_per_day_from_dates((e.published or e.updated for e in parsed.entries), datetime.fromtimestamp(now, timezone.utc))
    state.items_per_day = rate if rate is not None else items_per_day_observed(state.items_per_day, emitted, elapsed)
    state.quiet_polls = 0 if emitted else state.quiet_polls + 1
    state.title = parsed.title or state.title
    state.bozo_reason = parsed.bozo_reason
    if pending:
        # Entries left over: no validators and no hash, so the next poll re-reads the
        # feed instead of stopping at a 304 or "unchanged"; and come back soon.
        state.etag = state.last_modified = state.body_hash = None
        # Left because the daemon stopped: due as soon as it is back.
        interval = 0.0 if stopping else max(params.min_interval, res.retry_after or 0.0)
    else:
        if res.not_modified:  # a sitemap index whose child changed: a 304 may leave its validators out
            state.etag, state.last_modified = res.etag or state.etag, res.last_modified or state.last_modified
        else:
            state.etag, state.last_modified, state.body_hash = res.etag, res.last_modified, digest
        interval = next_interval(
            params, items_per_day=state.items_per_day, quiet_polls=state.quiet_polls,
            max_age=res.max_age, retry_after=res.retry_after, key=state.url,
        )
    _succeeded(state, "ok", now)
    state.next_poll = now + interval
    store.save(state)
    metrics.FEEDS_POLLED.labels("bozo" if parsed.bozo else "ok").inc()
    log.info(
        "feed %s: %d entries, %d articles emitted, %d pending", state.url, len(parsed.entries), emitted,
        pending, extra={"feed": state.url, "url": res.url},
    )


def record_failed(
    store: FeedStateStore, state: FeedState, params: ScheduleParams, kind: str, message: str,
    retry_after: float | None, stats: PollStats, now: float,
) -> None:
    """The feed could not be polled: backed off, and "failing" after ``failing_after`` in a row."""
    state.last_poll = now
    state.last_result = "error"
    state.consecutive_errors += 1
    state.last_error, state.last_error_kind = message, kind
    was_failing = state.status == STATUS_FAILING
    state.status = STATUS_FAILING if is_failing(params, state.consecutive_errors) else STATUS_ERROR
    state.next_poll = now + error_interval(params, state.consecutive_errors, retry_after=retry_after, key=state.url)
    store.save(state)
    stats.feed_errors[kind] += 1
    stats.add_error(PollError(state.url, state.url, kind, message))
    metrics.FEEDS_POLLED.labels("error").inc()
    metrics.FEED_ERRORS.labels(kind).inc()
    level = logging.ERROR if state.status == STATUS_FAILING and not was_failing else logging.WARNING
    log.log(
        level, "feed %s: %s (%s), error %d in a row, status %s, next try in %.0fs", state.url, message, kind,
        state.consecutive_errors, state.status, state.next_poll - now, extra={"feed": state.url, "url": state.url},
    )


def _succeeded(state: FeedState, result: str, now: float) -> None:
    state.last_result = result
    state.last_success = now
    state.consecutive_errors = 0
    state.last_error = state.last_error_kind = None
    state.status = STATUS_OK
