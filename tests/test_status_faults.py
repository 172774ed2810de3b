"""An operator's view of faults (issue 15, item 5), on the real services and the embedded default:

* `newsflow status` with Kafka and Elasticsearch unreachable answers within seconds, one line per
  service naming it, no traceback, no client log lines, exit 1;
* it shows the stage groups' state, members and partitions, and a member whose process died;
* the daemons record their fault history (start, assignments and revocations, dead-letter
  bursts, outages with their length, stops) to the status store, and status lists it: the
  events index on Kafka + Elasticsearch, the state database on the embedded default;
* readiness answers 503 naming the unreachable service within seconds, and 200 once it is back;
  ``newsflow_service_up`` follows: a private broker stopped and started again (poll and enrich),
  Elasticsearch and Kafka's bootstrap address cut by a TCP proxy (index, enrich);
* the example alert rules name only metrics the daemons export.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import tomlkit
import yaml

from newsflow.core import faults
from newsflow.ingest.config import FeedConfig
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
from tests.support.private_kafka import PrivateKafka
from tests.support.proxy import TcpProxy
from tests.test_daemons import newsflow
from benchmarks.corpus import free_port

pytestmark = pytest.mark.drill

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
STATUS_BOUND = 10.0  # seconds: a generous bound on the command's contract while a service is down
# Readiness follows a probe this often (daemon.probe_interval, 2 s by default): the flips below are
# seen sooner, and each still needs a probe to see the service go and come back.
PROBES = {"probe_interval": 0.5}


def status_report(cfg: Path, *args: str) -> dict:
    res = newsflow("status", "-c", str(cfg), "--json", *args)
    assert "Traceback" not in res.stderr, res.stderr
    return json.loads(res.stdout)


def kinds(report: dict, stage: str | None = None) -> list[str]:
    return [e["kind"] for e in report["history"] if stage is None or e["stage"] == stage]


# -- status while the services are down ----------------------------------------------------------


def test_status_with_kafka_and_elasticsearch_unreachable_answers_in_seconds_naming_each(tmp_path):
    kafka_port, es_port = free_port(), free_port()  # closed ports: nothing listens there
    cfg = tmp_path / "newsflow.toml"
    cfg.write_text(tomlkit.dumps({
        "data_dir": str(tmp_path / "data"),
        "feeds": [{"url": "https://example.org/feed.xml"}],
        "bus": {"backend": "kafka", "kafka": {"bootstrap_servers": [f"127.0.0.1:{kafka_port}"]}},
        "index": {"backend": "elasticsearch", "elasticsearch": {"hosts": [f"http://127.0.0.1:{es_port}"]}},
    }))
    started = time.monotonic()
    res = newsflow("status", "-c", str(cfg), timeout=60)
    took = time.monotonic() - started
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2, res.stderr  # one per service: no client log lines, no traceback
    assert lines[0].startswith("error: kafka unreachable") and f"127.0.0.1:{kafka_port}" in lines[0]
    assert "bus.kafka.bootstrap_servers" in lines[0]
    assert lines[1].startswith("error: elasticsearch unreachable") and f"127.0.0.1:{es_port}" in lines[1]
    assert "index.elasticsearch.hosts" in lines[1]
    assert "https://example.org/feed.xml" in res.stdout  # the sections that need neither still print
    assert "Consumer groups" not in res.stdout and "Recent faults" not in res.stdout
    assert took < STATUS_BOUND, f"status took {took:.1f}s with the services down"

    report = json.loads(newsflow("status", "-c", str(cfg), "--json", timeout=60).stdout)
    assert set(report["unreachable"]) == {"kafka", "elasticsearch"}
    assert report["errors"] == {name: f"{service} unreachable" for name, service in (
        ("groups", "kafka"), ("lag", "kafka"), ("dead_letters", "kafka"), ("index", "elasticsearch"),
        ("history", "elasticsearch"))}
    assert [f["url"] for f in report["feeds"]] == ["https://example.org/feed.xml"]


def test_status_with_a_broker_that_accepts_connections_but_never_answers_names_kafka(tmp_path):
    """A hung broker (or a proxy in front of a dead one): the TCP connect succeeds, no answer comes."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the backlog; nothing ever reads them
        port = silent.getsockname()[1]
        cfg = tmp_path / "newsflow.toml"
        cfg.write_text(tomlkit.dumps({
            "data_dir": str(tmp_path / "data"),
            "bus": {"backend": "kafka", "kafka": {"bootstrap_servers": [f"127.0.0.1:{port}"]}},
        }))
        started = time.monotonic()
        res = newsflow("status", "-c", str(cfg), timeout=60)
        took = time.monotonic() - started
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: kafka unreachable (127.0.0.1:{port}: no answer): check the broker (`newsflow services up` "
        "starts the local one) and bus.kafka.bootstrap_servers"]
    assert "Index" in res.stdout and "Recent faults" in res.stdout  # the embedded index and history still read
    assert took < STATUS_BOUND, f"status took {took:.1f}s with a silent broker"


