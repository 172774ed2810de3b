"""The one article record that flows ingest -> bus -> processors -> index.

Versioned: every serialised record carries ``schema_version``. A reader refuses a
record from a newer major schema instead of guessing at it (it goes to the dead
letters with that error), and fills defaults for fields an older writer lacked.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"

Headers = tuple[tuple[str, bytes], ...]

# Where a field's value came from: the article page (trafilatura) or the feed entry.
Origin = Literal["page", "feed", "derived"]


class RecordError(ValueError):
    """A payload that is not a readable article record (poison message)."""


@cache
def newsflow_version() -> str:
    try:
        return metadata.version("newsflow")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def article_headers(stage: str) -> Headers:
    """The headers of an article message on the bus, for tools that read the topics without
    decoding the payload: ``schema-version`` (of the JSON record), ``content-type``
    (application/json) and ``producer`` (``newsflow/<version> <stage>``)."""
    return (
        ("schema-version", str(SCHEMA_VERSION).encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("producer", f"newsflow/{newsflow_version()} {stage}".encode()),
    )


def article_id(canonical_url: str) -> str:
    """Stable id: the same canonical url always gives the same id, whichever feed carried it."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Place(BaseModel):
    name: str
    country_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    kind: Literal["country", "city", "region", "unknown"] = "unknown"


class Entities(BaseModel):
    persons: list[str] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)


class Enrichment(BaseModel):
    """What the enrichment workers add. ``versions`` maps enricher name -> version."""

    language: str | None = None
    language_confidence: float | None = None
    keyphrases: list[str] = Field(default_factory=list)
    entities: Entities = Field(default_factory=Entities)
    places: list[Place] = Field(default_factory=list)
    word_count: int | None = None
    reading_time_minutes: float | None = None
    minhash: list[int] = Field(default_factory=list)
    # Set by the index stage's story assignment (newsflow/pipeline/stories.py), not by an enricher.
    near_duplicate_of: str | None = None  # story_of when the relation is a copy (exact or near)
    story_id: str | None = None  # the id of the story's root article
    story_relation: str | None = None  # first | exact_copy | near_copy | rewrite
    story_of: str | None = None  # the member this article was matched to
    story_bands: list[str] = Field(default_factory=list)  # LSH band keys + exact-text key: candidate lookup terms
    versions: dict[str, str] = Field(default_factory=dict)
    # enricher name -> why it failed on this article; its fields are left empty.
    errors: dict[str, str] = Field(default_factory=dict)


class Article(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: int = SCHEMA_VERSION
    id: str
    url: str  # canonical url (courlan), the id's source
    original_url: str | None = None  # the link as the feed gave it
    title: str | None = None
    text: str = ""
    summary: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    authors: list[str] = Field(default_factory=list)
    site: str | None = None  # site name, e.g. "Example News"
    source: str | None = None  # host the article lives on, e.g. "example-news.blogspot.com"
    language_hint: str | None = None  # what the page or feed declares
    categories: list[str] = Field(default_factory=list)  # feed labels / tags
    feeds: list[str] = Field(default_factory=list)  # every feed url that carried it
    provenance: dict[str, Origin] = Field(default_factory=dict)  # field -> where it came from
    fetched_at: datetime = Field(default_factory=utcnow)
    extractor_version: str | None = None  # the page extractor's version (ingest/extract/version.py)
    # Where the raw page is in the archive, "<warc file>:<offset>:<length>" (ingest/archive_writer.py);
    # None when the archive is off or could not write it.
    archive_ref: str | None = None
    enrichment: Enrichment | None = None

    @classmethod
    def new(cls, url: str, **fields: Any) -> "Article":
        return cls(id=article_id(url), url=url, **fields)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=False))

    @classmethod
    def from_json(cls, payload: bytes | str) -> "Article":
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise RecordError(f"not an article object: got {type(data).__name__}")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise RecordError("missing or non-integer schema_version")
        if version > SCHEMA_VERSION:
            raise RecordError(
                f"schema_version {version} is newer than this reader ({SCHEMA_VERSION}); upgrade newsflow"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RecordError(f"invalid article record: {exc.errors(include_url=False)}") from exc

    def merged_with(self, other: "Article") -> "Article":
        """The same article seen again (another feed, a later poll): keep every feed that carried it."""
        feeds = list(dict.fromkeys([*self.feeds, *other.feeds]))
        return self.model_copy(update={"feeds": feeds})
