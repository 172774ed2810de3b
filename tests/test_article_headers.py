"""Article messages carry headers on both bus backends: ``schema-version`` (of the JSON record),
``content-type`` (application/json) and ``producer`` (``newsflow/<version> <stage>``), set by the
poller's sink on the cleaned topic and by the enrich stage on the enriched topic. On Kafka they are
read back with plain kafka-python, as any other tool on the topics would see them."""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from newsflow.core.record import SCHEMA_VERSION, Article
from newsflow.pipeline.enrich_stage import enrich_processor
from newsflow.pipeline.poll_stage import ArticleSink
from newsflow.settings import Settings
from tests.bus.contract import read_back
from tests.conftest import unique
from tests.support.daemons import wait_until

VERSION = metadata.version("newsflow")


def expected(stage: str) -> dict[str, bytes]:
    return {
        "schema-version": str(SCHEMA_VERSION).encode(),
        "content-type": b"application/json",
        "producer": f"newsflow/{VERSION} {stage}".encode(),
    }


def settings_for(tmp: Path, prefix: str, bus: dict[str, Any]) -> Settings:
    topics = {"cleaned": f"{prefix}.cleaned", "enriched": f"{prefix}.enriched", "dead_letters": f"{prefix}.dlq", "partitions": 2}
    return Settings(data_dir=str(tmp / "data"), bus={**bus, "group_prefix": prefix, "topics": topics})


def send_and_enrich(settings: Settings, broker: Any) -> None:
    """One article through the poller's sink, then through an enrich processor (identity chain)."""
    t = settings.bus.topics
    broker.create_topics({t.cleaned: t.partitions, t.enriched: t.partitions, t.dead_letters: 1})
    producer = broker.producer()
    stop = threading.Event()
    processor = enrich_processor(settings, broker, producer, lambda article: article)
    thread = threading.Thread(target=processor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        ArticleSink(producer, t.cleaned)(Article.new("https://example.org/a", title="A", text="some text")).result(30)
        wait_until(lambda: processor.processed >= 1, 60, "the enrich stage to take the article")
    finally:
        stop.set()
        thread.join(60)
        producer.close()


def test_article_headers_on_the_local_bus(tmp_path):
    from newsflow.bus.local import LocalBroker

    settings = settings_for(tmp_path, "nf", {"backend": "local"})
    broker = LocalBroker(settings.bus_db)
    try:
        send_and_enrich(settings, broker)
        t = settings.bus.topics
        for topic, stage in ((t.cleaned, "poll"), (t.enriched, "enrich")):
            got = read_back(broker, unique("g-headers"), topic, 1)
            assert len(got) == 1 and Article.from_json(got[0].value).url == "https://example.org/a"
            assert dict(got[0].headers) == expected(stage)
    finally:
        broker.close()


@pytest.mark.services
def test_article_headers_on_kafka_read_with_kafka_python(tmp_path, kafka_bus_config):
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    from newsflow.bus.kafka import KafkaBroker

    prefix = unique("nf-headers")
    settings = settings_for(tmp_path, prefix, {"backend": "kafka", "kafka": kafka_bus_config.kafka.model_dump()})
    broker = KafkaBroker(settings.bus)
    t = settings.bus.topics
    try:
        send_and_enrich(settings, broker)
        servers = list(settings.bus.kafka.bootstrap_servers)
        for topic, stage in ((t.cleaned, "poll"), (t.enriched, "enrich")):
            consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
            try:
                tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
                consumer.assign(tps)
                consumer.seek_to_beginning(*tps)
                records: list[Any] = []
                wait_until(lambda: records.extend(r for batch in consumer.poll(timeout_ms=500).values() for r in batch) or records,
                           30, f"the article on {topic}")
            finally:
                consumer.close()
            assert len(records) == 1
            assert records[0].key == Article.new("https://example.org/a").id.encode()
            assert dict(records[0].headers) == expected(stage)
    finally:
        broker.delete_topics([t.cleaned, t.enriched, t.dead_letters])
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=list(settings.bus.kafka.bootstrap_servers))
        try:
            admin.delete_groups([f"{prefix}-enrich"])
        except Exception:  # cleanup must not hide the test's result
            pass
        finally:
            admin.close()
