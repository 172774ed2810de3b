"""The index interface, implemented by the embedded SQLite FTS5 store and by Elasticsearch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol, Sequence

from newsflow.core.errors import Transient
from newsflow.core.record import Article


class Outcome(str, Enum):
    OK = "ok"
    RETRY = "retry"  # transient (429, 5xx, node down): retry with backoff, never drop
    REJECTED = "rejected"  # permanent (mapping error, bad document): dead-letter it


@dataclass(frozen=True)
class WriteResult:
    id: str
    outcome: Outcome
    error: str | None = None


class IndexUnavailable(Transient):
    """The whole index cannot be reached; the caller waits and retries the same batch."""


@dataclass
class SearchQuery:
    text: str = ""
    source: str | None = None  # host or site name
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    entity: str | None = None  # a person, organisation or place name
    limit: int = 10


@dataclass
class Hit:
    id: str
    score: float
    title: str | None
    url: str
    published_at: datetime | None
    site: str | None
    language: str | None
    snippet: str
    article: Article | None = None


@dataclass
class SearchResults:
    total: int
    hits: list[Hit] = field(default_factory=list)


class Index(Protocol):
    def setup(self) -> None:
        """Create tables / templates / aliases. Idempotent."""

    def write(self, articles: Sequence[Article]) -> list[WriteResult]:
        """Upsert by article id (redelivery never duplicates); one result per article, in order.

        Returns only once the writes are durable (committed / acknowledged by the cluster).
        Raises IndexUnavailable when nothing could be written at all.
        """

    def get(self, article_id: str) -> Article | None: ...

    def count(self) -> int: ...

    def search(self, query: SearchQuery) -> SearchResults: ...

    def close(self) -> None: ...
