"""The embedded SQLite FTS5 index, beyond the contract (tests/index/test_contract.py, which also
proves that no user text raises an FTS5 syntax error): its query syntax (terms ANDed, phrases,
prefixes, stemming), what it searches, and how the database's failures surface."""

from __future__ import annotations

import sqlite3

import pytest

from newsflow.index.base import IndexUnavailable, Outcome, SearchQuery
from newsflow.index.sqlite_fts import SqliteIndex, fts_query

from .articles import SEED, make


@pytest.fixture
def index(tmp_path):
    ix = SqliteIndex(tmp_path / "index.sqlite3")
    ix.setup()
    yield ix
    ix.close()


def test_setup_happens_on_first_use(tmp_path):
    ix = SqliteIndex(tmp_path / "index.sqlite3")
    assert ix.write([make(1, "Durable", "text")])[0].outcome is Outcome.OK  # no setup() before
    assert ix.count() == 1
    ix.close()


def test_all_terms_must_match_and_words_are_stemmed(index):
    index.write(
        [
            make(1, "Ongoing US-Russia Talks: Complicated", SEED.read_text(encoding="utf-8")),
            make(2, "Weather report", "Rain over Geneva. Some talks about the weather."),
            make(3, "Markets", "Stocks were flat."),
        ]
    )
    assert index.search(SearchQuery(text="US-Russia talks")).total == 1
    # Stemming: "negotiate" finds "negotiating".
    assert index.search(SearchQuery(text="negotiate")).total == 1


def test_query_building():
    assert fts_query("US-Russia") == '"US Russia"'
    assert fts_query('talks "peace deal" negot*') == '"talks" AND "peace deal" AND "negot" *'
    assert fts_query('" * -') is None
    assert fts_query("foo_bar") == '"foo bar"'


def test_terms_are_anded_and_phrases_respected(index):
    index.write(
        [
            make(1, "a", "peace deal signed in Geneva"),
            make(2, "b", "a deal for peace was not signed"),
            make(3, "c", "peace at last"),
        ]
    )
    assert index.search(SearchQuery(text="peace deal")).total == 2
    assert index.search(SearchQuery(text='"peace deal"')).total == 1
    assert index.search(SearchQuery(text="pea*")).total == 3


def test_entity_names_and_keyphrases_are_searchable_text(index):
    index.write(
        [
            make(1, "one", "talks", persons=["Sergei Ryabkov", "Wendy Sherman"]),
            make(2, "two", "talks"),  # even: no keyphrase
            make(3, "three", "talks"),  # odd: keyphrase "diplomacy"
        ]
    )
    assert [h.title for h in index.search(SearchQuery(text="sherman")).hits] == ["one"]
    assert sorted(h.title for h in index.search(SearchQuery(text="diplomacy")).hits) == ["one", "three"]


def test_a_bad_item_is_rejected_without_failing_the_batch(index):
    good = make(1, "good", "text")
    results = index.write([good, {"not": "an article"}])  # type: ignore[list-item]
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.REJECTED]
    assert index.count() == 1


def test_a_locked_database_is_index_unavailable_not_a_rejection(tmp_path):
    path = tmp_path / "index.sqlite3"
    ix = SqliteIndex(path, busy_timeout=0.1)
    ix.setup()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(IndexUnavailable):
            ix.write([make(1, "t", "text")])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert ix.write([make(1, "t", "text")])[0].outcome is Outcome.OK
    ix.close()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "index.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(IndexUnavailable, match="newer"):
        SqliteIndex(path).setup()


def test_an_index_of_schema_1_gets_the_story_tables_and_keeps_its_articles(tmp_path):
    """Schema 1 had no story column or tables: opening it adds them; its articles stay, storyless."""
    path = tmp_path / "index.sqlite3"
    ix = SqliteIndex(path)
    ix.setup()
    ix.write([make(1, "Old", "an article from before stories")])
    ix.close()
    db = sqlite3.connect(path)  # back to schema 1: as an older newsflow left it
    db.executescript("DROP INDEX articles_story; ALTER TABLE articles DROP COLUMN story_id; "
                     "DROP TABLE article_keys; DROP TABLE stories; PRAGMA user_version = 1;")
    db.close()
    ix = SqliteIndex(path)
    ix.setup()
    columns = {row[1] for row in ix._db.execute("PRAGMA table_info(articles)")}
    assert "story_id" in columns and ix._db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert ix.count() == 1 and ix.get(make(1, "Old", "x").id).title == "Old"
    assert ix.write([make(2, "New", "an article after")])[0].outcome is Outcome.OK
    ix.close()
