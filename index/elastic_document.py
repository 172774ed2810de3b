"""Article <-> Elasticsearch document (pure): the fields analysts query and chart, and the way back."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Mapping

from newsflow.core.lang import primary_language
from newsflow.core.record import Article, Enrichment, Entities, Place, utcnow
from newsflow.index.normalise import article_language


def _finite(x: float | None) -> float | None:
    # NaN/inf are not JSON: Elasticsearch would reject the whole document over one bad statistic.
    return x if x is not None and math.isfinite(x) else None


def _geo(place: Place) -> dict[str, float] | None:
    lat, lon = _finite(place.lat), _finite(place.lon)
    return {"lat": lat, "lon": lon} if lat is not None and lon is not None else None


def to_document(article: Article, ingested_at: datetime | str | None = None) -> dict[str, Any]:
    """The Elasticsearch document for an article. ``@timestamp`` is the published time, else the fetch time."""
    a = article.model_dump(mode="json")
    if ingested_at is None:
        ingested_at = utcnow()
    doc: dict[str, Any] = {
        "@timestamp": a["published_at"] or a["fetched_at"],
        "published_at": a["published_at"],
        "updated_at": a["updated_at"],
        "fetched_at": a["fetched_at"],
        "extractor_version": a["extractor_version"],
        "archive_ref": a["archive_ref"],
        "ingested_at": ingested_at.isoformat() if isinstance(ingested_at, datetime) else ingested_at,
        "schema_version": a["schema_version"],
        "id": a["id"],
        "url": a["url"],
        "original_url": a["original_url"],
        "title": a["title"],
        "text": a["text"],
        "summary": a["summary"],
        "authors": a["authors"],
        "site": a["site"],
        "source": a["source"],
        "feeds": a["feeds"],
        "categories": a["categories"],
        "language_hint": a["language_hint"],
        "provenance": a["provenance"],
        "enriched": article.enrichment is not None,
    }
    e = article.enrichment
    # `language` is what analysts facet on: the detected language, else what the page declared.
    doc["language"] = primary_language(article_language(article))
    if e is not None:
        locations = [g for g in (_geo(p) for p in e.places) if g is not None]
        doc.update(
            detected_language=e.language,
            language_confidence=_finite(e.language_confidence),
            entities=e.entities.model_dump(),
            keyphrases=list(e.keyphrases),
            places=[
                {"name": p.name, "country_code": p.country_code, "kind": p.kind, "location": _geo(p)} for p in e.places
            ],
            place_locations=locations,
            country_codes=sorted({p.country_code for p in e.places if p.country_code}),
            word_count=e.word_count,
            reading_time_minutes=_finite(e.reading_time_minutes),
            minhash=list(e.minhash),
            near_duplicate_of=e.near_duplicate_of,
            story_id=e.story_id,
            story_relation=e.story_relation,
            story_of=e.story_of,
            story_bands=list(e.story_bands),
            enrichment_versions=dict(e.versions),
        )
    return doc


def from_document(src: Mapping[str, Any]) -> Article:
    """The article back from its document (inverse of ``to_document``, ``ingested_at`` aside)."""
    enrichment = None
    if src.get("enriched"):
        places = []
        for p in src.get("places") or []:
            loc = p.get("location") or {}
            places.append(
                Place(
                    name=p["name"],
                    country_code=p.get("country_code"),
                    kind=p.get("kind") or "unknown",
                    lat=loc.get("lat"),
                    lon=loc.get("lon"),
                )
            )
        enrichment = Enrichment(
            language=src.get("detected_language"),
            language_confidence=src.get("language_confidence"),
            keyphrases=src.get("keyphrases") or [],
            entities=Entities(**(src.get("entities") or {})),
            places=places,
            word_count=src.get("word_count"),
            reading_time_minutes=src.get("reading_time_minutes"),
            minhash=src.get("minhash") or [],
            near_duplicate_of=src.get("near_duplicate_of"),
            story_id=src.get("story_id"),
            story_relation=src.get("story_relation"),
            story_of=src.get("story_of"),
            story_bands=src.get("story_bands") or [],
            versions=src.get("enrichment_versions") or {},
        )
    fields = (
        "schema_version", "id", "url", "original_url", "title", "text", "summary", "published_at", "updated_at",
        "authors", "site", "source", "language_hint", "categories", "feeds", "provenance", "fetched_at",
        "extractor_version", "archive_ref",
    )  # fmt: skip
    data = {k: src[k] for k in fields if src.get(k) is not None}
    return Article.model_validate({**data, "enrichment": enrichment})
