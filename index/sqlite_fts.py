"""The embedded index: articles in SQLite, searched through an FTS5 table.

One ``articles`` row per article id (the record JSON plus the columns filters need), its
searchable text in ``articles_fts`` (same rowid), and its entity names in ``article_entities``.
A write upserts by id, so a redelivered or re-enriched article replaces its row; the ``feeds``
of the stored and the new record are merged, so an article carried by two feeds lists both.

Search ranks by bm25 (title weighs most) and highlights the matching text with ``<em>``
(Elasticsearch's default, so the CLI renders both backends alike). User text is never passed
to FTS5 as syntax: each term becomes a quoted phrase of its words, so input such as
``US-Russia`` or a lone ``"`` cannot raise an FTS5 syntax error. Terms are ANDed;
``"two words"`` is a phrase; a trailing ``*`` makes a term a prefix.

Filters: ``source`` matches the host (``www.`` and scheme ignored) or the site name; ``language``
the primary subtag of the detected language, else of the declared one; ``since``/``until`` the
published time, else the fetch time (naive datetimes are UTC); ``entity`` a person, organisation
or place, case-insensitively, as the whole name or a run of whole words in it (``putin``
matches "Vladimir Putin").
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

from newsflow.core.lang import primary_language
from newsflow.core.record import Article, RecordError
from newsflow.index import sqlite_facets
from newsflow.index.base import (
    Hit,
    IndexUnavailable,
    Outcome,
    Overview,
    SearchQuery,
    SearchResults,
    StoryGroup,
    WriteResult,
)
from newsflow.index.normalise import (
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    article_language,
    as_utc,
    normalise_host,
    plain_snippet,
)

SCHEMA_VERSION = 2  # 2: story columns and tables (sqlite_stories.py)
_SNIPPET_TOKENS = 24

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL,
    source TEXT,
    site TEXT,
    language TEXT,
    published_at REAL,
    sort_at REAL NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_site ON articles(site);
CREATE INDEX IF NOT EXISTS articles_language ON articles(language);
CREATE INDEX IF NOT EXISTS articles_sort_at ON articles(sort_at);
CREATE TABLE IF NOT EXISTS article_entities (
    name TEXT NOT NULL,
    article INTEGER NOT NULL,
    PRIMARY KEY (name, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities(article);
CREATE TABLE IF NOT EXISTS article_keys (
    key TEXT NOT NULL,
    article INTEGER NOT NULL,
    PRIMARY KEY (key, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_keys_article ON article_keys(article);
CREATE TABLE IF NOT EXISTS stories (
    story_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_size ON stories(size);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, text, entities, keyphrases,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

# bm25 weights per FTS column: title, text, entities, keyphrases.
_BM25 = "bm25(articles_fts, 5.0, 1.0, 2.0, 2.0)"

_TERM = re.compile(r'"([^"]*)"(\*?)|(\S+)')
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as FTS5's unicode61 tokenizer splits


def fts_query(text: str) -> str | None:
    """User text -> a safe FTS5 query (quoted phrases, ANDed), or None when it has no words."""
    parts: list[str] = []
    for match in _TERM.finditer(text):
        phrase, star, bare = match.groups()
        raw = phrase if phrase is not None else bare
        prefix = bool(star) or (bare is not None and bare.endswith("*"))
        words = _WORD.findall(raw)
        if not words:
            continue
        parts.append('"' + " ".join(words) + '"' + (" *" if prefix else ""))
    return " AND ".join(parts) if parts else None


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else as_utc(value).timestamp()


def _entity_names(article: Article) -> list[str]:
    enrichment = article.enrichment
    if enrichment is None:
        return []
    names = [
        *enrichment.entities.persons,
        *enrichment.entities.organisations,
        *enrichment.entities.locations,
        *(p.name for p in enrichment.places),
    ]
    return list(dict.fromkeys(n for n in names if n and n.strip()))


def _entity_key(name: str) -> str:
    return " ".join(_WORD.findall(name.casefold()))


class SqliteIndex:
    """``Index`` over one SQLite file (``":memory:"`` works for tests)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 10.0) -> None:
        """``busy_timeout``: how long a write waits for another process's lock before the
        index counts as unavailable (the index stage then retries the batch)."""
        self.path = path
        self._lock = threading.RLock()
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
            if target != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")  # searches read while the index stage writes
            self._db.execute("PRAGMA synchronous=FULL")  # a write that returned survives a power cut
        except sqlite3.Error as exc:
            raise IndexUnavailable(f"cannot open the index {target}: {exc}") from exc
        self._ready = False

    # -- Index protocol ------------------------------------------------------------------------

    def setup(self) -> None:
        with self._lock:
            try:
                (version,) = self._db.execute("PRAGMA user_version").fetchone()
                if version > SCHEMA_VERSION:
                    raise IndexUnavailable(
                        f"index {self.path} has schema version {version}, newer than this newsflow ({SCHEMA_VERSION})"
                    )
                self._db.executescript(_SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(articles)")}
                if "story_id" not in columns:  # schema 1 -> 2: its articles have no story yet
                    self._db.execute("ALTER TABLE articles ADD COLUMN story_id TEXT")
                self._db.execute("CREATE INDEX IF NOT EXISTS articles_story ON articles(story_id)")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except sqlite3.OperationalError as exc:
                if "fts5" in str(exc).lower():
                    raise IndexUnavailable("this Python's SQLite lacks FTS5, which the embedded index needs") from exc
                raise IndexUnavailable(f"cannot set up the index {self.path}: {exc}") from exc
            self._ready = True

    def write(self, articles: Sequence[Article]) -> list[WriteResult]:
        if not articles:
            return []
        self._ensure_ready()
        results: list[WriteResult] = []
        now = time.time()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for article in articles:
                        results.append(self._upsert(article, now))
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: nothing was written
                raise IndexUnavailable(f"index write failed: {exc}") from exc
        return results

    def get(self, article_id: str) -> Article | None:
        self._ensure_ready()
        with self._lock:
            row = self._db.execute("SELECT record FROM articles WHERE id = ?", (article_id,)).fetchone()
        return Article.from_json(row[0]) if row else None

    def count(self) -> int:
        self._ensure_ready()
        with self._lock:
            return self._db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def search(self, query: SearchQuery) -> SearchResults:
        self._ensure_ready()
        where, params = self._filters(query)
        limit = max(0, query.limit)
        with self._lock:
            try:
                if query.text.strip():
                    match = fts_query(query.text)
                    if match is None:
                        return SearchResults(total=0)
                    return self._ranked(match, where, params, limit)
                return self._recent(where, params, limit)
            except sqlite3.OperationalError as exc:
                raise IndexUnavailable(f"index search failed: {exc}") from exc

    def overview(self, query: SearchQuery, size: int = 10) -> Overview:
        matching = self._matching(query)
        if matching is None:
            return Overview(total=0, facets={name: [] for name in sqlite_facets.FACETS}, days=[])
        with self._lock:
            try:
                return sqlite_facets.overview(self._db, *matching, size)
            except sqlite3.OperationalError as exc:
                raise IndexUnavailable(f"index overview failed: {exc}") from exc

    def story_groups(self, query: SearchQuery, limit: int = 10, members: int = 5) -> list[StoryGroup]:
        matching = self._matching(query)
        if matching is None:
            return []
        with self._lock:
            try:
                return sqlite_facets.story_groups(self._db, *matching, limit, members, self._plain_hit)
            except sqlite3.OperationalError as exc:
                raise IndexUnavailable(f"index story groups failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, under this index's lock (sqlite_stories.py works on the same tables)."""
        self._ensure_ready()
        with self._lock:
            yield self._db

    # -- internals ---------------------------------------------------------------------------

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.setup()

    def _upsert(self, article: Article, now: float) -> WriteResult:
        article_id = getattr(article, "id", "") or ""
        if not isinstance(article, Article):
            return WriteResult(article_id, Outcome.REJECTED, f"not an Article: {type(article).__name__}")
        self._db.execute("SAVEPOINT item")
        try:
            row = self._db.execute("SELECT rowid, record FROM articles WHERE id = ?", (article.id,)).fetchone()
            if row is not None:
                try:
                    stored = Article.from_json(row[1])
                except RecordError:
                    stored = None  # unreadable old row: the new record replaces it
                if stored is not None:
                    feeds = list(dict.fromkeys([*stored.feeds, *article.feeds]))
                    article = article.model_copy(update={"feeds": feeds})
            columns = self._columns(article, now)
            if row is None:
                cur = self._db.execute(
                    "INSERT INTO articles(id, record, source, site, language, published_at, sort_at, indexed_at, story_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (article.id, *columns),
                )
                rowid = cur.lastrowid
            else:
                rowid = row[0]
                self._db.execute(
                    "UPDATE articles SET record = ?, source = ?, site = ?, language = ?, published_at = ?, "
                    "sort_at = ?, indexed_at = ?, story_id = ? WHERE rowid = ?",
                    (*columns, rowid),
                )
                self._db.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
                self._db.execute("DELETE FROM article_entities WHERE article = ?", (rowid,))
                self._db.execute("DELETE FROM article_keys WHERE article = ?", (rowid,))
            names = _entity_names(article)
            keyphrases = article.enrichment.keyphrases if article.enrichment else []
            self._db.execute(
                "INSERT INTO articles_fts(rowid, title, text, entities, keyphrases) VALUES (?, ?, ?, ?, ?)",
                (rowid, article.title or "", article.text or "", " ; ".join(names), " ; ".join(keyphrases)),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO article_entities(name, article) VALUES (?, ?)",
                [(key, rowid) for key in {_entity_key(n) for n in names} if key],
            )
            bands = article.enrichment.story_bands if article.enrichment else []
            self._db.executemany(
                "INSERT OR IGNORE INTO article_keys(key, article) VALUES (?, ?)", [(k, rowid) for k in set(bands)]
            )
        except sqlite3.OperationalError:
            raise  # the database, not the article: fail the whole batch
        except (sqlite3.Error, ValueError, TypeError) as exc:
            self._db.execute("ROLLBACK TO item")
            self._db.execute("RELEASE item")
            return WriteResult(article_id, Outcome.REJECTED, f"{type(exc).__name__}: {exc}")
        self._db.execute("RELEASE item")
        return WriteResult(article.id, Outcome.OK)

    @staticmethod
    def _columns(article: Article, now: float) -> tuple[Any, ...]:
        published = _epoch(article.published_at)
        return (
            article.to_json().decode("utf-8"),
            normalise_host(article.source) if article.source else None,
            article.site.strip().casefold() if article.site else None,
            primary_language(article_language(article)),
            published,
            published if published is not None else _epoch(article.fetched_at),
            now,
            article.enrichment.story_id if article.enrichment else None,
        )

    @staticmethod
    def _filters(query: SearchQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if query.source and query.source.strip():
            where.append("(a.source = ? OR a.site = ?)")
            params += [normalise_host(query.source), query.source.strip().casefold()]
        if query.language and query.language.strip():
            where.append("a.language = ?")
            params.append(primary_language(query.language))
        if query.since is not None:
            where.append("a.sort_at >= ?")
            params.append(_epoch(query.since))
        if query.until is not None:
            where.append("a.sort_at <= ?")
            params.append(_epoch(query.until))
        if query.entity and query.entity.strip():
            key = _entity_key(query.entity)
            where.append(
                "a.rowid IN (SELECT article FROM article_entities WHERE name = ? OR instr(' ' || name || ' ', ?) > 0)"
            )
            params += [key, f" {key} "]
        if query.story_id and query.story_id.strip():
            where.append(f"{sqlite_facets.STORY_ID} = ?")
            params.append(query.story_id.strip())
        return where, params

    def _matching(self, query: SearchQuery) -> tuple[list[str], list[Any]] | None:
        """The conditions on ``articles a`` of what ``search(query)`` matches (its text too);
        None when the query text has no words (nothing matches)."""
        self._ensure_ready()
        where, params = self._filters(query)
        if query.text.strip():
            match = fts_query(query.text)
            if match is None:
                return None
            where.insert(0, "a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
            params.insert(0, match)
        return where, params

    def _ranked(self, match: str, where: list[str], params: list[Any], limit: int) -> SearchResults:
        conditions = " AND ".join(["articles_fts MATCH ?", *where])
        base = f"FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid WHERE {conditions}"
        total = self._db.execute(f"SELECT count(*) {base}", [match, *params]).fetchone()[0]
        rows = self._db.execute(
            f"SELECT a.record, {_BM25} AS rank, "
            f"snippet(articles_fts, 1, '{HIGHLIGHT_PRE}', '{HIGHLIGHT_POST}', '…', {_SNIPPET_TOKENS}) "
            f"{base} ORDER BY rank LIMIT ?",
            [match, *params, limit],
        ).fetchall()
        hits = [self._hit(record, -rank, snippet) for record, rank, snippet in rows]
        return SearchResults(total=total, hits=hits)

    def _recent(self, where: list[str], params: list[Any], limit: int) -> SearchResults:
        conditions = " AND ".join(where) or "1"
        total = self._db.execute(f"SELECT count(*) FROM articles a WHERE {conditions}", params).fetchone()[0]
        rows = self._db.execute(
            f"SELECT a.record FROM articles a WHERE {conditions} ORDER BY a.sort_at DESC LIMIT ?", [*params, limit]
        ).fetchall()
        return SearchResults(total=total, hits=[self._plain_hit(record) for (record,) in rows])

    @classmethod
    def _plain_hit(cls, record: str) -> Hit:
        """A hit without query text: its snippet is the start of the summary, else the text."""
        hit = cls._hit(record, 0.0, "")
        hit.snippet = plain_snippet((hit.article.summary or hit.article.text) if hit.article else "")
        return hit

    @staticmethod
    def _hit(record: str, score: float, snippet: str) -> Hit:
        article = Article.from_json(record)
        return Hit(
            id=article.id,
            score=score,
            title=article.title,
            url=article.url,
            published_at=article.published_at,
            site=article.site,
            language=article_language(article),
            snippet=snippet,
            article=article,
        )