def test_status_rejects_an_unreadable_since(tmp_path):
    cfg = tmp_path / "newsflow.toml"
    cfg.write_text(tomlkit.dumps({"data_dir": str(tmp_path / "data")}))
    res = newsflow("status", "-c", str(cfg), "--since", "last tuesday")
    assert res.returncode == 2 and res.stderr.startswith("error: --since 'last tuesday'")


# -- the recorder: never blocks, keeps what the store could not take ---------------------------


def test_fault_events_wait_in_memory_while_the_store_is_away_and_are_written_when_it_is_back(tmp_path):
    from newsflow.index.events_sqlite import SqliteEventStore
    from newsflow.pipeline.fault_log import FaultRecorder

    path = tmp_path / "state.sqlite3"
    opened: list[int] = []

    def open_store() -> SqliteEventStore:
        opened.append(1)
        if len(opened) <= 2:
            raise OSError("status store unreachable")
        return SqliteEventStore(path)

    recorder = FaultRecorder(open_store, capacity=5, interval=3600, quiet=0)
    remove = faults.add_sink(recorder)
    try:
        for i in range(7):
            faults.emit(faults.ASSIGN, "enrich", f"p{i}")
        for i in range(3):
            faults.emit(faults.DEAD_LETTERS, "index", f"bad {i}")
        assert recorder.flush() is False
        assert recorder.flush() is False
        assert not path.exists()
        assert recorder.flush() is True
    finally:
        remove()
        recorder.close()
    events = SqliteEventStore(path).recent(100)
    # Bounded: 5 kept, the oldest dropped; the three dead letters are one burst.
    assert [(e.kind, e.stage, e.detail if e.kind == "assign" else e.count) for e in events] == [
        ("assign", "enrich", "p3"), ("assign", "enrich", "p4"), ("assign", "enrich", "p5"),
        ("assign", "enrich", "p6"), ("dead_letters", "index", 3),
    ]
    assert "bad 2" in events[-1].detail


def test_the_sqlite_status_store_keeps_the_newest_events_within_count_and_age(tmp_path):
    from newsflow.core.faults import FaultEvent
    from newsflow.index.events_sqlite import SqliteEventStore

    store = SqliteEventStore(tmp_path / "state.sqlite3", max_events=3, max_age=3600)
    now = time.time()
    store.write([FaultEvent("start", "poll", "old", time=now - 7200)])
    store.write([FaultEvent("assign", "enrich", f"e{i}", time=now - 10 + i) for i in range(5)])
    assert [e.detail for e in store.recent(10)] == ["e2", "e3", "e4"]
    assert [e.detail for e in store.recent(10, since=now - 7)] == ["e3", "e4"]
    assert [e.detail for e in store.recent(1)] == ["e4"]


