"""Broker faults on a PRIVATE Kafka broker (tests/support/private_kafka.py), killed with SIGKILL and
restarted on the same data, as in the issue's drills:

* after a broker restart an offset commit returns or raises within ``bus.kafka.commit_timeout``
  (the bound is the contract), and the consumer commits again once the broker is back;
* an enrich daemon told to stop while the broker is down exits 0 within
  ``daemon.shutdown_timeout`` (plus start-up slack), and after a restart with the broker back
  every article it had not committed is delivered again: nothing is lost;
* so does the poll daemon, whose refused articles wait in its state over the restart.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.config import BusConfig, KafkaConfig
from newsflow.core.record import Article, article_headers
from tests.support.daemons import LIGHT_ENRICHERS, Pipeline, daemons, wait_until  # noqa: F401 - fixture
from tests.support.private_kafka import private_kafka  # noqa: F401 - fixture

pytestmark = [pytest.mark.services, pytest.mark.drill]

COMMIT_TIMEOUT = 2.0
SLACK = 5.0  # a call's own overhead beyond its bound (thread hand-offs on a loaded 2-core machine)


def _bus(kafka, **kafka_fields) -> BusConfig:
    cfg = KafkaConfig(bootstrap_servers=kafka.servers, session_timeout_ms=6000, timeout=20.0,
                      commit_timeout=COMMIT_TIMEOUT, **kafka_fields)
    return BusConfig(backend="kafka", kafka=cfg)


def _article(i: int) -> Article:
    return Article.new(
        f"https://faults.test/news/{i}.html",
        title=f"Broker fault article {i}",
        text=f"Article number {i}, written while the broker may be down. " * 5,
        published_at=datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(minutes=i),
        source="faults.test",
    )


def _produce(broker, topic: str, articles: list[Article]) -> None:
    producer = broker.producer()
    try:
        futures = [producer.produce(topic, a.id.encode(), a.to_json(), article_headers("test")) for a in articles]
        for f in futures:
            f.result(60)
    finally:
        producer.close()


def _timed_commit(consumer, offsets) -> tuple[bool, float]:
    started = time.monotonic()
    try:
        consumer.commit(offsets)
        ok = True
    except BusUnavailable:
        ok = False
    return ok, time.monotonic() - started


def test_commits_after_a_broker_restart_return_within_the_commit_timeout_and_then_succeed(private_kafka):
    from newsflow.bus.kafka import KafkaBroker
    from tests.conftest import unique

    broker = KafkaBroker(_bus(private_kafka))
    topic = unique("nf-commit")
    broker.create_topics({topic: 1})
    _produce(broker, topic, [_article(i) for i in range(20)])
    consumer = broker.consumer(unique("nf-commit-group"))
    try:
        consumer.subscribe([topic])
        got = []
        wait_until(lambda: got.append(consumer.poll(0.5)) or len([m for m in got if m]) >= 10, 60, "records")
        last = max(m.offset for m in got if m)
        offsets = {next(m for m in got if m).partition: last + 1}
        assert _timed_commit(consumer, offsets)[0], "a commit with the broker up failed"

        private_kafka.kill()
        ok, took = _timed_commit(consumer, offsets)
        assert not ok, "a commit succeeded with the broker killed"
        assert took <= COMMIT_TIMEOUT + SLACK, f"a commit with the broker down took {took:.1f}s"

        # Commit all through the restart, as the stage loop does: while the broker starts, its
        # coordinator loads the group's offsets, and each attempt must still end within the bound.
        restarting = time.monotonic()
        ready: list[float] = []
        starter = threading.Thread(target=lambda: (private_kafka.up(), ready.append(time.monotonic() - restarting)))
        starter.start()
        durations: list[float] = []

        def committed() -> bool:
            consumer.poll(0.2)  # keeps the member in its group, as the stage loop does
            ok, took = _timed_commit(consumer, offsets)
            durations.append(took)
            return ok

        wait_until(committed, 180, "a commit after the broker restart")
        first = time.monotonic() - restarting
        starter.join(300)
        print(f"first commit {first:.1f}s after the restart began (the broker answered ready after "
              f"{ready[0] if ready else float('nan'):.1f}s); {len(durations)} attempts, "
              f"the longest {max(durations):.1f}s (commit_timeout {COMMIT_TIMEOUT}s)")
        assert max(durations) <= COMMIT_TIMEOUT + SLACK, f"a commit took {max(durations):.1f}s"
    finally:
        consumer.close()
        broker.delete_topics([topic])


def test_enrich_daemon_stopped_while_the_broker_is_down_exits_in_time_and_loses_nothing(private_kafka, daemons, tmp_path):
    from newsflow.bus.kafka import KafkaBroker

    shutdown_timeout = 10.0
    n = 1500
    from tests.conftest import unique

    p = Pipeline(unique("nf-stop"), tmp_path, private_kafka.servers, [], partitions=2)
    cfg = p.write_config(
        feeds=[],
        index={"backend": "sqlite"},
        enrich={"enrichers": LIGHT_ENRICHERS},
        bus={"kafka": {"bootstrap_servers": private_kafka.servers, "session_timeout_ms": 6000, "timeout": 20.0,
                       "commit_timeout": COMMIT_TIMEOUT}},
        daemon={"shutdown_timeout": shutdown_timeout, "log_format": "json", "log_level": "INFO"},
    )
    broker = KafkaBroker(_bus(private_kafka))
    broker.create_topics({p.cleaned: 2, p.enriched: 2, p.dead_letters: 1})
    articles = [_article(i) for i in range(n)]
    _produce(broker, p.cleaned, articles)

    enrich = daemons("enrich", cfg).start()
    wait_until(lambda: enrich.assert_alive() or p.committed("enrich") > 0, 120, "the first enrich commit",
               describe=enrich.log_tail)
    committed_before = p.committed("enrich")
    private_kafka.kill()
    time.sleep(1.0)  # the daemon notices: its produces and commits now fail
    code, took = enrich.terminate(timeout=shutdown_timeout + 50)
    print(f"enrich exited {code} {took:.1f}s after SIGTERM with the broker down "
          f"(shutdown_timeout {shutdown_timeout:.0f}s; {committed_before} of {n} committed before the kill)")
    assert code == 0, enrich.log_tail()
    assert took <= shutdown_timeout + SLACK, f"enrich took {took:.1f}s to stop:\n{enrich.log_tail()}"

    private_kafka.up()
    enrich.start()
    want = {a.id for a in articles}

    def all_enriched() -> bool:
        enrich.assert_alive()
        return want <= {r.key.decode() for r in p.read_topic(p.enriched, timeout=60)}

    wait_until(all_enriched, 180, "every article enriched after the restart", interval=2.0, describe=enrich.log_tail)
    wait_until(lambda: p.committed("enrich") >= n, 60, "enrich to commit everything")


def test_poll_daemon_stopped_while_the_broker_is_down_exits_in_time_and_its_kept_articles_arrive(
    private_kafka, daemons, tmp_path
):
    """Pages are served slowly, so the broker dies mid-poll: articles are refused and kept, the
    daemon is stopped, and after the restart every article of the feed is on the topic."""
    from newsflow.bus.kafka import KafkaBroker
    from tests.conftest import unique
    from tests.support.daemons import http_get, metric, metric_samples
    from tests.support.feeds_http import LocalServer, atom_feed, html_page
    from benchmarks.corpus import free_port

    shutdown_timeout, n = 10.0, 12
    p = Pipeline(unique("nf-pollstop"), tmp_path, private_kafka.servers, [], partitions=2)
    broker = KafkaBroker(_bus(private_kafka))
    broker.create_topics({p.cleaned: 2, p.enriched: 2, p.dead_letters: 1})
    with LocalServer() as server:
        server.static("/feed", atom_feed([(f"e{i}", server.url(f"/p/{i}"), f"Story {i}") for i in range(n)]),
                      "application/atom+xml")

        def slow_page(request, i: int) -> None:
            time.sleep(1.0)
            request.send(200, html_page(f"Story {i}", 8), {"Content-Type": "text/html"})

        for i in range(n):
            server.route(f"/p/{i}", lambda r, i=i: slow_page(r, i))
        cfg = p.write_config(
            feeds=[{"url": server.url("/feed")}],
            index={"backend": "sqlite"},
            poller={"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "obey_robots": False,
                    "min_interval": 3600.0, "default_interval": 3600.0, "bus_retry_max": 2.0},
            bus={"kafka": {"bootstrap_servers": private_kafka.servers, "timeout": 5.0, "delivery_timeout": 4.0,
                           "commit_timeout": COMMIT_TIMEOUT}},
            daemon={"shutdown_timeout": shutdown_timeout, "log_format": "json", "log_level": "INFO"},
        )
        poll = daemons("poll", cfg, metrics_port=free_port()).start()

        def on_topic() -> set[str]:
            return {r.key.decode() for r in p.read_topic(p.cleaned, timeout=30)}

        wait_until(lambda: poll.assert_alive() or on_topic(), 120, "the first article on the topic", describe=poll.log_tail)
        private_kafka.kill()

        def waiting() -> float:
            poll.assert_alive()
            return metric(metric_samples(http_get(poll.url("/metrics"))[1]), "newsflow_articles_waiting_for_bus") or 0

        wait_until(waiting, 60, "an article refused and kept", describe=poll.log_tail)
        code, took = poll.terminate(timeout=shutdown_timeout + 50)
        print(f"poll exited {code} {took:.1f}s after SIGTERM with the broker down (shutdown_timeout {shutdown_timeout:.0f}s)")
        assert code == 0, poll.log_tail()
        assert took <= shutdown_timeout + SLACK, f"poll took {took:.1f}s to stop:\n{poll.log_tail()}"

        private_kafka.up()
        poll.start()
        want = {a for a in (_page_id(server.url(f"/p/{i}")) for i in range(n))}
        wait_until(lambda: poll.assert_alive() or want <= on_topic(), 120, "every article on the topic after the restart",
                   interval=1.0, describe=poll.log_tail)


def _page_id(url: str) -> str:
    from newsflow.core.record import article_id
    from newsflow.ingest.urls import canonical_url

    return article_id(canonical_url(url))
