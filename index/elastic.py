"""The Elasticsearch index: an index template, a write alias, bulk upserts keyed by article id.

Layout: a composable template for ``<alias>-*`` and a first index ``<alias>-000001`` that holds
the alias as its write index, so ``POST <alias>/_rollover`` works when ops want it. Only core
Elasticsearch features are used (no painless, no ingest pipelines, no x-pack), so merging the
``feeds`` of a re-seen article is done client side: one realtime ``mget`` before each bulk.

This module is the client-backed index (connection, setup, bulk writes and their per-item
outcomes, reads); its pure parts live beside it: elastic_mappings.py (template, feed-status
mapping), elastic_document.py (article <-> document), elastic_search.py (query <-> request).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

from elastic_transport import TransportError
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError

from newsflow.core.record import Article, article_id, utcnow
from newsflow.index.base import IndexUnavailable, Outcome, Overview, SearchQuery, SearchResults, StoryGroup, WriteResult
from newsflow.index.config import ElasticsearchConfig, stories_index
from newsflow.index.elastic_document import from_document, to_document
from newsflow.index.elastic_facets import overview_body, overview_result, story_groups_body, story_groups_result
from newsflow.index.elastic_mappings import FEED_STATUS_MAPPINGS, STORIES_MAPPINGS, index_template
from newsflow.index.elastic_search import search_body, search_results

log = logging.getLogger(__name__)

# Per-item errors that say "not now" rather than "never": the same document may succeed later.
_TRANSIENT_ERRORS = {
    "es_rejected_execution_exception",
    "cluster_block_exception",  # e.g. the disk flood-stage read-only block
    "unavailable_shards_exception",
    "no_shard_available_action_exception",
    "circuit_breaking_exception",
    "process_cluster_event_timeout_exception",
    "node_not_connected_exception",
    "node_closed_exception",
    "index_not_found_exception",  # the alias is gone: an operator problem (run setup), not a bad document
}


# Request-level refusals that blame the request's credentials, not its documents: retried.
_NOT_THE_DOCUMENTS = {401, 403, 407}

BULK_MAX_ITEMS = 500
BULK_MIN_BYTES = 64 * 1024  # a 413 never shrinks the byte limit below this


def make_client(cfg: ElasticsearchConfig) -> Elasticsearch:
    """The official client with the config's hosts, TLS and credentials (secrets stay SecretStr until here)."""
    kwargs: dict[str, Any] = {
        "hosts": list(cfg.hosts),
        "request_timeout": cfg.request_timeout,
        "max_retries": 2,
        "retry_on_timeout": True,
        "verify_certs": cfg.verify_certs,
    }
    if cfg.api_key is not None:
        kwargs["api_key"] = cfg.api_key.get_secret_value()
    elif cfg.username is not None:
        kwargs["basic_auth"] = (cfg.username, cfg.password.get_secret_value() if cfg.password else "")
    if cfg.ca_certs is not None:
        kwargs["ca_certs"] = str(cfg.ca_certs)
    return Elasticsearch(**kwargs)


def _short(text: Any, limit: int = 300) -> str:
    # Parse errors quote the document back; keep the reason, not a copy of the article. A long
    # reason keeps its head and its tail: a validation error quotes the bad value (a 600-byte
    # id) in the middle and says what is wrong with it at the end.
    text = str(text).split("\n at [Source:", 1)[0]
    if len(text) <= limit:
        return text
    tail = limit // 3
    return text[: limit - tail - 1] + "…" + text[-tail:]


def classify(status: int, error: Any) -> tuple[Outcome, str | None]:
    """One bulk item's outcome: OK, RETRY (transient) or REJECTED (this document will never fit)."""
    if 200 <= status < 300:
        return Outcome.OK, None
    if isinstance(error, Mapping):
        etype = str(error.get("type", ""))
        reason = f"{etype}: {_short(error.get('reason', ''))}"
        caused = error.get("caused_by")
        if isinstance(caused, Mapping):
            reason += f" (caused by {caused.get('type')}: {_short(caused.get('reason'))})"
    else:
        etype, reason = "", _short(error, 600)
    if status in (408, 429) or status >= 500 or etype in _TRANSIENT_ERRORS:
        return Outcome.RETRY, f"HTTP {status} {reason}"
    return Outcome.REJECTED, f"HTTP {status} {reason}"


