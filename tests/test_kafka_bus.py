"""The Kafka bus backend against the real broker (deploy/local/services.sh up)."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.kafka import KafkaBroker, KafkaBusConsumer, client_config
from newsflow.bus.types import BrokerMessage, Partition
from newsflow.bus.config import BusConfig, KafkaConfig

services = pytest.mark.services


def produce_all(broker: KafkaBroker, topic: str, n: int, prefix: str = "m") -> list[BrokerMessage]:
    producer = broker.producer()
    try:
        futures = [
            producer.produce(
                topic, f"key-{i % 5}".encode(), f"{prefix}-{i}".encode(), [("n", str(i).encode()), ("kind", b"test")]
            )
            for i in range(n)
        ]
        producer.flush(30)
        return [f.result(timeout=30) for f in futures]
    finally:
        producer.close()


def consume(consumer: KafkaBusConsumer, n: int, deadline: float = 30.0) -> list[BrokerMessage]:
    got: list[BrokerMessage] = []
    end = time.monotonic() + deadline
    while len(got) < n and time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is not None:
            got.append(msg)
    return got


def read_back(broker: KafkaBroker, group: str, topic: str, n: int) -> list[BrokerMessage]:
    """Up to ``n`` messages of ``topic`` read by a new consumer in ``group``."""
    consumer = broker.consumer(group)
    try:
        consumer.subscribe([topic])
        return consume(consumer, n)
    finally:
        consumer.close()


def drain(consumer: KafkaBusConsumer, quiet: float = 3.0) -> list[BrokerMessage]:
    """Everything the consumer gets until nothing arrives for ``quiet`` seconds."""
    got: list[BrokerMessage] = []
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        msg = consumer.poll(0.5)
        if msg is not None:
            got.append(msg)
            last = time.monotonic()
    return got


@services
def test_round_trip_keeps_keys_headers_and_reports_real_offsets(kafka_broker, kafka_topic):
    topic = kafka_topic(3)
    sent = produce_all(kafka_broker, topic, 30)
    assert len({(m.partition, m.offset) for m in sent}) == 30  # each ack names its own slot
    got = read_back(kafka_broker, "g-roundtrip-" + topic, topic, 30)
    assert sorted((m.partition, m.offset, m.key, m.value, m.headers) for m in got) == sorted(
        (m.partition, m.offset, m.key, m.value, m.headers) for m in sent
    )
    # Same key -> same partition, and order within a partition is the produce order.
    by_key: dict[bytes | None, set[Partition]] = {}
    for m in got:
        by_key.setdefault(m.key, set()).add(m.partition)
    assert all(len(parts) == 1 for parts in by_key.values())
    for part in {m.partition for m in got}:
        offsets = [m.offset for m in got if m.partition == part]
        assert offsets == sorted(offsets)
    assert dict(got[0].headers)["kind"] == b"test"


@services
@pytest.mark.parametrize("codec", ["zstd", "lz4", "gzip", "none"])
def test_every_compression_codec_round_trips(kafka_bus_config, kafka_broker, kafka_topic, codec):
    """Each bus.kafka.compression value writes batches the broker accepts and a consumer reads back;
    the codec's library is installed with newsflow, so none fails at the first produce."""
    topic = kafka_topic(1)
    cfg = kafka_bus_config.model_copy(
        update={"kafka": kafka_bus_config.kafka.model_copy(update={"compression": codec})}
    )
    writer = KafkaBroker(cfg)
    probe = writer.producer()
    try:  # the setting reaches kafka-python (which would silently default to no compression)
        assert probe._producer.config["compression_type"] == (None if codec == "none" else codec)
    finally:
        probe.close()
    big = ("Article text that compresses. " * 300).encode()
    sent = produce_all(writer, topic, 3, prefix=big.decode())
    got = read_back(kafka_broker, "g-codec-" + topic, topic, 3)
    assert sorted(m.value for m in got) == sorted(m.value for m in sent)
    assert all(m.value.startswith(big) for m in got)


@services
def test_commit_then_new_consumer_resumes_after_committed_offset(kafka_broker, kafka_topic):
    topic = kafka_topic(1)
    produce_all(kafka_broker, topic, 10)
    group = "g-resume-" + topic
    first = kafka_broker.consumer(group)
    try:
        first.subscribe([topic])
        got = consume(first, 10)
        assert [m.offset for m in got] == list(range(10))
        first.commit({got[5].partition: got[5].next_offset})  # processed 0..5
    finally:
        first.close()
    second = kafka_broker.consumer(group)
    try:
        second.subscribe([topic])
        rest = drain(second)
        assert second.lag() == {Partition(topic, 0): 4}
    finally:
        second.close()
    assert [m.offset for m in rest] == [6, 7, 8, 9]


