"""Story <-> stored document (pure): the same JSON shape in Elasticsearch's stories index and in
SQLite's ``stories`` table; and a stored article's story fields -> ``StoredMember``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from newsflow.index.base import StoredMember, Story


def to_story_document(story: Story) -> dict[str, Any]:
    return {
        "story_id": story.story_id,
        "size": story.size,
        "sites": list(story.sites),
        "site_count": story.site_count,
        "first_seen": story.first_seen.isoformat(),
        "first_site": story.first_site,
        "first_article": story.first_article,
        "last_update": story.last_update.isoformat(),
        "title": story.title,
        "languages": list(story.languages),
    }


def from_story_document(src: Mapping[str, Any]) -> Story:
    return Story(
        story_id=src["story_id"],
        size=int(src["size"]),
        sites=list(src.get("sites") or []),
        site_count=int(src.get("site_count") or 0),
        first_seen=parse_time(src["first_seen"]),
        first_site=src.get("first_site"),
        first_article=src["first_article"],
        last_update=parse_time(src["last_update"]),
        title=src.get("title"),
        languages=list(src.get("languages") or []),
    )


def parse_time(value: str | float | datetime) -> datetime:
    """ISO text (either backend's), epoch seconds or a datetime -> an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def stored_member(article_id: str, at: str | float | datetime, enrichment: Mapping[str, Any] | None) -> StoredMember:
    """A member from an article's time and its (document or record) story fields."""
    e = enrichment or {}
    return StoredMember(
        id=article_id,
        at=parse_time(at),
        signature=tuple(int(v) for v in e.get("minhash") or ()),
        keys=tuple(e.get("story_bands") or ()),
        story_id=e.get("story_id"),
        relation=e.get("story_relation"),
        story_of=e.get("story_of"),
    )