@pytest.mark.services
def test_the_elasticsearch_status_store_keeps_the_newest_events_within_count_and_age(es_config):
    from newsflow.core.faults import FaultEvent
    from newsflow.index.events_elastic import ElasticEventStore

    store = ElasticEventStore(es_config, max_events=3, max_age=3600)
    try:
        assert store.recent(10) == []  # no index yet: nothing recorded
        now = time.time()
        store.write([FaultEvent("start", "poll", "old", time=now - 7200)])
        events = [FaultEvent("assign", "enrich", f"e{i}", time=now - 10 + i) for i in range(5)]
        store.write(events)
        store.write(events[-2:])  # written again (a lost answer): no duplicates
        store._prune()
        store._es.indices.refresh(index=es_config.events_index)
        assert [e.detail for e in store.recent(10)] == ["e2", "e3", "e4"]
        assert [e.detail for e in store.recent(10, since=now - 7)] == ["e3", "e4"]
        (last,) = store.recent(1)  # times are kept to the millisecond
        assert (last.kind, last.stage, last.detail, last.host, last.time) == (
            "assign", "enrich", "e4", events[-1].host, pytest.approx(events[-1].time, abs=0.001))
    finally:
        store._es.options(ignore_status=404).indices.delete(index=es_config.events_index)
        store.close()


# -- the embedded default: `newsflow run` records, status shows ---------------------------------


def test_embedded_run_records_its_history_and_status_shows_groups_and_a_dead_member(tmp_path, daemons):
    from newsflow.bus.local import LocalBroker
    from newsflow.pipeline.backends import topic_partitions
    from newsflow.settings import load

    with serve(SEED_SITE) as base:
        cfg = tmp_path / "newsflow.toml"
        cfg.write_text(tomlkit.dumps({
            "data_dir": str(tmp_path / "data"),
            "feeds": [{"url": u, "name": "seed"} for u in SEED_FEEDS],
            "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": {SEED_ORIGIN: base}},
            "enrich": {"enrichers": LIGHT_ENRICHERS},
            "daemon": {"log_format": "json"},
        }))
        settings = load(cfg)
        broker = LocalBroker(settings.bus_db)
        broker.create_topics(topic_partitions(settings))
        broker.producer().produce(settings.bus.topics.cleaned, b"poison", b"not json").result(timeout=10)
        broker.close()

        run = daemons("run", cfg, metrics_port=free_port()).start()
        run.wait_ready()
        report = status_report(cfg)
        assert report["errors"] == {} and report["unreachable"] == {}
        groups = {g["group"]: g for g in report["groups"]}
        for name in ("newsflow-enrich", "newsflow-index"):
            assert groups[name]["state"] == "stable"
            (member,) = groups[name]["members"]
            assert member["alive"] and member["client_id"] == f"pid {run.pid}"
            assert len(member["partitions"]) == settings.bus.topics.partitions

        def recorded() -> dict | None:
            r = status_report(cfg)
            return r if "dead_letters" in kinds(r, "enrich") else None

        report = wait_until(recorded, 60, "the dead-letter burst in the history")
        assert kinds(report, "run")[:1] == ["start"]
        assert "assign" in kinds(report, "enrich") and "assign" in kinds(report, "index")
        burst = next(e for e in report["history"] if e["kind"] == "dead_letters")
        assert burst["count"] == 1 and burst["detail"].startswith("1 messages dead-lettered")

        samples = metric_samples(http_get(run.url("/metrics"))[1])
        assert metric(samples, "newsflow_fault_events_total", kind="dead_letters", stage="enrich") == 1
        assert metric(samples, "newsflow_fault_events_total", kind="start", stage="run") == 1
        assert metric(samples, "newsflow_fault_events_pending") == 0

        table = newsflow("status", "-c", str(cfg))
        assert table.returncode == 0, table.stderr
        for text in ("Consumer groups", "stable", "Recent faults", "dead_letters", "newsflow-enrich"):
            assert text in table.stdout

        assert run.terminate()[0] == 0
        after = status_report(cfg)
        assert kinds(after, "run")[-1] == "stop" and after["history"][-1]["detail"] == "stopped"
        assert {g["state"] for g in after["groups"]} == {"empty"}

        # A member killed without leaving: status reports it dead.
        run.start()
        run.wait_ready()
        wait_until(lambda: kinds(status_report(cfg), "run").count("start") == 2, 30, "the second start in the history")
        run.kill()
        killed = status_report(cfg)
        for g in killed["groups"]:
            assert g["state"] == "empty" and [m["alive"] for m in g["members"]] == [False], g
        assert kinds(killed, "run")[-1] == "start"  # killed: it could not say it stopped


