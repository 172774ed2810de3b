"""Story assignment in the index stage: ``StoryIndex`` wraps the article index so that each batch
is grouped into stories against the index itself, not against any process's memory.

Why the index stage, not enrichment: the candidates are the indexed articles, so the step that
writes them is the one that can read them back; enrichment stays stateless and needs no index.

One ``write``:

1. **Assign** (before the write): for each article, the band keys of its fingerprint
   (``processors/story.py``) ask the store for candidates; the earlier articles of the same batch
   count too. The article joins the earliest-rooted story it resembles, else opens its own.
2. **Write** the articles, story fields included (``Index.write``).
3. **Reconcile** (after the write, once the index shows it: ``settle``): ask for candidates
   again. Two copies written at the same time by two workers both found nothing at step 1 and
   opened two stories; now the later writer's query sees the other (a refresh shows every write
   acknowledged before it), so it merges the later-rooted story into the earlier one: only that
   story's members are rewritten, a race makes it small. A merge repeats until the merged story
   has no members left, so an article that joined it meanwhile moves too.
4. **Story documents** of the stories touched are recomputed from their members and put whole:
   one document per story, never a rewrite of its members. Each put is checked by computing
   again, so the last put of racing workers holds the facts after both their writes.

Replays and redeliveries converge: an article found in the index keeps its story (step 1), and
steps 3-4 are idempotent. A failure in any step raises, so the batch is retried (not committed).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from prometheus_client import Counter

from newsflow.core.record import Article
from newsflow.index.base import Index, Outcome, SearchQuery, SearchResults, StoryStore, WriteResult
from newsflow.processors.story import (
    THRESHOLDS,
    Member,
    Relation,
    Thresholds,
    assign,
    matches,
    story_keys,
    winner,
)

log = logging.getLogger(__name__)

STORY_ASSIGNMENTS = Counter("newsflow_story_assignments_total", "Articles given a story, by relation", ["relation"])
STORY_MERGES = Counter("newsflow_story_merges_total", "Stories merged into an earlier one (races, linking articles)")
MAX_MERGE_ROUNDS = 10  # a merged story still gaining members after this many rounds is left to the next batch
MAX_PUT_ROUNDS = 3
COPIES = {Relation.EXACT_COPY.value, Relation.NEAR_COPY.value}


def member_time(article: Article) -> datetime:
    """The time stories are ordered by: published, else fetched (UTC), as both indexes sort."""
    at = article.published_at or article.fetched_at
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def story_fields(story_id: str, relation: str, story_of: str | None) -> dict[str, str | None]:
    """The fields a member carries; ``near_duplicate_of`` is ``story_of`` for copies (older dashboards)."""
    return {"story_id": story_id, "story_relation": relation, "story_of": story_of,
            "near_duplicate_of": story_of if relation in COPIES else None}


class StoryIndex:
    """An ``Index`` whose ``write`` also assigns stories (module doc); every other call is the index's."""

    def __init__(self, index: Index, store: StoryStore, thresholds: Thresholds = THRESHOLDS) -> None:
        self.index = index
        self.store = store
        self.thresholds = thresholds

    def __getattr__(self, name: str) -> Any:  # refresh, destroy, write_feed_status, …
        return getattr(self.index, name)

    def setup(self) -> None:
        self.index.setup()
        self.store.setup()

    def get(self, article_id: str) -> Article | None:
        return self.index.get(article_id)

    def count(self) -> int:
        return self.index.count()

    def search(self, query: SearchQuery) -> SearchResults:
        return self.index.search(query)

    def close(self) -> None:
        self.index.close()

    def write(self, articles: Sequence[Article]) -> list[WriteResult]:
        subjects = [a for a in articles if isinstance(a, Article) and a.enrichment is not None]
        members = {a.id: self._member(a) for a in subjects}
        ids = list(members)
        stored = self.store.members(ids) if ids else {}
        found = dict(zip(ids, self.store.candidates([members[i].keys for i in ids]))) if ids else {}
        roots = self._roots({m.story_id for ms in found.values() for m in ms if m.story_id}, found.values())
        batch: dict[str, Member] = {}
        prepared = [self._assign(a, batch, stored.get(a.id), found.get(a.id, []), roots)
                    if isinstance(a, Article) else a for a in articles]
        results = self.index.write(prepared)
        written = [a for a, r in zip(prepared, results)
                   if r.outcome is Outcome.OK and isinstance(a, Article) and a.enrichment is not None]
        if written:
            self.reconcile(written)
        return results

    # -- 1. assign ----------------------------------------------------------------------------

    def _member(self, article: Article) -> Member:
        e = article.enrichment
        assert e is not None
        keys = story_keys(e.minhash, article.text)  # never trust keys the record came with
        return Member(article.id, member_time(article), tuple(e.minhash), tuple(keys),
                      e.story_id, e.story_relation, e.story_of)

    def _assign(self, article: Article, batch: dict[str, Member], stored: Member | None, found: list[Member],
                roots: dict[str, datetime]) -> Article:
        """``stored``: this article as the index holds it (a replay), if it does; ``found``: its
        candidates in the index; ``roots``: root times known so far (grows with the batch)."""
        if article.enrichment is None:
            return article  # not enriched (enrichment off): no fingerprint, no story
        me = self._member(article)
        seen = {m.id for m in found}
        found = list(found)
        if stored is not None and stored.id not in seen:  # past the candidate limit: many exact copies
            found.append(stored)
        keys = set(me.keys)
        found += [m for i, m in batch.items() if i not in seen and (i == me.id or keys.intersection(m.keys))]
        roots.update({m.id: m.at for m in batch.values() if m.id not in roots})
        missing = {m.story_id for m in found if m.story_id and m.story_id not in roots}
        if missing:
            roots.update(self._roots(missing, [found]))
        choice = assign(me, found, roots, self.thresholds)
        STORY_ASSIGNMENTS.labels(choice.relation.value).inc()
        fields = story_fields(choice.story_id, choice.relation.value, choice.story_of)
        batch[article.id] = Member(me.id, me.at, me.signature, me.keys, choice.story_id, choice.relation.value,
                                   choice.story_of)
        enrichment = article.enrichment.model_copy(update={**fields, "story_bands": list(me.keys)})
        return article.model_copy(update={"enrichment": enrichment})

    def _roots(self, story_ids: Iterable[str], known: Iterable[Sequence[Member]]) -> dict[str, datetime]:
        """Each story's root time (the root is the member whose id is the story id)."""
        wanted = set(story_ids)
        roots = {m.id: m.at for ms in known for m in ms if m.id in wanted}
        missing = sorted(wanted - roots.keys())
        if missing:
            roots.update({i: m.at for i, m in self.store.members(missing).items()})
        return roots

    # -- 3. reconcile, 4. story documents ---------------------------------------------------

    def reconcile(self, written: Sequence[Article]) -> None:
        self.store.settle()
        members = {a.id: self._member(a) for a in written}
        ids = list(members)
        found = dict(zip(ids, self.store.candidates([members[i].keys for i in ids])))
        stored = self.store.members(ids)  # realtime: each one's story now (a merge may have moved it)
        linked = {i: matches(members[i], found[i], self.thresholds) for i in ids}
        own = {i: (stored[i].story_id if i in stored else None) or members[i].story_id or i for i in ids}
        every = {*own.values(), *(m.member.story_id for ms in linked.values() for m in ms if m.member.story_id)}
        roots = self._roots(every, found.values())
        moved: dict[str, str] = {}  # merged story -> the story it went into

        def current(story_id: str) -> str:
            while story_id in moved:
                story_id = moved[story_id]
            return story_id

        touched: set[str] = set()
        for i in ids:
            stories = {current(own[i]), *(current(m.member.story_id) for m in linked[i] if m.member.story_id)}
            target = winner(stories, roots)
            for loser in sorted(stories - {target}):
                self._merge(loser, target, members[i], found[i])
                moved[loser] = target
            touched.add(target)
        self._put_stories(sorted({current(s) for s in touched}))
        self.store.delete(sorted(moved))

    def _merge(self, loser: str, target: str, via: Member, known: Sequence[Member]) -> None:
        """Move every member of ``loser`` to ``target``; its root gets its relation inside ``target``."""
        STORY_MERGES.inc()
        log.info("merging story into an earlier one", extra={"story": loser, "into": target, "via": via.id})
        for _ in range(MAX_MERGE_ROUNDS):
            members = self.store.story_members(loser)
            if not members:
                return
            updates: dict[str, dict[str, str | None]] = {m.id: {"story_id": target} for m in members}
            for m in members:
                if m.id == loser:  # the old root: a member of target now, related to its closest match there
                    updates[m.id] = self._rerooted(m, target, via, known)
            self.store.move(updates)
            self.store.settle()
        log.warning("story still gaining members while merged; the next batch goes on", extra={"story": loser})

    def _rerooted(self, root: Member, target: str, via: Member, known: Sequence[Member]) -> dict[str, str | None]:
        pool = [m for m in (*known, via) if m.id != root.id and (m is via or m.story_id in (target, root.id))]
        pool = [Member(m.id, m.at, m.signature, m.keys, target) for m in pool]
        best = matches(root, pool, self.thresholds)
        if best:
            return story_fields(target, best[0].relation.value, best[0].member.id)
        return story_fields(target, Relation.REWRITE.value, via.id)  # linked through ``via`` only

    def _put_stories(self, story_ids: Sequence[str]) -> None:
        """Recompute and put each story's document; again for those a racing writer changed meanwhile."""
        todo = list(story_ids)
        for _ in range(MAX_PUT_ROUNDS):
            if not todo:
                return
            facts = self.store.compute(todo)
            gone = [s for s in todo if s not in facts]
            if gone:
                self.store.delete(gone)
            self.store.put(list(facts.values()))
            again = self.store.compute(list(facts))
            todo = [s for s in facts if again.get(s) != facts[s]]


def with_stories(index: Index, thresholds: Thresholds = THRESHOLDS) -> Index:
    """The index with story assignment on write, for the backend it is (the index stage's)."""
    if isinstance(index, StoryIndex):
        return index
    from newsflow.index.sqlite_fts import SqliteIndex

    if isinstance(index, SqliteIndex):
        from newsflow.index.sqlite_stories import SqliteStories

        return StoryIndex(index, SqliteStories(index), thresholds)  # type: ignore[return-value]
    from newsflow.index.elastic import ElasticIndex

    if isinstance(index, ElasticIndex):
        from newsflow.index.elastic_stories import ElasticStories

        return StoryIndex(index, ElasticStories(index), thresholds)  # type: ignore[return-value]
    return index  # another Index (tests' stand-ins): written as it is
