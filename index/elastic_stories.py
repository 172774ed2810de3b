"""``StoryStore`` on Elasticsearch: candidates by a search on the articles' ``story_bands``
keywords, members by ``story_id``, story facts by one aggregation over a story's members, and one
document per story in the stories index (``config.stories_index``). Core features only: members
are moved with partial-document updates (no scripts).

Searches (and ``biggest``) see writes after ``settle()`` (a refresh of the articles alias and
the stories index); ``members`` (realtime ``mget``) and ``get`` do not need it.
"""

from __future__ import annotations

from typing import Any, Sequence

from elastic_transport import TransportError
from elasticsearch import ApiError, NotFoundError

from newsflow.index.base import CANDIDATES, STORY_SITES, IndexUnavailable, StoredMember, Story
from newsflow.index.elastic import ElasticIndex
from newsflow.index.story_document import from_story_document, parse_time, stored_member, to_story_document

_MEMBER_SOURCE = ["id", "@timestamp", "minhash", "story_bands", "story_id", "story_relation", "story_of"]
_PAGE = 1000
_MSEARCH = 100  # searches in one msearch request at most
_EMPTY: dict[str, Any] = {"hits": {"hits": [], "total": {"value": 0}}, "aggregations": {}}


def _member(hit: dict[str, Any]) -> StoredMember:
    src = hit["_source"]
    return stored_member(src.get("id") or hit["_id"], src["@timestamp"], src)

# What a story's document says, as one aggregation over its members.
_FACTS = {
    "first": {"top_hits": {"size": 1, "sort": [{"@timestamp": "asc"}, {"id": "asc"}],
                           "_source": ["id", "title", "site", "source", "@timestamp"]}},
    "last": {"max": {"field": "@timestamp"}},
    "updated": {"max": {"field": "updated_at"}},
    "sites": {"terms": {"field": "site", "size": STORY_SITES, "order": {"_key": "asc"}}},
    "hosts": {"filter": {"bool": {"must_not": {"exists": {"field": "site"}}}},
              "aggs": {"source": {"terms": {"field": "source", "size": STORY_SITES, "order": {"_key": "asc"}}}}},
    "languages": {"terms": {"field": "language", "size": 100, "order": {"_key": "asc"}}},
}


def _facts(story_id: str, resp: dict[str, Any]) -> Story | None:
    size = resp["hits"]["total"]["value"]
    if not size:
        return None
    a = resp["aggregations"]
    first = a["first"]["hits"]["hits"][0]["_source"]
    sites = sorted({b["key"] for b in a["sites"]["buckets"]} | {b["key"] for b in a["hosts"]["source"]["buckets"]})
    last = parse_time(a["last"]["value_as_string"])
    if a["updated"].get("value_as_string"):
        last = max(last, parse_time(a["updated"]["value_as_string"]))
    return Story(story_id, size, sites[:STORY_SITES], len(sites), parse_time(first["@timestamp"]),
                 first.get("site") or first.get("source"), first.get("id"), last, first.get("title"),
                 [b["key"] for b in a["languages"]["buckets"]])


