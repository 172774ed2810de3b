"""Articles the index tests write: small ones built field by field, and the seed article (enriched)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from newsflow.core.record import Article, Enrichment, Entities, Place

SEED = Path(__file__).resolve().parents[2] / "seeds" / "us-russia-talks.txt"
T0 = datetime(2025, 2, 18, 9, 30, tzinfo=timezone.utc)


def make(
    i: int,
    title: str,
    text: str,
    *,
    source: str = "news.example",
    site: str | None = "Example News",
    language: str | None = "en",
    hint: str | None = None,
    published: datetime | None = T0,
    persons: list[str] | None = None,
    places: list[str] | None = None,
    feeds: list[str] | None = None,
) -> Article:
    enrichment = Enrichment(
        language=language,
        entities=Entities(persons=persons or [], locations=[]),
        places=[Place(name=p) for p in places or []],
        keyphrases=["diplomacy"] if i % 2 else [],
    )
    return Article.new(
        f"https://{source}/{i}",
        title=title,
        text=text,
        source=source,
        site=site,
        language_hint=hint,
        published_at=published,
        feeds=feeds or [f"https://{source}/feed"],
        enrichment=enrichment,
    )


def enriched(url: str, **fields) -> Article:
    enrichment = fields.pop(
        "enrichment",
        Enrichment(
            language="en",
            language_confidence=0.98,
            keyphrases=["peace talks", "Riyadh"],
            entities=Entities(persons=["Marco Rubio", "Sergei Lavrov"], organisations=["Kremlin"], locations=["Riyadh"]),
            places=[
                Place(name="Riyadh", country_code="SA", lat=24.69, lon=46.72, kind="city"),
                Place(name="Ukraine", country_code="UA", kind="country"),  # unresolved coordinates
            ],
            word_count=812,
            reading_time_minutes=3.7,
            minhash=[3, 1, 4, 1, 5],
            versions={"entities": "spacy-3.8"},
        ),
    )
    return Article.new(url, enrichment=enrichment, **fields)


def seed_article(**fields) -> Article:
    defaults = dict(
        title="US and Russia agree to keep talking after Riyadh meeting",
        text=SEED.read_text(encoding="utf-8"),
        summary="Officials met in Saudi Arabia.",
        published_at=T0,
        site="Example News",
        source="example-news.blogspot.com",
        feeds=["https://example-news.blogspot.com/feeds/posts/default"],
        authors=["A. Reporter"],
        categories=["world"],
        language_hint="en",
        provenance={"title": "page", "published_at": "feed"},
    )
    defaults.update(fields)
    return enriched("https://example-news.blogspot.com/2025/02/us-russia-talks.html", **defaults)
