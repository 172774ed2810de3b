from newsflow.core.record import Enrichment
from newsflow.processors.enrich.stats import StatsEnricher, reading_time_minutes, word_count
from tests.test_enrich_seeds import SEEDS, seed_article, seed_text


def test_word_count_counts_contractions_hyphens_and_numbers_once():
    assert word_count("Don't stop: business-like talks, 12,000 homes.") == 6
    assert word_count("") == 0
    assert word_count("  \n\n ") == 0


def test_reading_time_at_230_wpm():
    assert reading_time_minutes(0) == 0.0
    assert reading_time_minutes(230) == 1.0
    assert reading_time_minutes(345) == 1.5
    assert reading_time_minutes(100) == 0.4


def test_seed_texts():
    for name in SEEDS:
        out = Enrichment()
        StatsEnricher().enrich(seed_article(name), out)
        approx = len(seed_text(name).split())  # whitespace tokens: close, not equal ("Andersen(s)")
        assert abs(out.word_count - approx) <= 0.03 * approx, name
        assert out.reading_time_minutes == round(out.word_count / 230, 1)
