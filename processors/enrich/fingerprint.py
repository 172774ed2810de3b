"""Near-duplicate fingerprint: MinHash over word 5-shingles, and a bounded LSH index.

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
import threading
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


class NearDuplicateIndex:
    """Fingerprints seen by this process, to find an earlier article with nearly the same text.

    Bounded: past ``capacity`` articles the oldest is forgotten. Per process and in memory, so
    duplicates are found among the articles one worker has seen since it started.

    A ring of numpy arrays, not datasketch's ``MinHashLSH``: that one keeps a dict entry per band
    per article, ~3.5 kB an article (350 MB at the default capacity, the enrich daemon's whole
    budget), while here an article costs its 64 uint32 values and one uint64 key per band,
    ~340 bytes, allocated at start and never more. The banding is the same LSH (``lsh_params``);
    a query compares the band keys of every slot at once (about a millisecond at 100,000).
    """

    def __init__(self, threshold: float = 0.85, capacity: int = 100_000) -> None:
        self.threshold = threshold
        self.capacity = capacity
        self.bands, self.rows = lsh_params(threshold)
        # np.zeros maps pages lazily: a slot costs memory once it is written.
        self._sigs = np.zeros((capacity, NUM_PERM), dtype=np.uint32)
        self._keys = np.zeros((capacity, self.bands), dtype=np.uint64)
        self._ids: list[str | None] = [None] * capacity
        self._slots: dict[str, int] = {}
        self._next = 0
        self._filled = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    def _band_keys(self, sig: np.ndarray) -> np.ndarray:
        """One 64-bit key per band: equal bands give equal keys; a rare collision only adds a
        candidate, which the full comparison then rejects."""
        rows = sig[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        keys = np.zeros(self.bands, dtype=np.uint64)
        for r in range(self.rows):
            keys = keys * np.uint64(0x100000001B3) ^ rows[:, r]  # FNV-style mix, wrapping mod 2**64
        return keys

    def check_and_add(self, article_id: str, hashvalues: Sequence[int]) -> str | None:
        """The id of the most similar other article at or above the threshold (None if none); then remember this one."""
        if len(hashvalues) != NUM_PERM:
            return None  # no text, or a fingerprint made with other settings
        sig = np.asarray(hashvalues, dtype=np.uint32)
        keys = self._band_keys(sig)
        with self._lock:
            best, best_sim = None, 0.0
            candidates = np.flatnonzero((self._keys[: self._filled] == keys).any(axis=1))
            if len(candidates):
                sims = (self._sigs[candidates] == sig).mean(axis=1)
                for slot, sim in zip(candidates.tolist(), sims.tolist()):
                    other = self._ids[slot]
                    if other == article_id:
                        continue  # the same article again (another feed, an update) is not its own duplicate
                    if sim >= self.threshold and sim > best_sim:
                        best, best_sim = other, sim
            slot = self._slots.get(article_id)
            if slot is None:
                slot = self._next
                evicted = self._ids[slot]
                if evicted is not None:
                    del self._slots[evicted]  # the oldest is forgotten
                self._next = (slot + 1) % self.capacity
                self._filled = max(self._filled, slot + 1)
                self._ids[slot] = article_id
                self._slots[article_id] = slot
            self._sigs[slot] = sig
            self._keys[slot] = keys
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
