"""The embedded SQLite FTS5 index: upserts, ranking, highlights, filters, safe query text."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.index.base import IndexUnavailable, Outcome, SearchQuery
from newsflow.index.sqlite_fts import SqliteIndex, fts_query
from newsflow.core.record import Article, Enrichment, Entities, Place

SEED = Path(__file__).resolve().parents[1] / "seeds" / "us-russia-talks.txt"
T0 = datetime(2022, 1, 10, 12, 0, tzinfo=timezone.utc)


def make(
    i: int,
    title: str,
    text: str,
    *,
    source: str = "news.example",
    site: str | None = "Example News",
    language: str | None = "en",
    hint: str | None = None,
    published: datetime | None = T0,
    persons: list[str] | None = None,
    places: list[str] | None = None,
    feeds: list[str] | None = None,
) -> Article:
    enrichment = Enrichment(
        language=language,
        entities=Entities(persons=persons or [], locations=[]),
        places=[Place(name=p) for p in places or []],
        keyphrases=["diplomacy"] if i % 2 else [],
    )
    return Article.new(
        f"https://{source}/{i}",
        title=title,
        text=text,
        source=source,
        site=site,
        language_hint=hint,
        published_at=published,
        feeds=feeds or [f"https://{source}/feed"],
        enrichment=enrichment,
    )


@pytest.fixture
def index(tmp_path):
    ix = SqliteIndex(tmp_path / "index.sqlite3")
    ix.setup()
    yield ix
    ix.close()


def test_upsert_twice_keeps_one_row_and_merges_feeds(index):
    first = make(1, "Talks", "Negotiators met.", feeds=["https://a.example/feed"])
    again = first.model_copy(update={"feeds": ["https://b.example/rss"], "title": "Talks, updated"})
    assert index.write([first]) == index.write([first])  # a redelivery
    [result] = index.write([again])
    assert result.outcome is Outcome.OK and result.id == first.id
    assert index.count() == 1
    stored = index.get(first.id)
    assert stored.title == "Talks, updated"
    assert stored.feeds == ["https://a.example/feed", "https://b.example/rss"]
    # The search table follows the row: the old title no longer matches on its own.
    assert index.search(SearchQuery(text="updated")).total == 1


def test_writes_are_durable_across_a_reopen(tmp_path):
    path = tmp_path / "index.sqlite3"
    ix = SqliteIndex(path)
    ix.write([make(1, "Durable", "text")])  # setup happens on first use
    ix.close()
    again = SqliteIndex(path)
    assert again.count() == 1 and again.get(make(1, "", "").id).title == "Durable"
    again.close()


def test_search_ranks_title_matches_first_and_highlights(index):
    seed = SEED.read_text(encoding="utf-8")
    index.write(
        [
            make(1, "Ongoing US-Russia Talks: Complicated", seed),
            make(2, "Weather report", "Rain over Geneva. Some talks about the weather."),
            make(3, "Markets", "Stocks were flat."),
        ]
    )
    results = index.search(SearchQuery(text="US-Russia talks"))
    assert results.total == 1
    results = index.search(SearchQuery(text="talks"))
    assert [h.title for h in results.hits] == ["Ongoing US-Russia Talks: Complicated", "Weather report"]
    assert results.hits[0].score > results.hits[1].score
    assert "<em>" in results.hits[1].snippet and "</em>" in results.hits[1].snippet
    assert results.hits[0].article is not None and results.hits[0].url == "https://news.example/1"
    # Stemming: "negotiate" finds "negotiating".
    assert index.search(SearchQuery(text="negotiate")).total == 1


@pytest.mark.parametrize(
    "text", ['US-Russia', '"', '""', 'AND', 'OR NOT', 'NEAR(a b)', '*', 'title:talks', "'", "(", "a\"b\"c", "-"]
)
def test_user_text_never_raises_fts_syntax_errors(index, text):
    index.write([make(1, "Talks in Geneva", "US-Russia talks and more; NEAR the border, title: fine")])
    index.search(SearchQuery(text=text))  # no exception is the point
    index.search(SearchQuery(text=text, entity=text, source=text, language=text))


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
    assert index.search(SearchQuery(text='"')).total == 0  # no words, no matches


def test_filters_by_source_host_or_site_name(index):
    index.write(
        [
            make(1, "one", "talks", source="www.alpha.example", site="Alpha Times"),
            make(2, "two", "talks", source="beta.example", site="Beta Daily"),
        ]
    )
    for source in ("alpha.example", "www.alpha.example", "https://www.alpha.example/news", "ALPHA TIMES"):
        hits = index.search(SearchQuery(text="talks", source=source)).hits
        assert [h.title for h in hits] == ["one"], source
    assert index.search(SearchQuery(source="nowhere.example")).total == 0


def test_filters_by_language_detected_or_declared(index):
    index.write(
        [
            make(1, "en", "talks", language="en"),
            make(2, "de", "talks", language="de"),
            make(3, "hint", "talks", language=None, hint="de-AT"),
        ]
    )
    assert sorted(h.title for h in index.search(SearchQuery(text="talks", language="de")).hits) == ["de", "hint"]
    assert [h.title for h in index.search(SearchQuery(language="EN")).hits] == ["en"]


def test_filters_by_date_range(index):
    index.write(
        [
            make(1, "old", "talks", published=T0 - timedelta(days=10)),
            make(2, "mid", "talks", published=T0),
            make(3, "new", "talks", published=T0 + timedelta(days=10)),
        ]
    )
    hits = index.search(SearchQuery(text="talks", since=T0 - timedelta(days=1), until=T0 + timedelta(days=1))).hits
    assert [h.title for h in hits] == ["mid"]
    naive = (T0 + timedelta(days=1)).replace(tzinfo=None)  # naive means UTC
    assert sorted(h.title for h in index.search(SearchQuery(until=naive)).hits) == ["mid", "old"]
    # Without a query text: newest first.
    assert [h.title for h in index.search(SearchQuery()).hits] == ["new", "mid", "old"]


def test_filters_by_entity_case_insensitively(index):
    index.write(
        [
            make(1, "one", "talks", persons=["Sergei Ryabkov", "Wendy Sherman"]),
            make(2, "two", "talks", places=["Geneva"]),
            make(3, "three", "talks", persons=["Ryabkovich"]),
        ]
    )
    assert [h.title for h in index.search(SearchQuery(entity="sergei ryabkov")).hits] == ["one"]
    assert [h.title for h in index.search(SearchQuery(text="talks", entity="RYABKOV")).hits] == ["one"]
    assert [h.title for h in index.search(SearchQuery(entity="geneva")).hits] == ["two"]
    assert index.search(SearchQuery(entity="Ryab")).total == 0  # whole words only
    # Entities are searchable text too.
    assert [h.title for h in index.search(SearchQuery(text="sherman")).hits] == ["one"]


def test_limit_and_total(index):
    index.write([make(i, f"t{i}", "talks") for i in range(15)])
    results = index.search(SearchQuery(text="talks", limit=4))
    assert results.total == 15 and len(results.hits) == 4


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
