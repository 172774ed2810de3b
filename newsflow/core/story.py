"""What story grouping knows of one article: shared by the pure grouping (processors/story.py),
the story stores that read members back from the index (index/), and the pipeline between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoryMember:
    id: str
    at: datetime  # published, else fetched (UTC): the time stories are ordered by
    signature: tuple[int, ...] = ()  # the MinHash
    keys: tuple[str, ...] = ()  # story_bands: LSH band keys and the exact-text key
    story_id: str | None = None
    relation: str | None = None
    story_of: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        """The total order of members: time, then id."""
        return (self.at, self.id)