class ElasticStories:
    def __init__(self, index: ElasticIndex) -> None:
        self._index = index
        self._es = index.client
        self._alias = index.alias
        self._stories = index.stories_index

    def _search(self, **body: Any) -> dict[str, Any]:
        try:
            return self._es.search(index=self._alias, **body).body
        except NotFoundError:
            return {"hits": {"hits": [], "total": {"value": 0}}, "aggregations": {}}
        except (TransportError, ApiError) as exc:
            if isinstance(exc, ApiError) and 400 <= exc.meta.status < 500 and exc.meta.status != 429:
                raise
            raise IndexUnavailable(f"elasticsearch stories: {exc}") from exc

    def setup(self) -> None:
        self._index.setup()  # creates the stories index beside the articles

    def _msearch(self, index: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several searches in one request (at most _MSEARCH a request); one response each, in order."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(bodies), _MSEARCH):
            searches: list[dict[str, Any]] = []
            for body in bodies[start : start + _MSEARCH]:
                searches += [{"index": index}, body]
            try:
                resp = self._es.msearch(searches=searches).body
            except NotFoundError:
                return [_EMPTY for _ in bodies]
            except (TransportError, ApiError) as exc:
                raise IndexUnavailable(f"elasticsearch stories: {exc}") from exc
            for r in resp["responses"]:
                if "error" in r:
                    status = int(r.get("status", 500))
                    if status == 404:
                        r = _EMPTY
                    elif status >= 500 or status == 429:
                        raise IndexUnavailable(f"elasticsearch stories: {r['error']}")
                    else:
                        raise RuntimeError(f"elasticsearch stories: a search was refused: {r['error']}")
                out.append(r)
        return out

    def candidates(self, keys: Sequence[Sequence[str]], limit: int = CANDIDATES) -> list[list[StoredMember]]:
        bodies = []
        for k in keys:
            if not k:
                continue
            # One constant-score clause per key: a hit's score is the number of keys it shares.
            should = [{"constant_score": {"filter": {"term": {"story_bands": key}}}} for key in dict.fromkeys(k)]
            bodies.append({"query": {"bool": {"should": should, "minimum_should_match": 1}}, "size": limit,
                           "sort": ["_score", {"@timestamp": "asc"}, {"id": "asc"}], "_source": _MEMBER_SOURCE})
        answers = iter(self._msearch(self._alias, bodies) if bodies else [])
        return [[_member(h) for h in next(answers)["hits"]["hits"]] if k else [] for k in keys]

    def members(self, ids: Sequence[str]) -> dict[str, StoredMember]:
        found = self._index.locate(list(ids), _MEMBER_SOURCE)
        return {i: _member(h) for i, h in found.items()}

    def story_members(self, story_id: str) -> list[StoredMember]:
        out: list[StoredMember] = []
        after: list[Any] | None = None
        while True:
            page = self._search(query={"term": {"story_id": story_id}}, size=_PAGE, source=_MEMBER_SOURCE,
                                sort=[{"id": "asc"}], **({"search_after": after} if after else {}))
            hits = page["hits"]["hits"]
            out += [_member(h) for h in hits]
            if len(hits) < _PAGE:
                return out
            after = hits[-1]["sort"]

    def move(self, updates: dict[str, dict[str, str | None]]) -> None:
        if not updates:
            return
        located = self._index.locate(list(updates), False)
        body: list[dict[str, Any]] = []
        for article_id, fields in updates.items():
            hit = located.get(article_id)
            if hit is not None:  # gone since: nothing to move
                body += [{"update": {"_index": hit["_index"], "_id": article_id}}, {"doc": dict(fields)}]
        self._bulk(body, "move")

    def settle(self) -> None:
        self._index.refresh()
        try:
            self._es.indices.refresh(index=self._stories)
        except (TransportError, ApiError) as exc:
            raise IndexUnavailable(f"elasticsearch stories refresh: {exc}") from exc

    def compute(self, story_ids: Sequence[str]) -> dict[str, Story]:
        ids = list(dict.fromkeys(story_ids))
        bodies = [{"query": {"term": {"story_id": s}}, "size": 0, "track_total_hits": True, "aggs": _FACTS} for s in ids]
        found = {s: _facts(s, r) for s, r in zip(ids, self._msearch(self._alias, bodies) if bodies else [])}
        return {s: f for s, f in found.items() if f is not None}

    def _bulk(self, body: list[dict[str, Any]], what: str) -> None:
        if not body:
            return
        try:
            resp = self._es.bulk(operations=body)
        except (TransportError, ApiError) as exc:
            raise IndexUnavailable(f"elasticsearch stories {what}: {exc}") from exc
        failed = [info for item in resp["items"] for info in item.values()
                  if info.get("status", 500) >= 300 and info.get("status") != 404]
        if failed:
            raise IndexUnavailable(f"elasticsearch stories {what}: {len(failed)} failed: {failed[0].get('error')}")

    def put(self, stories: Sequence[Story]) -> None:
        body: list[dict[str, Any]] = []
        for story in stories:
            body += [{"index": {"_index": self._stories, "_id": story.story_id}}, to_story_document(story)]
        self._bulk(body, "put")

    def delete(self, story_ids: Sequence[str]) -> None:
        self._bulk([{"delete": {"_index": self._stories, "_id": s}} for s in story_ids], "delete")

    def get(self, story_id: str) -> Story | None:
        try:
            doc = self._es.options(ignore_status=404).get(index=self._stories, id=story_id)
        except TransportError as exc:
            raise IndexUnavailable(f"elasticsearch stories get: {exc}") from exc
        return from_story_document(doc["_source"]) if doc.get("found") else None

    def biggest(self, limit: int = 10) -> list[Story]:
        try:
            resp = self._es.search(index=self._stories, size=limit,
                                   sort=[{"size": "desc"}, {"first_seen": "asc"}, {"story_id": "asc"}])
        except NotFoundError:
            return []
        except TransportError as exc:
            raise IndexUnavailable(f"elasticsearch stories: {exc}") from exc
        return [from_story_document(h["_source"]) for h in resp["hits"]["hits"]]