def test_the_alert_rules_name_only_metrics_the_daemons_export(tmp_path, daemons):
    """Every metric named in deploy/prometheus/alerts.yml appears in the /metrics of `newsflow
    run` (the process with every stage's metrics); ``up`` is Prometheus's own."""
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    assert rules and all(r["alert"] and r["expr"] for r in rules)
    named = {m for r in rules for m in metric_names(str(r["expr"]))} - {"up"}
    assert {"newsflow_service_up", "newsflow_fault_events_total", "newsflow_dead_letters_total",
            "newsflow_bus_rebalances_total"} <= named

    with serve(SEED_SITE) as base:
        cfg = tmp_path / "newsflow.toml"
        cfg.write_text(tomlkit.dumps({
            "data_dir": str(tmp_path / "data"),
            "feeds": [{"url": SEED_FEEDS[0]}],
            "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": {SEED_ORIGIN: base}},
            "enrich": {"enrichers": LIGHT_ENRICHERS},
        }))
        run = daemons("run", cfg, metrics_port=free_port()).start()
        run.wait_ready()
        text = http_get(run.url("/metrics"))[1]
    exported = set(re.findall(r"^# HELP (\w+)", text, re.M))
    exported |= {f"{name}{suffix}" for name in exported for suffix in ("_bucket", "_sum", "_count")}
    assert named - exported == set(), "alert rules name metrics the daemons do not export"


_PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: identifiers that are not functions, keywords,
    label names (inside {} or by/without ()) or durations."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr):
        word, call = m.group(1), m.group(2)
        if not call and word not in _PROMQL_WORDS:
            names.add(word)
    return names


def test_metric_names_reads_promql():
    assert metric_names('sum by (stage) (increase(newsflow_x_total{kind="a"}[5m])) > 0 and up == 0') == {
        "newsflow_x_total", "up"}
    assert metric_names("histogram_quantile(0.95, sum by (le) (rate(newsflow_b_bucket[15m]))) > 10") == {"newsflow_b_bucket"}


# -- Kafka + Elasticsearch: daemons record, readiness follows reachability ----------------------


