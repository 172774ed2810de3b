"""Keyphrases (YAKE: unsupervised, per-document statistics, stopword list per language)."""

from __future__ import annotations

import threading

import yake

from ingest.record import Article, Enrichment
from processors.enrich.base import article_language, head_words

NAME = "keyphrases"
VERSION = "1"

# YAKE's cost grows with the text; the lead of a news article carries its key terms.
MAX_WORDS = 3000
NGRAM = 3
DEDUP_LIM = 0.9
# YAKE ranks overlapping n-grams ("Minister Sergei Ryabkov", "Foreign Minister Sergei") side by
# side; ask for more candidates than needed and keep the best one per word.
CANDIDATES_PER_PHRASE = 4
# YAKE names stopword files by its own codes; unknown languages fall back to its language-free list.
_YAKE_CODES = {"cs": "cz"}
_NO_LANGUAGE = "xx"
# YAKE splits words on spaces; these scripts have none, so it returns whole sentences. Skipped.
UNSEGMENTED = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
MAX_PHRASE_CHARS = 80  # longer "phrases" are unsplit runs of text, not keyphrases


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
        self._extractors: dict[str, yake.KeywordExtractor] = {}
        self._lock = threading.Lock()
        self._extractor("en")

    @property
    def version(self) -> str:
        return VERSION

    def _extractor(self, lang: str) -> yake.KeywordExtractor:
        code = _YAKE_CODES.get(lang, lang)
        with self._lock:
            ex = self._extractors.get(code)
            if ex is None:
                ex = yake.KeywordExtractor(
                    lan=code, n=NGRAM, dedup_lim=DEDUP_LIM, top=self.max_keyphrases * CANDIDATES_PER_PHRASE
                )
                self._extractors[code] = ex
            return ex

    def keyphrases(self, text: str, lang: str | None) -> list[str]:
        text = head_words(text, MAX_WORDS)
        if not text.strip() or lang in UNSEGMENTED:
            return []
        ranked = self._extractor(lang or _NO_LANGUAGE).extract_keywords(text)
        return pick_diverse([phrase for phrase, _score in ranked], self.max_keyphrases)

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.keyphrases = self.keyphrases(article.text, article_language(article, out))
