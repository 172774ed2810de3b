"""The index contract: what ``index.base.Index`` promises, proven alike on SqliteIndex and on
ElasticIndex (the real node) by the same tests (the ``backend`` fixture, tests/index/conftest.py).

Where the backends legitimately differ (query-text syntax, stemming, scores, the snippet of a
hit without query text, the language tag of a hit) the tests check what they share, the
differences are listed in ``Index``'s docstring, and each backend's own behaviour is checked in
tests/index/test_sqlite.py and tests/index/test_elastic.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsflow.core.lang import primary_language
from newsflow.core.record import Article
from newsflow.index.base import Outcome
from newsflow.index.normalise import HIGHLIGHT_POST, HIGHLIGHT_PRE, PLAIN_SNIPPET_CHARS

from .articles import SEED, T0, make, seed_article


def test_setup_is_idempotent_and_keeps_what_was_written(backend):
    article = seed_article()
    assert [r.outcome for r in backend.write([article])] == [Outcome.OK]
    backend.index.setup()
    backend.index.setup()
    assert backend.index.count() == 1
    assert backend.index.get(article.id) == article


def test_write_upserts_by_id_and_merges_feeds(backend):
    index = backend.index
    first = seed_article(feeds=["https://feed.one/rss"])
    again = seed_article(feeds=["https://feed.two/atom"], title="Updated title")
    written = backend.write([first])
    assert [r.outcome for r in written] == [Outcome.OK]
    assert backend.write([first]) == written  # a redelivery
    [result] = backend.write([again])
    assert result.outcome is Outcome.OK and result.id == first.id
    assert index.count() == 1
    stored = index.get(first.id)
    assert stored.title == "Updated title"
    assert stored.feeds == ["https://feed.one/rss", "https://feed.two/atom"]
    assert stored == again.model_copy(update={"feeds": stored.feeds})
    # The searchable text follows the record: the new title matches.
    assert backend.search(text="updated").total == 1
    # The same article twice in one batch (two feeds in one poll) keeps both feeds as well.
    dup_a = seed_article(feeds=["https://feed.three/rss"])
    dup_b = seed_article(feeds=["https://feed.four/rss"])
    assert [r.outcome for r in backend.write([dup_a, dup_b])] == [Outcome.OK, Outcome.OK]
    assert index.get(first.id).feeds == [
        "https://feed.one/rss", "https://feed.two/atom", "https://feed.three/rss", "https://feed.four/rss"
    ]  # fmt: skip
    assert index.count() == 1
    assert index.get("0" * 32) is None


def test_one_result_per_article_in_order(backend):
    articles = [make(i, f"t{i}", "text") for i in (3, 1, 2)]
    results = backend.write(articles)
    assert [r.id for r in results] == [a.id for a in articles]
    assert [r.outcome for r in results] == [Outcome.OK] * 3
    assert backend.index.write([]) == []


def test_writes_are_durable_across_a_reopen(backend):
    article = make(1, "Durable", "text")
    backend.write([article])
    again = backend.reopen()
    assert again.count() == 1 and again.get(article.id).title == "Durable"


def test_search_ranks_title_matches_first_and_highlights(backend):
    backend.write(
        [
            make(1, "Ongoing US-Russia Talks: Complicated", SEED.read_text(encoding="utf-8")),
            make(2, "Weather report", "Rain over Geneva. Some talks about the weather."),
            make(3, "Markets", "Stocks were flat."),
        ]
    )
    results = backend.search(text="talks")
    assert [h.title for h in results.hits] == ["Ongoing US-Russia Talks: Complicated", "Weather report"]
    assert results.total == 2
    assert results.hits[0].score > results.hits[1].score
    assert HIGHLIGHT_PRE in results.hits[1].snippet and HIGHLIGHT_POST in results.hits[1].snippet
    assert results.hits[0].article is not None and results.hits[0].url == "https://news.example/1"
    # Every term matches the first hit best, whatever the backend does with the others.
    assert backend.titles(text="US-Russia talks")[0] == "Ongoing US-Russia Talks: Complicated"


def test_a_hit_carries_the_article_and_a_highlighted_snippet(backend):
    seed = seed_article()
    backend.write([seed, make(1, "Markets rally on rate hopes", "Stocks rose in Frankfurt.")])
    res = backend.search(text="ryabkov")
    assert res.total == 1 and res.hits[0].id == seed.id
    hit = res.hits[0]
    assert f"{HIGHLIGHT_PRE}Ryabkov{HIGHLIGHT_POST}" in hit.snippet
    assert hit.article == seed and hit.site == "Example News"
    assert hit.url == seed.url and hit.title == seed.title and hit.published_at == T0
    assert primary_language(hit.language) == "en"
    assert [h.id for h in backend.search(text="riyadh").hits] == [seed.id]  # in the title only
    assert backend.search(text="zyxwvut").total == 0


def test_without_query_text_hits_are_newest_first_with_a_plain_snippet(backend):
    short = "Rain over Geneva."
    long = " ".join(["word"] * 100)
    backend.write([make(1, "old", short, published=T0 - timedelta(days=1)), make(2, "new", long)])
    hits = backend.search().hits
    assert [h.title for h in hits] == ["new", "old"]
    assert hits[1].snippet == short
    assert hits[0].snippet.startswith("word word") and PLAIN_SNIPPET_CHARS <= len(hits[0].snippet) < len(long)
    assert not any(HIGHLIGHT_PRE in h.snippet for h in hits)


@pytest.mark.parametrize("text", ['"', '""', "*", "-", "(", "'"])
def test_text_without_words_matches_nothing(backend, text):
    backend.write([make(1, "Talks", "peace at last")])
    assert backend.search(text=text).total == 0


def test_user_text_never_raises_syntax_errors(backend):
    backend.write([make(1, "Talks in Geneva", "US-Russia talks and more; NEAR the border, title: fine")])
    for text in ["US-Russia", '"', '""', "AND", "OR NOT", "NEAR(a b)", "*", "title:talks", "'", "(", 'a"b"c', "-"]:
        backend.search(text=text)  # no exception is the point
        backend.search(text=text, entity=text, source=text, language=text)


def test_filters_by_source_host_or_site_name(backend):
    backend.write(
        [
            make(1, "one", "talks", source="www.alpha.example", site="Alpha Times"),
            make(2, "two", "talks", source="beta.example", site="Beta Daily"),
        ]
    )
    for source in ("alpha.example", "www.alpha.example", "https://www.alpha.example/news", "ALPHA TIMES", "ALPHA.example"):
        assert backend.titles(text="talks", source=source) == ["one"], source
    for source in ("BETA.example", "https://www.beta.example/", "beta daily"):  # www. added or dropped alike
        assert backend.titles(source=source) == ["two"], source
    assert backend.search(source="nowhere.example").total == 0


def test_filters_by_language_detected_or_declared(backend):
    backend.write(
        [
            make(1, "en", "talks", language="en"),
            make(2, "de", "talks", language="de"),
            make(3, "hint", "talks", language=None, hint="de-AT"),
            Article.new("https://news.example/plain", title="plain", text="talks", language_hint="de", published_at=T0),
        ]
    )
    assert sorted(backend.titles(text="talks", language="de")) == ["de", "hint", "plain"]
    assert backend.titles(language="EN") == ["en"]
    assert backend.titles(language="en-GB") == ["en"]
    # A hit's language is the tag detected, else declared (its primary subtag: see Index).
    languages = {h.title: primary_language(h.language) for h in backend.search(language="de").hits}
    assert languages == {"de": "de", "hint": "de", "plain": "de"}


def test_filters_by_date_range(backend):
    backend.write(
        [
            make(1, "old", "talks", published=T0 - timedelta(days=10)),
            make(2, "mid", "talks", published=T0),
            make(3, "new", "talks", published=T0 + timedelta(days=10)),
        ]
    )
    assert backend.titles(text="talks", since=T0 - timedelta(days=1), until=T0 + timedelta(days=1)) == ["mid"]
    naive = (T0 + timedelta(days=1)).replace(tzinfo=None)  # naive means UTC
    assert sorted(backend.titles(until=naive)) == ["mid", "old"]
    assert backend.titles(since=T0 + timedelta(days=1)) == ["new"]
    assert backend.titles(until=T0 - timedelta(days=1)) == ["old"]
    # Without a query text: newest first.
    assert backend.titles() == ["new", "mid", "old"]


def test_date_filters_use_the_fetch_time_when_there_is_no_published_time(backend):
    undated = Article.new("https://news.example/undated", title="undated", text="talks", fetched_at=T0)
    backend.write([undated, make(1, "dated", "talks", published=T0 - timedelta(days=10))])
    assert backend.titles(since=T0 - timedelta(days=1)) == ["undated"]
    assert backend.titles(until=T0 - timedelta(days=1)) == ["dated"]
    assert backend.titles() == ["undated", "dated"]


def test_filters_by_entity_case_insensitively(backend):
    backend.write(
        [
            make(1, "one", "talks", persons=["Sergei Ryabkov", "Wendy Sherman"]),
            make(2, "two", "talks", places=["Geneva"]),
            make(3, "three", "talks", persons=["Ryabkovich"]),
        ]
    )
    assert backend.titles(entity="sergei ryabkov") == ["one"]
    assert backend.titles(text="talks", entity="RYABKOV") == ["one"]  # a word of a name
    assert backend.titles(entity="geneva") == ["two"]
    assert backend.search(entity="Ryab").total == 0  # whole words only
    assert backend.search(entity="ryabkov sherman").total == 0  # words of one name, not of two


def test_filters_by_entity_over_persons_organisations_and_places(backend):
    seed = seed_article()
    other = Article.new("https://another.example/markets", title="Markets", text="Stocks rose.", published_at=T0)
    backend.write([seed, other])

    def ids(**q) -> list[str]:
        return [h.id for h in backend.search(**q).hits]

    assert ids(entity="sergei lavrov") == [seed.id]
    assert ids(entity="Lavrov") == [seed.id]
    assert ids(entity="rubio lavrov") == []
    assert ids(entity="kremlin") == [seed.id]  # an organisation
    assert ids(entity="saudi") == []
    assert ids(entity="ukraine") == [seed.id]  # a place
    assert ids(entity="riyadh", text="markets") == []


def test_limit_and_total(backend):
    backend.write([make(i, f"t{i}", "talks") for i in range(15)])
    results = backend.search(text="talks", limit=4)
    assert results.total == 15 and len(results.hits) == 4
    results = backend.search(limit=4)
    assert results.total == 15 and len(results.hits) == 4
