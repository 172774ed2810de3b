import subprocess
import sys
from pathlib import Path

import pytest

from newsflow.core.record import Enrichment
from newsflow.processors.enrich.fingerprint import (
    NUM_PERM,
    FingerprintEnricher,
    estimate_jaccard,
    fingerprint,
    shingles,
)
from tests.test_enrich_seeds import SEEDS, seed_article, seed_text

ROOT = Path(__file__).resolve().parents[1]
SEED = seed_text("post-us-russia-talks")
SENTENCE = '"I don\'t think we\'re going to see any breakouts this week," Blinken told CNN on Sunday.'
EDITED = SEED.replace(SENTENCE, "Blinken told reporters in Geneva that he expected no breakthrough before Friday.")


def test_edit_is_one_sentence():
    assert SENTENCE in SEED and EDITED != SEED


def test_fingerprint_shape_and_stability():
    a, b = fingerprint(SEED), fingerprint(SEED)
    assert a == b and len(a) == NUM_PERM and all(isinstance(v, int) for v in a)
    assert fingerprint("") == [] and fingerprint("  ... ") == []
    assert len(fingerprint("two words")) == NUM_PERM  # shorter than one shingle: still a fingerprint


def test_fingerprint_is_datasketchs_affine32_minhash():
    """Our numpy MinHash gives datasketch 2's values exactly, on every seed and on edge cases."""
    from datasketch import MinHash

    texts = [seed_text(name) for name in SEEDS] + [EDITED, "two words", "Ünïcode wörds, ÇA VA, 東京 2024 " * 30]
    for text in texts:
        m = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32")
        m.update_batch(shingles(text))
        assert fingerprint(text) == [int(v) for v in m.hashvalues], text[:40]


def test_the_enricher_does_not_import_scipy():
    # The reason fingerprint.py computes MinHash itself: datasketch's import pulls in scipy (~37 MB).
    code = "import sys; from processors.enrich.fingerprint import fingerprint; fingerprint('a b c d e f'); print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_fingerprint_stable_across_processes():
    code = "import sys; from processors.enrich.fingerprint import fingerprint; print(fingerprint(sys.stdin.read()))"
    out = subprocess.run([sys.executable, "-c", code], input=SEED, capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == str(fingerprint(SEED))


def test_shingles_are_case_and_punctuation_blind():
    assert shingles("One two, THREE four five six") == shingles("one two three four five six!")
    assert len(shingles("one two three four five six")) == 2


def test_jaccard_estimate():
    assert estimate_jaccard(fingerprint(SEED), fingerprint(SEED)) == 1.0
    assert estimate_jaccard(fingerprint(SEED), fingerprint(EDITED)) >= 0.85
    assert estimate_jaccard(fingerprint(SEED), fingerprint(seed_text("post-2"))) < 0.2
    assert estimate_jaccard([], fingerprint(SEED)) == 0.0
    with pytest.raises(ValueError, match="different sizes"):
        estimate_jaccard([1, 2], [1, 2, 3])


def test_enricher_on_seed_texts():
    prints = {}
    for name in SEEDS:
        out = Enrichment()
        FingerprintEnricher().enrich(seed_article(name), out)
        prints[name] = out.minhash
        assert len(out.minhash) == NUM_PERM
    assert len({tuple(v) for v in prints.values()}) == len(SEEDS)
