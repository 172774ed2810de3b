"""The processors layer's config section ([enrich])."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from newsflow.core.config import Section

# The enrichers processors/enrich knows, in their default order: the one list of their names
# (enrich/chain.py builds each from it), so a typo in the config fails at load.
EnricherName = Literal["language", "stats", "keyphrases", "entities", "places", "fingerprint"]
ENRICHER_NAMES: tuple[str, ...] = get_args(EnricherName)


class EnrichConfig(Section):
    enrichers: list[EnricherName] = Field(default_factory=lambda: list(ENRICHER_NAMES))
    spacy_model: str = Field(default="en_core_web_sm", description="package name or path of a spaCy pipeline")
    max_keyphrases: int = Field(default=10, ge=1)
    near_duplicate_threshold: float = Field(default=0.85, gt=0, le=1)
    workers: int = Field(default=1, ge=1, description="enrichment processes")
