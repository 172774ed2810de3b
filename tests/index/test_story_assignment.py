"""StoryIndex (newsflow/pipeline/stories.py) over each index backend: stories assigned on write,
races between two writers reconciled, replays idempotent, story documents right."""

from __future__ import annotations

from collections import defaultdict

import pytest

from newsflow.index.base import Outcome
from newsflow.pipeline.stories import StoryIndex, with_stories
from tests.support.story_corpus import Copy, corpus, fingerprinted


def story_index(backend, reopen: bool = False) -> StoryIndex:
    index = backend.reopen() if reopen else backend.index
    wrapped = with_stories(index)
    assert isinstance(wrapped, StoryIndex)
    return wrapped


def check_stories(si: StoryIndex, copies: list[Copy]) -> None:
    """Each expected story is one story_id, different ones differ, and each story document is right."""
    si.store.settle()
    by_story: dict[str, set[str]] = defaultdict(set)
    for c in copies:
        stored = si.get(c.article.id)
        by_story[c.story].add(stored.enrichment.story_id)
    assert all(len(ids) == 1 for ids in by_story.values()), dict(by_story)
    story_ids = {next(iter(ids)) for ids in by_story.values()}
    assert len(story_ids) == len(by_story)
    docs = {s.story_id: s for s in si.store.biggest(100)}
    assert set(docs) == story_ids  # no document left for a merged-away story
    for story, ids in by_story.items():
        members = [c.article for c in copies if c.story == story]
        doc = docs[next(iter(ids))]
        first = min(members, key=lambda a: (a.published_at, a.id))
        assert doc.size == len({a.id for a in members})
        assert doc.sites == sorted({a.site for a in members}) and doc.site_count == len(doc.sites)
        assert (doc.first_seen, doc.first_article, doc.first_site, doc.title) == (
            first.published_at, first.id, first.site, first.title)
        assert doc.last_update == max(a.published_at for a in members)


def test_copies_are_grouped_into_one_story_each_and_relations_are_set(backend):
    si = story_index(backend)
    copies = corpus()
    for c in copies:  # one at a time, as batches of one
        assert [r.outcome for r in si.write([fingerprinted(c.article)])] == [Outcome.OK]
    check_stories(si, copies)
    relations = {c.article.url.rsplit("/", 1)[1]: si.get(c.article.id).enrichment for c in copies if c.story == "us-russia"}
    assert relations["original"].story_relation == "first"
    assert relations["copy"].story_relation == "exact_copy"
    assert relations["copy"].near_duplicate_of == relations["copy"].story_of == relations["original"].story_id
    assert relations["trimmed"].story_relation == "near_copy"
    # Published before the story's root, indexed after it: it joins the story (its id stays the
    # root's), and the story document names it as the first.
    assert relations["extended"].story_id == relations["original"].story_id and relations["extended"].story_of


def test_one_batch_and_a_replay_give_the_same_stories(backend):
    si = story_index(backend)
    copies = corpus()
    assert {r.outcome for r in si.write([fingerprinted(c.article) for c in copies])} == {Outcome.OK}
    check_stories(si, copies)
    before = {c.article.id: si.get(c.article.id).enrichment.story_id for c in copies}
    si.write([fingerprinted(c.article) for c in reversed(copies)])  # redelivered, in another order
    si.write([fingerprinted(copies[3].article)])
    check_stories(si, copies)
    assert {c.article.id: si.get(c.article.id).enrichment.story_id for c in copies} == before


@pytest.mark.parametrize("later_first", [False, True])
def test_two_writers_racing_on_copies_converge_to_the_earlier_story(backend, later_first):
    """Both writers look for candidates before either has written: each opens a story. After the
    writes, reconciliation merges the later-rooted story into the earlier, whichever runs first."""
    one, two = story_index(backend), story_index(backend, reopen=True)
    copies = [c for c in corpus() if c.story == "us-russia"]
    early, late = sorted((fingerprinted(c.article) for c in copies[:2]), key=lambda a: (a.published_at, a.id))
    a = one._assign(early, {}, None, [], {})
    b = two._assign(late, {}, None, [], {})
    assert a.enrichment.story_id == early.id and b.enrichment.story_id == late.id  # the race: two stories
    one.index.write([a])
    two.index.write([b])
    order = [(two, b), (one, a)] if later_first else [(one, a), (two, b)]
    for writer, article in order:
        writer.reconcile([article])
    got = {i: one.get(i).enrichment for i in (early.id, late.id)}
    assert {e.story_id for e in got.values()} == {early.id}
    assert (got[late.id].story_relation, got[late.id].story_of) == ("exact_copy", early.id)
    one.store.settle()
    assert one.store.get(late.id) is None
    assert one.store.get(early.id).size == 2
    # The rest of the story arriving later joins the one story.
    for c in copies[2:]:
        two.write([fingerprinted(c.article)])
    check_stories(one, copies)
