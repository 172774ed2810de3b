"""The read side a page needs beyond ``search``: ``overview`` (facet counts, articles per day) and
``story_groups`` (stories among the matches), and the ``story_id`` filter; proven alike on
SqliteIndex and on ElasticIndex (the ``backend`` fixture, tests/index/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

from newsflow.core.record import Article, Entities
from newsflow.index.base import FACETS, Bucket, SearchQuery

from .articles import T0, make

DAY = timedelta(days=1)


def member(article: Article, story: str | None, organisations: tuple[str, ...] = ()) -> Article:
    e = article.enrichment
    entities = Entities(persons=e.entities.persons, organisations=list(organisations), locations=[])
    enrichment = e.model_copy(update={"story_id": story, "story_relation": "near_copy" if story else None, "entities": entities})
    return article.model_copy(update={"enrichment": enrichment})


def corpus() -> list[Article]:
    """Three stories of sizes 3, 2 and 1 over three days, and one article without a story."""
    return [
        member(make(1, "Talks open in Riyadh", "talks in riyadh", site="Wire A", persons=["Marco Rubio"],
                    places=["Riyadh"], published=T0 - DAY), "s-big", ("Kremlin",)),
        member(make(2, "Talks open (copy)", "talks in riyadh", source="b.example", site="Paper B",
                    persons=["Marco Rubio", "Sergei Lavrov"], places=["Riyadh"]), "s-big", ("Kremlin", "NATO")),
        member(make(3, "Talks open (copy 2)", "talks in riyadh", source="c.example", site="Paper B",
                    persons=["Sergei Lavrov"], published=T0 + DAY), "s-big"),
        member(make(4, "Markets fall", "stocks were down", language="de", site="Wire A", published=T0 - DAY),
               "s-markets"),
        member(make(5, "Markets fall again", "stocks were down", language="de", source="d.example", site="Paper D"),
               "s-markets"),
        member(make(6, "Weather", "rain over geneva talks", site="Wire A", places=["Geneva"]), "s-weather"),
        member(make(7, "Loose talks", "talks without a story", site="Paper B"), None),
    ]  # fmt: skip


def test_overview_counts_facets_and_days_over_every_match(backend):
    backend.write(corpus())
    ov = backend.index.overview(SearchQuery())
    assert ov.total == 7
    assert set(ov.facets) == set(FACETS)
    assert ov.facets["site"] == [Bucket("Paper B", 3), Bucket("Wire A", 3), Bucket("Paper D", 1)]  # ties by value
    assert ov.facets["language"] == [Bucket("en", 5), Bucket("de", 2)]
    # An article naming a person counts once, however many of its fields name them.
    assert ov.facets["persons"] == [Bucket("Marco Rubio", 2), Bucket("Sergei Lavrov", 2)]
    assert ov.facets["organisations"] == [Bucket("Kremlin", 2), Bucket("NATO", 1)]
    assert ov.facets["places"] == [Bucket("Riyadh", 2), Bucket("Geneva", 1)]
    day = T0.date()
    assert ov.days == [Bucket(str(day - DAY), 2), Bucket(str(day), 4), Bucket(str(day + DAY), 1)]


def test_overview_follows_the_query_text_and_filters(backend):
    backend.write(corpus())
    q = SearchQuery(text="riyadh", source="Paper B")
    ov = backend.index.overview(q, size=1)
    assert ov.total == 2 == backend.index.search(q).total
    assert ov.facets["site"] == [Bucket("Paper B", 2)]
    assert ov.facets["persons"] == [Bucket("Sergei Lavrov", 2)]  # size=1: the top value only
    assert ov.days == [Bucket(str(T0.date()), 1), Bucket(str((T0 + DAY).date()), 1)]
    by_entity = backend.index.overview(SearchQuery(entity="kremlin"))
    assert by_entity.total == 2 and by_entity.facets["organisations"][0] == Bucket("Kremlin", 2)
    assert backend.index.overview(SearchQuery(since=T0 + DAY)).days == [Bucket(str((T0 + DAY).date()), 1)]
    nothing = backend.index.overview(SearchQuery(text="  --  "))
    assert nothing.total == 0 and nothing.days == [] and all(v == [] for v in nothing.facets.values())


def test_story_groups_are_the_biggest_stories_among_the_matches(backend):
    backend.write(corpus())
    groups = backend.index.story_groups(SearchQuery())
    assert [(g.story_id, g.size, g.site_count) for g in groups] == [("s-big", 3, 2), ("s-markets", 2, 2), ("s-weather", 1, 1)]
    big = groups[0]
    assert big.first_seen == T0 - DAY
    assert [m.title for m in big.members] == ["Talks open in Riyadh", "Talks open (copy)", "Talks open (copy 2)"]
    assert big.title == "Talks open in Riyadh"
    assert all(m.article is not None and m.article.enrichment.story_id == "s-big" for m in big.members)
    assert big.members[0].snippet  # a plain snippet, as a search without text gives
    capped = backend.index.story_groups(SearchQuery(), limit=1, members=2)
    assert [(g.story_id, g.size, len(g.members)) for g in capped] == [("s-big", 3, 2)]


def test_story_groups_follow_the_time_range_and_the_query(backend):
    backend.write(corpus())
    in_range = backend.index.story_groups(SearchQuery(since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1)))
    # The biggest story of the day: each story counts its members within the range only.
    assert [(g.story_id, g.size) for g in in_range] == [("s-big", 1), ("s-markets", 1), ("s-weather", 1)]
    assert in_range[0].first_seen == T0
    assert [g.story_id for g in backend.index.story_groups(SearchQuery(text="geneva"))] == ["s-weather"]
    assert backend.index.story_groups(SearchQuery(text="!!")) == []


def test_search_filters_by_story(backend):
    backend.write(corpus())
    assert sorted(backend.titles(story_id="s-markets")) == ["Markets fall", "Markets fall again"]
    assert backend.search(story_id="s-markets", text="again").total == 1
    assert backend.search(story_id="no-such-story").total == 0

