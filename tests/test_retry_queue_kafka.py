"""Articles Kafka refused, on a PRIVATE broker killed with SIGKILL (tests/support/private_kafka.py):
the producer gives up on them after ``bus.kafka.delivery_timeout``, the poller keeps them
(memory capped, the rest in the state database) and they reach the topic once the broker is back,
from the running poller, and from a poller restarted while the broker was down; no page or
feed is fetched again. The feed's next poll is an hour away: what arrives came from the queue."""

from __future__ import annotations

import time

import pytest

from newsflow.bus.config import BusConfig, KafkaConfig
from newsflow.core.record import Article
from newsflow.ingest.feedstate import STATUS_DEGRADED, STATUS_OK, FeedStateStore
from newsflow.pipeline.poll_stage import ArticleSink
from tests.support.daemons import Pipeline, wait_until
from tests.support.feeds_http import LocalServer
from tests.support.private_kafka import private_kafka  # noqa: F401 - fixture
from tests.test_retry_queue import Running, _config, _page_fetches, _sample, _site

pytestmark = [pytest.mark.services, pytest.mark.drill]


def test_articles_kafka_refused_reach_the_topic_once_it_is_back_and_after_a_poller_restart(private_kafka, tmp_path):
    from newsflow.bus.kafka import KafkaBroker
    from tests.conftest import unique

    bus = BusConfig(backend="kafka", kafka=KafkaConfig(
        bootstrap_servers=private_kafka.servers, timeout=5.0, delivery_timeout=6.0, commit_timeout=2.0))
    broker = KafkaBroker(bus)
    topic = unique("nf-refused")
    broker.create_topics({topic: 2})
    reader = Pipeline(topic, tmp_path, private_kafka.servers, [])
    db = tmp_path / "state.sqlite3"
    n, m, cap = 30, 8, 10
    config = _config(bus_retry_memory=cap, bus_retry_initial=0.5, bus_retry_max=2.0)

    def keys() -> set[str]:
        return {r.key.decode() for r in reader.read_topic(topic, timeout=30)}

    producer = broker.producer()
    sink = ArticleSink(producer, topic)
    sink(Article.new("https://warm.test/up.html", text="warm-up")).result(30)  # the producer knows the topic
    spilled_before = _sample("newsflow_articles_spilled_total")
    with LocalServer() as server:
        feed = _site(server, n)
        private_kafka.kill()
        with Running(config, db, sink, [feed]) as run:
            assert run.poller is not None
            wait_until(lambda: run.poller.refused.pending == n, 120, f"all {n} articles refused and kept")
            assert run.poller.refused.in_memory <= cap
            assert _sample("newsflow_articles_spilled_total") - spilled_before >= n - cap
            state = run.poller.store.get(feed)
            assert state is not None and state.status == STATUS_DEGRADED and state.waiting == n

            private_kafka.up()
            back = time.monotonic()
            wait_until(lambda: len(keys()) >= n + 1, 120, "the refused articles on the topic")
            spilled = _sample("newsflow_articles_spilled_total") - spilled_before
            print(f"{n} refused articles on the topic {time.monotonic() - back:.1f}s after the broker was back, "
                  f"{spilled:.0f} of them spilled to the state (delivery_timeout 6s, bus_retry_max 2s, "
                  f"bus_retry_memory {cap}, min_interval {config.min_interval:.0f}s)")
            wait_until(lambda: run.poller.refused.pending == 0, 30, "the queue to empty")
            state = run.poller.store.get(feed)
            assert state is not None and state.status == STATUS_OK and state.waiting == 0
        assert len(server.requests("/p-feed")) == 1 and _page_fetches(server, n) == n, "something was fetched again"

        # Down again; a new feed's articles are refused, and the poller stops before the broker is back.
        feed2 = _site(server, m, prefix="q")
        private_kafka.kill()
        with Running(config, db, sink, [feed, feed2]) as run:
            assert run.poller is not None
            wait_until(lambda: run.poller.refused.pending == m, 120, f"the {m} new articles refused and kept")
        producer.close(0)
        with FeedStateStore(db) as store:
            assert len(store.spilled(limit=1000)) == m and store.get(feed2).waiting == m  # type: ignore[union-attr]

        private_kafka.up()
        producer = broker.producer()
        with Running(config, db, ArticleSink(producer, topic), [feed, feed2]) as run:
            back = time.monotonic()
            wait_until(lambda: len(keys()) >= n + m + 1, 120, "the articles kept over the restart on the topic")
            print(f"{m} articles kept over a poller restart on the topic {time.monotonic() - back:.1f}s after it started")
            wait_until(lambda: run.poller is not None and run.poller.refused.pending == 0, 30, "the queue to empty")
        producer.close()
        assert len(server.requests("/q-feed")) == 1 and _page_fetches(server, m, "q") == m, "something was fetched again"
        with FeedStateStore(db) as store:
            assert store.spilled(limit=1000) == [] and store.get(feed2).status == STATUS_OK  # type: ignore[union-attr]
    broker.delete_topics([topic])
