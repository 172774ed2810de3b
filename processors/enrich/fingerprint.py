"""Near-duplicate fingerprint: MinHash over word 5-shingles, and the LSH band layout for a threshold.

Story grouping (processors/story.py) turns the fingerprint into band keys the index looks up.

The MinHash is datasketch 2's "affine32" scheme, computed here with numpy: importing datasketch
imports scipy (its LSH tuning needs scipy.integrate), 37 MB of an enrich daemon for a dozen lines
of arithmetic. tests/test_enrich_fingerprint.py checks every value against datasketch's own
``MinHash`` (a dev dependency), so fingerprints are the ones datasketch would give.

The parameters (permutation count, seed, scheme, hash function) are fixed here, so the same text
gives the same fingerprint in every process and on every machine; changing any of them changes
every fingerprint, so it bumps VERSION.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence

import numpy as np

from newsflow.core.record import Article, Enrichment

NAME = "fingerprint"
NUM_PERM = 64
SEED = 1
SCHEME = "affine32"  # datasketch 2's scheme of that name (its default)
SHINGLE_WORDS = 5
VERSION = f"1+{SCHEME}-{NUM_PERM}"

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Lower-cased word n-grams; a text shorter than ``size`` words is one shingle."""
    words = _WORD.findall(text.casefold())
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """affine32's (a, b): h -> a * h + b mod 2**32, a odd (a bijection), drawn as datasketch draws them."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, which affine32 applies to each shingle hash first."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def fingerprint(text: str) -> list[int]:
    """The MinHash of ``text`` as plain ints (JSON-safe); [] for a text without words."""
    grams = shingles(text)
    if not grams:
        return []
    # The first 4 bytes of SHA-1, little-endian: datasketch's sha1_hash32.
    hv = np.fromiter((int.from_bytes(hashlib.sha1(g).digest()[:4], "little") for g in grams),
                     dtype=np.uint32, count=len(grams))
    a, b = _permutations()
    with np.errstate(over="ignore"):  # uint32 wraparound is the mod 2**32
        permuted = _fmix32(hv)[:, None] * a + b
    return [int(v) for v in permuted.min(axis=0)]


def estimate_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two fingerprints (0.0 if either is empty)."""
    if not a or not b:
        return 0.0
    if len(a) != len(b):
        raise ValueError(f"fingerprints of different sizes ({len(a)} vs {len(b)}): made with other settings")
    return sum(1 for x, y in zip(a, b) if x == y) / len(a)


# LSH only proposes candidates; each is checked against the threshold with the full fingerprint.
# datasketch's own (b, r) choice for 64 permutations misses many similar pairs near the
# threshold, so favour recall instead: false candidates cost one comparison each.
MIN_RECALL = 0.99


def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows): the most rows per band that still finds a pair at ``threshold`` with MIN_RECALL."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= MIN_RECALL:
            best = (bands, rows)
    return best


class FingerprintEnricher:
    NAME = NAME
    VERSION = VERSION

    def __init__(self) -> None:
        _permutations()

    @property
    def version(self) -> str:
        return VERSION

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.minhash = fingerprint(article.text)
