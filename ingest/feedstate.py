"""Per-feed poll state in SQLite, so a restart neither refetches unchanged feeds nor re-emits seen entries.

Tables:
- ``feeds``: validators, body hash, poll times, error streak and status per feed url.
- ``seen``: entry ids already handled per feed (bounded per feed, oldest evicted).
- ``entry_attempts``: transient failures per entry, so a page that keeps timing out is given up on.
- ``articles``: article id -> the feed urls that carried it (pruned: ``prune_articles``).
- ``waiting_articles``: extracted articles the bus refused that did not fit in the poller's
  memory (ingest/retry_queue.py), or were held when it stopped; sent again, then marked seen.
- ``sitemap_children``: per sitemap index source, the child sitemaps of its last poll with their
  own validators, body hash and ``lastmod`` (ingest/sitemap_source.py); replaced whole by each
  poll, so a child no longer listed is forgotten, and bounded by ``poller.sitemap_max_children``.

Times are epoch seconds (floats). One connection guarded by a lock: the poller's writes are
tiny (WAL lets readers such as ``feeds list`` in). The file has other writers: the fault
history's table on the embedded default, a `newsflow backfill` beside the poll daemon. So a
transaction that writes begins IMMEDIATE, taking the write lock first: a deferred one that read
first cannot take it once another connection committed after that read, and fails at once with
"database is locked" whatever the busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import orjson

SCHEMA_VERSION = 1

STATUS_NEW = "new"
STATUS_OK = "ok"
STATUS_ERROR = "error"  # the last poll failed
STATUS_FAILING = "failing"  # failing_after polls in a row failed: probed rarely, still listed
STATUS_DEGRADED = "degraded"  # polled fine, but articles the bus refused wait for a retry (``waiting``)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_poll REAL,
    next_poll REAL,
    last_success REAL,
    last_result TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_kind TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    items_per_day REAL,
    quiet_polls INTEGER NOT NULL DEFAULT 0,
    bozo_reason TEXT,
    added_at REAL NOT NULL,
    moved_to TEXT
);
CREATE TABLE IF NOT EXISTS seen (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_url TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seen_at REAL NOT NULL,
    UNIQUE (feed_url, entry_id)
);
CREATE INDEX IF NOT EXISTS seen_by_feed ON seen (feed_url, seq);
CREATE TABLE IF NOT EXISTS entry_attempts (
    feed_url TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_kind TEXT,
    PRIMARY KEY (feed_url, entry_id)
);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    url TEXT,
    feeds TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_by_last_seen ON articles (last_seen);
CREATE TABLE IF NOT EXISTS waiting_articles (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_url TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    article_ids TEXT NOT NULL,
    article TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (feed_url, entry_id)
);
CREATE TABLE IF NOT EXISTS sitemap_children (
    source_url TEXT NOT NULL,
    url TEXT NOT NULL,
    parent TEXT NOT NULL,
    lastmod REAL,
    read_lastmod REAL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    checked_at REAL,
    PRIMARY KEY (source_url, url)
);
"""

# While articles of a feed wait for the bus, an otherwise healthy feed shows "degraded"; a failing
# feed stays failing. Applied by every write of the status or of the count.
_DEGRADED_CASE = (
    f"CASE WHEN {{waiting}} > 0 AND {{status}} IN ('{STATUS_OK}', '{STATUS_DEGRADED}') THEN '{STATUS_DEGRADED}' "
    f"WHEN {{waiting}} = 0 AND {{status}} = '{STATUS_DEGRADED}' THEN '{STATUS_OK}' ELSE {{status}} END"
)


