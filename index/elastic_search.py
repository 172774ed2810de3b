"""SearchQuery -> Elasticsearch search request, and its response -> SearchResults (both pure).

The filters mean what the SQLite index's filters mean (see ``index.base.Index.search``): source is
the host (``www.`` and scheme ignored) or the site name, language the primary subtag, since/until
the published time else the fetch time (naive means UTC), entity a whole name or words of one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from newsflow.core.lang import primary_language
from newsflow.index.base import Hit, SearchQuery, SearchResults
from newsflow.index.elastic_document import from_document
from newsflow.index.normalise import HIGHLIGHT_POST, HIGHLIGHT_PRE, PLAIN_SNIPPET_CHARS, as_utc, normalise_host, plain_snippet

_ENTITY_FIELDS = ("entities.persons", "entities.organisations", "entities.locations", "places.name")


def _term(field: str, value: str) -> dict[str, Any]:
    return {"term": {field: {"value": value, "case_insensitive": True}}}


def _utc(value: datetime) -> str:
    return as_utc(value).astimezone(timezone.utc).isoformat()


def search_body(query: SearchQuery) -> dict[str, Any]:
    """The search request for a SearchQuery (exposed for tests and `newsflow search --explain`)."""
    filters: list[dict[str, Any]] = []
    if query.source and query.source.strip():
        host = normalise_host(query.source)
        should = [_term("source", host), _term("source", f"www.{host}"), _term("site", query.source.strip())]
        filters.append({"bool": {"should": should, "minimum_should_match": 1}})
    language = primary_language(query.language)
    if language:
        filters.append(_term("language", language))
    if query.since or query.until:
        rng: dict[str, str] = {}
        if query.since:
            rng["gte"] = _utc(query.since)
        if query.until:
            rng["lte"] = _utc(query.until)
        filters.append({"range": {"@timestamp": rng}})
    if query.entity and query.entity.strip():
        # A whole name ("Sergei Lavrov") or words of one ("lavrov"), any case.
        should = [_term(f, query.entity.strip()) for f in _ENTITY_FIELDS]
        should += [{"match_phrase": {f"{f}.text": query.entity}} for f in _ENTITY_FIELDS]
        filters.append({"bool": {"should": should, "minimum_should_match": 1}})
    if query.story_id and query.story_id.strip():
        filters.append({"term": {"story_id": query.story_id.strip()}})
    text = query.text.strip()
    must = (
        {"multi_match": {"query": text, "fields": ["title^3", "text", "summary"], "type": "best_fields"}}
        if text
        else {"match_all": {}}
    )
    highlight_field = {"fragment_size": PLAIN_SNIPPET_CHARS, "number_of_fragments": 1}
    return {
        "query": {"bool": {"must": [must], "filter": filters}},
        "size": query.limit,
        "track_total_hits": True,
        "sort": ([{"_score": "desc"}] if text else []) + [{"@timestamp": {"order": "desc", "unmapped_type": "date"}}],
        "highlight": {
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "fields": {
                "text": {**highlight_field, "no_match_size": PLAIN_SNIPPET_CHARS},
                "summary": dict(highlight_field),
            },
        },
    }


def parse_time(value: Any) -> datetime | None:
    """A date field's ISO text -> datetime (None when empty or unreadable)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def hit(h: Mapping[str, Any]) -> Hit:
    """A search hit (``_id``, ``_source``, optional ``highlight``) -> Hit."""
    src = h["_source"]
    hl = h.get("highlight") or {}
    fragments = hl.get("text") or hl.get("summary") or hl.get("title")
    snippet = fragments[0] if fragments else plain_snippet(src.get("summary") or src.get("text") or "")
    return Hit(
        id=h["_id"],
        score=float(h.get("_score") or 0.0),
        title=src.get("title"),
        url=src.get("url", ""),
        published_at=parse_time(src.get("published_at")),
        site=src.get("site"),
        language=src.get("language"),
        snippet=snippet.strip(),
        article=from_document(src),
    )


def search_results(resp: Mapping[str, Any]) -> SearchResults:
    """The SearchResults of a search response to ``search_body``'s request."""
    hits = [hit(h) for h in resp["hits"]["hits"]]
    return SearchResults(total=int(resp["hits"]["total"]["value"]), hits=hits)
