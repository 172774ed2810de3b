"""The Elasticsearch index beyond the contract (tests/index/test_contract.py): pure document
conversion, outcome classification and request building, plus the real node (alias, mapping,
rollover, feed status, per-item rejections; deploy/local/services.sh up)."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from newsflow.core.record import Article, Enrichment
from newsflow.index.base import IndexUnavailable, Outcome, SearchQuery
from newsflow.index.config import ElasticsearchConfig
from newsflow.index.elastic import ElasticIndex, classify, make_client
from newsflow.index.elastic_document import from_document, to_document

from .articles import SEED, T0, enriched, seed_article

services = pytest.mark.services


# -- pure ----------------------------------------------------------------------------------------


def test_document_round_trip_and_analyst_fields():
    article = seed_article()
    doc = to_document(article, ingested_at=T0 + timedelta(minutes=5))
    assert doc["@timestamp"].startswith("2025-02-18T09:30:00")
    assert doc["ingested_at"].startswith("2025-02-18T09:35:00")
    assert doc["language"] == "en" and doc["enriched"] is True
    assert doc["entities"]["persons"] == ["Marco Rubio", "Sergei Lavrov"]
    assert doc["place_locations"] == [{"lat": 24.69, "lon": 46.72}]  # only resolved places go on the map
    assert doc["country_codes"] == ["SA", "UA"]
    assert doc["places"][1]["location"] is None
    assert from_document(doc) == article


def test_document_falls_back_to_fetch_time_and_drops_non_finite_numbers():
    article = Article.new(
        "https://e.example/x",
        fetched_at=T0,
        language_hint="de-AT",
        enrichment=Enrichment(language_confidence=float("nan"), reading_time_minutes=float("inf")),
    )
    doc = to_document(article)
    assert doc["@timestamp"].startswith("2025-02-18T09:30:00") and doc["published_at"] is None
    assert doc["language"] == "de" and doc["detected_language"] is None  # facet falls back to the page's hint
    assert doc["language_hint"] == "de-AT"
    assert doc["language_confidence"] is None and doc["reading_time_minutes"] is None
    plain = Article.new("https://e.example/y", fetched_at=T0)
    assert from_document(to_document(plain)) == plain  # no enrichment stays no enrichment


def test_classify_separates_transient_from_permanent_failures():
    assert classify(201, None) == (Outcome.OK, None)
    assert classify(429, {"type": "es_rejected_execution_exception", "reason": "queue full"})[0] is Outcome.RETRY
    assert classify(503, {"type": "unavailable_shards_exception", "reason": "primary not active"})[0] is Outcome.RETRY
    assert classify(403, {"type": "cluster_block_exception", "reason": "read-only"})[0] is Outcome.RETRY
    outcome, error = classify(400, {"type": "document_parsing_exception", "reason": "failed to parse field [word_count]"})
    assert outcome is Outcome.REJECTED and "word_count" in error


def test_search_body_filters():
    body = ElasticIndex.search_body(
        SearchQuery(text="talks", source="Example News", language="EN-gb", since=datetime(2025, 2, 1), entity="lavrov", limit=5)
    )
    filters = body["query"]["bool"]["filter"]
    assert body["size"] == 5
    assert body["query"]["bool"]["must"][0]["multi_match"]["fields"][0] == "title^3"
    assert {"term": {"language": {"value": "en", "case_insensitive": True}}} in filters
    assert {"range": {"@timestamp": {"gte": "2025-02-01T00:00:00+00:00"}}} in filters  # naive means UTC


def test_unreachable_cluster_raises_index_unavailable():
    index = ElasticIndex(ElasticsearchConfig(hosts=["http://127.0.0.1:1"], request_timeout=2))
    for call in (index.setup, lambda: index.write([seed_article()]), index.count, lambda: index.search(SearchQuery("x"))):
        with pytest.raises(IndexUnavailable):
            call()


# -- real node -----------------------------------------------------------------------------------


@services
def test_setup_is_idempotent_and_creates_a_write_alias(elastic_index):
    es = elastic_index.client
    elastic_index.setup()
    elastic_index.setup()
    aliases = es.indices.get_alias(name=elastic_index.alias).body
    assert list(aliases) == [f"{elastic_index.alias}-000001"]
    assert aliases[f"{elastic_index.alias}-000001"]["aliases"][elastic_index.alias]["is_write_index"] is True
    assert elastic_index.health() in ("green", "yellow")
    mapping = es.indices.get_mapping(index=elastic_index.alias).body[f"{elastic_index.alias}-000001"]["mappings"]
    assert mapping["dynamic"] == "false"
    assert mapping["properties"]["place_locations"]["type"] == "geo_point"
    assert mapping["properties"]["title"]["fields"]["keyword"]["type"] == "keyword"


@services
def test_a_rewrite_keeps_the_first_ingested_at(elastic_index):
    first = seed_article(feeds=["https://feed.one/rss"])
    assert [r.outcome for r in elastic_index.write([first])] == [Outcome.OK]
    ingested = elastic_index.client.get(index=elastic_index.alias, id=first.id)["_source"]["ingested_at"]
    again = seed_article(feeds=["https://feed.two/atom"], title="Updated title")
    assert [r.outcome for r in elastic_index.write([again])] == [Outcome.OK]
    assert elastic_index.client.get(index=elastic_index.alias, id=first.id)["_source"]["ingested_at"] == ingested


@services
def test_per_item_results_reject_a_document_that_violates_the_mapping(elastic_index):
    good = [Article.new(f"https://e.example/{i}", text=f"article {i}") for i in range(3)]
    bad = enriched("https://e.example/bad", text="too many words", enrichment=Enrichment(word_count=2**40))  # integer field
    results = elastic_index.write([good[0], bad, good[1], good[2]])
    assert [r.id for r in results] == [good[0].id, bad.id, good[1].id, good[2].id]
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.REJECTED, Outcome.OK, Outcome.OK]
    assert "word_count" in results[1].error and "Source:" not in results[1].error
    elastic_index.refresh()
    assert elastic_index.count() == 3


@services
def test_rewrites_after_a_rollover_stay_single(elastic_index):
    old = seed_article(feeds=["https://feed.one/rss"])
    elastic_index.write([old])
    elastic_index.client.indices.rollover(alias=elastic_index.alias)
    new = Article.new("https://e.example/after-rollover", text="written after the rollover")
    results = elastic_index.write([seed_article(feeds=["https://feed.two/rss"]), new])
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]
    elastic_index.refresh()
    assert elastic_index.count() == 2  # the old article was overwritten where it lives, not copied
    assert elastic_index.get(old.id).feeds == ["https://feed.one/rss", "https://feed.two/rss"]
    assert elastic_index.get(new.id) == new
    where = elastic_index.client.search(index=elastic_index.alias, query={"ids": {"values": [new.id]}})
    assert where["hits"]["hits"][0]["_index"] == f"{elastic_index.alias}-000002"


@services
def test_feed_status_documents(elastic_index, es_config):
    results = elastic_index.write_feed_status(
        [{"url": "https://feed.one/rss", "status": "ok", "last_success": T0, "consecutive_failures": 0, "items_per_day": 4.5}]
    )
    assert [r.outcome for r in results] == [Outcome.OK]
    es = elastic_index.client
    es.indices.refresh(index=es_config.feed_status_index)
    hit = es.search(index=es_config.feed_status_index, query={"term": {"status": "ok"}})["hits"]["hits"][0]["_source"]
    assert hit["url"] == "https://feed.one/rss" and hit["last_success"].startswith("2025-02-18")


@services
def test_bulk_throughput_is_reported(elastic_index, capsys):
    words = SEED.read_text(encoding="utf-8").split()
    rng = random.Random(7)
    articles = [
        enriched(
            f"https://bulk.example/{i}",
            title=" ".join(rng.choices(words, k=8)),
            text=" ".join(rng.choices(words, k=500)),
            published_at=T0 - timedelta(minutes=i),
            source="bulk.example",
            feeds=["https://bulk.example/rss"],
        )
        for i in range(1000)
    ]
    size = sum(len(json.dumps(to_document(a))) for a in articles) / len(articles)
    started = time.perf_counter()
    results = elastic_index.write(articles)
    elapsed = time.perf_counter() - started
    assert [r.outcome for r in results] == [Outcome.OK] * 1000
    elastic_index.refresh()
    assert elastic_index.count() == 1000
    with capsys.disabled():  # a measurement, never an assertion
        print(f"\n[elastic] bulk of 1000 enriched articles ({size / 1000:.1f} kB each): {elapsed:.2f}s, {1000 / elapsed:.0f} docs/s")


def test_client_gets_credentials_and_tls_options_without_showing_them():
    cfg = ElasticsearchConfig(hosts="https://es.example:9200", api_key="k3y-s3cret", ca_certs="/etc/ssl/ca.pem")
    assert "k3y-s3cret" not in repr(cfg)
    client = make_client(cfg)
    assert client._headers["authorization"] == "ApiKey k3y-s3cret"
    assert "k3y-s3cret" not in repr(client._headers)
    (node,) = client.transport.node_pool.all()
    assert node.config.ca_certs == "/etc/ssl/ca.pem" and node.config.verify_certs is True
    basic = make_client(ElasticsearchConfig(hosts="https://es.example:9200", username="newsflow", password="pw"))
    assert basic._headers["authorization"].startswith("Basic ")


@services
def test_a_missing_alias_is_retried_and_never_becomes_a_concrete_index(es_config):
    index = ElasticIndex(es_config)  # no setup(): the alias does not exist
    try:
        (result,) = index.write([seed_article()])
        assert result.outcome is Outcome.RETRY and "index_not_found_exception" in result.error
        assert not index.client.indices.exists(index=es_config.alias)
        assert index.count() == 0 and index.search(SearchQuery("talks")).total == 0 and index.get(result.id) is None
    finally:
        index.close()


# -- one bad document in a bulk (issue 15, item 1) ------------------------------------------------


def _hundred(prefix: str = "bulk") -> list[Article]:
    return [enriched(f"https://e.example/{prefix}/{i}", text=f"article {i} " * 50) for i in range(100)]


@services
def test_a_document_the_request_validation_refuses_is_isolated_and_the_rest_is_written(elastic_index, monkeypatch):
    """An id over 512 bytes makes Elasticsearch refuse the whole _bulk (HTTP 400,
    action_request_validation_exception): the bulk is split until that document stands alone."""
    good = _hundred()
    bad = enriched("https://e.example/bulk/bad", text="poisoned").model_copy(update={"id": "x" * 600})
    batch = [*good[:37], bad, *good[37:]]
    calls: list[int] = []
    real_bulk = elastic_index.client.bulk
    monkeypatch.setattr(elastic_index.client, "bulk", lambda **kw: calls.append(len(kw["operations"]) // 2) or real_bulk(**kw))
    results = elastic_index.write(batch)
    assert [r.id for r in results] == [a.id for a in batch]
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.OK) == 100 and outcomes[37] is Outcome.REJECTED
    assert results[37].error.startswith("HTTP 400 action_request_validation_exception")
    assert "is too long, must be no longer than 512 bytes" in results[37].error
    assert calls[0] == 101 and len(calls) <= 2 * 7 + 1  # bisection: about two requests per halving
    elastic_index.refresh()
    assert elastic_index.count() == 100


@pytest.fixture
def size_limited_proxy(es_hosts):
    """An HTTP proxy in front of the node that answers 413 to a body over ``limit`` bytes, as nginx
    does with ``client_max_body_size`` (the shared node's own http.max_content_length stays)."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    upstream = urlsplit(es_hosts[0])
    state = {"limit": 1 << 30, "refused": []}

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if length > state["limit"]:
                state["refused"].append(length)
                page = b"<html><head><title>413 Request Entity Too Large</title></head></html>"
                self.send_response(413)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}", state=state)
    server.shutdown()
    server.server_close()


@services
def test_a_413_shrinks_the_bulks_and_everything_is_still_written(elastic_index, es_config, size_limited_proxy):
    proxy = size_limited_proxy
    proxy.state["limit"] = 150_000
    index = ElasticIndex(es_config.model_copy(update={"hosts": [proxy.url]}))
    try:
        good = _hundred()  # ~3.7 kB each in the bulk body: ~370 kB in one request
        huge = enriched("https://e.example/bulk/huge", text="word " * 40_000)  # 200 kB alone
        results = index.write([*good[:50], huge, *good[50:]])
        assert [r.outcome for r in results].count(Outcome.OK) == 100
        assert results[50].outcome is Outcome.REJECTED and results[50].error.startswith("HTTP 413")
        assert "this document alone is" in results[50].error
        refused_first = list(proxy.state["refused"])
        assert refused_first and refused_first[0] > 300_000
        assert index._max_bytes < 150_000  # learnt from the 413s
        # The next bulks are cut small enough from the start: no 413 at all.
        more = _hundred("more")
        assert all(r.outcome is Outcome.OK for r in index.write(more))
        assert proxy.state["refused"] == refused_first
    finally:
        index.close()
    elastic_index.refresh()
    assert elastic_index.count() == 200
