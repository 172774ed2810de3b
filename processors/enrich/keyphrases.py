"""Keyphrases (YAKE: unsupervised, per-document statistics, stopword list per language).

YAKE runs in ``yake-rust``, a port of the reference implementation (LIAAD's ``yake``) with the
same stopword lists, at a fraction of its CPU and with nearly the same phrases (the figures:
docs/performance.md, "Keyphrases"). ``newsflow bench enrich`` measures both when the reference
is installed.
"""

from __future__ import annotations

import threading

from yake_rust import Yake

from newsflow.core.record import Article, Enrichment
from newsflow.processors.enrich.base import article_language, head_words

NAME = "keyphrases"
VERSION = "2"  # 2: yake-rust instead of the reference implementation

# YAKE's cost grows with the text; the lead of a news article carries its key terms.
MAX_WORDS = 3000
NGRAM = 3
DEDUP_LIM = 0.9
# YAKE ranks overlapping n-grams ("Minister Sergei Ryabkov", "Foreign Minister Sergei") side by
# side; ask for more candidates than needed and keep the best one per word.
CANDIDATES_PER_PHRASE = 4
# The languages YAKE has stopword lists for, by its own codes (yake-rust panics on any other);
# other languages get no stopwords, as the reference's empty language-free list gives them.
YAKE_LANGUAGES = frozenset(
    "ar bg br cz da de el en es et fa fi fr hi hr hu hy id it ja lt lv nl no pl pt ro ru sk sl sv tr uk zh".split()
)
_YAKE_CODES = {"cs": "cz", "nb": "no", "nn": "no"}
NO_LANGUAGE = "xx"
# YAKE splits words on spaces; these scripts have none, so it returns whole sentences. Skipped.
UNSEGMENTED = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
MAX_PHRASE_CHARS = 80  # longer "phrases" are unsplit runs of text, not keyphrases


def yake_code(lang: str | None) -> str:
    """YAKE's stopword-list code for a language; ``NO_LANGUAGE`` when it has none."""
    code = _YAKE_CODES.get(lang or "", lang or "")
    return code if code in YAKE_LANGUAGES else NO_LANGUAGE


def yake_input(text: str, lang: str | None) -> tuple[str, str] | None:
    """(the text YAKE gets, its language code), or None when there is nothing to run it on."""
    text = head_words(text, MAX_WORDS)
    if not text.strip() or lang in UNSEGMENTED:
        return None
    return text, yake_code(lang)


def pick_diverse(candidates: list[str], k: int) -> list[str]:
    """The first ``k`` candidates that share no word (case-insensitively) with an earlier pick."""
    picked: list[str] = []
    used: set[str] = set()
    for phrase in candidates:
        words = {w.casefold() for w in phrase.split()}
        if not words or words & used or phrase.replace(" ", "").isdigit() or len(phrase) > MAX_PHRASE_CHARS:
            continue
        picked.append(phrase)
        used |= words
        if len(picked) == k:
            break
    return picked


class KeyphraseEnricher:
    NAME = NAME
    VERSION = VERSION

    def __init__(self, max_keyphrases: int = 10) -> None:
        self.max_keyphrases = max_keyphrases
        self._extractors: dict[str, Yake] = {}
        self._lock = threading.Lock()
        self._extractor("en")

    @property
    def version(self) -> str:
        return VERSION

    def _extractor(self, lang: str | None) -> Yake:
        code = yake_code(lang)
        with self._lock:
            ex = self._extractors.get(code)
            if ex is None:
                if code == NO_LANGUAGE:
                    ex = Yake(stopwords=set(), ngrams=NGRAM, deduplication_threshold=DEDUP_LIM)
                else:
                    ex = Yake(language=code, ngrams=NGRAM, deduplication_threshold=DEDUP_LIM)
                self._extractors[code] = ex
            return ex

    def keyphrases(self, text: str, lang: str | None) -> list[str]:
        prepared = yake_input(text, lang)
        if prepared is None:
            return []
        text, code = prepared
        extractor = self._extractor(code)
        try:
            ranked = extractor.get_n_best(text, n=self.max_keyphrases * CANDIDATES_PER_PHRASE)
        except BaseException as exc:
            # A Rust panic arrives as pyo3's PanicException, a BaseException: make it this
            # article's error (counted, dead-lettered) instead of the daemon's end.
            if type(exc).__name__ != "PanicException":
                raise
            raise RuntimeError(f"yake-rust panicked: {exc}") from exc
        return pick_diverse([phrase for phrase, _score in ranked], self.max_keyphrases)

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.keyphrases = self.keyphrases(article.text, article_language(article, out))
