import time

import pytest

from newsflow.core.record import Article, Enrichment
from newsflow.processors.config import EnrichConfig
from newsflow.processors.enrich import EnrichChain, EnricherUnavailable, build_chain
from newsflow.processors.enrich import entities as ent
from tests.test_enrich_seeds import SEEDS, seed_article


@pytest.fixture(scope="module")
def chain() -> EnrichChain:
    return build_chain(EnrichConfig())


def test_default_chain_enriches_the_seed(chain):
    article = seed_article("post-us-russia-talks")
    out = chain(article)
    assert article.enrichment is None  # the input is not modified
    e = out.enrichment
    assert e.language == "en" and e.word_count > 300 and len(e.minhash) == 64 and e.keyphrases
    assert "NATO" in e.entities.organisations and any("Stoltenberg" in p for p in e.entities.persons)
    assert any(p.name == "Washington" and p.country_code == "US" for p in e.places)
    assert e.versions == chain.versions
    assert set(e.versions) == {"language", "stats", "keyphrases", "entities", "places", "fingerprint"}
    assert all(e.versions.values())


def test_record_round_trips(chain):
    out = chain(seed_article("post-3"))
    assert Article.from_json(out.to_json()) == out


def test_order_follows_dependencies_not_config():
    c = build_chain(EnrichConfig(enrichers=["fingerprint", "places", "entities", "language"]))
    assert c.names == ["language", "entities", "places", "fingerprint"]


def test_disabled_enrichers_leave_defaults():
    c = build_chain(EnrichConfig(enrichers=["stats"]))
    e = c(seed_article("post-2")).enrichment
    assert e.word_count and e.language is None and e.keyphrases == [] and e.minhash == []
    assert e.versions == {"stats": "1"}


def test_bad_enricher_lists():
    # An unknown name is refused by the config itself (it names enrich.enrichers.N)...
    with pytest.raises(ValueError, match="enrichers"):
        EnrichConfig(enrichers=["language", "sentiment"])
    # ...and by the chain, for a config built without validation.
    with pytest.raises(ValueError, match="enrich.enrichers: unknown enricher"):
        build_chain(EnrichConfig.model_construct(enrichers=["language", "sentiment"]))
    with pytest.raises(ValueError, match="'places' needs 'entities'"):
        build_chain(EnrichConfig(enrichers=["places"]))


def test_missing_spacy_model_fails_at_build(monkeypatch):
    monkeypatch.setattr(ent, "_models", {})
    with pytest.raises(EnricherUnavailable, match="is not installed: pip install"):
        build_chain(EnrichConfig(spacy_model="xx_no_such_model_sm"))


def test_batch_matches_single(chain):
    arts = [seed_article(n) for n in SEEDS]
    single = build_chain(EnrichConfig())
    batch = build_chain(EnrichConfig()).enrich_batch(arts)
    assert [b.enrichment for b in batch] == [single(a).enrichment for a in arts]


class _Boom:
    NAME = "boom"
    VERSION = "1"
    version = "1"

    def enrich(self, article: Article, out: Enrichment) -> None:
        if "snow" in article.text.casefold():
            raise RuntimeError("bad article")
        out.keyphrases = ["ok"]


class _HalfWrite:
    """Writes one field, then fails: what it wrote must not survive."""

    NAME = "half"
    VERSION = "7"
    version = "7"

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.word_count = 12345
        raise ValueError("x" * 10_000)


def test_a_failing_enricher_costs_its_own_fields_only():
    from newsflow.processors.enrich.stats import StatsEnricher

    c = EnrichChain([_Boom(), _HalfWrite(), StatsEnricher()])
    articles = [seed_article("post-us-russia-talks"), seed_article("post-2"), seed_article("post-3")]
    for results in (c.enrich_batch(articles), [c(a) for a in articles]):
        ok, failed, ok2 = (r.enrichment for r in results)
        assert ok.keyphrases == ["ok"] and ok2.keyphrases == ["ok"] and "boom" not in ok.errors
        assert failed.keyphrases == [] and failed.errors["boom"] == "RuntimeError: bad article"
        # Every article keeps the enrichers that worked, and says which did not and at what version.
        for e in (ok, failed, ok2):
            assert e.word_count is not None and e.word_count != 12345
            assert e.errors["half"].startswith("ValueError: xxx") and len(e.errors["half"]) <= 300
            assert e.versions == {"boom": "1", "half": "7", "stats": StatsEnricher().version}
        assert [r.id for r in results] == [a.id for a in articles]


def test_enrichers_read_at_most_max_input_chars():
    from newsflow.processors.enrich.chain import MAX_INPUT_CHARS

    class _Length:
        NAME = VERSION = version = "len"

        def enrich(self, article: Article, out: Enrichment) -> None:
            out.word_count = len(article.text)

    huge = seed_article("post-2").model_copy(update={"text": "word " * (MAX_INPUT_CHARS // 2)})
    result = EnrichChain([_Length()])(huge)
    assert result.enrichment.word_count == MAX_INPUT_CHARS and result.text == huge.text


def test_report_timings(chain, capsys):
    """Per-enricher cost on the seed article, printed for the report; not asserted."""
    article = seed_article("post-us-russia-talks")
    c = build_chain(EnrichConfig())
    c(article)  # warm-up
    runs = 20
    for name in c.seconds:
        c.seconds[name], c.calls[name] = 0.0, 0
    start = time.perf_counter()
    for _ in range(runs):
        c(article)
    total = (time.perf_counter() - start) / runs
    with capsys.disabled():
        words = c(article).enrichment.word_count
        parts = ", ".join(f"{n} {c.seconds[n] / c.calls[n] * 1000:.2f}" for n in c.names)
        print(f"\n[enrich timings, seed article, {words} words, ms/article] {parts}; chain {total * 1000:.1f}")
