"""What every enricher shares: the protocol, the errors, and small text helpers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from newsflow.core.lang import primary_language
from newsflow.core.record import Article, Enrichment


class EnricherUnavailable(RuntimeError):
    """An enricher cannot run in this process (e.g. its model is not installed). Raised at start-up."""


@runtime_checkable
class Enricher(Protocol):
    """Adds its part to ``out`` from the article; must not mutate the article.

    ``version`` is what the chain records in ``Enrichment.versions``; bump ``VERSION`` whenever the
    output for the same input changes. An enricher may also offer
    ``enrich_batch(items: Sequence[tuple[Article, Enrichment]]) -> None`` when batching is cheaper.
    """

    NAME: str
    VERSION: str

    @property
    def version(self) -> str: ...

    def enrich(self, article: Article, out: Enrichment) -> None: ...


BatchItems = Sequence[tuple[Article, Enrichment]]

def article_language(article: Article, out: Enrichment) -> str | None:
    """The detected language if the language enricher ran, else what the page or feed declared."""
    return out.language or primary_language(article.language_hint)


_WORD_END = re.compile(r"\S+")


def head_words(text: str, max_words: int) -> str:
    """The text up to the end of its ``max_words``-th word, layout kept (cheap cap for slow enrichers)."""
    for i, m in enumerate(_WORD_END.finditer(text), start=1):
        if i == max_words:
            return text[: m.end()]
    return text