class ElasticIndex:
    """``index.base.Index`` over Elasticsearch 8 (core features only)."""

    def __init__(self, cfg: ElasticsearchConfig, client: Elasticsearch | None = None) -> None:
        self._cfg = cfg
        self._alias = cfg.alias
        self._es = client if client is not None else make_client(cfg)
        self._indices: tuple[float, list[str]] = (0.0, [])
        self._max_bytes = cfg.bulk_max_bytes  # lowered by a 413 (see _bulk)

    @property
    def alias(self) -> str:
        return self._alias

    @property
    def client(self) -> Elasticsearch:
        return self._es

    @property
    def stories_index(self) -> str:
        return stories_index(self._cfg)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Connection failures and server-side 5xx become IndexUnavailable; 4xx stay as they are."""
        try:
            yield
        except ApiError as exc:
            if exc.meta.status >= 500 or exc.meta.status == 429:
                raise IndexUnavailable(f"elasticsearch {what}: {exc}") from exc
            raise
        except TransportError as exc:
            raise IndexUnavailable(f"elasticsearch {what}: {exc}") from exc

    # -- setup ------------------------------------------------------------------------------

    def health(self, wait_for_status: str | None = None, timeout: float = 0) -> str:
        """The cluster status (green/yellow/red) via ``_cluster/health`` (no ``GET /`` needed)."""
        with self._guard("health"):
            kwargs: dict[str, Any] = {}
            if wait_for_status:
                kwargs.update(wait_for_status=wait_for_status, timeout=f"{max(1, int(timeout * 1000))}ms")
            resp = self._es.options(ignore_status=408).cluster.health(**kwargs)
            return str(resp["status"])

    def setup(self) -> None:
        """Template, first index with the write alias, feed status index. Idempotent, safe to race."""
        template = index_template(self._cfg)
        with self._guard("setup"):
            self._es.indices.put_index_template(
                name=self._alias,
                index_patterns=[f"{self._alias}-*"],
                template=template,
                priority=200,
                meta={"managed_by": "newsflow"},
            )
            if self._es.indices.exists_alias(name=self._alias):
                # Existing indices get new fields too (additive mapping changes only).
                mappings = template["mappings"]
                self._es.indices.put_mapping(index=self._alias, dynamic=mappings["dynamic"], properties=mappings["properties"])
            elif self._es.indices.exists(index=self._alias):
                raise ValueError(
                    f"index.elasticsearch.alias {self._alias!r} is a concrete index, not an alias; "
                    "rename it or choose another alias"
                )
            else:
                first = f"{self._alias}-000001"
                try:
                    self._es.indices.create(index=first, aliases={self._alias: {"is_write_index": True}})
                    log.info("created index %s with write alias %s", first, self._alias)
                except BadRequestError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise
                    if not self._es.indices.exists_alias(name=self._alias):  # the index lost its alias
                        self._es.indices.put_alias(index=first, name=self._alias, is_write_index=True)
            self._side_index(self._cfg.feed_status_index, FEED_STATUS_MAPPINGS)
            self._side_index(stories_index(self._cfg), STORIES_MAPPINGS)
        self._indices = (0.0, [])

    def _side_index(self, name: str, mappings: dict[str, Any]) -> None:
        """A one-shard index beside the articles (feed status, stories): created, or given new fields."""
        if self._es.indices.exists(index=name):
            self._es.indices.put_mapping(index=name, dynamic=mappings["dynamic"], properties=mappings["properties"])
            return
        try:
            self._es.indices.create(
                index=name, settings={"number_of_shards": 1, "number_of_replicas": self._cfg.replicas}, mappings=mappings
            )
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise

    def destroy(self) -> None:
        """Delete the indices behind the alias, the template, the feed status, events and stories indices (tests, resets)."""
        with self._guard("destroy"):
            # By name: clusters refuse wildcard deletes by default (action.destructive_requires_name).
            found = self._es.indices.get(index=f"{self._alias}-*", expand_wildcards="all", ignore_unavailable=True)
            names = list(found.body)
            for name in [*names, self._cfg.feed_status_index, self._cfg.events_index, stories_index(self._cfg)]:
                self._es.options(ignore_status=404).indices.delete(index=name)
            self._es.options(ignore_status=404).indices.delete_index_template(name=self._alias)
        self._indices = (0.0, [])

    # -- writes -----------------------------------------------------------------------------

    def _alias_indices(self) -> list[str]:
        """Concrete indices behind the alias, newest last (cached briefly: one lookup per minute)."""
        at, indices = self._indices
        if indices and time.monotonic() - at < 60:
            return indices
        resp = self._es.options(ignore_status=404).indices.get_alias(name=self._alias)
        indices = sorted(k for k in resp.body if isinstance(resp.body.get(k), dict))
        self._indices = (time.monotonic(), indices)
        return indices

    def _locate(self, ids: Sequence[str], source: bool | list[str]) -> dict[str, dict[str, Any]]:
        """Realtime lookup of ids over every index behind the alias: id -> hit (``_index``, ``_source``)."""
        indices = self._alias_indices()
        if not ids or not indices:
            return {}
        docs = [{"_index": idx, "_id": i} for idx in indices for i in ids]
        resp = self._es.mget(docs=docs, source=source, realtime=True)
        found: dict[str, dict[str, Any]] = {}
        for d in resp["docs"]:
            if d.get("found"):
                found[d["_id"]] = d  # later (newer) indices win
        return found

    def locate(self, ids: Sequence[str], source: bool | list[str]) -> dict[str, dict[str, Any]]:
        """Realtime: id -> hit (``_index``, ``_source`` limited to ``source``) for the ids that exist."""
        with self._guard("get"):
            return self._locate(ids, source)

    def write(self, articles: Sequence[Article]) -> list[WriteResult]:
        if not articles:
            return []
        ids = list(dict.fromkeys(a.id for a in articles))
        with self._guard("write"):
            existing = self._locate(ids, ["feeds", "ingested_at"])
        now = utcnow()
        feeds: dict[str, list[str]] = {i: list((existing[i]["_source"].get("feeds") or [])) for i in existing}
        actions: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for a in articles:
            merged = feeds[a.id] = list(dict.fromkeys([*feeds.get(a.id, []), *a.feeds]))
            hit = existing.get(a.id)
            first_seen = hit["_source"].get("ingested_at") if hit else None
            doc = to_document(a.model_copy(update={"feeds": merged}), ingested_at=first_seen or now)
            if hit:  # overwrite where it lives, even if the alias has rolled over since
                meta = {"_index": hit["_index"], "_id": a.id}
            else:  # require_alias: a deleted alias must not turn into a concrete index with dynamic mappings
                meta = {"_index": self._alias, "_id": a.id, "require_alias": True}
            actions.append(({"index": meta}, doc))
        return self._bulk(actions, [a.id for a in articles])

    def _bulk(self, actions: list[tuple[dict[str, Any], dict[str, Any]]], ids: list[str]) -> list[WriteResult]:
        """Send the actions in chunks (``BULK_MAX_ITEMS`` and the byte limit); one result per action.

        A chunk the cluster refuses as a whole (a request-level 4xx: a document the request
        validation rejects, e.g. an id over 512 bytes, or 413 for a body over a size limit) is
        split in halves until the refused documents stand alone: only they are REJECTED, with
        the cluster's reason, and the rest is written. A 413 also lowers the byte limit of later
        chunks to half the refused body.
        """
        dumps = self._es.transport.serializers.get_serializer("application/json").dumps
        lines = [(dumps(action), dumps(doc)) for action, doc in actions]
        sizes = [len(a) + len(d) + 2 for a, d in lines]
        results: list[WriteResult | None] = [None] * len(actions)
        try:
            start = 0
            while start < len(actions):
                end, size = start, 0
                while end < len(actions) and end - start < BULK_MAX_ITEMS and (end == start or size + sizes[end] <= self._max_bytes):
                    size += sizes[end]
                    end += 1
                self._send(list(range(start, end)), lines, sizes, ids, results)
                start = end
        except TransportError as exc:
            written = sum(r is not None for r in results)
            if not written:
                raise IndexUnavailable(f"elasticsearch bulk: {exc}") from exc
            log.warning("elasticsearch bulk interrupted after %d of %d items: %s", written, len(ids), exc)
        return [r or WriteResult(ids[i], Outcome.RETRY, "connection lost during the bulk") for i, r in enumerate(results)]

    def _send(
        self, chunk: list[int], lines: list[tuple[bytes, bytes]], sizes: list[int], ids: list[str],
        results: list[WriteResult | None],
    ) -> None:
        """One chunk, bisected on request-level rejections (see ``_bulk``); fills ``results``."""
        parts = [chunk]
        while parts:
            part = parts.pop()
            body = [line for i in part for line in lines[i]]
            try:
                resp = self._es.bulk(operations=body)
            except ApiError as exc:
                status = exc.meta.status
                error = exc.body.get("error", exc.body) if isinstance(exc.body, Mapping) else exc.body
                outcome, reason = classify(status, error or exc.message)
                if status in _NOT_THE_DOCUMENTS or outcome is Outcome.RETRY:
                    # Credentials, or the cluster busy or down: no document is to blame.
                    for i in part:
                        results[i] = WriteResult(ids[i], Outcome.RETRY, reason)
                    continue
                nbytes = sum(sizes[i] for i in part)
                if len(part) > 1:
                    if status == 413 and nbytes // 2 < self._max_bytes:
                        self._max_bytes = max(BULK_MIN_BYTES, nbytes // 2)
                        log.warning("elasticsearch refused a bulk of %d bytes (HTTP 413); bulks are at most %d bytes from now on", nbytes, self._max_bytes)
                    log.info("elasticsearch refused a bulk of %d documents as a whole (%s); splitting it", len(part), reason)
                    half = len(part) // 2
                    parts += [part[half:], part[:half]]  # the first half goes first
                    continue
                if status == 413:
                    reason = f"{reason} (this document alone is {nbytes} bytes: more than the request size limit of the cluster or of a proxy in front of it)"
                results[part[0]] = WriteResult(ids[part[0]], Outcome.REJECTED, reason)
                continue
            for i, item in zip(part, resp["items"]):
                (info,) = item.values()
                landed = str(info.get("_index") or "")
                if landed.startswith(f"{self._alias}-") and landed not in self._indices[1]:
                    self._indices = (0.0, [])  # landed in an index we did not know: the alias rolled over
                outcome, error = classify(int(info.get("status", 500)), info.get("error"))
                results[i] = WriteResult(ids[i], outcome, error)

    def write_feed_status(self, docs: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert feed health documents (one per feed url) into ``feed_status_index``."""
        actions = []
        for d in docs:
            doc = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}
            doc.setdefault("updated_at", utcnow().isoformat())
            actions.append(({"index": {"_index": self._cfg.feed_status_index, "_id": article_id(str(d["url"]))}}, doc))
        return self._bulk(actions, [str(d["url"]) for d in docs]) if actions else []

    def refresh(self) -> None:
        """Make every acknowledged write visible to search and count (otherwise they become visible
        after the template's ``refresh_interval``: search is near-real-time, ``get`` is realtime)."""
        with self._guard("refresh"):
            self._es.indices.refresh(index=self._alias)

    # -- reads ------------------------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        with self._guard("get"):
            hit = self._locate([article_id], True).get(article_id)
        return from_document(hit["_source"]) if hit else None

    def count(self) -> int:
        with self._guard("count"):
            try:
                return int(self._es.count(index=self._alias)["count"])
            except NotFoundError:  # nothing indexed yet (no setup)
                return 0

    def search(self, query: SearchQuery) -> SearchResults:
        body = search_body(query)
        with self._guard("search"):
            try:
                resp = self._es.search(index=self._alias, **body)
            except NotFoundError:
                return SearchResults(total=0)
        return search_results(resp)

    def overview(self, query: SearchQuery, size: int = 10) -> Overview:
        return overview_result(self._aggregate("overview", overview_body(query, size)))

    def story_groups(self, query: SearchQuery, limit: int = 10, members: int = 5) -> list[StoryGroup]:
        return story_groups_result(self._aggregate("story groups", story_groups_body(query, limit, members)))

    def _aggregate(self, what: str, body: dict[str, Any]) -> Mapping[str, Any]:
        with self._guard(what):
            try:
                return self._es.search(index=self._alias, **body).body
            except NotFoundError:  # nothing indexed yet (no setup)
                return {"hits": {"total": {"value": 0}}}

    search_body = staticmethod(search_body)  # the request search() sends (tests, `newsflow search --explain`)

    def close(self) -> None:
        self._es.close()