@dataclass
class FeedState:
    url: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_poll: float | None = None
    next_poll: float | None = None
    last_success: float | None = None
    last_result: str | None = None  # ok, not_modified, unchanged, error
    consecutive_errors: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    status: str = STATUS_NEW
    items_per_day: float | None = None
    quiet_polls: int = 0  # successful polls in a row that found nothing new
    bozo_reason: str | None = None
    added_at: float = 0.0
    moved_to: str | None = None  # where the feed answered with a permanent redirect; polled there since
    waiting: int = 0  # its articles the bus refused, waiting for a retry (kept by the retry queue, not by save)
    children: int = 0  # child sitemaps remembered for a sitemap index (kept by save_sitemap_children, not by save)

    def as_dict(self) -> dict[str, Any]:
        """For display: times as ISO-8601 UTC strings."""
        out = asdict(self)
        for key in ("last_poll", "next_poll", "last_success", "added_at"):
            if out[key]:
                out[key] = datetime.fromtimestamp(out[key], timezone.utc).isoformat(timespec="seconds")
        return out


_COLUMNS = [f.name for f in fields(FeedState)]
_SAVED = [c for c in _COLUMNS if c not in ("waiting", "children")]


@dataclass
class SitemapChild:
    """A child sitemap of a sitemap index source, as its last poll left it. Times are epoch seconds."""

    url: str
    parent: str  # the index listing it: the source's url, or a nested index
    lastmod: float | None = None  # its <lastmod> as the parent lists it
    read_lastmod: float | None = None  # the listed <lastmod> when its body was last read or confirmed
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    checked_at: float | None = None  # when its body was last read or confirmed (None: never, or to be re-read)


_CHILD_COLUMNS = [f.name for f in fields(SitemapChild)]


