from ingest.record import Article, Enrichment
from processors.enrich.keyphrases import KeyphraseEnricher, pick_diverse
from tests.test_enrich_seeds import SEEDS, seed_article


def _words(phrases):
    return [w.casefold() for p in phrases for w in p.split()]


def test_seed_texts_give_distinct_phrases():
    enricher = KeyphraseEnricher(max_keyphrases=10)
    for name in SEEDS:
        out = Enrichment(language="en")
        enricher.enrich(seed_article(name), out)
        assert 3 <= len(out.keyphrases) <= 10, name
        words = _words(out.keyphrases)
        assert len(words) == len(set(words)), f"{name}: phrases share words: {out.keyphrases}"


def test_seed_phrases_are_about_the_article():
    enricher = KeyphraseEnricher(max_keyphrases=10)
    topics = {
        "post-us-russia-talks": {"russia", "nato", "ryabkov"},
        "post-2": {"snowfall", "snow"},
        "post-3": {"electricity", "price", "prices"},
    }
    for name, expected in topics.items():
        out = Enrichment(language="en")
        enricher.enrich(seed_article(name), out)
        assert expected & set(_words(out.keyphrases)), f"{name}: {out.keyphrases}"


def test_max_keyphrases_is_respected():
    out = Enrichment(language="en")
    KeyphraseEnricher(max_keyphrases=3).enrich(seed_article("post-us-russia-talks"), out)
    assert len(out.keyphrases) == 3


def test_language_specific_stopwords():
    text = (
        "Die Bundesregierung hat am Montag neue Maßnahmen gegen die Energiekrise beschlossen. "
        "Die Opposition kritisiert die Maßnahmen der Bundesregierung als zu spät und zu klein."
    )
    out = Enrichment(language="de")
    KeyphraseEnricher(5).enrich(Article.new("https://example.org/de", text=text), out)
    assert out.keyphrases
    assert not {"die", "der", "und", "zu", "am"} & {p.casefold() for p in out.keyphrases}


def test_empty_text():
    out = Enrichment()
    KeyphraseEnricher(5).enrich(Article.new("https://example.org/empty", text=""), out)
    assert out.keyphrases == []


def test_pick_diverse():
    ranked = ["Minister Sergei Ryabkov", "Foreign Minister Sergei", "NATO", "nato", "2022", "Sergei", "talks"]
    assert pick_diverse(ranked, 10) == ["Minister Sergei Ryabkov", "NATO", "talks"]
    assert pick_diverse(ranked, 2) == ["Minister Sergei Ryabkov", "NATO"]


def test_unsegmented_scripts_are_skipped():
    out = Enrichment(language="zh")
    text = "北京是中华人民共和国的首都。" * 10
    KeyphraseEnricher(5).enrich(Article.new("https://example.org/zh", text=text), out)
    assert out.keyphrases == []
