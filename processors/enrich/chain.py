"""Composes the enabled enrichers (``EnrichConfig``) into one call on an article or a batch.

Building the chain loads every model and table, so a missing model fails at start-up. The
enrichers run in a fixed order (language first: keyphrases and entities use it; entities before
places), whatever the order in the config. The chain keeps no state between articles: copies and
stories are found against the index by the index stage (newsflow/pipeline/stories.py).

One enricher failing on one article costs that enricher's fields only: they are left empty, the
error is recorded on the article (``enrichment.errors``) and counted, and the article goes on.
Every enricher reads at most ``MAX_INPUT_CHARS`` of the text, whatever a page sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import Counter

from newsflow.core.record import Article, Enrichment
from newsflow.core.text import truncate
from newsflow.processors.enrich.base import Enricher

if TYPE_CHECKING:
    from newsflow.processors.config import EnrichConfig


def _language(cfg: "EnrichConfig") -> Enricher:
    from newsflow.processors.enrich.language import LanguageEnricher

    return LanguageEnricher()


def _stats(cfg: "EnrichConfig") -> Enricher:
    from newsflow.processors.enrich.stats import StatsEnricher

    return StatsEnricher()


def _keyphrases(cfg: "EnrichConfig") -> Enricher:
    from newsflow.processors.enrich.keyphrases import KeyphraseEnricher

    return KeyphraseEnricher(cfg.max_keyphrases)


def _entities(cfg: "EnrichConfig") -> Enricher:
    from newsflow.processors.enrich.entities import EntityEnricher

    return EntityEnricher(cfg.spacy_model)


def _places(cfg: "EnrichConfig") -> Enricher:
    from newsflow.processors.enrich.places import PlaceEnricher

    return PlaceEnricher()


def _fingerprint(cfg: "EnrichConfig") -> Enricher:
    from newsflow.processors.enrich.fingerprint import FingerprintEnricher

    return FingerprintEnricher()


# Run order. Imports are lazy so a deployment without an enricher's library can switch it off.
FACTORIES: dict[str, Callable[["EnrichConfig"], Enricher]] = {
    "language": _language,
    "stats": _stats,
    "keyphrases": _keyphrases,
    "entities": _entities,
    "places": _places,
    "fingerprint": _fingerprint,
}
REQUIRES = {"places": "entities"}

# News articles are far shorter; a page this long is a dump, and every enricher's cost grows with it.
MAX_INPUT_CHARS = 200_000
MAX_ERROR_CHARS = 300

ENRICHER_ERRORS = Counter(
    "newsflow_enricher_errors_total", "Articles an enricher failed on (its fields left empty, the article kept)", ["enricher"]
)
log = logging.getLogger(__name__)


def capped(article: Article) -> Article:
    """The article as the enrichers see it: its text cut at ``MAX_INPUT_CHARS`` characters."""
    if len(article.text) <= MAX_INPUT_CHARS:
        return article
    return article.model_copy(update={"text": article.text[:MAX_INPUT_CHARS]})


class EnrichChain:
    """``chain(article)`` -> a copy of the article with ``enrichment`` set. Thread-compatible, not thread-safe."""

    def __init__(self, enrichers: Sequence[Enricher]) -> None:
        self.enrichers = list(enrichers)
        # Cumulative seconds and calls per enricher, for metrics and the run summary.
        self.seconds: dict[str, float] = {e.NAME: 0.0 for e in self.enrichers}
        self.calls: dict[str, int] = {e.NAME: 0 for e in self.enrichers}

    @property
    def names(self) -> list[str]:
        return [e.NAME for e in self.enrichers]

    @property
    def versions(self) -> dict[str, str]:
        return {e.NAME: e.version for e in self.enrichers}

    def __call__(self, article: Article) -> Article:
        """Enrich one article. An enricher that fails leaves its fields empty (see module doc)."""
        seen, out = capped(article), Enrichment()
        for enricher in self.enrichers:
            start = time.perf_counter()
            self._run(enricher, seen, out)
            self._count(enricher.NAME, time.perf_counter() - start, 1)
        return self._finish(article, out)

    def enrich_batch(self, articles: Sequence[Article]) -> list[Article]:
        """Enrich many articles at once (spaCy runs them as one batch); one result per article, in order.

        When a batch fails, its articles are retried one at a time, so a bad article fails alone.
        """
        seen = [capped(a) for a in articles]
        outs = [Enrichment() for _ in articles]
        for enricher in self.enrichers:
            start = time.perf_counter()
            batch = getattr(enricher, "enrich_batch", None)
            batched = False
            if batch is not None:
                saved = [out.model_copy(deep=True) for out in outs]
                try:
                    batch(list(zip(seen, outs)))
                    batched = True
                except Exception:
                    outs = saved  # retried one at a time below
            if not batched:
                for a, out in zip(seen, outs):
                    self._run(enricher, a, out)
            self._count(enricher.NAME, time.perf_counter() - start, len(articles))
        return [self._finish(a, out) for a, out in zip(articles, outs)]

    def _run(self, enricher: Enricher, article: Article, out: Enrichment) -> None:
        before = out.model_copy(deep=True)
        try:
            enricher.enrich(article, out)
        except Exception as exc:  # any failure of one enricher on one article: see module doc
            for field in Enrichment.model_fields:  # undo what it half wrote
                setattr(out, field, getattr(before, field))
            out.errors[enricher.NAME] = truncate(f"{type(exc).__name__}: {exc}", MAX_ERROR_CHARS)
            ENRICHER_ERRORS.labels(enricher.NAME).inc()
            log.warning("enricher failed, its fields left empty", extra={
                "enricher": enricher.NAME, "article": article.id, "error": out.errors[enricher.NAME]})

    def _finish(self, article: Article, out: Enrichment) -> Article:
        out.versions = self.versions
        return article.model_copy(update={"enrichment": out})

    def _count(self, name: str, seconds: float, n: int) -> None:
        self.seconds[name] += seconds
        self.calls[name] += n


def build_chain(cfg: "EnrichConfig") -> EnrichChain:
    """The chain for ``cfg.enrichers``, models loaded. Raises EnricherUnavailable, or ValueError for a bad list."""
    enabled = list(dict.fromkeys(cfg.enrichers))
    unknown = [n for n in enabled if n not in FACTORIES]
    if unknown:
        raise ValueError(f"enrich.enrichers: unknown enricher(s) {unknown}; known: {list(FACTORIES)}")
    for name, needs in REQUIRES.items():
        if name in enabled and needs not in enabled:
            raise ValueError(f"enrich.enrichers: {name!r} needs {needs!r} enabled too")
    return EnrichChain([FACTORIES[name](cfg) for name in FACTORIES if name in enabled])