class FeedStateStore:
    def __init__(self, path: str | Path, seen_ids_per_feed: int = 5000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.seen_ids_per_feed = seen_ids_per_feed
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"feed state {self.path} has schema {version}, newer than this newsflow ({SCHEMA_VERSION})")
        self._db.executescript(_SCHEMA)
        # Columns added since a file was made; additive, so older newsflows still read the file.
        have = {row[1] for row in self._db.execute("PRAGMA table_info(feeds)")}
        if "moved_to" not in have:
            self._db.execute("ALTER TABLE feeds ADD COLUMN moved_to TEXT")
        if "waiting" not in have:
            self._db.execute("ALTER TABLE feeds ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0")
        if "children" not in have:
            self._db.execute("ALTER TABLE feeds ADD COLUMN children INTEGER NOT NULL DEFAULT 0")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "FeedStateStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- feeds ---------------------------------------------------------------

    def ensure_feeds(self, urls: Iterable[str], now: float | None = None) -> None:
        """Add feeds not known yet (status "new", due at once). Known feeds keep their state."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO feeds (url, status, added_at) VALUES (?, ?, ?)",
                [(u, STATUS_NEW, now) for u in urls],
            )

    def get(self, url: str) -> FeedState | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedState(*row) if row else None

    def all(self) -> list[FeedState]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feeds ORDER BY url").fetchall()
        return [FeedState(*r) for r in rows]

    def save(self, state: FeedState) -> None:
        """Write the state of one feed (all but ``waiting``, which the retry queue keeps): one
        statement, the only write of a 304/unchanged poll."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in _SAVED if c not in ("url", "status"))
        status = _DEGRADED_CASE.format(waiting="feeds.waiting", status="excluded.status")
        with self._lock:
            self._db.execute(
                f"INSERT INTO feeds ({', '.join(_SAVED)}) VALUES ({', '.join('?' * len(_SAVED))}) "
                f"ON CONFLICT (url) DO UPDATE SET {updates}, status = {status}",
                [getattr(state, c) for c in _SAVED],
            )

    def remove(self, url: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first (module doc)
            try:
                self._db.execute("DELETE FROM feeds WHERE url = ?", (url,))
                self._db.execute("DELETE FROM seen WHERE feed_url = ?", (url,))
                self._db.execute("DELETE FROM entry_attempts WHERE feed_url = ?", (url,))
                self._db.execute("DELETE FROM waiting_articles WHERE feed_url = ?", (url,))
                self._db.execute("DELETE FROM sitemap_children WHERE source_url = ?", (url,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def next_polls(self, urls: Sequence[str]) -> dict[str, float | None]:
        """url -> next poll time (None: never polled, due now) for the given feeds."""
        out: dict[str, float | None] = {}
        with self._lock:
            for chunk in _chunks(list(urls)):
                q = f"SELECT url, next_poll FROM feeds WHERE url IN ({', '.join('?' * len(chunk))})"
                out.update(self._db.execute(q, chunk).fetchall())
        return out

    # -- child sitemaps of an index -----------------------------------------------

    def sitemap_children(self, source_url: str) -> dict[str, SitemapChild]:
        """url -> the remembered child sitemaps of a sitemap index source (empty for a feed)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_CHILD_COLUMNS)} FROM sitemap_children WHERE source_url = ?", (source_url,)
            ).fetchall()
        return {r[0]: SitemapChild(*r) for r in rows}

    def save_sitemap_children(self, source_url: str, children: Iterable[SitemapChild]) -> None:
        """Replace the remembered children of a source with ``children`` (none: it is no index);
        the source's ``children`` count follows in the same transaction."""
        rows = [[source_url, *(getattr(c, name) for name in _CHILD_COLUMNS)] for c in children]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first (module doc)
            try:
                self._db.execute("DELETE FROM sitemap_children WHERE source_url = ?", (source_url,))
                self._db.executemany(
                    f"INSERT OR REPLACE INTO sitemap_children (source_url, {', '.join(_CHILD_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_CHILD_COLUMNS) + 1))})", rows,
                )
                self._db.execute("UPDATE feeds SET children = ? WHERE url = ?", (len(rows), source_url))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- entries ---------------------------------------------------------------

    def seen_among(self, feed_url: str, entry_ids: Sequence[str]) -> set[str]:
        """The ones of ``entry_ids`` already handled for this feed."""
        return self._entries_among("seen", feed_url, entry_ids)

    def _entries_among(self, table: str, feed_url: str, entry_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self._lock:
            for chunk in _chunks(list(entry_ids)):
                q = f"SELECT entry_id FROM {table} WHERE feed_url = ? AND entry_id IN ({', '.join('?' * len(chunk))})"
                found.update(r[0] for r in self._db.execute(q, [feed_url, *chunk]))
        return found

    def seen_count(self, feed_url: str) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM seen WHERE feed_url = ?", (feed_url,)).fetchone()[0]

    def mark_seen(
        self,
        feed_url: str,
        entry_id: str,
        outcome: str = "ok",
        *,
        article_ids: Sequence[str] = (),
        article_url: str | None = None,
        now: float | None = None,
    ) -> None:
        """Remember an entry as handled (after the bus acked it, or after a permanent error).

        With ``article_ids``, also records that this feed carried those articles, in the
        same transaction: either both are remembered or neither.
        """
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first (module doc)
            try:
                for aid in dict.fromkeys(article_ids):
                    self._add_article_feed(aid, article_url, feed_url, now)
                self._db.execute(
                    "INSERT OR REPLACE INTO seen (feed_url, entry_id, outcome, seen_at) VALUES (?, ?, ?, ?)",
                    (feed_url, entry_id, outcome, now),
                )
                self._db.execute("DELETE FROM entry_attempts WHERE feed_url = ? AND entry_id = ?", (feed_url, entry_id))
                self._db.execute("DELETE FROM waiting_articles WHERE feed_url = ? AND entry_id = ?", (feed_url, entry_id))
                # Evict the oldest beyond the bound (the seq index makes this a short range scan).
                self._db.execute(
                    "DELETE FROM seen WHERE feed_url = ? AND seq <= "
                    "(SELECT seq FROM seen WHERE feed_url = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (feed_url, feed_url, self.seen_ids_per_feed),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_attempt(self, feed_url: str, entry_id: str, kind: str) -> int:
        """Count a transient failure of one entry; returns the failures so far."""
        with self._lock:
            self._db.execute(
                "INSERT INTO entry_attempts (feed_url, entry_id, attempts, last_kind) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (feed_url, entry_id) DO UPDATE SET attempts = attempts + 1, last_kind = excluded.last_kind",
                (feed_url, entry_id, kind),
            )
            return self._db.execute(
                "SELECT attempts FROM entry_attempts WHERE feed_url = ? AND entry_id = ?", (feed_url, entry_id)
            ).fetchone()[0]

    # -- articles waiting for the bus ---------------------------------------------

    def spill(self, rows: Iterable[tuple[str, str, Sequence[str], bytes]], now: float | None = None) -> int:
        """Keep refused articles here: (feed url, entry id, article ids, article JSON). An entry
        already kept is left as it is. Removed by ``mark_seen`` once the bus took it."""
        now = time.time() if now is None else now
        with self._lock:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO waiting_articles (feed_url, entry_id, article_ids, article, added_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(f, e, orjson.dumps(list(ids)).decode(), bytes(a).decode(), now) for f, e, ids, a in rows],
            )
            return self._db.total_changes - before

    def spilled(self, after_seq: int = 0, limit: int = 100) -> list[tuple[int, str, str, list[str], bytes]]:
        """Kept articles, oldest first, after ``after_seq``: (seq, feed url, entry id, article ids, JSON)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, feed_url, entry_id, article_ids, article FROM waiting_articles WHERE seq > ? "
                "ORDER BY seq LIMIT ?", (after_seq, limit),
            ).fetchall()
        return [(seq, f, e, orjson.loads(ids), a.encode()) for seq, f, e, ids, a in rows]

    def spilled_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT feed_url, count(*) FROM waiting_articles GROUP BY feed_url"))

    def spilled_among(self, feed_url: str, entry_ids: Sequence[str]) -> set[str]:
        """The ones of ``entry_ids`` whose article is kept here."""
        return self._entries_among("waiting_articles", feed_url, entry_ids)

    def set_waiting(self, counts: dict[str, int], *, others_zero: bool = False) -> None:
        """Record how many articles of each feed wait for the bus (its status follows: degraded);
        ``others_zero``: feeds not in ``counts`` wait for none (at start-up)."""
        status = _DEGRADED_CASE.format(waiting="?", status="status")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first (module doc)
            try:
                if others_zero:
                    self._db.execute(f"UPDATE feeds SET waiting = 0, status = {_DEGRADED_CASE.format(waiting='0', status='status')}")
                self._db.executemany(
                    f"UPDATE feeds SET waiting = ?, status = {status} WHERE url = ?",
                    [(n, n, n, url) for url, n in counts.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- articles --------------------------------------------------------------

    def article_feeds(self, article_id: str) -> list[str]:
        with self._lock:
            row = self._db.execute("SELECT feeds FROM articles WHERE article_id = ?", (article_id,)).fetchone()
        return orjson.loads(row[0]) if row else []

    def prune_articles(self, older_than: float, now: float | None = None) -> int:
        """Forget articles last seen more than ``older_than`` seconds ago; returns how many."""
        cutoff = (time.time() if now is None else now) - older_than
        with self._lock:
            return self._db.execute("DELETE FROM articles WHERE last_seen < ?", (cutoff,)).rowcount

    def add_article_feed(self, article_id: str, url: str | None, feed_url: str, now: float | None = None) -> list[str]:
        with self._lock:
            return self._add_article_feed(article_id, url, feed_url, time.time() if now is None else now)

    def _add_article_feed(self, article_id: str, url: str | None, feed_url: str, now: float) -> list[str]:
        row = self._db.execute("SELECT feeds FROM articles WHERE article_id = ?", (article_id,)).fetchone()
        feeds = orjson.loads(row[0]) if row else []
        if feed_url not in feeds:
            feeds.append(feed_url)
        self._db.execute(
            "INSERT INTO articles (article_id, url, feeds, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (article_id) DO UPDATE SET feeds = excluded.feeds, last_seen = excluded.last_seen, "
            "url = coalesce(articles.url, excluded.url)",
            (article_id, url, orjson.dumps(feeds).decode(), now, now),
        )
        return feeds


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
