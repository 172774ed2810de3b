"""The Kafka bus backend against the real broker: the consumer contract (tests/bus/contract.py) and
what only Kafka has: codecs, the kafka-python quirks we work around, topic admin, security config."""

from __future__ import annotations

import threading
import time

import pytest

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.kafka import KafkaBroker, client_config
from newsflow.bus.types import BrokerMessage
from newsflow.bus.config import BusConfig, KafkaConfig
from tests.bus.contract import Backend, ConsumerContract, poll_in_thread, produce_all, read_back, stop_and_close, wait

services = pytest.mark.services


@services
class TestKafkaBus(ConsumerContract):
    @pytest.fixture
    def backend(self, kafka_broker, kafka_topic):
        return Backend(kafka_broker, kafka_topic, quiet=3.0)


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
                a.pause(sorted(a.assignment()))
                paused_all.set()

    threads = [threading.Thread(target=run_a, daemon=True)]
    try:
        a.subscribe([topic])
        threads[0].start()
        assert wait(paused_all.is_set), "first consumer did not read the topic"
        b.subscribe([topic])
        threads.append(poll_in_thread(b, got_b, stop))
        assert wait(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2), (a.assignment(), b.assignment())
        assert a.paused() == set()
        more = produce_all(kafka_broker, topic, 40, prefix="after")
        assert wait(lambda: sum(1 for m in got_a + got_b if m.value.startswith(b"after")) >= 40, 30), (
            f"a got {sum(1 for m in got_a if m.value.startswith(b'after'))}, "
            f"b got {sum(1 for m in got_b if m.value.startswith(b'after'))} of 40 "
            f"(a holds {sorted(p.index for p in a.assignment())})"
        )
    finally:
        stop_and_close(stop, threads, a, b)
    assert sorted(m.value for m in got_a + got_b if m.value.startswith(b"after")) == sorted(m.value for m in more)
    assert {m.partition for m in got_a if m.value.startswith(b"after")} == a.assignment()


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