@services
def test_uncommitted_messages_are_redelivered(kafka_broker, kafka_topic):
    topic = kafka_topic(1)
    produce_all(kafka_broker, topic, 5)
    group = "g-redeliver-" + topic
    first = kafka_broker.consumer(group)
    try:
        first.subscribe([topic])
        assert len(consume(first, 5)) == 5
    finally:
        first.close()  # no commit
    second = kafka_broker.consumer(group)
    try:
        second.subscribe([topic])
        again = drain(second)
    finally:
        second.close()
    assert [m.value for m in again] == [f"m-{i}".encode() for i in range(5)]


@services
def test_lag_counts_uncommitted_messages(kafka_broker, kafka_topic):
    topic = kafka_topic(2)
    sent = produce_all(kafka_broker, topic, 12)
    consumer = kafka_broker.consumer("g-lag-" + topic)
    try:
        consumer.subscribe([topic])
        got = consume(consumer, 12)
        assert sum(consumer.lag().values()) == 12  # read but nothing committed
        done = got[:4]
        offsets: dict[Partition, int] = {}
        for m in done:
            offsets[m.partition] = max(offsets.get(m.partition, 0), m.next_offset)
        consumer.commit(offsets)
        expected = {p: sum(1 for m in sent if m.partition == p) - offsets.get(p, 0) for p in consumer.assignment}
        assert consumer.lag() == expected
    finally:
        consumer.close()


@services
def test_pause_holds_back_a_partition_until_resume(kafka_broker, kafka_topic):
    topic = kafka_topic(2)
    sent = produce_all(kafka_broker, topic, 20)
    consumer = kafka_broker.consumer("g-pause-" + topic)
    try:
        consumer.subscribe([topic])
        first = consume(consumer, 1)
        held = first[0].partition
        consumer.pause([held])
        during = drain(consumer, quiet=2.0)
        assert during and all(m.partition != held for m in during)
        consumer.resume([held])
        after = drain(consumer, quiet=2.0)
    finally:
        consumer.close()
    assert {m.partition for m in after} == {held}
    assert sorted((m.partition, m.offset) for m in first + during + after) == sorted((m.partition, m.offset) for m in sent)


