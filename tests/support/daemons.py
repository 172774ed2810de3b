"""Helpers for tests that run the pipeline on the real Kafka broker and Elasticsearch node:
uniquely named topics, groups and alias per test (removed afterwards), config files for the
daemons, daemon subprocesses, and read-outs of Kafka offsets and Elasticsearch contents."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import tomlkit

REPO = Path(__file__).resolve().parents[2]
SERVICES_SH = REPO / "deploy" / "local" / "services.sh"

# The lightweight enrichers: the delivery tests are about offsets and ids, not about spaCy,
# and skipping the model keeps start-up and CPU low on a 2-core machine.
LIGHT_ENRICHERS = ["language", "stats", "fingerprint"]


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.25,
    describe: Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` s,
    saying what ``describe()`` says about the state then."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a service briefly unavailable: keep waiting
            last_error = exc
        if time.monotonic() > deadline:
            extra = f" (last error: {last_error!r})" if last_error else ""
            state = f"; {describe()}" if describe is not None else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{extra}{state}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


# -- one pipeline's names and config ------------------------------------------------------------


@dataclass
class Pipeline:
    """Unique topics, groups and alias on the real services, plus a data dir; see ``pipeline``."""

    prefix: str
    tmp: Path
    kafka_servers: list[str]
    es_hosts: list[str]
    partitions: int = 4
    config_files: list[Path] = field(default_factory=list)

    @property
    def cleaned(self) -> str:
        return f"{self.prefix}.cleaned"

    @property
    def enriched(self) -> str:
        return f"{self.prefix}.enriched"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def reprocess(self) -> str:
        return f"{self.prefix}.reprocess"

    @property
    def reprocess_enriched(self) -> str:
        return f"{self.prefix}.reprocess-enriched"

    @property
    def topics(self) -> list[str]:
        return [self.cleaned, self.enriched, self.dead_letters, self.reprocess, self.reprocess_enriched]

    @property
    def alias(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def status_index(self) -> str:
        return f"{self.prefix}-status"  # not matching the articles template pattern <alias>-*

    @property
    def events_index(self) -> str:
        return f"{self.prefix}-events"

    def group(self, stage: str) -> str:
        return f"{self.prefix}-{stage}"

    def config(self, data_dir: Path | None = None, **sections: Any) -> dict[str, Any]:
        """The config as a dict; ``sections`` (e.g. ``poller={...}``) are merged over the defaults."""
        cfg: dict[str, Any] = {
            "data_dir": str(data_dir or self.tmp / "data"),
            "bus": {
                "backend": "kafka",
                "group_prefix": self.prefix,
                "batch_seconds": 0.5,
                "topics": {
                    "cleaned": self.cleaned,
                    "enriched": self.enriched,
                    "dead_letters": self.dead_letters,
                    "reprocess": self.reprocess,
                    "reprocess_enriched": self.reprocess_enriched,
                    "partitions": self.partitions,
                },
                "kafka": {"bootstrap_servers": list(self.kafka_servers), "session_timeout_ms": 6000, "timeout": 20.0},
            },
            "index": {
                "backend": "elasticsearch",
                "elasticsearch": {
                    "hosts": list(self.es_hosts),
                    "alias": self.alias,
                    "feed_status_index": self.status_index,
                    "events_index": self.events_index,
                },
            },
            "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"]},  # the test sites
            "daemon": {"shutdown_timeout": 20.0, "log_format": "json", "log_level": "INFO"},
        }
        for name, values in sections.items():
            if name == "feeds":  # FeedConfig objects or dicts
                values = [f.model_dump(exclude_none=True) if hasattr(f, "model_dump") else f for f in values]
            if isinstance(values, dict) and isinstance(cfg.get(name), dict):
                cfg[name] = {**cfg[name], **values}
            else:
                cfg[name] = values
        return cfg

    def settings(self, data_dir: Path | None = None, **sections: Any):
        from newsflow.settings import Settings

        return Settings(**self.config(data_dir, **sections))

    def write_config(self, name: str = "newsflow.toml", data_dir: Path | None = None, **sections: Any) -> Path:
        path = self.tmp / name
        path.write_text(tomlkit.dumps(self.config(data_dir, **sections)), encoding="utf-8")
        self.config_files.append(path)
        return path

    # -- read-outs ------------------------------------------------------------------------

    def es(self):
        from elasticsearch import Elasticsearch

        return Elasticsearch(self.es_hosts, request_timeout=30)

    def indexed(self) -> dict[str, Any]:
        """After a refresh: the document count, the ids, and urls seen more than once."""
        with self.es() as es:
            es.indices.refresh(index=self.alias)
            count = int(es.count(index=self.alias)["count"])
            resp = es.search(
                index=self.alias,
                size=10_000,
                source=False,
                query={"match_all": {}},
                aggs={"urls": {"terms": {"field": "url", "min_doc_count": 2, "size": 100}}},
            )
        ids = [h["_id"] for h in resp["hits"]["hits"]]
        twice = [b["key"] for b in resp["aggregations"]["urls"]["buckets"]]
        return {"count": count, "ids": ids, "urls_twice": twice}

    def es_count(self) -> int:
        with self.es() as es:
            es.indices.refresh(index=self.alias)
            return int(es.count(index=self.alias)["count"])

    def topic_messages(self, topic: str) -> int:
        """Messages in ``topic`` (end minus beginning offsets over its partitions)."""
        from benchmarks.daemons import topic_messages

        return topic_messages(self.kafka_servers, topic)

    def read_topic(self, topic: str, timeout: float = 20.0) -> list[Any]:
        """Every record now in ``topic`` (no consumer group, nothing committed)."""
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.kafka_servers, enable_auto_commit=False)
        try:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            records: list[Any] = []
            deadline = time.monotonic() + timeout
            while any(consumer.position(tp) < end[tp] for tp in tps):
                if time.monotonic() > deadline:
                    pytest.fail(f"could not read {topic} to its end within {timeout}s")
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(batch)
            return records
        finally:
            consumer.close()

    def committed_offsets(self, stage: str) -> dict[tuple[str, int], int]:
        """A stage's group's committed offsets: (topic, partition) -> next offset to read."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.kafka_servers)
        try:
            offsets = admin.list_group_offsets({self.group(stage): None}).get(self.group(stage), {})
        finally:
            admin.close()
        return {(tp.topic, tp.partition): om.offset for tp, om in offsets.items() if om is not None and om.offset >= 0}

    def committed(self, stage: str) -> int:
        """The total committed offset of a stage's group over all its partitions."""
        return sum(self.committed_offsets(stage).values())

    def describe(self) -> str:
        """Where the stream stands: for the message of a test that timed out."""
        try:
            return (
                f"cleaned {self.topic_messages(self.cleaned)}, enrich committed {self.committed('enrich')}, "
                f"enriched {self.topic_messages(self.enriched)}, index committed {self.committed('index')}, "
                f"dead letters {self.topic_messages(self.dead_letters)}, in the index {self.es_count()}"
            )
        except Exception as exc:
            return f"(state unavailable: {exc!r})"

    # -- cleanup --------------------------------------------------------------------------

    def cleanup(self) -> None:
        from kafka import KafkaAdminClient

        from newsflow.index.elastic import ElasticIndex
        from newsflow.index.config import ElasticsearchConfig

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.kafka_servers)
            try:
                admin.delete_topics(self.topics, raise_errors=False)
                try:  # groups that never committed do not exist: per-group errors are expected
                    admin.delete_groups([self.group(s) for s in ("enrich", "index", "dlq-replay", "enrich-reprocess", "index-reprocess")])
                except Exception:
                    pass
            finally:
                admin.close()
        except Exception as exc:  # cleanup must not hide the test's own result
            print(f"cleanup of kafka topics/groups {self.prefix} failed: {exc!r}")
        try:
            cfg = ElasticsearchConfig(hosts=self.es_hosts, alias=self.alias, feed_status_index=self.status_index,
                                      events_index=self.events_index)
            idx = ElasticIndex(cfg)
            try:
                idx.destroy()
            finally:
                idx.close()
        except Exception as exc:
            print(f"cleanup of elasticsearch alias {self.alias} failed: {exc!r}")


