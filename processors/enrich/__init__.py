"""Enrichment v1: pure functions that add language, keyphrases, entities, places, stats and a
near-duplicate fingerprint to an article record. ``build_chain(cfg)`` composes the enabled ones.

Public API::

    chain = build_chain(settings.enrich)        # loads models; EnricherUnavailable if one is missing
    enriched = chain(article)                   # Article copy with .enrichment (a failed enricher: .errors)
    results = chain.enrich_batch(articles)      # list[Article], spaCy batched
    estimate_jaccard(a.enrichment.minhash, b.enrichment.minhash)
"""

from newsflow.processors.enrich.base import Enricher, EnricherUnavailable
from newsflow.processors.enrich.chain import FACTORIES, EnrichChain, build_chain
from newsflow.processors.enrich.fingerprint import estimate_jaccard, fingerprint

__all__ = [
    "Enricher",
    "EnricherUnavailable",
    "EnrichChain",
    "FACTORIES",
    "build_chain",
    "estimate_jaccard",
    "fingerprint",
]
