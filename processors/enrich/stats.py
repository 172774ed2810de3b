"""Word count and reading time."""

from __future__ import annotations

import re

from newsflow.core.record import Article, Enrichment

NAME = "stats"
VERSION = "1"

WORDS_PER_MINUTE = 230
# A word is a run of letters/digits; "don't", "business-like" and "12,000" count once.
_WORD = re.compile(r"\w+(?:['’.,\-]\w+)*")


def word_count(text: str) -> int:
    # Scripts written without spaces (Chinese, Japanese, Thai) count a run as one word: a known undercount.
    return sum(1 for _ in _WORD.finditer(text))


def reading_time_minutes(words: int) -> float:
    return round(words / WORDS_PER_MINUTE, 1)


class StatsEnricher:
    NAME = NAME
    VERSION = VERSION

    @property
    def version(self) -> str:
        return VERSION

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.word_count = word_count(article.text)
        out.reading_time_minutes = reading_time_minutes(out.word_count)
