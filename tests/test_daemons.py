"""The three daemons as ops run them (issue 5, "Done when"): real subprocesses of
``newsflow poll|enrich|index`` on the real Kafka broker and Elasticsearch node.

* while they run, ``/health/live``, ``/health/ready`` and ``/metrics`` answer, and the metrics
  count what went through (feeds polled, articles extracted/enriched/indexed, dead letters,
  consumer lag per partition, enrichment and bulk latency); ``newsflow status`` shows feed
  health, lag, dead letters and the index count; each daemon exits 0 soon after SIGTERM;
* SIGTERM in the middle of a stream, then a restart, loses nothing and duplicates nothing:
  each daemon drains and commits what it took, so not even the topics carry a duplicate;
* ``newsflow status`` reads every section from the embedded bus too, and from the real services.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from newsflow.ingest.config import FeedConfig

from newsflow.settings import load
from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve
from tests.support.daemons import (  # noqa: F401 - fixtures
    LIGHT_ENRICHERS,
    REPO,
    daemons,
    http_get,
    metric,
    metric_samples,
    pipeline,
    wait_until,
)
from benchmarks.corpus import build_site, free_port, serve_site

SHUTDOWN_BOUND = 30.0  # seconds from SIGTERM to exit, well over what a drain of these streams takes


def newsflow(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # A wide terminal, so table cells are not folded across lines.
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def status_json(cfg) -> dict:
    res = newsflow("status", "-c", str(cfg), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


# -- health, metrics, status and SIGTERM while running ------------------------------------------


@pytest.mark.services
def test_daemons_serve_health_and_metrics_status_reports_them_and_sigterm_exits_0(pipeline, daemons):
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.pipeline.backends import topic_partitions

    p = pipeline
    with serve(SEED_SITE) as base:
        cfg = p.write_config(
            feeds=[FeedConfig(url=u, name="Example News (seed)") for u in SEED_FEEDS],
            poller={"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": {SEED_ORIGIN: base}},
            enrich={"enrichers": LIGHT_ENRICHERS},
        )
        settings = load(cfg)
        broker = KafkaBroker(settings.bus)
        broker.create_topics(topic_partitions(settings))
        producer = broker.producer()
        producer.produce(p.cleaned, b"poison", b"not json").result(timeout=30)  # one dead letter to count
        producer.close()

        procs = {stage: daemons(stage, cfg, metrics_port=free_port()).start() for stage in ("index", "enrich", "poll")}
        for d in procs.values():
            d.wait_ready()
            assert http_get(d.url("/health/live"))[0] == 200
            assert http_get(d.url("/nowhere"))[0] == 404

        def drained() -> bool:
            for d in procs.values():
                d.assert_alive()
            return (
                p.topic_messages(p.cleaned) == 7  # 3 posts in each of 2 feeds + the poison
                and p.committed("enrich") == 7
                and p.committed("index") == p.topic_messages(p.enriched) == 6
                and p.es_count() == 3
            )

        wait_until(drained, 90, "the seed site to go through the three daemons", describe=p.describe)

        def metrics(stage: str) -> dict:
            return metric_samples(http_get(procs[stage].url("/metrics"))[1])

        poll = metrics("poll")
        assert metric(poll, "newsflow_feeds_polled_total", result="ok") == 2
        assert metric(poll, "newsflow_articles_extracted_total") == 6
        assert metric(poll, "newsflow_extraction_seconds_count") == 6
        assert not metric(poll, "newsflow_feed_errors_total")

        # The lag gauge is sampled every 5 s: wait for a sample taken after the drain.
        def lag_zero(stage: str, topic: str) -> dict | None:
            m = metrics(stage)
            lags = {labels: v for (name, labels), v in m.items() if name == "newsflow_consumer_lag"}
            parts = {dict(labels)["partition"] for labels in lags if dict(labels)["topic"] == topic}
            return m if parts == {"0", "1", "2", "3"} and not any(lags.values()) else None

        enrich = wait_until(lambda: lag_zero("enrich", p.cleaned), 30, "the enrich lag gauge to read 0 on 4 partitions")
        assert metric(enrich, "newsflow_articles_enriched_total") == 6
        assert metric(enrich, "newsflow_enrich_seconds_count") == 6
        assert metric(enrich, "newsflow_dead_letters_total", stage="enrich") == 1
        assert metric(enrich, "newsflow_bus_messages_total", stage="enrich") == 7

        index = wait_until(lambda: lag_zero("index", p.enriched), 30, "the index lag gauge to read 0 on 4 partitions")
        assert metric(index, "newsflow_articles_indexed_total") == 6  # 6 messages, 3 articles: upserts
        assert metric(index, "newsflow_bulk_seconds_count") >= 1
        assert metric(index, "newsflow_dead_letters_total", stage="index") == 0  # exported before any
        assert not metric(index, "newsflow_bulk_failures_total")

        # `newsflow status` on the real services, while the daemons run.
        report = status_json(cfg)
        assert report["errors"] == {}
        feeds = {f["url"]: f for f in report["feeds"]}
        assert set(feeds) == set(SEED_FEEDS)
        for f in feeds.values():
            assert f["status"] == "ok" and f["last_success"] and f["next_poll"] and f["consecutive_failures"] == 0
        lag = {(r["group"], r["topic"], r["partition"]): r["lag"] for r in report["lag"]}
        assert set(lag) == {(p.group(s), t, i) for s, t in (("enrich", p.cleaned), ("index", p.enriched)) for i in range(4)}
        assert not any(lag.values())
        assert report["dead_letters"] == {"topic": p.dead_letters, "count": 1, "not_replayed": 1}
        assert report["index"] == {"backend": "elasticsearch", "name": p.alias, "count": 3}

        for stage in ("poll", "enrich", "index"):
            d = procs[stage]
            code, seconds = d.terminate(timeout=SHUTDOWN_BOUND + 30)
            assert code == 0, d.log_tail()
            assert seconds < SHUTDOWN_BOUND, f"{stage} took {seconds:.1f}s to stop"
            print(f"{stage} stopped in {seconds:.1f}s")
            assert f'"msg":"{"poller" if stage == "poll" else stage + " stage"} stopped"' in d.log_text()


# -- SIGTERM mid-stream, restart: nothing lost, nothing duplicated ------------------------------


@pytest.mark.services
def test_sigterm_mid_stream_and_restart_loses_and_duplicates_nothing(pipeline, daemons, tmp_path):
    p = pipeline
    n = 150
    site = build_site(tmp_path / "site", n, per_feed=50)
    with serve_site(site) as served:
        cfg = p.write_config(
            feeds=served.feed_configs(),
            # One feed at a time, so a SIGTERM finds feeds still waiting their turn.
            poller={"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": served.host_map, "concurrency": 1},
            enrich={"enrichers": LIGHT_ENRICHERS},
        )
        index = daemons("index", cfg).start()
        enrich = daemons("enrich", cfg).start()
        poll = daemons("poll", cfg).start()
        everyone = (poll, enrich, index)

        def at_least(what, count: int):
            def check() -> bool:
                for d in everyone:
                    if d.proc is not None and d.proc.returncode is None:
                        d.assert_alive()
                return what() >= count

            return check

        def stop(d, reason: str) -> float:
            code, seconds = d.terminate(timeout=SHUTDOWN_BOUND + 30)
            assert code == 0, d.log_tail()
            assert seconds < SHUTDOWN_BOUND, f"{d.stage} took {seconds:.1f}s to stop ({reason})"
            print(f"{d.stage} stopped in {seconds:.1f}s ({reason})")
            return seconds

        # The poller: stops taking feeds and entries, finishes the page it is extracting, exits;
        # the rest of its feed is left unseen for the restart.
        wait_until(at_least(lambda: p.topic_messages(p.cleaned), 10), 90, "the poller's first articles", describe=p.describe)
        stop(poll, "poll")
        sent = p.topic_messages(p.cleaned)
        assert 10 <= sent < n, f"the poller should stop before it has sent everything: {sent}"
        poll.start()

        # Enrich: everything it produced is committed when it exits.
        wait_until(at_least(lambda: p.committed("enrich"), 60), 90, "60 enriched articles", describe=p.describe)
        stop(enrich, "enrich")
        assert p.committed("enrich") == p.topic_messages(p.enriched)
        enrich.start()

        # Index: everything it wrote is committed when it exits.
        wait_until(at_least(lambda: p.committed("index"), 90), 90, "90 indexed articles", describe=p.describe)
        stop(index, "index")
        assert p.committed("index") == p.es_count()
        index.start()

        def drained() -> bool:
            for d in everyone:
                d.assert_alive()
            # A restarted daemon that found nothing left to do must still be up (its signal
            # handlers installed) before the SIGTERMs below: on a fast machine the old one may
            # have finished everything before it stopped.
            started = all(f'"msg":"{"poller" if d.stage == "poll" else d.stage + " stage"} started"' in d.log_tail(1000) for d in everyone)
            return started and p.topic_messages(p.cleaned) == n and p.committed("enrich") == n and p.committed("index") == n

        wait_until(drained, 120, f"all {n} articles to go through after the restarts", describe=p.describe)
        got = p.indexed()
        for d in everyone:
            stop(d, "end")
    # Graceful stops hand nothing over half-done: no topic carries a duplicate, the index neither.
    assert p.topic_messages(p.cleaned) == n
    assert p.topic_messages(p.enriched) == n
    assert got["count"] == n and set(got["ids"]) == site.expected_ids and got["urls_twice"] == []


# -- newsflow status --------------------------------------------------------------------------


def test_status_reads_every_section_from_the_embedded_bus_and_index(tmp_path):
    """No services: the embedded bus and SQLite index, after one `run --once` over the seed site."""
    import tomlkit

    with serve(SEED_SITE) as base:
        cfg = tmp_path / "newsflow.toml"
        feeds = [{"url": u, "name": "seed"} for u in SEED_FEEDS] + [{"url": "http://127.0.0.1:9/broken.xml"}]
        cfg.write_text(
            tomlkit.dumps(
                {
                    "data_dir": str(tmp_path / "data"),
                    "feeds": feeds,
                    "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": {SEED_ORIGIN: base}, "timeout": 5.0},
                    "enrich": {"enrichers": LIGHT_ENRICHERS},
                }
            )
        )
        before = status_json(cfg)  # nothing ran yet: every section reads, and no file is created
        assert before["errors"] == {} and before["index"]["count"] == 0 and before["lag"] == []
        assert [f["status"] for f in before["feeds"]] == ["new"] * 3
        assert not (tmp_path / "data").exists()
        run = newsflow("run", "--once", "-c", str(cfg))
        assert run.returncode == 0, run.stdout + run.stderr
    report = status_json(cfg)
    assert report["errors"] == {} and report["bus"] == "local"
    status = {f["url"]: f for f in report["feeds"]}
    assert [status[u]["status"] for u in SEED_FEEDS] == ["ok", "ok"]
    broken = status["http://127.0.0.1:9/broken.xml"]
    assert broken["status"] == "error" and broken["consecutive_failures"] == 1 and broken["last_error"]
    assert broken["last_success"] is None and broken["next_poll"]
    assert {r["group"] for r in report["lag"]} == {"newsflow-enrich", "newsflow-index"}
    assert not any(r["lag"] for r in report["lag"])
    assert report["dead_letters"]["count"] == 0
    assert report["index"]["backend"] == "sqlite" and report["index"]["count"] == 3
    table = newsflow("status", "-c", str(cfg))
    assert table.returncode == 0, table.stderr
    for text in ("Feeds", "Topic lag", "Dead letters", "Index", "broken.xml", "error", "newsflow-enrich"):
        assert text in table.stdout


@pytest.mark.services
def test_status_on_the_real_services_shows_lag_dead_letters_failing_feeds_and_unreachable_sections(pipeline):
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.index.elastic import ElasticIndex
    from newsflow.ingest.feedstate import STATUS_FAILING, FeedState, FeedStateStore
    from newsflow.core.record import Article
    from newsflow.pipeline.backends import topic_partitions

    p = pipeline
    feeds = [{"url": "https://ok.test/feed.xml"}, {"url": "https://down.test/feed.xml", "name": "Down"}]
    cfg = p.write_config(feeds=feeds)
    settings = load(cfg)
    broker = KafkaBroker(settings.bus)
    broker.create_topics(topic_partitions(settings))
    producer = broker.producer()
    for i in range(5):  # waiting for a enrich worker that is not running
        producer.produce(p.cleaned, f"k{i}".encode(), Article.new(f"https://ok.test/{i}").to_json()).result(timeout=30)
    for i in range(2):
        producer.produce(p.dead_letters, None, b"{}").result(timeout=30)
    producer.close()
    idx = ElasticIndex(settings.index.elasticsearch)
    idx.setup()
    idx.write([Article.new("https://ok.test/indexed", title="Indexed")])
    idx.refresh()
    idx.close()
    now = time.time()
    with FeedStateStore(settings.state_db) as store:
        store.ensure_feeds([f["url"] for f in feeds], now=now)
        store.save(FeedState(url="https://ok.test/feed.xml", status="ok", last_success=now - 60, next_poll=now + 600, items_per_day=12.5, added_at=now))
        store.save(FeedState(url="https://down.test/feed.xml", status=STATUS_FAILING, consecutive_errors=6, last_error="HTTP 503",
                             last_error_kind="http_5xx", next_poll=now + 3600, added_at=now))

    report = status_json(cfg)
    assert report["errors"] == {}
    down = next(f for f in report["feeds"] if f["url"] == "https://down.test/feed.xml")
    assert (down["name"], down["status"], down["consecutive_failures"], down["last_error"]) == ("Down", "failing", 6, "HTTP 503")
    ok = next(f for f in report["feeds"] if f["url"] == "https://ok.test/feed.xml")
    assert ok["status"] == "ok" and ok["items_per_day"] == 12.5 and ok["last_success"]
    by_group: dict[str, int] = {}
    for r in report["lag"]:
        by_group[r["group"]] = by_group.get(r["group"], 0) + r["lag"]
    assert by_group == {p.group("enrich"): 5, p.group("index"): 0}
    assert report["dead_letters"]["count"] == 2
    assert report["index"]["count"] == 1

    table = newsflow("status", "-c", str(cfg))
    assert table.returncode == 0, table.stderr
    for text in ("failing", "HTTP 503", p.group("enrich"), p.dead_letters, p.alias):
        assert text in table.stdout

    # A service that does not answer: its sections say so, the others still print, exit 1.
    down_es = p.write_config("down.toml", index={"elasticsearch": {"hosts": ["http://127.0.0.1:9"], "alias": p.alias, "request_timeout": 2.0}})
    res = newsflow("status", "-c", str(down_es), "--json")
    assert res.returncode == 1
    partial = json.loads(res.stdout)
    # The history lives in the (unreachable) cluster too; one line names it.
    assert set(partial["errors"]) == {"index", "history"} and partial["index"] is None
    assert set(partial["unreachable"]) == {"elasticsearch"}
    assert res.stderr.count("error: elasticsearch unreachable") == 1 and "Traceback" not in res.stderr
    assert partial["dead_letters"]["count"] == 2


def test_the_poll_sink_reports_whether_the_bus_took_the_last_article(tmp_path):
    """The poll daemon's readiness: a produce the bus refuses makes it unhealthy until one succeeds."""
    from newsflow.bus.local import LocalBroker
    from newsflow.core.record import Article
    from newsflow.pipeline.poll_stage import ArticleSink

    article = Article.new("https://example.org/a", text="some text")
    good = LocalBroker(tmp_path / "bus.db")
    closed = LocalBroker(tmp_path / "other.db")
    closed.close()
    sink = ArticleSink(closed.producer(), "cleaned")
    assert sink.healthy
    with pytest.raises(Exception):
        sink(article)
    assert not sink.healthy
    sink._producer = good.producer()  # the bus is back
    sink(article).result(5)
    assert sink.healthy
    good.close()


