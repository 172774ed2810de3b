"""Split one feed list over N pollers: poller ``i`` of ``N`` takes the feeds whose host hash mod N is i.

By host, not by url: every feed of one site stays with one poller, so its per-host politeness
(one or two requests at a time, a minimum delay) still holds across the whole fleet.
The hash is a stable digest (not Python's salted ``hash``), so every poller, on any machine and
after any restart, agrees on who owns which feed, and each feed has exactly one owner.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/N"`` -> (i, N), with 0 <= i < N. Raises ValueError naming the expected form."""
    index, sep, count = spec.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"shard must be 'i/N' with 0 <= i < N (e.g. '0/4'), got {spec!r}")
    return i, n


def shard_of(url: str, count: int) -> int:
    digest = hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def take_shard(items: Iterable[T], spec: str | None, url: Callable[[T], str] = lambda f: f.url) -> list[T]:  # type: ignore[attr-defined]
    """The items of shard ``spec`` (all of them when ``spec`` is None or "0/1")."""
    if not spec:
        return list(items)
    i, n = parse_shard(spec)
    return [it for it in items if shard_of(_host(url(it)), n) == i]


def _host(url: str) -> str:
    return (urlsplit(url).hostname or url).lower()