@pytest.mark.services
def test_daemons_on_kafka_and_es_record_rebalances_dead_letters_and_an_outage_and_readiness_follows(pipeline, daemons):
    from newsflow.bus.kafka import KafkaBroker
    from newsflow.pipeline.backends import topic_partitions
    from newsflow.settings import load

    p = pipeline
    es_host, es_port = p.es_hosts[0].rsplit("//", 1)[-1].rsplit(":", 1)
    es_proxy = TcpProxy(free_port(), (es_host, int(es_port))).start()
    kafka_host, kafka_port = p.kafka_servers[0].rsplit(":", 1)
    kafka_proxy = TcpProxy(free_port(), (kafka_host, int(kafka_port))).start()
    try:
        es = {"hosts": [f"http://127.0.0.1:{es_proxy.port}"], "alias": p.alias,
              "feed_status_index": p.status_index, "events_index": p.events_index, "request_timeout": 5.0}
        cfg = p.write_config(index={"backend": "elasticsearch", "elasticsearch": es}, daemon=PROBES,
                             enrich={"enrichers": LIGHT_ENRICHERS}, feeds=[FeedConfig(url="https://example.org/f.xml")])
        # The second enrich copy bootstraps through a proxy: stopping it makes Kafka unreachable for its probe.
        base = p.config(index={"backend": "elasticsearch", "elasticsearch": es}, enrich={"enrichers": LIGHT_ENRICHERS},
                        daemon=PROBES)
        base["bus"]["kafka"]["bootstrap_servers"] = [f"127.0.0.1:{kafka_proxy.port}"]
        cfg2 = p.tmp / "enrich-2.toml"
        cfg2.write_text(tomlkit.dumps(base))
        settings = load(cfg)
        broker = KafkaBroker(settings.bus)
        broker.create_topics(topic_partitions(settings))
        producer = broker.producer()
        producer.produce(p.cleaned, b"poison", b"not json").result(timeout=30)
        producer.close()

        index = daemons("index", cfg, metrics_port=free_port()).start()
        enrich = daemons("enrich", cfg, metrics_port=free_port()).start()
        index.wait_ready(90)
        enrich.wait_ready(90)
        enrich2 = daemons("enrich", cfg2, metrics_port=free_port()).start()
        enrich2.wait_ready(90)

        def two_members() -> dict | None:
            r = status_report(cfg)
            g = {x["group"]: x for x in r["groups"]}[p.group("enrich")]
            return r if g["state"] == "stable" and len(g["members"]) == 2 and all(m["partitions"] for m in g["members"]) else None

        report = wait_until(two_members, 60, "the enrich group to be stable with two members")
        groups = {g["group"]: g for g in report["groups"]}
        assert sorted(pt for m in groups[p.group("enrich")]["members"] for pt in m["partitions"]) == [
            f"{p.cleaned}[{i}]" for i in range(p.partitions)]
        assert groups[p.group("index")]["state"] == "stable" and len(groups[p.group("index")]["members"]) == 1
        assert all(m["client_id"] and m["host"] for g in groups.values() for m in g["members"])

        # Elasticsearch unreachable for the index daemon: 503 with the reason, then 200 again.
        es_proxy.stop()
        code, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(index.url("/health/ready"))),
                                30, "index readiness to answer 503")
        assert "elasticsearch unreachable" in body
        assert metric(metric_samples(http_get(index.url("/metrics"))[1]), "newsflow_service_up", service="elasticsearch") == 0
        time.sleep(2)  # an outage of a few seconds, for the record
        es_proxy.start()
        wait_until(lambda: http_get(index.url("/health/ready"))[0] == 200, 30, "index readiness to answer 200 again")
        assert metric(metric_samples(http_get(index.url("/metrics"))[1]), "newsflow_service_up", service="elasticsearch") == 1

        # Kafka's bootstrap address unreachable for the second enrich copy.
        kafka_proxy.stop()
        code, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(enrich2.url("/health/ready"))),
                                30, "enrich readiness to answer 503")
        assert "kafka unreachable" in body
        kafka_proxy.start()
        wait_until(lambda: http_get(enrich2.url("/health/ready"))[0] == 200, 30, "enrich readiness to answer 200 again")

        def history() -> dict | None:
            r = status_report(cfg, "--events", "200")
            wanted = {"outage", "recovered"} <= set(kinds(r, "index")) and "dead_letters" in kinds(r, "enrich") \
                and {"outage", "recovered"} <= {e["kind"] for e in r["history"] if "kafka" in e["detail"]}
            return r if wanted else None

        report = wait_until(history, 60, "the outages and the dead-letter burst in the history")
        enrich_kinds = kinds(report, "enrich")
        assert enrich_kinds.count("start") == 2 and "revoke" in enrich_kinds and enrich_kinds.count("assign") >= 3
        assert kinds(report, "index")[:1] == ["start"]
        recovered = next(e for e in report["history"] if e["kind"] == "recovered" and e["stage"] == "index")
        assert recovered["seconds"] >= 2 and "elasticsearch reachable again" in recovered["detail"]
        assert any(e["kind"] == "outage" and "elasticsearch unreachable" in e["detail"] for e in report["history"])
        samples = metric_samples(http_get(enrich.url("/metrics"))[1])
        assert metric(samples, "newsflow_fault_events_total", kind="dead_letters", stage="enrich") == 1

        table = newsflow("status", "-c", str(cfg))
        assert table.returncode == 0, table.stderr
        for text in ("Consumer groups", "stable", "Recent faults", "outage", "recovered", p.group("enrich")):
            assert text in table.stdout

        for d in (enrich2, enrich, index):
            assert d.terminate()[0] == 0
        final = status_report(cfg, "--events", "200")
        assert kinds(final, "enrich").count("stop") == 2 and kinds(final, "index")[-1] == "stop"
        since = status_report(cfg, "--since", "1h", "--events", "3")
        assert len(since["history"]) == 3 and since["history"] == final["history"][-3:]
    finally:
        es_proxy.stop()
        kafka_proxy.stop()