# -- newsflow run: the all-in-one daemon's endpoints ------------------------------------------


def test_run_serves_health_and_metrics_like_the_daemons_and_sigterm_exits_0(tmp_path, daemons):
    """`newsflow run` (not --once) on the embedded bus and index, as a small install runs it under
    systemd: /health/live, /health/ready (both stages assigned, bus and index answering) and
    /metrics on daemon.metrics_port while it runs; SIGTERM drains and exits 0."""
    import tomlkit

    with serve(SEED_SITE) as base:
        cfg = tmp_path / "newsflow.toml"
        cfg.write_text(
            tomlkit.dumps(
                {
                    "data_dir": str(tmp_path / "data"),
                    "feeds": [{"url": u, "name": "seed"} for u in SEED_FEEDS],
                    "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": {SEED_ORIGIN: base}},
                    "enrich": {"enrichers": LIGHT_ENRICHERS},
                    "daemon": {"log_format": "json", "log_level": "INFO"},
                }
            )
        )
        run = daemons("run", cfg, metrics_port=free_port()).start()
        run.wait_ready(timeout=90)
        assert http_get(run.url("/health/live"))[0] == 200
        assert http_get(run.url("/nowhere"))[0] == 404

        def metrics() -> dict:
            run.assert_alive()
            return metric_samples(http_get(run.url("/metrics"))[1])

        # 2 feeds x 3 posts: 6 messages, 3 distinct articles (the feeds share their posts)
        done = wait_until(lambda: (m := metrics()) and (metric(m, "newsflow_articles_indexed_total") or 0) >= 6 and m,
                          90, "the seed site to go through `newsflow run`", describe=run.log_tail)
        assert metric(done, "newsflow_feeds_polled_total", result="ok") == 2
        assert metric(done, "newsflow_articles_extracted_total") == 6
        assert metric(done, "newsflow_articles_enriched_total") == 6
        assert metric(done, "newsflow_bus_messages_total", stage="enrich") == 6
        assert metric(done, "newsflow_bus_messages_total", stage="index") == 6
        assert metric(done, "newsflow_dead_letters_total", stage="index") == 0
        assert http_get(run.url("/health/ready"))[0] == 200

        code, seconds = run.terminate(timeout=SHUTDOWN_BOUND + 30)
    assert code == 0, run.log_tail()
    assert seconds < SHUTDOWN_BOUND, f"newsflow run took {seconds:.1f}s to stop"
    assert "articles in the index: 3" in run.log_text()


