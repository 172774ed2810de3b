"""Near-duplicate fingerprint: MinHash over word 5-shingles (datasketch), and an LSH index.

The MinHash parameters (permutation count, seed, scheme, hash function) are fixed here, so the
same text gives the same fingerprint in every process and on every machine; changing any of them
changes every fingerprint, so it bumps VERSION.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

from datasketch import MinHash, MinHashLSH

from ingest.record import Article, Enrichment

NAME = "fingerprint"
NUM_PERM = 64
SEED = 1
SCHEME = "affine32"  # datasketch 2's default, named so a library default change cannot move it
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
def _template() -> MinHash:
    # Reused for its permutations: generating them is most of a MinHash's construction cost.
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)


def _minhash(hashvalues: Sequence[int] | None = None) -> MinHash:
    t = _template()
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, permutations=t.permutations, hashvalues=hashvalues)


def fingerprint(text: str) -> list[int]:
    """The MinHash of ``text`` as plain ints (JSON-safe); [] for a text without words."""
    grams = shingles(text)
    if not grams:
        return []
    m = _minhash()
    m.update_batch(grams)
    return [int(v) for v in m.hashvalues]


def estimate_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two fingerprints (0.0 if either is empty)."""
    if not a or not b:
        return 0.0
    if len(a) != len(b):
        raise ValueError(f"fingerprints of different sizes ({len(a)} vs {len(b)}): made with other settings")
    return sum(1 for x, y in zip(a, b) if x == y) / len(a)


# LSH only proposes candidates; each is checked against the threshold with the full fingerprint.
# datasketch's own (b, r) choice for 64 permutations finds a 0.9-similar pair only ~60% of the
# time at threshold 0.85, so favour recall instead: false candidates cost one comparison each.
MIN_RECALL = 0.99


def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows): the most rows per band that still finds a pair at ``threshold`` with MIN_RECALL."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= MIN_RECALL:
            best = (bands, rows)
    return best


class NearDuplicateIndex:
    """Fingerprints seen by this process, to find an earlier article with nearly the same text.

    Bounded: past ``capacity`` articles the oldest is forgotten. Per process and in memory, so
    duplicates are found among the articles one worker has seen since it started.
    """

    def __init__(self, threshold: float = 0.85, capacity: int = 100_000) -> None:
        self.threshold = threshold
        self.capacity = capacity
        self._lsh = MinHashLSH(num_perm=NUM_PERM, params=lsh_params(threshold))
        self._seen: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_add(self, article_id: str, hashvalues: Sequence[int]) -> str | None:
        """The id of the most similar other article at or above the threshold (None if none); then remember this one."""
        if len(hashvalues) != NUM_PERM:
            return None  # no text, or a fingerprint made with other settings
        m = _minhash(hashvalues)
        with self._lock:
            best, best_sim = None, 0.0
            for other in self._lsh.query(m):
                if other == article_id:
                    continue  # the same article again (another feed, an update) is not its own duplicate
                sim = estimate_jaccard(hashvalues, self._seen[other])
                if sim >= self.threshold and sim > best_sim:
                    best, best_sim = other, sim
            if article_id in self._seen:
                self._lsh.remove(article_id)
                del self._seen[article_id]
            self._lsh.insert(article_id, m)
            self._seen[article_id] = list(hashvalues)
            while len(self._seen) > self.capacity:
                old, _ = self._seen.popitem(last=False)
                self._lsh.remove(old)
            return best


class FingerprintEnricher:
    NAME = NAME
    VERSION = VERSION

    def __init__(self) -> None:
        _template()

    @property
    def version(self) -> str:
        return VERSION

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.minhash = fingerprint(article.text)
