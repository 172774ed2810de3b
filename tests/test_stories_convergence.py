"""Stories converge whatever the workers: two enrich and two index consumers in one group, then a
restart with new consumers that also get some articles again (a replay), over the same copies.
Each expected story must end as exactly one story_id with a right story document. On the real
Kafka broker and Elasticsearch node, and on the embedded default (local bus + SQLite)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from newsflow.pipeline.backends import group, open_broker, open_index, topic_partitions
from newsflow.pipeline.enrich_stage import enrich_processor
from newsflow.pipeline.index_stage import index_processor
from newsflow.pipeline.run_all import start_thread
from newsflow.pipeline.stories import with_stories
from newsflow.processors.config import EnrichConfig
from newsflow.processors.enrich import build_chain
from tests.index.test_story_assignment import check_stories
from tests.support.daemons import LIGHT_ENRICHERS, pipeline, wait_until  # noqa: F401 - fixture
from tests.support.story_corpus import Copy, corpus


def run_consumers(settings, copies: list[Copy], workers: int = 2) -> None:
    """Produce ``copies`` to the cleaned topic, run ``workers`` enrich and index consumers until
    both groups have committed everything, then stop them (a restart is the next call)."""
    stop = threading.Event()
    broker = open_broker(settings, stop)
    broker.create_topics(topic_partitions(settings))
    producer = broker.producer()
    for c in copies:
        producer.produce(settings.bus.topics.cleaned, c.article.id.encode(), c.article.to_json()).result(timeout=30)
    chain = build_chain(EnrichConfig(enrichers=LIGHT_ENRICHERS))
    indexes = [open_index(settings) for _ in range(workers)]
    processors = [enrich_processor(settings, broker, producer, chain) for _ in range(workers)]
    processors += [index_processor(settings, broker, producer, index) for index in indexes]
    threads = [start_thread(p, stop) for p in processors]
    t = settings.bus.topics
    try:
        wait_until(lambda: broker.caught_up(group(settings, "enrich"), [t.cleaned])
                   and broker.caught_up(group(settings, "index"), [t.enriched]), 180,
                   "both stages to commit every article")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        producer.close()
        for index in indexes:
            index.close()
        close = getattr(broker, "close", None)
        if close:
            close()


def two_workers_then_a_restart(settings) -> None:
    copies = corpus()
    random.Random(17).shuffle(copies)
    half = len(copies) // 2
    run_consumers(settings, copies[:half])
    # Restarted: new consumers; the rest arrives, and some of the first half again (a replay).
    run_consumers(settings, copies[half:] + copies[: half // 2])
    index = open_index(settings)
    try:
        check_stories(with_stories(index), copies)
    finally:
        index.close()


@pytest.mark.services
def test_two_workers_and_a_restart_give_one_story_each_on_kafka_and_elasticsearch(pipeline):
    two_workers_then_a_restart(pipeline.settings(enrich={"enrichers": LIGHT_ENRICHERS}))


def test_two_workers_and_a_restart_give_one_story_each_on_the_embedded_default(tmp_path: Path):
    from newsflow.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", bus={"batch_seconds": 0.2, "topics": {"partitions": 4}},
                        enrich={"enrichers": LIGHT_ENRICHERS})
    two_workers_then_a_restart(settings)
