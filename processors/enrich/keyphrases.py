"""Keyphrases (YAKE: unsupervised, per-document statistics, stopword list per language).

YAKE runs in ``yake-rust``, a port of the reference implementation (LIAAD's ``yake``) with the
same stopword lists, at a fraction of its CPU and with nearly the same phrases (the figures:
docs/performance.md, "Keyphrases"). ``newsflow bench enrich`` measures both when the reference
is installed.
"""

from __future__ import annotations

import re
import threading

from yake_rust import Yake

from newsflow.core.record import Article, Enrichment
from newsflow.processors.enrich.base import article_language, head_words

NAME = "keyphrases"
# 2: yake-rust instead of the reference implementation. 3: typographic apostrophes normalised,
# contractions kept out ("n’t" was the top keyphrase of English articles).
VERSION = "3"

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

# YAKE's tokenizer knows contractions by the ASCII apostrophe only ("don't" -> "do" + "n't", a
# stopword); with a typographic one "n’t" and "’s" became words of their own, and top phrases.
# So every apostrophe look-alike becomes "'" before YAKE runs (and the other typographic
# variants of ASCII punctuation, so a word is the same word however it was typeset).
_APOSTROPHES = "\u2019\u2018\u201b\u02bc\uff07\u2032\u00b4\u0060"  # ’ ‘ ‛ ʼ ＇ ′ ´ `
_TYPOGRAPHY = str.maketrans(
    {
        **{c: "'" for c in _APOSTROPHES},
        **{c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\uff02"},  # “ ” „ ‟ ″ ＂
        **{c: "-" for c in "\u2010\u2011\u2012\uff0d"},  # hyphens (not the dashes between words)
        "\u00ad": None,  # soft hyphen
    }
)
# A contraction or clitic as a word of a phrase: "n't", "'s", "don't", "it's", "they're", "I'm"
# (names with an apostrophe inside stay: "O'Brien", "d'Ivoire").
_CONTRACTION = re.compile(r"^\w*'(?:s|t|re|ve|ll|d|m)$", re.IGNORECASE)


def normalise_typography(text: str) -> str:
    """Apostrophe and quote look-alikes as ASCII ' and ", hyphen variants as -, no soft hyphens."""
    return text.translate(_TYPOGRAPHY)


def has_contraction(phrase: str) -> bool:
    return any(_CONTRACTION.match(w) for w in normalise_typography(phrase).split())


def yake_code(lang: str | None) -> str:
    """YAKE's stopword-list code for a language; ``NO_LANGUAGE`` when it has none."""
    code = _YAKE_CODES.get(lang or "", lang or "")
    return code if code in YAKE_LANGUAGES else NO_LANGUAGE


def yake_input(text: str, lang: str | None) -> tuple[str, str] | None:
    """(the text YAKE gets, its language code), or None when there is nothing to run it on."""
    text = head_words(text, MAX_WORDS)
    if not text.strip() or lang in UNSEGMENTED:
        return None
    return normalise_typography(text), yake_code(lang)


def pick_diverse(candidates: list[str], k: int) -> list[str]:
    """The first ``k`` candidates that share no word (case-insensitively) with an earlier pick,
    without numbers, contractions and over-long runs."""
    picked: list[str] = []
    used: set[str] = set()
    for phrase in candidates:
        words = {w.casefold() for w in phrase.split()}
        if (
            not words
            or words & used
            or phrase.replace(" ", "").isdigit()
            or len(phrase) > MAX_PHRASE_CHARS
            or has_contraction(phrase)
        ):
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
