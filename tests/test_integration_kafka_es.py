"""The pipeline on the real services (issue 3, part 7): a Kafka broker and an Elasticsearch node
on 127.0.0.1 (``bash deploy/local/services.sh up``). Every test uses its own topics, consumer
groups and alias, deleted afterwards.

* the seed site goes poll -> Kafka -> enrich -> Kafka -> index, and Elasticsearch finds the
  seed article with its entities and without the theme's chrome;
* running the pipeline again, and again from an empty state, leaves each post in the index once;
* an enrich worker killed with SIGKILL mid-stream and restarted loses and duplicates nothing;
* poison messages go to the dead-letter topic, the stream goes on, and replay refuses them while
  their cause persists;
* one document Elasticsearch refuses in a bulk is its only dead letter, the rest is indexed;
* while Elasticsearch is down the index daemon waits without committing, then catches up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import orjson
import pytest

from newsflow.bus.dead_letters import parse_envelope
from newsflow.core.record import Article, Enrichment, article_id
from newsflow.ingest.urls import canonical_url
from newsflow.pipeline.run_all import run_all
from newsflow.ingest.config import FeedConfig
from newsflow.settings import load
from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve
from tests.support.daemons import (  # noqa: F401 - fixtures
    LIGHT_ENRICHERS,
    REPO,
    SERVICES_SH,
    daemons,
    http_get,
    metric,
    metric_samples,
    new_pipeline,
    pipeline,
    wait_until,
)
from benchmarks.corpus import build_site, free_port, serve_site

pytestmark = pytest.mark.services

SEED_POSTS = ("post-us-russia-talks.html", "post-2.html", "post-3.html")
SEED_IDS = {article_id(canonical_url(f"{SEED_ORIGIN}/{p}")) for p in SEED_POSTS}
MAIN_URL = f"{SEED_ORIGIN}/post-us-russia-talks.html"
CHROME = ("Post a Comment", "Previous Post", "Next Post")


def seed_sections(base: str) -> dict:
    """Config sections that point the poller at the seed site served on ``base``."""
    return {
        "feeds": [FeedConfig(url=u, name="Example News (seed)") for u in SEED_FEEDS],
        "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": {SEED_ORIGIN: base}},
    }


# -- the seed site, end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_run(kafka_bus_config, es_hosts, tmp_path_factory):
    """One run of the whole pipeline (one process, Kafka + Elasticsearch) over the seed site."""
    tmp = tmp_path_factory.mktemp("seed")
    with new_pipeline(tmp, kafka_bus_config, es_hosts) as p, serve(SEED_SITE) as base:

        def settings(data_dir):
            return p.settings(data_dir, **seed_sections(base))

        first = run_all(settings(tmp / "data"), once=True)
        yield SimpleNamespace(pipeline=p, settings=settings, first=first, tmp=tmp)


def test_seed_site_goes_through_kafka_and_lands_in_elasticsearch_with_entities(seed_run):
    p = seed_run.pipeline
    assert seed_run.first.poll.articles_emitted == 6  # 3 posts in each of the 2 feeds
    assert p.topic_messages(p.cleaned) == 6 and p.topic_messages(p.enriched) == 6  # it really went through Kafka
    with p.es() as es:
        es.indices.refresh(index=p.alias)
        resp = es.search(
            index=p.alias,
            query={
                "bool": {
                    "must": [{"match": {"text": "Stoltenberg"}}],
                    "filter": [{"term": {"entities.organisations": "NATO"}}, {"term": {"language": "en"}}],
                }
            },
        )
    hits = resp["hits"]["hits"]
    assert [h["_source"]["url"] for h in hits] == [MAIN_URL]
    doc = hits[0]["_source"]
    assert hits[0]["_id"] == article_id(MAIN_URL)
    persons = doc["entities"]["persons"]
    for name in ("Stoltenberg", "Ryabkov", "Blinken"):
        assert any(name in person for person in persons), (name, persons)
    assert "NATO" in doc["entities"]["organisations"]
    assert doc["published_at"].startswith("2022-01-10") and doc["@timestamp"].startswith("2022-01-10")
    assert doc["language"] == "en"
    assert {"NATO", "Russia", "Ukraine", "USA", "World"} <= set(doc["categories"])  # the feed's labels
    assert sorted(doc["feeds"]) == sorted(SEED_FEEDS)
    assert "Ryabkov" in doc["text"] and len(doc["text"]) > 1000
    for chrome in CHROME:
        assert chrome not in doc["text"]


def test_running_again_and_from_an_empty_state_keeps_each_post_once(seed_run):
    p = seed_run.pipeline
    again = run_all(seed_run.settings(seed_run.tmp / "data"), once=True)
    assert again.poll.articles_emitted == 0  # same state: nothing new to send
    fresh = run_all(seed_run.settings(seed_run.tmp / "fresh-data"), once=True)
    assert fresh.poll.articles_emitted == 6  # no state: every post is sent again...
    assert p.topic_messages(p.cleaned) == 12 and p.topic_messages(p.enriched) == 12  # ...and enriched again
    got = p.indexed()
    assert got["count"] == 3, got
    assert set(got["ids"]) == SEED_IDS
    assert got["urls_twice"] == []


# -- SIGKILL of an enrich worker ----------------------------------------------------------------


def test_enrich_worker_killed_mid_stream_then_restarted_loses_and_duplicates_nothing(pipeline, daemons, tmp_path):
    p = pipeline
    n = 250
    site = build_site(tmp_path / "site", n)
    env = {"NEWSFLOW_BUS__KAFKA__SESSION_TIMEOUT_MS": "6000"}  # the dead member's partitions move on quickly
    with serve_site(site) as served:
        cfg = p.write_config(
            feeds=served.feed_configs(),
            poller={"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": served.host_map},
            enrich={"enrichers": LIGHT_ENRICHERS},
        )
        index = daemons("index", cfg, env=env).start()
        enrich = daemons("enrich", cfg, env=env).start()
        poll = daemons("poll", cfg, env=env).start()

        def some_enriched() -> bool:
            for d in (index, enrich, poll):
                d.assert_alive()
            return p.committed("enrich") >= 40

        wait_until(some_enriched, 120, "the enrich worker to commit 40 articles", describe=p.describe)
        assert enrich.kill() == -signal.SIGKILL
        committed_at_kill = p.committed("enrich")
        cleaned_at_kill = p.topic_messages(p.cleaned)
        assert committed_at_kill < n, "the kill came too late to be mid-stream"
        enrich.start()

        def drained() -> bool:
            for d in (index, enrich, poll):
                d.assert_alive()
            cleaned = p.topic_messages(p.cleaned)
            return (
                cleaned == n
                and p.committed("enrich") == cleaned
                and p.committed("index") == p.topic_messages(p.enriched)
            )

        wait_until(drained, 180, f"all {n} articles to be enriched and indexed", describe=p.describe)
        got = p.indexed()
        for d in (poll, enrich, index):
            code, _ = d.terminate()
            assert code == 0, d.log_tail()
    print(f"killed at {committed_at_kill} committed of {cleaned_at_kill} cleaned; enriched topic {p.topic_messages(p.enriched)}")
    assert got["count"] == n
    assert set(got["ids"]) == site.expected_ids
    assert got["urls_twice"] == []
    # The restarted worker started from the last commit: it re-read what the dead one had done
    # since (redelivery), yet the index holds each article once.
    assert p.topic_messages(p.enriched) >= n


# -- poison messages and replay ---------------------------------------------------------------


def test_poison_messages_go_to_the_dead_letter_topic_the_stream_goes_on_and_replay_works(pipeline):
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.pipeline.backends import topic_partitions

    p = pipeline
    p.partitions = 1  # one partition: the good articles come after the poison in the same log
    future = Article.new("https://poison.test/future.html", title="From a newer newsflow").model_dump(mode="json")
    future["schema_version"] = 999
    poison = {
        b"not-json": (p.cleaned, b"not json"),
        b"future": (p.cleaned, orjson.dumps(future)),
        b"binary": (p.enriched, b"\xff\xfe\x00 not an article"),
    }
    with serve(SEED_SITE) as base:
        cfg = p.write_config(**seed_sections(base))
        settings = load(cfg)
        broker = KafkaBroker(settings.bus)
        broker.create_topics(topic_partitions(settings))
        producer = broker.producer()
        for key, (topic, value) in poison.items():
            producer.produce(topic, key, value).result(timeout=30)
        producer.close()

        run_all(settings, once=True)  # the seed posts follow the poison in both topics

        letters = {l.key: l for l in (parse_envelope(r.value) for r in p.read_topic(p.dead_letters))}
        assert set(letters) == set(poison)
        for key, (topic, value) in poison.items():
            letter = letters[key]
            assert (letter.topic, letter.offset, letter.payload) == (topic, 0 if key != b"future" else 1, value)
            assert letter.error_type == "RecordError"
        assert letters[b"not-json"].stage == "enrich" and "not JSON" in letters[b"not-json"].error
        assert letters[b"future"].stage == "enrich" and "schema_version 999" in letters[b"future"].error
        assert letters[b"binary"].stage == "index"
        got = p.indexed()  # the stream went on past the poison
        assert got["count"] == 3 and set(got["ids"]) == SEED_IDS

        replay = _replay(cfg)
        # This version still cannot read any of them: replay refuses them, with their reasons,
        # instead of sending them round again.
        assert replay.returncode == 1, replay.stdout + replay.stderr
        assert "replayed 0 dead letters (none); 0 unreadable skipped; 3 refused" in replay.stdout
        assert replay.stdout.count("still unreadable") == 3 and "schema_version 999" in replay.stdout
        assert p.topic_messages(p.cleaned) == 2 + 6 and p.topic_messages(p.enriched) == 1 + 6  # nothing sent back

        again = run_all(settings, once=True)
    assert again.poll.articles_emitted == 0
    assert len(p.read_topic(p.dead_letters)) == 3  # no new dead letters
    assert p.committed("dlq-replay") == 3  # replay moved past what it refused
    assert p.indexed()["count"] == 3


def _replay(cfg) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsflow", "dlq", "replay", "-c", str(cfg), "--idle", "3"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )


def test_one_document_elasticsearch_refuses_is_the_only_dead_letter_and_replay_refuses_it_again(pipeline):
    """Issue 15: 100 valid enriched records and one whose id Elasticsearch refuses (over 512
    bytes: the whole _bulk comes back HTTP 400) -> 100 indexed, 1 dead letter with the reason,
    every offset committed; replay refuses that letter and sends back one whose cause is gone."""
    from newsflow.bus.dead_letters import DeadLetters
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.bus.types import BrokerMessage, Partition
    from newsflow.pipeline.backends import topic_partitions

    p = pipeline
    p.partitions = 1
    cfg = p.write_config(feeds=[], enrich={"enrichers": LIGHT_ENRICHERS}, bus={"batch_size": 500, "batch_seconds": 3.0})
    settings = load(cfg)
    broker = KafkaBroker(settings.bus)
    broker.create_topics(topic_partitions(settings))
    good = [_outage_article(i) for i in range(100)]
    bad = _outage_article(100).model_copy(update={"id": "x" * 600})
    producer = broker.producer()
    for a in [*good[:60], bad, *good[60:]]:
        producer.produce(p.enriched, a.id.encode(), a.to_json())
    producer.flush(30)

    run_all(settings, once=True)  # drains: the index group committed all 101

    assert p.committed("index") == 101
    got = p.indexed()
    assert got["count"] == 100 and set(got["ids"]) == {a.id for a in good}
    (record,) = p.read_topic(p.dead_letters)
    letter = parse_envelope(record.value)
    assert (letter.stage, letter.error_type, letter.topic, letter.offset) == ("index", "IndexRejected", p.enriched, 60)
    assert letter.key == bad.id.encode() and Article.from_json(letter.payload) == bad
    assert "action_request_validation_exception" in letter.error
    assert "is too long, must be no longer than 512 bytes" in letter.error

    # A second letter whose cause is gone (say a mapping since fixed): a valid article.
    fixed = _outage_article(101)
    origin = BrokerMessage(Partition(p.enriched, 0), 999, fixed.id.encode(), fixed.to_json())
    DeadLetters(producer, p.dead_letters, "index").send(origin, error="HTTP 400 document_parsing_exception: (since fixed)").result(30)
    producer.close()

    replay = _replay(cfg)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert f"replayed 1 dead letters ({p.enriched}: 1); 0 unreadable skipped; 1 refused" in replay.stdout
    assert "the index still rejects it: HTTP 400 action_request_validation_exception" in replay.stdout
    assert "is too long, must be no longer than 512 bytes" in replay.stdout
    assert p.topic_messages(p.enriched) == 102  # only the fixed one went back
    assert p.committed("dlq-replay") == 2

    run_all(settings, once=True)
    assert p.committed("index") == 102
    assert len(p.read_topic(p.dead_letters)) == 2  # the refused letter did not come back
    got = p.indexed()
    assert got["count"] == 101 and fixed.id in got["ids"]


# -- Elasticsearch outage ---------------------------------------------------------------------


def _services(action: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FRESH"}  # a fresh start would wipe the node's data
    subprocess.run(["bash", str(SERVICES_SH), action, "elasticsearch"], check=True, timeout=240, capture_output=True, env=env)


def _es_up(p) -> bool:
    try:
        with p.es() as es:
            es.options(request_timeout=3).cluster.health()
        return True
    except Exception:
        return False


def _outage_article(i: int) -> Article:
    return Article.new(
        f"https://outage.test/news/{i}.html",
        title=f"Outage test article {i}",
        text=f"Article number {i} written while the search node may be down. " * 5,
        published_at=datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(minutes=i),
        source="outage.test",
        enrichment=Enrichment(language="en", word_count=60),
    )


def test_elasticsearch_outage_index_daemon_waits_without_committing_and_loses_nothing(pipeline, daemons):
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.pipeline.backends import topic_partitions

    p = pipeline
    p.partitions = 2
    cfg = p.write_config()
    settings = load(cfg)
    broker = KafkaBroker(settings.bus)
    broker.create_topics(topic_partitions(settings))
    index = daemons("index", cfg, metrics_port=free_port()).start()
    index.wait_ready()

    # Enriched articles keep flowing at ~20/s from a producer thread, before, during and after.
    producer = broker.producer()
    sent: list[str] = []
    stop_producing = threading.Event()

    def produce() -> None:
        i = 0
        while not stop_producing.is_set():
            a = _outage_article(i)
            producer.produce(p.enriched, a.id.encode(), a.to_json()).result(timeout=30)
            sent.append(a.id)
            i += 1
            stop_producing.wait(0.05)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        wait_until(lambda: index.assert_alive() or p.es_count() >= 20, 60, "the first articles in the index")

        def retries() -> float:
            text = http_get(index.url("/metrics"))[1]
            return metric(metric_samples(text), "newsflow_bus_errors_total", stage="index", kind="transient_retry") or 0.0

        retries_before = retries()
        down_at, down_wall = time.monotonic(), datetime.now(timezone.utc)
        try:
            _services("stop")
            if _es_up(p):
                pytest.skip("Elasticsearch still answers after `services.sh stop`: it is not managed by the script")
            produced_then = len(sent)
            committed = []
            # ~5 s more down (a restart of the node takes 5-15 s on top), while articles keep coming;
            # short, because other test runs on this machine share the node.
            for _ in range(3):
                committed.append(p.committed_offsets("index"))
                index.assert_alive()
                time.sleep(1.5)
            assert http_get(index.url("/health/live"))[0] == 200
            assert retries() > retries_before  # it retried with backoff...
            # ...and committed nothing new (the first sample may still see the commit of a write
            # acknowledged just before the stop), while articles kept arriving.
            assert all(c == committed[1] for c in committed[1:]), committed
            assert len(sent) > produced_then
            assert sum(committed[-1].values()) < len(sent)
        finally:
            _services("start")
        wait_until(lambda: _es_up(p), 120, "Elasticsearch to come back")
        up_at = time.monotonic()
        time.sleep(2)  # a few more articles after the outage
    finally:
        stop_producing.set()
        thread.join(30)
        producer.close()

    total = len(sent)
    wait_until(
        lambda: index.assert_alive() or (p.committed("index") == total and p.es_count() == total),
        150,
        f"the index daemon to catch up with {total} articles",
        describe=p.describe,
    )
    print(f"outage {up_at - down_at:.1f}s; caught up {time.monotonic() - up_at:.1f}s after; {total} articles; "
          f"committed during the outage {[sum(c.values()) for c in committed]}")
    got = p.indexed()
    assert got["count"] == total and set(got["ids"]) == set(sent) and got["urls_twice"] == []
    # Whatever was committed during the outage had been written before it: those articles were
    # first ingested before Elasticsearch went down, not on the retries after it came back.
    last = committed[-1]
    covered = {r.key.decode() for r in p.read_topic(p.enriched) if r.offset < last.get((r.topic, r.partition), 0)}
    assert len(covered) == sum(last.values()) > 0
    with p.es() as es:
        docs = es.mget(index=p.alias, ids=sorted(covered), source=["ingested_at"])["docs"]
    ingested = [datetime.fromisoformat(d["_source"]["ingested_at"]) for d in docs]
    assert len(ingested) == len(covered) and max(ingested) < down_wall
    code, _ = index.terminate()
    assert code == 0, index.log_tail()


def test_feed_health_is_published_to_the_feed_status_index(seed_run):
    """Kibana's "Feed health" dashboard reads the feed-status index the pipeline writes."""
    p = seed_run.pipeline
    with p.es() as es:
        es.indices.refresh(index=p.status_index)
        docs = {h["_source"]["url"]: h["_source"] for h in es.search(index=p.status_index, size=10)["hits"]["hits"]}
    assert set(docs) == set(SEED_FEEDS)
    for doc in docs.values():
        assert doc["status"] == "ok"
        assert doc["consecutive_failures"] == 0
        assert doc["last_success"] and doc["next_poll"]
        assert doc["name"] == "Example News (seed)"
