"""Adaptive poll intervals: pure functions, no clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from newsflow.ingest.schedule import (
    ScheduleParams,
    error_interval,
    interval_for_rate,
    is_failing,
    items_per_day_from_dates,
    items_per_day_observed,
    next_interval,
)
from newsflow.ingest.config import FeedConfig, PollerConfig

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
P = ScheduleParams(default_interval=900, min_interval=300, max_interval=21600, error_backoff_max=86400, failing_after=5)


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def test_rate_from_dates() -> None:
    # 12 entries over the last 24 hours: 12 a day.
    assert items_per_day_from_dates(hours_ago(*range(0, 24, 2)), NOW) == pytest.approx(12 * 24 / 22)
    assert items_per_day_from_dates(hours_ago(1), NOW) is None
    assert items_per_day_from_dates([None, None], NOW) is None


def test_quiet_feed_looks_quiet() -> None:
    # Two entries a minute apart, but a month ago: the rate is measured up to now.
    rate = items_per_day_from_dates(hours_ago(720, 720.02), NOW)
    assert rate is not None and rate < 0.1
    assert next_interval(P, items_per_day=rate) == P.max_interval


def test_future_dates_count_as_now() -> None:
    rate = items_per_day_from_dates([NOW + timedelta(days=30), *hours_ago(12)], NOW)
    assert rate == pytest.approx(4.0)


def test_busy_feed_polled_at_min_and_slow_feed_at_max() -> None:
    assert next_interval(P, items_per_day=1000) == P.min_interval
    assert next_interval(P, items_per_day=0.5) == P.max_interval
    assert next_interval(P, items_per_day=0) == P.max_interval
    assert next_interval(P, items_per_day=None) == P.default_interval
    # in between: half the mean gap
    assert next_interval(P, items_per_day=24) == pytest.approx(1800)
    assert interval_for_rate(P, 24) == pytest.approx(1800)


def test_quiet_polls_stretch_the_interval_within_bounds() -> None:
    steps = [next_interval(P, items_per_day=24, quiet_polls=n) for n in range(12)]
    assert steps == sorted(steps) and steps[1] > steps[0]
    assert max(steps) <= P.max_interval


def test_observed_rate_smoothing() -> None:
    assert items_per_day_observed(None, 4, 86400 / 2) == pytest.approx(8)
    smoothed = items_per_day_observed(8, 0, 86400)
    assert 0 < smoothed < 8
    assert items_per_day_observed(3.0, 5, 0) == 3.0


def test_server_floor_max_age_and_retry_after() -> None:
    assert next_interval(P, items_per_day=1000, max_age=3600) == 3600
    assert next_interval(P, items_per_day=1000, retry_after=7200, max_age=60) == 7200
    # never beyond the upper bound, whatever the server says
    assert next_interval(P, items_per_day=1000, retry_after=10 * 86400) == P.max_interval
    # a floor below our own interval changes nothing
    assert next_interval(P, items_per_day=0.5, max_age=60) == P.max_interval


def test_error_backoff_is_exponential_capped_and_flags_failing() -> None:
    intervals = [error_interval(P, n) for n in range(1, 5)]
    assert intervals == [300, 600, 1200, 2400]
    assert not is_failing(P, 4) and is_failing(P, 5)
    # failing: probed at most every max_interval, growing to error_backoff_max
    assert error_interval(P, 5) >= P.max_interval
    assert error_interval(P, 50) == P.error_backoff_max
    assert error_interval(P, 10_000) == P.error_backoff_max  # no overflow


def test_error_retry_after() -> None:
    assert error_interval(P, 1, retry_after=5000) == 5000
    assert error_interval(P, 1, retry_after=10**9) == P.error_backoff_max


def test_per_feed_spread_is_stable_and_bounded() -> None:
    a = next_interval(P, items_per_day=24, key="http://a.example/feed")
    assert a == next_interval(P, items_per_day=24, key="http://a.example/feed")
    assert 1800 <= a <= 1800 * 1.1
    assert next_interval(P, items_per_day=0.1, key="http://b.example/feed") == P.max_interval


def test_params_from_config_with_overrides() -> None:
    cfg = PollerConfig(min_interval=60, max_interval=600, default_interval=900)
    p = ScheduleParams.from_config(cfg)
    assert (p.min_interval, p.max_interval, p.default_interval) == (60, 600, 600)  # default clamped
    over = ScheduleParams.from_config(cfg, FeedConfig(url="http://x.example/f", min_interval=1200))
    assert over.min_interval == 1200 and over.max_interval == 1200
    over = ScheduleParams.from_config(cfg, FeedConfig(url="http://x.example/f", max_interval=30))
    assert over.max_interval == 30 and over.min_interval == 30
    both = ScheduleParams.from_config(cfg, FeedConfig(url="http://x.example/f", min_interval=10, max_interval=20))
    assert (both.min_interval, both.max_interval) == (10, 20)
