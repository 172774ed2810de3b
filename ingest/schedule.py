"""When to poll a feed next. Pure functions of what we observed; no clock, no I/O.

- A feed that publishes often is polled often: about twice per expected new item,
  from the publish dates its entries carry (or, without dates, from the new entries
  found per poll), clamped into [min_interval, max_interval].
- Polls that find nothing new (304, same body) stretch the interval a little each time.
- The server's word is a floor: never earlier than Retry-After or Cache-Control
  max-age, but never later than the upper bound.
- Errors back off exponentially up to ``error_backoff_max``; a feed is never dropped.
  After ``failing_after`` errors in a row it is flagged failing and probed at most
  every ``max_interval``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from newsflow.ingest.config import FeedConfig, PollerConfig

DAY = 86400.0
RATE_WINDOW = 20  # newest entries used to estimate the publishing rate
QUIET_GROWTH = 1.25  # interval factor per poll in a row that found nothing new
QUIET_MAX_STEPS = 8
RATE_SMOOTHING = 0.3  # weight of the newest sample in the per-poll estimate


@dataclass(frozen=True)
class ScheduleParams:
    default_interval: float
    min_interval: float
    max_interval: float
    error_backoff_max: float
    failing_after: int

    @classmethod
    def from_config(cls, poller: PollerConfig, feed: FeedConfig | None = None) -> "ScheduleParams":
        lo = (feed.min_interval if feed and feed.min_interval else None) or poller.min_interval
        hi = (feed.max_interval if feed and feed.max_interval else None) or poller.max_interval
        # A per-feed bound may cross the global other bound; the override wins.
        if lo > hi:
            if feed and feed.max_interval:
                lo = hi
            else:
                hi = lo
        return cls(
            default_interval=min(max(poller.default_interval, lo), hi),
            min_interval=lo,
            max_interval=hi,
            error_backoff_max=poller.error_backoff_max,
            failing_after=poller.failing_after,
        )


def items_per_day_from_dates(published: Iterable[datetime | None], now: datetime) -> float | None:
    """Publishing rate from entry dates: the newest RATE_WINDOW entries over the time from the oldest of them to now.

    Measuring up to *now* (not to the newest entry) makes a feed that went quiet look quiet.
    Future dates count as now. None with fewer than two dated entries.
    """
    dates = sorted((min(d, now) for d in published if d is not None), reverse=True)[:RATE_WINDOW]
    if len(dates) < 2:
        return None
    span_days = (now - dates[-1]).total_seconds() / DAY
    if span_days <= 0:
        return None
    return len(dates) / span_days


def items_per_day_observed(previous: float | None, new_entries: int, elapsed_seconds: float) -> float | None:
    """Smoothed rate from new entries found since the previous poll (for feeds without dates)."""
    if elapsed_seconds <= 0:
        return previous
    sample = new_entries / (elapsed_seconds / DAY)
    if previous is None:
        return sample
    return previous * (1 - RATE_SMOOTHING) + sample * RATE_SMOOTHING


def interval_for_rate(params: ScheduleParams, items_per_day: float | None) -> float:
    if items_per_day is None:
        return params.default_interval
    if items_per_day <= 0:
        return params.max_interval
    return DAY / items_per_day / 2


def next_interval(
    params: ScheduleParams,
    *,
    items_per_day: float | None,
    quiet_polls: int = 0,
    max_age: float | None = None,
    retry_after: float | None = None,
    key: str = "",
) -> float:
    """Seconds until the next poll after a successful one (new content, 304 or same body)."""
    base = interval_for_rate(params, items_per_day) * QUIET_GROWTH ** min(max(quiet_polls, 0), QUIET_MAX_STEPS)
    interval = _spread(min(max(base, params.min_interval), params.max_interval), key, params.max_interval)
    return _server_floor(interval, max_age, retry_after, params.max_interval)


def error_interval(params: ScheduleParams, consecutive_errors: int, *, retry_after: float | None = None, key: str = "") -> float:
    """Seconds until the next try after the ``consecutive_errors``-th error in a row."""
    n = min(max(consecutive_errors, 1), 60)
    interval = params.min_interval * 2.0 ** (n - 1)
    if is_failing(params, consecutive_errors):
        interval = max(interval, params.max_interval)
    interval = _spread(min(interval, params.error_backoff_max), key, params.error_backoff_max)
    return _server_floor(interval, None, retry_after, params.error_backoff_max)


def is_failing(params: ScheduleParams, consecutive_errors: int) -> bool:
    return consecutive_errors >= params.failing_after


def _server_floor(interval: float, max_age: float | None, retry_after: float | None, cap: float) -> float:
    floor = max(max_age or 0.0, retry_after or 0.0)
    return max(interval, min(floor, cap))


def _spread(interval: float, key: str, cap: float) -> float:
    """Up to +10%, fixed per feed: feeds added together do not stay due together."""
    if not key:
        return interval
    u = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=2).digest(), "big") / 0xFFFF
    return min(interval * (1 + 0.1 * u), max(cap, interval))
