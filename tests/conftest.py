"""Shared fixtures. Service fixtures reach the real Kafka broker and Elasticsearch node on 127.0.0.1.

Tests that need them are marked ``services``. With ``NEWSFLOW_REQUIRE_SERVICES=1`` (set by
tests/run.sh after ``deploy/local/services.sh up``) an unreachable service FAILS those tests;
without it they skip, saying how to start the services.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable, Iterator

import pytest

REQUIRE_SERVICES = os.environ.get("NEWSFLOW_REQUIRE_SERVICES") == "1"
KAFKA_SERVERS = os.environ.get("NEWSFLOW_BUS__KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ES_HOSTS = os.environ.get("NEWSFLOW_INDEX__ELASTICSEARCH__HOSTS", "http://127.0.0.1:9200")


def _unreachable(what: str, exc: BaseException) -> None:
    reason = f"{what} is unreachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; NEWSFLOW_REQUIRE_SERVICES=1, so services tests must not skip", pytrace=False)
    pytest.skip(f"{reason}; start it with `bash deploy/local/services.sh up`")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- Kafka --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bus_config():
    """A BusConfig for the real broker; fails or skips (see module doc) when it is down."""
    from kafka import KafkaAdminClient

    from newsflow.bus.config import BusConfig, KafkaConfig

    error: Exception | None = None
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=KAFKA_SERVERS.split(","), bootstrap_timeout_ms=10_000, request_timeout_ms=10_000
        )
        try:
            admin.describe_cluster()
        finally:
            admin.close()
    except Exception as exc:  # any failure to talk to the broker
        error = exc
    if error is not None:
        _unreachable(f"Kafka at {KAFKA_SERVERS}", error)
    # Short session: a consumer that dies without leaving gives its partitions up quickly.
    kafka = KafkaConfig(bootstrap_servers=KAFKA_SERVERS, session_timeout_ms=10_000, timeout=20.0)
    return BusConfig(backend="kafka", kafka=kafka)


@pytest.fixture
def kafka_broker(kafka_bus_config):
    from newsflow.bus.kafka import KafkaBroker

    return KafkaBroker(kafka_bus_config)


@pytest.fixture
def kafka_topic(kafka_broker) -> Iterator[Callable[[int], str]]:
    """``kafka_topic(partitions)`` creates a uniquely named topic, deleted after the test."""
    created: list[str] = []

    def make(partitions: int = 1) -> str:
        name = unique("nf-test")
        kafka_broker.create_topics({name: partitions})
        created.append(name)
        return name

    yield make
    if created:
        kafka_broker.delete_topics(created)


# -- Elasticsearch ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def es_hosts() -> list[str]:
    from elasticsearch import Elasticsearch

    hosts = [h.strip() for h in ES_HOSTS.split(",") if h.strip()]
    error: Exception | None = None
    try:
        with Elasticsearch(hosts, request_timeout=10) as es:
            es.cluster.health(wait_for_status="yellow", timeout="10s")
    except Exception as exc:
        error = exc
    if error is not None:
        _unreachable(f"Elasticsearch at {ES_HOSTS}", error)
    return hosts


@pytest.fixture
def es_config(es_hosts):
    from newsflow.index.config import ElasticsearchConfig

    # Distinct prefixes: the status index must not match the articles template pattern <alias>-*.
    return ElasticsearchConfig(hosts=es_hosts, alias=unique("nf-test"), feed_status_index=unique("nf-test-status"),
                               events_index=unique("nf-test-events"))


@pytest.fixture
def elastic_index(es_config):
    """A set-up ElasticIndex on a unique alias; its indices and template are deleted after the test."""
    from newsflow.index.elastic import ElasticIndex

    index = ElasticIndex(es_config)
    index.setup()
    yield index
    index.destroy()
    index.close()
