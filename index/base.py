"""The index interface, implemented by the embedded SQLite FTS5 store and by Elasticsearch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol, Sequence

from newsflow.core.errors import Transient
from newsflow.core.record import Article
from newsflow.core.story import StoryMember


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
    story_id: str | None = None  # only the members of this story
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


# The facets ``Index.overview`` counts, in the order a page shows them.
FACETS = ("site", "language", "persons", "organisations", "places")


@dataclass(frozen=True)
class Bucket:
    value: str
    count: int  # articles


@dataclass
class Overview:
    """Counts over every article a query matches (its ``limit`` aside)."""

    total: int
    facets: dict[str, list[Bucket]]  # each of FACETS -> its top values, most articles first
    days: list[Bucket]  # "YYYY-MM-DD" (UTC) -> articles, oldest first; days without any left out


@dataclass
class StoryGroup:
    """A story as seen through a query: its members among the matching articles."""

    story_id: str
    size: int  # matching members
    site_count: int  # distinct outlets among them (site name, else source host)
    first_seen: datetime | None  # the earliest member's published (else fetch) time
    members: list[Hit]  # the earliest first, at most the ``members`` asked for

    @property
    def title(self) -> str | None:
        """The first member's headline."""
        return self.members[0].title if self.members else None


class Index(Protocol):
    """An article index. SqliteIndex (embedded) and ElasticIndex implement it; one contract suite
    (tests/index/test_contract.py) runs against both.

    Both: ``write`` upserts by article id and merges the ``feeds`` of the stored and the new
    record (also for the same id twice in one batch); ``search`` ANDs its filters: ``source``
    is the host (scheme and ``www.`` ignored) or the site name, any case; ``language`` the
    primary subtag of the detected language, else of the declared one; ``since``/``until`` the
    published time, else the fetch time (naive datetimes are UTC); ``entity`` a person,
    organisation or place, any case, as the whole name or a run of whole words of one. Hits are
    ranked by relevance (higher ``score`` is better) with query text, newest first without it;
    ``total`` counts every match, ``limit`` caps the hits; snippets mark matched words with
    ``<em>…</em>``. Query text without words matches nothing; no user text raises a syntax error.
    ``story_id`` keeps the members of one story. ``overview`` and ``story_groups`` count over the
    same matches as ``search`` (both backends: a facet value and a day count articles, not
    mentions; days are UTC dates of the published, else fetch, time).

    Where they differ:

    - Visibility: SQLite's search and count see a write once it returns. Elasticsearch's
      ``get`` is realtime, its search and count are near-real-time (the template's
      ``refresh_interval``; ``ElasticIndex.refresh()`` forces it).
    - Query text: SQLite requires every term (AND), knows ``"phrases"`` and ``prefix*``, stems
      (porter) and searches title, text, entity names and keyphrases. Elasticsearch ranks
      documents matching any term (``multi_match`` best_fields over title^3, text, summary),
      without stemming or phrase/prefix syntax.
    - Scores: FTS5 bm25 (column weighted) versus Lucene BM25; only their order means anything.
    - Snippets without query text: SQLite cuts the summary, else the text, at 200 characters
      plus ``…``; Elasticsearch returns about 200 characters of the text, at a word boundary.
    - ``Hit.language``: SQLite gives the tag as detected or declared (``de-AT``),
      Elasticsearch its primary subtag (``de``).
    - Setup and rejection: SQLite sets itself up on first use and rejects (REJECTED) what
      cannot be stored as an article; Elasticsearch needs ``setup()`` (a write to a missing
      alias comes back RETRY), rejects documents its mapping or its request validation refuses
      (a bulk refused as a whole is split until those documents stand alone), and alone publishes
      feed status (``write_feed_status``, for Kibana).
    """

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

    def overview(self, query: SearchQuery, size: int = 10) -> Overview:
        """Facet counts (the ``size`` values with most articles, ties by value) and articles per
        day over what ``search(query)`` matches."""

    def story_groups(self, query: SearchQuery, limit: int = 10, members: int = 5) -> list[StoryGroup]:
        """The ``limit`` stories with most members among what ``search(query)`` matches (ties:
        story id), each with its ``members`` (at most 100) earliest members; articles without a story
        are left out."""

    def close(self) -> None: ...


# -- stories -------------------------------------------------------------------------------------

CANDIDATES = 50  # candidates one lookup returns at most: the members sharing the most keys


StoredMember = StoryMember  # an indexed article as story grouping sees it


@dataclass
class Story:
    """The facts of one story, computed from its members (``StoryStore.compute``)."""

    story_id: str
    size: int
    sites: list[str]  # distinct outlets (site name, else host), at most STORY_SITES
    site_count: int
    first_seen: datetime  # the earliest member's published (else fetched) time
    first_site: str | None
    first_article: str
    last_update: datetime  # the latest member's updated, published or fetched time
    title: str | None  # the first member's headline
    languages: list[str]


STORY_SITES = 1000


class StoryStore(Protocol):
    """Story candidates and story documents, over the article index. ElasticStories and
    SqliteStories implement it; tests/index/test_stories_contract.py runs against both.

    Members are articles written through ``Index.write`` with ``enrichment.story_*`` set. The
    story document of a story id is one row/document, replaced whole by ``put``: updating a story
    never rewrites its members. ``move`` rewrites only the members it names (merges).

    Visibility: SQLite sees every write at once; on Elasticsearch ``candidates``,
    ``story_members``, ``compute`` and ``biggest`` are searches and see writes after ``settle()``
    (a refresh), ``members`` and ``get`` are realtime.
    """

    def setup(self) -> None: ...

    def candidates(self, keys: Sequence[Sequence[str]], limit: int = CANDIDATES) -> list[list[StoredMember]]:
        """For each set of keys (``story_bands``), the members sharing at least one, those sharing
        most first (then the earliest): one list per set, in order. One round trip for a batch."""

    def members(self, ids: Sequence[str]) -> dict[str, StoredMember]:
        """The stored members with these ids (missing ones left out)."""

    def story_members(self, story_id: str) -> list[StoredMember]:
        """Every member of a story (merges only: the later story of a race is small)."""

    def move(self, updates: dict[str, dict[str, str | None]]) -> None:
        """Set story fields (``story_id``, ``story_relation``, ``story_of``, ``near_duplicate_of``)
        on the named members only."""

    def settle(self) -> None:
        """Make acknowledged writes visible to the searches above."""

    def compute(self, story_ids: Sequence[str]) -> dict[str, Story]:
        """Each story's facts from its members now; a story without members is left out."""

    def put(self, stories: Sequence[Story]) -> None:
        """Write these story documents, each replacing the one with its id."""

    def delete(self, story_ids: Sequence[str]) -> None:
        """Remove these story documents (missing ones are fine)."""

    def get(self, story_id: str) -> Story | None:
        """The stored story document."""

    def biggest(self, limit: int = 10) -> list[Story]:
        """Story documents, largest first (then earliest first seen)."""