def _poll_in_thread(consumer: KafkaBusConsumer, sink: list[BrokerMessage], stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            msg = consumer.poll(0.2)
            if msg is not None:
                sink.append(msg)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _stop_and_close(stop: threading.Event, threads: list[threading.Thread], *consumers: KafkaBusConsumer) -> None:
    stop.set()
    for t in threads:
        t.join(10)
    for c in consumers:
        c.close()


def _wait(cond: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


@services
def test_two_consumers_in_a_group_split_partitions_and_revoke_can_commit(kafka_broker, kafka_topic):
    topic = kafka_topic(4)
    group = "g-split-" + topic
    sent = produce_all(kafka_broker, topic, 40, prefix="before")
    a, b = kafka_broker.consumer(group), kafka_broker.consumer(group)
    got_a: list[BrokerMessage] = []
    got_b: list[BrokerMessage] = []
    revoked_a: list[list[Partition]] = []
    committed_in_revoke: dict[Partition, int] = {}

    def on_revoke_a(parts):
        # What a processor does on revoke: commit what it has done, from the polling thread.
        offsets: dict[Partition, int] = {}
        for m in list(got_a):
            if m.partition in parts:
                offsets[m.partition] = max(offsets.get(m.partition, 0), m.next_offset)
        a.commit(offsets)
        committed_in_revoke.update(offsets)
        revoked_a.append(parts)

    stop = threading.Event()
    threads = []
    try:
        a.subscribe([topic], on_revoke=on_revoke_a)
        threads.append(_poll_in_thread(a, got_a, stop))
        assert _wait(lambda: len(got_a) == 40), "first consumer did not read the topic"
        b.subscribe([topic])
        threads.append(_poll_in_thread(b, got_b, stop))
        assert _wait(lambda: len(a.assignment) == 2 and len(b.assignment) == 2), (a.assignment, b.assignment)
        assert a.assignment.isdisjoint(b.assignment)
        assert a.assignment | b.assignment == {Partition(topic, i) for i in range(4)}
        assert revoked_a and committed_in_revoke
        more = produce_all(kafka_broker, topic, 40, prefix="after")
        assert _wait(lambda: sum(1 for m in got_a + got_b if m.value.startswith(b"after")) >= 40)
    finally:
        _stop_and_close(stop, threads, a, b)
    after_a = [m for m in got_a if m.value.startswith(b"after")]
    after_b = [m for m in got_b if m.value.startswith(b"after")]
    assert after_a and after_b
    assert {m.partition for m in after_a} <= a.assignment and {m.partition for m in after_b} <= b.assignment
    assert sorted(m.value for m in after_a + after_b) == sorted(m.value for m in more)  # each exactly once
    # The commit made inside on_revoke held: b did not re-read what a had committed.
    assert not [m for m in got_b if m.value.startswith(b"before")]
    assert len(sent) == 40


@services
def test_a_partition_paused_before_a_rebalance_is_fetched_after_it(kafka_broker, kafka_topic):
    """A fresh assignment starts unpaused. kafka-python keeps the paused flag of a partition
    that stays with a member across a rebalance, while the processor, told of the revoke and the
    new assignment, no longer remembers pausing it: that partition was never fetched again."""
    topic = kafka_topic(4)
    group = "g-paused-" + topic
    produce_all(kafka_broker, topic, 40, prefix="before")
    a, b = kafka_broker.consumer(group), kafka_broker.consumer(group)
    got_a: list[BrokerMessage] = []
    got_b: list[BrokerMessage] = []
    stop = threading.Event()
    paused_all = threading.Event()

    def run_a() -> None:  # backpressure, as a processor applies it: pause all, from the polling thread
        while not stop.is_set():
            msg = a.poll(0.2)
            if msg is not None:
                got_a.append(msg)
            if len(got_a) >= 40 and not paused_all.is_set():
                a.pause(sorted(a.assignment))
                paused_all.set()

    threads = [threading.Thread(target=run_a, daemon=True)]
    try:
        a.subscribe([topic])
        threads[0].start()
        assert _wait(paused_all.is_set), "first consumer did not read the topic"
        b.subscribe([topic])
        threads.append(_poll_in_thread(b, got_b, stop))
        assert _wait(lambda: len(a.assignment) == 2 and len(b.assignment) == 2), (a.assignment, b.assignment)
        assert a.paused() == set()
        more = produce_all(kafka_broker, topic, 40, prefix="after")
        assert _wait(lambda: sum(1 for m in got_a + got_b if m.value.startswith(b"after")) >= 40, 30), (
            f"a got {sum(1 for m in got_a if m.value.startswith(b'after'))}, "
            f"b got {sum(1 for m in got_b if m.value.startswith(b'after'))} of 40 "
            f"(a holds {sorted(p.index for p in a.assignment)})"
        )
    finally:
        _stop_and_close(stop, threads, a, b)
    assert sorted(m.value for m in got_a + got_b if m.value.startswith(b"after")) == sorted(m.value for m in more)
    assert {m.partition for m in got_a if m.value.startswith(b"after")} == a.assignment


@services
def test_create_topics_is_idempotent_grows_and_tolerates_races(kafka_broker, kafka_bus_config):
    from kafka import KafkaAdminClient

    from tests.conftest import unique

    name = unique("nf-test")
    try:
        errors: list[BaseException] = []

        def create() -> None:
            try:
                kafka_broker.create_topics({name: 2})
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        racers = [threading.Thread(target=create) for _ in range(3)]
        for t in racers:
            t.start()
        for t in racers:
            t.join(60)
        assert not errors
        kafka_broker.create_topics({name: 2})
        kafka_broker.create_topics({name: 3})  # grow
        kafka_broker.create_topics({name: 1})  # never shrinks
        admin = KafkaAdminClient(**client_config(kafka_bus_config.kafka))
        try:
            (described,) = admin.describe_topics([name])
        finally:
            admin.close()
        assert len(described["partitions"]) == 3
    finally:
        kafka_broker.delete_topics([name])


def test_unreachable_broker_raises_bus_unavailable_quickly():
    cfg = BusConfig(backend="kafka", kafka=KafkaConfig(bootstrap_servers="127.0.0.1:1", timeout=2.0))
    broker = KafkaBroker(cfg)
    for make in (broker.producer, lambda: broker.consumer("g"), lambda: broker.create_topics({"t": 1})):
        started = time.monotonic()
        with pytest.raises(BusUnavailable):
            make()
        assert time.monotonic() - started < 30  # bounded by kafka.timeout, not forever


def test_client_config_passes_security_options_and_hides_the_password(caplog):
    cfg = KafkaConfig(
        bootstrap_servers="broker-1:9093,broker-2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="newsflow",
        sasl_password="s3cr3t-pw",
        ssl_cafile="/etc/ssl/ca.pem",
        ssl_check_hostname=False,
    )
    assert "s3cr3t-pw" not in repr(cfg)
    conf = client_config(cfg)
    assert conf["bootstrap_servers"] == ["broker-1:9093", "broker-2:9093"]
    assert conf["security_protocol"] == "SASL_SSL" and conf["sasl_mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl_plain_username"] == "newsflow" and conf["sasl_plain_password"] == "s3cr3t-pw"
    assert conf["ssl_cafile"] == "/etc/ssl/ca.pem" and conf["ssl_check_hostname"] is False
    # kafka-python's admin client logs its whole config at DEBUG: the password is redacted.
    import logging

    with caplog.at_level(logging.DEBUG, logger="kafka.admin.client"):
        logging.getLogger("kafka.admin.client").debug("Starting KafkaAdminClient with configuration: %s", conf)
    assert caplog.records and all("s3cr3t-pw" not in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="sasl_username"):
        client_config(KafkaConfig(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN"))