@contextlib.contextmanager
def new_pipeline(tmp: Path, kafka_bus_config: Any, es_hosts: list[str], **kwargs: Any) -> Iterator[Pipeline]:
    """A ``Pipeline`` with unique names on the real services, deleted on exit."""
    from tests.conftest import unique

    p = Pipeline(unique("nf-it"), tmp, list(kafka_bus_config.kafka.bootstrap_servers), list(es_hosts), **kwargs)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture
def pipeline(kafka_bus_config, es_hosts, tmp_path) -> Iterator[Pipeline]:
    """``new_pipeline`` for one test (needs the conftest service fixtures)."""
    with new_pipeline(tmp_path, kafka_bus_config, es_hosts) as p:
        yield p


# -- daemon subprocesses ------------------------------------------------------------------------


class Daemon:
    """``python -m newsflow <stage> -c CONFIG`` as a subprocess, its output in a log file."""

    def __init__(self, stage: str, config: Path, log_dir: Path, *, metrics_port: int = 0, env: dict[str, str] | None = None):
        self.stage = stage
        self.config = config
        self.metrics_port = metrics_port
        self.env = {**os.environ, **(env or {})}
        if metrics_port:
            self.env["NEWSFLOW_DAEMON__METRICS_PORT"] = str(metrics_port)
        self.log_dir = log_dir
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def start(self) -> "Daemon":
        assert self.proc is None or self.proc.poll() is not None, f"{self.stage} is already running"
        self.runs += 1
        self.log_path = self.log_dir / f"{self.stage}-{self.runs}.log"
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "newsflow", self.stage, "-c", str(self.config)],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port}{path}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            self.assert_alive()
            return http_get(self.url("/health/ready"), timeout=2)[0] == 200

        wait_until(ready, timeout, f"{self.stage} daemon to be ready")

    def assert_alive(self) -> None:
        if not self.alive():
            pytest.fail(f"{self.stage} daemon exited with {self.proc.returncode if self.proc else None}:\n{self.log_tail()}")

    def terminate(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGTERM; wait for the exit. Returns (exit code, seconds it took)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.stage} daemon did not exit within {timeout}s of SIGTERM:\n{self.log_tail()}")
        return code, time.monotonic() - started

    def kill(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(30)

    def stop_quietly(self) -> None:
        """Cleanup after a test: SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return "\n".join(
            (self.log_dir / f"{self.stage}-{i}.log").read_text("utf-8", "replace") for i in range(1, self.runs + 1)
        )


@pytest.fixture
def daemons(tmp_path) -> Iterator[Callable[..., Daemon]]:
    """``daemons(stage, config, metrics_port=0, env=None)`` makes a Daemon (not started);
    every daemon made is stopped after the test."""
    made: list[Daemon] = []
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)

    def make(stage: str, config: Path, **kwargs: Any) -> Daemon:
        d = Daemon(stage, config, log_dir, **kwargs)
        made.append(d)
        return d

    try:
        yield make
    finally:
        for d in made:
            d.stop_quietly()


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text -> {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(samples: dict, name: str, **labels: str) -> float | None:
    """The value of one sample, or the sum over samples whose labels include ``labels``."""
    want = set(labels.items())
    values = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    return sum(values) if values else None
