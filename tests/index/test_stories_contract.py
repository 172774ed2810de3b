"""The story store contract (``index.base.StoryStore``), proven alike on SqliteStories and on
ElasticStories (the real node) by the same tests (the ``backend`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsflow.core.record import Article
from newsflow.index.base import Outcome, StoryStore

from .articles import T0, make


@pytest.fixture
def store(backend) -> StoryStore:
    if backend.name == "sqlite":
        from newsflow.index.sqlite_stories import SqliteStories

        return SqliteStories(backend.index)
    from newsflow.index.elastic_stories import ElasticStories

    return ElasticStories(backend.index)


def member(i: int, keys: list[str], story_id: str | None, *, minutes: int = 0, site: str | None = "Example News",
           source: str = "news.example", language: str = "en", relation: str = "first", story_of: str | None = None,
           title: str | None = None) -> Article:
    article = make(i, title or f"Headline {i}", f"text {i}", source=source, site=site, language=language,
                   published=T0 + timedelta(minutes=minutes))
    e = article.enrichment.model_copy(update={
        "minhash": [i] * 64, "story_bands": keys, "story_id": story_id or article.id, "story_relation": relation,
        "story_of": story_of,
    })
    return article.model_copy(update={"enrichment": e})


def write(backend, store, articles: list[Article]) -> None:
    assert {r.outcome for r in backend.index.write(articles)} == {Outcome.OK}
    store.settle()


def test_candidates_are_the_members_sharing_keys_most_shared_first(backend, store):
    a = member(1, ["k1", "k2", "k3"], None)
    b = member(2, ["k1", "k2", "x9"], a.id, minutes=5, relation="near_copy", story_of=a.id)
    c = member(3, ["k3"], None, minutes=10)
    d = member(4, ["zz"], None)
    write(backend, store, [a, b, c, d])
    got, by_b, nothing, empty = store.candidates([["k1", "k2", "k3"], ["k1", "k2", "x9"], ["nothing"], []])
    assert [m.id for m in got] == [a.id, b.id, c.id]
    assert [m.id for m in by_b][:2] == [b.id, a.id]
    assert nothing == [] and empty == [] and store.candidates([]) == []
    assert [[m.id for m in ms] for ms in store.candidates([["k1"]], limit=1)] == [[a.id]]  # a tie: the earlier first
    got_b = next(m for m in got if m.id == b.id)
    assert (got_b.story_id, got_b.relation, got_b.story_of) == (a.id, "near_copy", a.id)
    assert got_b.signature == (2,) * 64 and set(got_b.keys) == {"k1", "k2", "x9"}
    assert got_b.at == T0 + timedelta(minutes=5)


def test_a_rewritten_article_keeps_only_its_new_keys(backend, store):
    a = member(1, ["old"], None)
    write(backend, store, [a])
    write(backend, store, [member(1, ["new"], None)])
    assert store.candidates([["old"], ["new"]]) == [[], list(store.members([a.id]).values())]


def test_members_are_read_by_id_at_once(backend, store):
    a, b = member(1, ["k"], None), member(2, ["k"], None)
    assert {r.outcome for r in backend.index.write([a, b])} == {Outcome.OK}  # no settle: realtime reads
    got = store.members([a.id, b.id, "0" * 32])
    assert set(got) == {a.id, b.id} and got[b.id].story_id == b.id
    assert store.members([]) == {}


def test_move_rewrites_only_the_named_members(backend, store):
    a = member(1, ["k"], None)
    b = member(2, ["k"], None, minutes=1)
    c = member(3, ["k"], None, minutes=2)
    write(backend, store, [a, b, c])
    store.move({b.id: {"story_id": a.id, "story_relation": "near_copy", "story_of": a.id,
                       "near_duplicate_of": a.id}})
    store.settle()
    assert {m.id for m in store.story_members(a.id)} == {a.id, b.id}
    assert store.story_members(b.id) == []
    assert [m.id for m in store.story_members(c.id)] == [c.id]
    moved = backend.index.get(b.id)
    assert (moved.enrichment.story_id, moved.enrichment.story_relation, moved.enrichment.story_of,
            moved.enrichment.near_duplicate_of) == (a.id, "near_copy", a.id, a.id)
    assert moved.text == b.text and moved.title == b.title  # the rest of the article is untouched
    store.move({"0" * 32: {"story_id": a.id}})  # gone: nothing to move


def test_story_facts_come_from_the_members_and_one_document_per_story(backend, store):
    root = member(1, ["k"], None, minutes=10, site="Wire Service", title="Talks end without a deal")
    early = member(2, ["k"], root.id, minutes=0, site=None, source="early.example", language="de",
                   relation="near_copy", title="Gespräche ohne Ergebnis")
    late = member(3, ["k"], root.id, minutes=50, site="Wire Service", relation="exact_copy")
    other = member(4, ["k"], None)
    write(backend, store, [root, early, late, other])
    computed = store.compute([root.id, "0" * 32, other.id])
    assert set(computed) == {root.id, other.id}  # a story without members is left out
    facts = computed[root.id]
    assert facts.size == 3
    assert facts.sites == ["Wire Service", "early.example"] and facts.site_count == 2
    # The first member by published time (here not the root): its time, outlet, id and headline.
    assert (facts.first_seen, facts.first_site, facts.first_article, facts.title) == (
        T0, "early.example", early.id, "Gespräche ohne Ergebnis")
    assert facts.last_update == T0 + timedelta(minutes=50)
    assert facts.languages == ["de", "en"]
    assert computed[other.id].size == 1 and store.compute([]) == {}
    assert store.get(root.id) is None
    store.put([facts, computed[other.id]])
    assert store.get(root.id) == facts
    store.settle()
    assert [s.story_id for s in store.biggest(10)] == [root.id, other.id]
    store.put([facts])  # replaces: still one document
    store.delete([root.id])
    store.settle()
    assert store.get(root.id) is None and [s.story_id for s in store.biggest(10)] == [other.id]
    store.delete([root.id, other.id])  # one missing: fine
    assert store.get(other.id) is None