# -- fast takeover: static group membership ------------------------------------------------------

TAKEOVER_BOUND = 10.0  # seconds from the restart to owning the partitions again; the session is 30 s


@pytest.mark.services
def test_a_sigkilled_member_restarted_with_its_instance_id_takes_its_partitions_back_in_seconds(pipeline, daemons):
    """bus.kafka.group_instance_id (static membership): the broker hands the restarted member the
    dead one's assignment as soon as it rejoins, instead of after the 30 s session timeout. Until
    the group has assigned it, the member answers 503 on /health/ready."""
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.core.record import Article

    from newsflow.pipeline.backends import topic_partitions

    p = pipeline
    cfg = p.write_config(enrich={"enrichers": LIGHT_ENRICHERS})
    # The topics exist before the first join (kafka-python may join a brand-new topic before it
    # has its metadata and stay idle until it asks again, 15 s later).
    KafkaBroker(load(cfg).bus).create_topics(topic_partitions(load(cfg)))
    env = {"NEWSFLOW_BUS__KAFKA__SESSION_TIMEOUT_MS": "30000", "NEWSFLOW_BUS__KAFKA__GROUP_INSTANCE_ID": f"{p.prefix}-enrich-1"}
    enrich = daemons("enrich", cfg, metrics_port=free_port(), env=env)

    def start_and_watch() -> tuple[list[int], float, str]:
        """(the readiness answers seen, 0.05 s apart, until the first 200; seconds from start to
        it; the daemon's log as it was when the 200 came)"""
        started = time.monotonic()
        enrich.start()
        seen: list[int] = []
        while time.monotonic() - started < 60:
            enrich.assert_alive()
            try:
                seen.append(http_get(enrich.url("/health/ready"), timeout=2)[0])
            except OSError:  # not listening yet
                pass
            if seen and seen[-1] == 200:
                return seen, time.monotonic() - started, enrich.log_tail(1000)
            time.sleep(0.05)
        pytest.fail(f"enrich was not ready within 60 s (saw {seen[-5:]}):\n{enrich.log_tail()}")

    # Ready only once the group has assigned it partitions: the first 200 comes after the daemon
    # logged its assignment. (Whether a 503 is seen first depends on how fast the group answers.)
    seen, first, log_at_ready = start_and_watch()
    assert "enrich: assigned" in log_at_ready, f"ready before the group assigned the partitions: {seen[:5]}"

    assert enrich.kill() == -9  # SIGKILL: no leave, no commit; the broker still counts the member
    seen, takeover, log_at_ready = start_and_watch()
    print(f"first start to ready: {first:.1f}s; restart after SIGKILL to ready (partitions back): {takeover:.1f}s")
    assert "enrich: assigned" in log_at_ready, f"ready before the group assigned the partitions: {seen[:5]}"
    assert takeover < TAKEOVER_BOUND, f"the restarted member took {takeover:.1f}s to get its partitions:\n{enrich.log_tail()}"
    assigned = [line for line in enrich.log_tail(1000).splitlines() if "enrich: assigned" in line]
    assert assigned and all(f"{p.cleaned}[{i}]" in assigned[-1] for i in range(4)), assigned

    # ... and it works them: an article sent now is enriched and committed.
    producer = KafkaBroker(load(cfg).bus).producer()
    try:
        producer.produce(p.cleaned, b"a", Article.new("https://example.org/takeover", text="text").to_json()).result(30)
    finally:
        producer.close()
    wait_until(lambda: p.committed("enrich") == 1 and p.topic_messages(p.enriched) == 1, 30,
               "the restarted member to enrich an article", describe=p.describe)
    code, _ = enrich.terminate()
    assert code == 0, enrich.log_tail()
