"""Story grouping, the pure part: band keys of a fingerprint, the relation a similarity means, and
the story an article joins among the candidates the index proposed. No I/O: the candidate lookup
and the story documents are ``index.base.StoryStore``'s, the wiring newsflow/pipeline/stories.py's.

A story is the set of articles linked by similar text (single linkage over estimated Jaccard
similarity of word 5-shingles, ``fingerprint.py``). Candidates are found by MinHash LSH: each
article stores its band keys as keyword terms; an article sharing one band key with another is
a candidate, then kept only if its full signature is similar enough. One more key, the hash of
the article's words, marks exact copies whatever the signature says.

Stories are named by a root member's id and ordered by the root's (time, id): when one article
links two stories, the later-rooted one is merged into the earlier (``winner``). The time
is the published time, else the fetch time (``Member.at``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from newsflow.core.story import StoryMember
from newsflow.processors.enrich.fingerprint import NUM_PERM, estimate_jaccard, lsh_params

_WORD = re.compile(r"\w+")


class Relation(str, Enum):
    FIRST = "first"  # opened its story
    EXACT_COPY = "exact_copy"  # the same words as ``story_of``
    NEAR_COPY = "near_copy"  # nearly the same text (another template's leftovers, a trimmed paragraph)
    REWRITE = "rewrite"  # the same story, rewritten or updated in part


@dataclass(frozen=True)
class Thresholds:
    """Estimated Jaccard similarity at which an article is a near copy, and at which it joins a
    story at all (a rewrite). ``benchmarks/stories.py`` measures what they give."""

    near_copy: float = 0.85
    story: float = 0.5


THRESHOLDS = Thresholds()
# Band layout for the story threshold: fixed, since stored band keys must match new ones;
# changing it (or the fingerprint's settings) bumps BANDS_VERSION and needs a re-index.
BANDS, ROWS = lsh_params(THRESHOLDS.story)
BANDS_VERSION = 1
EXACT_PREFIX = "x"


def band_keys(signature: Sequence[int]) -> list[str]:
    """One keyword per LSH band (band number + a 64-bit hash of its rows); [] without a full signature."""
    if len(signature) != NUM_PERM:
        return []
    keys = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS]
        digest = hashlib.blake2b(b"".join(int(v).to_bytes(4, "little") for v in rows), digest_size=8).hexdigest()
        keys.append(f"{band:02x}{digest}")
    return keys


def exact_key(text: str) -> str | None:
    """The key two texts share when their words are the same (case and punctuation aside)."""
    words = _WORD.findall(text.casefold())
    if not words:
        return None
    return EXACT_PREFIX + hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=8).hexdigest()


def story_keys(signature: Sequence[int], text: str) -> list[str]:
    """Everything stored in ``story_bands``: the band keys and the exact-text key."""
    exact = exact_key(text)
    return [*band_keys(signature), *([exact] if exact else [])]


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures (0.0 when either is missing or they differ in size)."""
    if len(a) != NUM_PERM or len(b) != NUM_PERM:
        return 0.0
    return estimate_jaccard(a, b)


def relation(sim: float, exact: bool, thresholds: Thresholds = THRESHOLDS) -> Relation | None:
    """What an article is to a member it resembles this much; None below the story threshold."""
    if exact:
        return Relation.EXACT_COPY
    if sim >= thresholds.near_copy:
        return Relation.NEAR_COPY
    if sim >= thresholds.story:
        return Relation.REWRITE
    return None


Member = StoryMember


def exact_of(member: Member) -> str | None:
    """The member's exact-text key, if it has one."""
    return next((k for k in member.keys if k.startswith(EXACT_PREFIX)), None)


@dataclass(frozen=True)
class Match:
    member: Member
    similarity: float
    relation: Relation


@dataclass(frozen=True)
class Assignment:
    story_id: str
    relation: Relation
    story_of: str | None = None
    similarity: float | None = None
    # Other stories this article links to the chosen one: to merge into it.
    merge: tuple[str, ...] = field(default=())


def matches(article: Member, candidates: Iterable[Member], thresholds: Thresholds = THRESHOLDS) -> list[Match]:
    """The candidates (other articles, in a story) this article resembles enough, most similar first."""
    found = []
    mine = exact_of(article)
    for c in candidates:
        if c.id == article.id or c.story_id is None:
            continue
        sim = similarity(article.signature, c.signature)
        rel = relation(sim, mine is not None and mine == exact_of(c), thresholds)
        if rel is not None:
            found.append(Match(c, 1.0 if rel is Relation.EXACT_COPY else sim, rel))
    found.sort(key=lambda m: (-m.similarity, m.member.order))
    return found


def assign(article: Member, candidates: Sequence[Member], roots: Mapping[str, datetime],
           thresholds: Thresholds = THRESHOLDS) -> Assignment:
    """The story ``article`` belongs to, given index candidates and their stories' roots' times.

    * The article already stored with a story (a replay, a redelivery, an update): it keeps it.
    * Resembling members of one or more stories: it joins the earliest-rooted of them, as a copy
      or rewrite of its most similar member in that story; the others are to be merged into it.
    * Otherwise it opens its own story (its id is the story id).
    """
    stored = next((c for c in candidates if c.id == article.id and c.story_id), None)
    found = matches(article, candidates, thresholds)
    stories = sorted({m.member.story_id for m in found if m.member.story_id}, key=lambda s: _order(s, roots))
    if stored is not None:
        own = stored.story_id or article.id
        others = tuple(s for s in stories if s != own)
        rel = Relation(stored.relation) if stored.relation in {r.value for r in Relation} else Relation.FIRST
        return Assignment(own, rel, stored.story_of, None, others)
    if not stories:
        return Assignment(article.id, Relation.FIRST)
    chosen = stories[0]
    best = next(m for m in found if m.member.story_id == chosen)
    return Assignment(chosen, best.relation, best.member.id, best.similarity, tuple(stories[1:]))


def _order(story_id: str, roots: Mapping[str, datetime]) -> tuple[int, datetime | None, str]:
    # Known roots by time; unknown ones after them, by id (still a total order).
    at = roots.get(story_id)
    return (0, at, story_id) if at is not None else (1, None, story_id)


def winner(story_ids: Iterable[str], roots: Mapping[str, datetime]) -> str:
    """The story the others merge into: the earliest root by (time, id)."""
    return min(story_ids, key=lambda s: _order(s, roots))
