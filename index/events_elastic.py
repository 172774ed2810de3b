"""The fault history on the production backends: an Elasticsearch index (``events_index``).

Why here and not a compacted Kafka topic: the history is read as "the newest N since T", a sorted
query here and a scan of the whole topic there; Kibana can show it beside the feed health; and a
broker outage (the fault the history most often has to explain) leaves it readable. While the
cluster is down the daemons hold their events in memory and write them when it is back.
Bounded by age and count: a write prunes, at most once a minute.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timezone
from typing import Any, Sequence

from elasticsearch import helpers

from newsflow.core.faults import FaultEvent
from newsflow.index.config import ElasticsearchConfig
from newsflow.index.elastic import make_client

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "@timestamp": {"type": "date"},
        "kind": {"type": "keyword"},
        "stage": {"type": "keyword"},
        "detail": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}},
        "seconds": {"type": "float"},
        "count": {"type": "integer"},
        "host": {"type": "keyword"},
    },
}
_PRUNE_EVERY = 60.0
_PRUNE_BATCH = 5000  # deleted per round at most; a backlog goes in the next rounds
log = logging.getLogger(__name__)


def _id(e: FaultEvent) -> str:
    return hashlib.sha1(f"{e.host}|{e.time!r}|{e.kind}|{e.stage}|{e.detail}".encode()).hexdigest()


def _doc(e: FaultEvent) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(e.time, timezone.utc).isoformat(timespec="milliseconds")
    return {"@timestamp": stamp, "kind": e.kind, "stage": e.stage, "detail": e.detail,
            "seconds": e.seconds, "count": e.count, "host": e.host}


def _event(src: dict[str, Any]) -> FaultEvent:
    when = datetime.fromisoformat(src["@timestamp"].replace("Z", "+00:00")).timestamp()
    return FaultEvent(src["kind"], src["stage"], src["detail"], when, src.get("seconds"), src.get("count") or 1,
                      src.get("host") or "")


class ElasticEventStore:
    """``core.faults.EventStore`` over ``cfg.events_index`` (created on the first write)."""

    def __init__(self, cfg: ElasticsearchConfig, max_events: int = 1000, max_age: float = 30 * 86400.0,
                 timeout: float = 5.0) -> None:
        self.name, self.max_events, self.max_age = cfg.events_index, max_events, max_age
        self._es = make_client(cfg).options(request_timeout=timeout, max_retries=0)
        self._created = False
        self._pruned = 0.0

    def write(self, events: Sequence[FaultEvent]) -> None:
        if not self._created:
            self._es.options(ignore_status=400).indices.create(
                index=self.name, settings={"number_of_shards": 1}, mappings=MAPPINGS)
            self._created = True
        # Ids from the content: a batch written again (its answer was lost) overwrites itself.
        helpers.bulk(self._es, ({"_index": self.name, "_id": _id(e), "_source": _doc(e)} for e in events),
                     refresh="wait_for")
        if time.monotonic() - self._pruned > _PRUNE_EVERY:
            self._pruned = time.monotonic()
            try:
                self._prune()
            except Exception as exc:  # the events are written; pruning can wait for the next round
                log.warning("pruning the events index %s failed: %s", self.name, exc)

    def _prune(self) -> None:
        """Delete events older than ``max_age``, and all but the newest ``max_events`` (by id:
        delete-by-query is a module a cluster may lack)."""
        cutoff = datetime.fromtimestamp(time.time() - self.max_age, timezone.utc).isoformat()
        drop: list[dict[str, Any]] = [{"range": {"@timestamp": {"lt": cutoff}}}]
        hits = self._es.search(index=self.name, sort=[{"@timestamp": "desc"}], from_=self.max_events, size=1,
                               source=False)["hits"]["hits"]
        if hits:
            drop.append({"range": {"@timestamp": {"lte": hits[0]["sort"][0]}}})
        old = self._es.search(index=self.name, query={"bool": {"should": drop}}, size=_PRUNE_BATCH,
                              source=False)["hits"]["hits"]
        if old:
            helpers.bulk(self._es, ({"_op_type": "delete", "_index": self.name, "_id": h["_id"]} for h in old),
                         raise_on_error=False, refresh="wait_for")

    def recent(self, limit: int, since: float | None = None) -> list[FaultEvent]:
        query: dict[str, Any] = {"match_all": {}}
        if since:
            query = {"range": {"@timestamp": {"gte": datetime.fromtimestamp(since, timezone.utc).isoformat()}}}
        resp = self._es.options(ignore_status=404).search(index=self.name, query=query, size=limit,
                                                           sort=[{"@timestamp": "desc"}])
        if resp.meta.status == 404:
            return []  # no daemon recorded anything yet
        return [_event(h["_source"]) for h in reversed(resp["hits"]["hits"])]

    def close(self) -> None:
        self._es.close()
