"""The pure part of story grouping (processors/story.py): keys, relations, the story chosen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsflow.processors.enrich.fingerprint import NUM_PERM, fingerprint
from newsflow.processors.story import (
    BANDS,
    THRESHOLDS,
    Member,
    Relation,
    assign,
    band_keys,
    exact_key,
    relation,
    similarity,
    story_keys,
    winner,
)
from tests.test_enrich_fingerprint import EDITED, SEED
from tests.test_enrich_seeds import seed_text

FIXTURES = Path(__file__).parent / "fixtures" / "stories"
WIRE = (FIXTURES / "geneva-talks-wire.txt").read_text(encoding="utf-8")
ANALYSIS = (FIXTURES / "geneva-talks-analysis.txt").read_text(encoding="utf-8")
T0 = datetime(2022, 1, 10, 9, 0, tzinfo=timezone.utc)


def member(id_: str, text: str, minutes: int = 0, story_id: str | None = None, relation_: str | None = None) -> Member:
    return Member(id_, T0 + timedelta(minutes=minutes), tuple(fingerprint(text)),
                  tuple(story_keys(fingerprint(text), text)), story_id, relation_)


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def test_keys_are_stable_and_one_per_band_plus_the_exact_text():
    keys = story_keys(fingerprint(SEED), SEED)
    assert len(keys) == BANDS + 1 and len(set(keys)) == BANDS + 1
    assert keys == story_keys(fingerprint(SEED), SEED)
    assert exact_key(SEED) == exact_key("  " + SEED.upper() + "!") != exact_key(EDITED)
    assert band_keys([1, 2, 3]) == [] and exact_key("...") is None
    # A near copy shares some band keys, an unrelated text none.
    assert set(band_keys(fingerprint(SEED))) & set(band_keys(fingerprint(EDITED)))
    assert not set(band_keys(fingerprint(SEED))) & set(band_keys(fingerprint(seed_text("post-2"))))


def test_relation_from_similarity_follows_the_thresholds():
    assert relation(0.2, exact=True) is Relation.EXACT_COPY
    assert relation(THRESHOLDS.near_copy, exact=False) is Relation.NEAR_COPY
    assert relation(THRESHOLDS.story, exact=False) is Relation.REWRITE
    assert relation(THRESHOLDS.story - 0.01, exact=False) is None


def test_copies_and_versions_join_the_first_article_story():
    first = member("a", SEED, 0, "a", "first")
    trimmed = "\n\n".join(paragraphs(SEED)[:-1])
    extended = SEED + "\n\nThe talks continue in Brussels on Wednesday with the NATO-Russia Council, officials said."
    cases = {
        SEED.upper(): Relation.EXACT_COPY,  # another template's casing: the same words
        EDITED: Relation.NEAR_COPY,  # one sentence changed
        trimmed: Relation.NEAR_COPY,
        extended: Relation.NEAR_COPY,
    }
    for i, (text, expected) in enumerate(cases.items()):
        got = assign(member(f"c{i}", text, 30), [first], {"a": first.at})
        assert (got.story_id, got.relation, got.story_of) == ("a", expected, "a"), text[:40]


def test_an_updated_version_is_a_rewrite_of_the_same_story():
    paras = paragraphs(SEED)
    updated = "\n\n".join(["UPDATE: the talks ended without agreement, both delegations said on Monday evening."]
                          + paras[: len(paras) * 2 // 3])
    sim = similarity(fingerprint(SEED), fingerprint(updated))
    assert THRESHOLDS.story <= sim < THRESHOLDS.near_copy
    got = assign(member("u", updated, 90), [member("a", SEED, 0, "a", "first")], {"a": T0})
    assert (got.story_id, got.relation) == ("a", Relation.REWRITE)


def test_different_articles_on_the_same_topic_stay_apart():
    """Same people, places and day, other words: neither a copy nor a rewrite."""
    texts = {"wire": WIRE, "analysis": ANALYSIS, "seed": SEED}
    for name in ("Ryabkov", "Sherman", "Blinken", "Stoltenberg", "Ukraine", "NATO"):
        assert all(name in t for t in texts.values()), name
    members = [member(n, t, i, n, "first") for i, (n, t) in enumerate(texts.items())]
    for m in members:
        others = [o for o in members if o.id != m.id]
        got = assign(Member(m.id + "-new", m.at, m.signature, m.keys), others, {o.id: o.at for o in others})
        assert got.story_id == m.id + "-new" and got.relation is Relation.FIRST, m.id
        assert max(similarity(m.signature, o.signature) for o in others) < THRESHOLDS.story / 2


def test_a_replayed_article_keeps_its_story():
    stored = member("b", EDITED, 30, "a", "near_copy")
    stored = Member(stored.id, stored.at, stored.signature, stored.keys, "a", "near_copy", "a")
    got = assign(member("b", EDITED, 30), [stored, member("a", SEED, 0, "a", "first")], {"a": T0})
    assert (got.story_id, got.relation, got.story_of, got.merge) == ("a", Relation.NEAR_COPY, "a", ())


def test_an_article_linking_two_stories_joins_the_earlier_root_and_names_the_other():
    early = member("z-early", SEED, 0, "z-early", "first")
    late = member("a-late", EDITED, 60, "a-late", "first")  # a race: the same story opened twice
    got = assign(member("c", SEED, 120), [late, early], {"z-early": early.at, "a-late": late.at})
    assert got.story_id == "z-early" and got.merge == ("a-late",)
    # The order is (root time, id): the id breaks a tie, so every worker picks the same story.
    assert winner(["b", "a"], {"a": T0, "b": T0}) == "a"
    assert winner(["b", "a"], {"a": T0 + timedelta(seconds=1), "b": T0}) == "b"
    assert winner(["b", "a"], {"b": T0}) == "b"  # a root not found sorts last


def test_without_a_fingerprint_an_article_opens_its_own_story():
    got = assign(Member("n", T0), [member("a", SEED, 0, "a", "first")], {"a": T0})
    assert (got.story_id, got.relation) == ("n", Relation.FIRST)
    assert len(fingerprint(SEED)) == NUM_PERM
