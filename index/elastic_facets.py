"""SearchQuery -> the aggregations request of ``overview`` and ``story_groups``, and their
responses -> Overview / StoryGroup (both pure). The query part is ``search_body``'s, so the
counts are over exactly what a search matches.
"""

from __future__ import annotations

from typing import Any, Mapping

from newsflow.index.base import FACETS, Bucket, Overview, SearchQuery, StoryGroup
from newsflow.index.elastic_search import hit, parse_time, search_body

# facet -> its keyword field in the template (elastic_template.json).
FACET_FIELDS = {
    "site": "site",
    "language": "language",
    "persons": "entities.persons",
    "organisations": "entities.organisations",
    "places": "places.name",
}
assert set(FACET_FIELDS) == set(FACETS)

# An outlet: the site name, else the source host (sqlite_facets.py counts the same). Two terms
# aggregations, not a script: the node may run without the scripting module.
OUTLETS = 1000  # a story's outlets counted at most
_OUTLET_AGGS = {
    "sites": {"terms": {"field": "site", "size": OUTLETS}},
    "no_site": {
        "filter": {"bool": {"must_not": {"exists": {"field": "site"}}}},
        "aggs": {"hosts": {"terms": {"field": "source", "size": OUTLETS}}},
    },
}
# What a story's member hit needs of the document (the fingerprints stay behind).
_MEMBER_SOURCE = {"excludes": ["minhash", "story_bands"]}


def _terms(field: str, size: int) -> dict[str, Any]:
    # Ties by key, as SQLite's ORDER BY n DESC, value.
    return {"terms": {"field": field, "size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}


def overview_body(query: SearchQuery, size: int) -> dict[str, Any]:
    aggs: dict[str, Any] = {name: _terms(field, size) for name, field in FACET_FIELDS.items()}
    aggs["days"] = {"date_histogram": {"field": "@timestamp", "calendar_interval": "day", "min_doc_count": 1}}
    return {"query": search_body(query)["query"], "size": 0, "track_total_hits": True, "aggs": aggs}


def overview_result(resp: Mapping[str, Any]) -> Overview:
    aggs = resp.get("aggregations") or {}
    facets = {
        name: [Bucket(str(b["key"]), int(b["doc_count"])) for b in aggs.get(name, {}).get("buckets", [])]
        for name in FACETS
    }
    days = [Bucket(b["key_as_string"][:10], int(b["doc_count"])) for b in aggs.get("days", {}).get("buckets", [])]
    return Overview(total=int(resp["hits"]["total"]["value"]), facets=facets, days=days)


def story_groups_body(query: SearchQuery, limit: int, members: int) -> dict[str, Any]:
    body = search_body(query)
    stories = _terms("story_id", limit)
    stories["aggs"] = {
        **_OUTLET_AGGS,
        "first_seen": {"min": {"field": "@timestamp"}},
        "members": {
            "top_hits": {
                "size": members,
                "sort": [{"@timestamp": "asc"}, {"id": "asc"}],
                "_source": _MEMBER_SOURCE,
            }
        },
    }
    return {"query": body["query"], "size": 0, "aggs": {"stories": stories}}


def story_groups_result(resp: Mapping[str, Any]) -> list[StoryGroup]:
    groups = []
    for b in (resp.get("aggregations") or {}).get("stories", {}).get("buckets", []):
        hits = [hit(h) for h in b["members"]["hits"]["hits"]]
        first = b["first_seen"].get("value_as_string")
        groups.append(
            StoryGroup(
                story_id=str(b["key"]),
                size=int(b["doc_count"]),
                site_count=len(b["sites"]["buckets"]) + len(b["no_site"]["hosts"]["buckets"]),
                first_seen=parse_time(first),
                members=hits,
            )
        )
    return groups