# -- a real broker outage: a private broker stopped and started again --------------------------


@pytest.fixture
def private_kafka(tmp_path):
    """A broker of this test's own (never the shared one), stopped and started again by the test."""
    broker = PrivateKafka(tmp_path / "services")
    broker.up()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.services
def test_a_broker_outage_turns_poll_and_enrich_unready_and_is_recorded_with_its_length(pipeline, private_kafka, daemons):
    p = pipeline
    base = p.config(enrich={"enrichers": LIGHT_ENRICHERS}, feeds=[{"url": f"http://127.0.0.1:{free_port()}/feed.xml"}],
                    daemon=PROBES)
    base["bus"]["kafka"]["bootstrap_servers"] = [f"127.0.0.1:{private_kafka.port}"]
    cfg = p.tmp / "private.toml"
    cfg.write_text(tomlkit.dumps(base))

    poll = daemons("poll", cfg, metrics_port=free_port()).start()
    enrich = daemons("enrich", cfg, metrics_port=free_port()).start()
    for d in (poll, enrich):
        d.wait_ready(90)

    private_kafka.stop()
    for d in (poll, enrich):
        code, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(http_get(d.url("/health/ready"))),
                                30, f"{d.stage} readiness to answer 503 while the broker is down")
        assert body.startswith("not ready: kafka unreachable") and str(private_kafka.port) in body
        assert metric(metric_samples(http_get(d.url("/metrics"))[1]), "newsflow_service_up", service="kafka") == 0
    res = newsflow("status", "-c", str(cfg), timeout=60)
    assert res.returncode == 1 and res.stderr.startswith("error: kafka unreachable") and len(res.stderr.splitlines()) == 1

    private_kafka.up()
    for d in (poll, enrich):
        wait_until(lambda: http_get(d.url("/health/ready"))[0] == 200, 120, f"{d.stage} to be ready again")

    def recorded() -> dict | None:
        r = status_report(cfg, "--events", "100")
        done = all({"outage", "recovered"} <= set(kinds(r, stage)) for stage in ("poll", "enrich"))
        return r if done else None

    report = wait_until(recorded, 60, "the outage and the recovery of both daemons in the history")
    for stage in ("poll", "enrich"):
        outage = next(e for e in report["history"] if e["stage"] == stage and e["kind"] == "outage")
        recovered = next(e for e in report["history"] if e["stage"] == stage and e["kind"] == "recovered")
        assert outage["detail"].startswith("kafka unreachable") and outage["time"] <= recovered["time"]
        assert recovered["seconds"] > 0 and recovered["detail"].startswith("kafka reachable again")
    for d in (poll, enrich):
        assert d.terminate()[0] == 0
