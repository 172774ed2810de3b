"""What a poll did: counts by outcome and error kind, and the error messages (the run summary,
metrics, `newsflow run --once`). Pure data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS_KEPT = 1000  # error messages kept for the run summary


@dataclass(frozen=True)
class PollError:
    feed: str
    url: str | None
    kind: str
    message: str


@dataclass
class PollStats:
    feeds_polled: int = 0
    feeds_changed: int = 0  # parsed: new body
    not_modified: int = 0
    unchanged: int = 0
    bozo_feeds: int = 0
    feed_errors: Counter[str] = field(default_factory=Counter)
    entries_new: int = 0  # entries this feed had not handled, whose page was fetched
    duplicates: int = 0  # entries whose article this feed already carried (a new guid for an old link)
    articles_emitted: int = 0
    articles_waiting: int = 0  # refused by the bus and still kept for a retry when the run ended
    article_errors: Counter[str] = field(default_factory=Counter)
    errors: list[PollError] = field(default_factory=list)

    def add_error(self, error: PollError) -> None:
        self.errors.append(error)
        if len(self.errors) > MAX_ERRORS_KEPT:
            del self.errors[: len(self.errors) - MAX_ERRORS_KEPT]

    def as_dict(self) -> dict[str, Any]:
        return {
            "feeds_polled": self.feeds_polled,
            "feeds_changed": self.feeds_changed,
            "not_modified": self.not_modified,
            "unchanged": self.unchanged,
            "bozo_feeds": self.bozo_feeds,
            "feed_errors": dict(self.feed_errors),
            "entries_new": self.entries_new,
            "duplicates": self.duplicates,
            "articles_emitted": self.articles_emitted,
            "articles_waiting": self.articles_waiting,
            "article_errors": dict(self.article_errors),
            "errors": [e.__dict__ for e in self.errors],
        }
