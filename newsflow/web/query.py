"""The page's URL parameters <-> a SearchQuery (pure): the same query language as `newsflow search`
(words, ``"phrases"``, ``prefix*`` on the embedded index; source, language, entity, since, until),
plus ``story`` (the members of one story)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Mapping
from urllib.parse import urlencode

from newsflow.index.base import SearchQuery

# Page parameter -> what it filters; a facet link sets one of them.
FILTERS = ("source", "language", "entity", "story", "since", "until")
# Facet (index.base.FACETS) -> the parameter a click on one of its values sets.
FACET_PARAM = {"site": "source", "language": "language", "persons": "entity", "organisations": "entity", "places": "entity"}
MAX_TEXT = 500  # characters of query text kept


@dataclass(frozen=True)
class PageQuery:
    """What the page was asked: its parameters, cleaned (blank ones dropped)."""

    params: dict[str, str]
    errors: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.params.get("q", "")

    def search_query(self, limit: int) -> SearchQuery:
        p = self.params
        return SearchQuery(
            text=self.text,
            source=p.get("source"),
            language=p.get("language"),
            entity=p.get("entity"),
            story_id=p.get("story"),
            since=_day(p.get("since")),
            until=_day(p.get("until")),
            limit=limit,
        )

    def href(self, **changes: str | None) -> str:
        """This page's URL with some parameters set (a value) or removed (None)."""
        params = {**self.params, **changes}
        kept = {k: v for k, v in params.items() if v}
        return "/?" + urlencode(kept) if kept else "/"

    def day_href(self, day: str) -> str:
        """Narrow the time range to one day (a histogram bar): since that day, until the next."""
        start = date.fromisoformat(day)
        return self.href(since=start.isoformat(), until=(start + timedelta(days=1)).isoformat())


def parse(args: Mapping[str, str]) -> PageQuery:
    params: dict[str, str] = {}
    errors: list[str] = []
    text = " ".join(str(args.get("q", "")).split())[:MAX_TEXT]
    if text:
        params["q"] = text
    for name in FILTERS:
        value = str(args.get(name, "")).strip()
        if not value:
            continue
        if name in ("since", "until") and _day(value) is None:
            errors.append(f"{name}: not a date (YYYY-MM-DD): {value[:40]}")
            continue
        params[name] = value[:MAX_TEXT]
    return PageQuery(params, tuple(errors))


def _day(value: str | None) -> datetime | None:
    """YYYY-MM-DD (or a full ISO time) -> an aware UTC datetime, as `newsflow search` reads it."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
