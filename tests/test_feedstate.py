"""Per-feed state in SQLite: survives restarts, bounded seen ids, article -> feeds."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from newsflow.ingest.feedstate import STATUS_FAILING, FeedState, FeedStateStore


def test_state_round_trip_survives_a_new_store(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    with FeedStateStore(db) as store:
        store.ensure_feeds(["http://a.example/feed", "http://b.example/feed"], now=100.0)
        state = store.get("http://a.example/feed")
        assert state is not None and state.status == "new" and state.next_poll is None and state.added_at == 100.0
        state.etag, state.last_modified, state.body_hash = '"e1"', "Wed, 01 May 2024 10:00:00 GMT", "ab" * 32
        state.next_poll, state.consecutive_errors, state.status = 500.0, 6, STATUS_FAILING
        state.last_error, state.last_error_kind, state.items_per_day = "HTTP 500", "http_5xx", 3.5
        store.save(state)
        store.mark_seen("http://a.example/feed", "entry-1", article_ids=["aid1"], article_url="http://a.example/1")
    with FeedStateStore(db) as again:
        assert again.get("http://a.example/feed") == state
        assert again.seen_among("http://a.example/feed", ["entry-1", "entry-2"]) == {"entry-1"}
        assert again.article_feeds("aid1") == ["http://a.example/feed"]
        assert [s.url for s in again.all()] == ["http://a.example/feed", "http://b.example/feed"]
        assert again.next_polls(["http://a.example/feed", "http://b.example/feed"]) == {
            "http://a.example/feed": 500.0, "http://b.example/feed": None,
        }
        # ensure_feeds keeps known state
        again.ensure_feeds(["http://a.example/feed"])
        assert again.get("http://a.example/feed").etag == '"e1"'


def test_wal_mode(tmp_path: Path) -> None:
    FeedStateStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_seen_ids_bounded_oldest_evicted(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path / "s.db", seen_ids_per_feed=10) as store:
        for n in range(15):
            store.mark_seen("f1", f"e{n}")
        store.mark_seen("f2", "other")
        assert store.seen_count("f1") == 10
        assert store.seen_among("f1", [f"e{n}" for n in range(15)]) == {f"e{n}" for n in range(5, 15)}
        assert store.seen_count("f2") == 1  # per feed
        # seeing an entry again makes it the newest: it survives the next eviction
        store.mark_seen("f1", "e5")
        store.mark_seen("f1", "e15")
        assert "e5" in store.seen_among("f1", ["e5", "e6"]) and "e6" not in store.seen_among("f1", ["e6"])


def test_attempts_counted_and_cleared(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path / "s.db") as store:
        assert store.record_attempt("f", "e", "timeout") == 1
        assert store.record_attempt("f", "e", "http_5xx") == 2
        store.mark_seen("f", "e", "gave_up:http_5xx")
        assert store.record_attempt("f", "e", "timeout") == 1


def test_article_feeds_union(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path / "s.db") as store:
        assert store.article_feeds("x") == []
        assert store.add_article_feed("x", "http://a/1", "feed-1") == ["feed-1"]
        assert store.add_article_feed("x", "http://a/1", "feed-2") == ["feed-1", "feed-2"]
        assert store.add_article_feed("x", None, "feed-1") == ["feed-1", "feed-2"]


def test_mark_seen_is_atomic_with_articles(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path / "s.db") as store:
        # The seen row fails (NOT NULL) after the article row was written: neither may stay.
        with pytest.raises(sqlite3.IntegrityError):
            store.mark_seen("f", None, article_ids=["a1"])  # type: ignore[arg-type]
        assert store.article_feeds("a1") == []
        store.mark_seen("f", "e", article_ids=["a1"])
        assert store.article_feeds("a1") == ["f"]


def test_remove_forgets_a_feed(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path / "s.db") as store:
        store.ensure_feeds(["f"])
        store.mark_seen("f", "e")
        store.remove("f")
        assert store.get("f") is None and store.seen_count("f") == 0


def test_newer_schema_refused(tmp_path: Path) -> None:
    FeedStateStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(RuntimeError, match="newer"):
        FeedStateStore(tmp_path / "s.db")


def test_threads_share_one_store(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path / "s.db") as store:
        def work(n: int) -> None:
            for i in range(50):
                store.mark_seen(f"f{n}", f"e{i}", article_ids=[f"a{i}"])
                store.save(FeedState(url=f"f{n}", consecutive_errors=i))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [store.seen_count(f"f{n}") for n in range(4)] == [50] * 4
        assert sorted(store.article_feeds("a7")) == ["f0", "f1", "f2", "f3"]
        assert store.get("f2").consecutive_errors == 49


def test_articles_unseen_for_long_are_pruned(tmp_path: Path) -> None:
    day = 86400.0
    with FeedStateStore(tmp_path / "s.db") as store:
        store.add_article_feed("old", "http://a/old", "feed-1", now=1_000_000.0)
        store.add_article_feed("kept", "http://a/kept", "feed-1", now=1_000_000.0)
        store.add_article_feed("kept", None, "feed-2", now=1_000_000.0 + 80 * day)  # seen again later
        assert store.prune_articles(90 * day, now=1_000_000.0 + 95 * day) == 1
        assert store.article_feeds("old") == []
        assert store.article_feeds("kept") == ["feed-1", "feed-2"]
        assert store.prune_articles(90 * day, now=1_000_000.0 + 95 * day) == 0


def test_a_state_file_from_before_moved_to_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as conn:  # the feeds table as the first release made it
        conn.execute("CREATE TABLE feeds (url TEXT PRIMARY KEY, title TEXT, etag TEXT, last_modified TEXT, body_hash TEXT,"
                     " last_poll REAL, next_poll REAL, last_success REAL, last_result TEXT,"
                     " consecutive_errors INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_error_kind TEXT,"
                     " status TEXT NOT NULL DEFAULT 'new', items_per_day REAL, quiet_polls INTEGER NOT NULL DEFAULT 0,"
                     " bozo_reason TEXT, added_at REAL NOT NULL)")
        conn.execute("INSERT INTO feeds (url, etag, added_at) VALUES ('http://a/feed', 'v1', 1.0)")
    conn.close()
    with FeedStateStore(db) as store:
        state = store.get("http://a/feed")
        assert state is not None and state.etag == "v1" and state.moved_to is None
        state.moved_to = "http://b/feed"
        store.save(state)
    with FeedStateStore(db) as store:
        assert store.get("http://a/feed").moved_to == "http://b/feed"


def test_writes_wait_for_another_connections_writes_instead_of_failing(tmp_path: Path) -> None:
    """The state file has other writers (the fault history's table on the embedded default, a
    backfill beside the poll daemon). A deferred transaction that read first cannot take the write
    lock once another connection committed after its read ("database is locked" at once, whatever
    the busy timeout): mark_seen's transactions take the lock first."""
    db = tmp_path / "state.sqlite3"
    with FeedStateStore(db) as store:
        store.ensure_feeds(["https://f.example/feed"])
        # Another process committing small writes all the time, until the file "stop" appears.
        chatter = subprocess.Popen([sys.executable, "-c", (
            "import sqlite3, os, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
            "db.execute('CREATE TABLE IF NOT EXISTS chatter (n INTEGER)')\n"
            "while not os.path.exists(sys.argv[2]):\n"
            "    db.execute('INSERT INTO chatter VALUES (1)')\n"
            "    time.sleep(0.0005)\n"), str(db), str(tmp_path / "stop")])
        try:
            while not _has_table(db, "chatter"):
                time.sleep(0.01)
            for n in range(300):
                store.mark_seen("https://f.example/feed", f"e{n}", "ok", article_ids=[f"a{n}"], article_url=f"https://f.example/{n}")
        finally:
            (tmp_path / "stop").touch()
            chatter.wait(30)
        assert store.article_feeds("a299") == ["https://f.example/feed"]


def _has_table(db: Path, name: str) -> bool:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None
