"""The consumer contract every bus backend keeps, written once (arroyo's tests/backends/mixins.py).

``tests/bus/test_local.py`` runs it against a ``LocalBroker`` on a temporary file and
``tests/bus/test_kafka.py`` against the real Kafka broker; each provides the ``backend`` fixture
(a ``Backend``) and keeps its backend-specific tests beside the contract.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from newsflow.bus.types import BrokerMessage, Partition
from tests.conftest import unique


@dataclass
class Backend:
    """A broker under test, with how to name topics and groups and how long "quiet" lasts."""

    broker: Any
    make_topic: Callable[[int], str]
    quiet: float  # seconds without a message after which a consumer is drained

    def topic(self, partitions: int = 1) -> str:
        return self.make_topic(partitions)

    def group(self, name: str) -> str:
        return unique(f"g-{name}")


def produce_all(broker: Any, topic: str, n: int, prefix: str = "m") -> list[BrokerMessage]:
    """``n`` keyed messages (five keys) with headers, every one acknowledged."""
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


def consume(consumer: Any, n: int, deadline: float = 30.0) -> list[BrokerMessage]:
    got: list[BrokerMessage] = []
    end = time.monotonic() + deadline
    while len(got) < n and time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is not None:
            got.append(msg)
    return got


def drain(consumer: Any, quiet: float) -> list[BrokerMessage]:
    """Everything the consumer gets until nothing arrives for ``quiet`` seconds."""
    got: list[BrokerMessage] = []
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        msg = consumer.poll(min(0.5, quiet))
        if msg is not None:
            got.append(msg)
            last = time.monotonic()
    return got


def read_back(broker: Any, group: str, topic: str, n: int) -> list[BrokerMessage]:
    """Up to ``n`` messages of ``topic`` read by a new consumer in ``group``."""
    consumer = broker.consumer(group)
    try:
        consumer.subscribe([topic])
        return consume(consumer, n)
    finally:
        consumer.close()


def poll_in_thread(consumer: Any, sink: list[BrokerMessage], stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            msg = consumer.poll(0.2)
            if msg is not None:
                sink.append(msg)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def stop_and_close(stop: threading.Event, threads: list[threading.Thread], *consumers: Any) -> None:
    stop.set()
    for t in threads:
        t.join(10)
    for c in consumers:
        c.close()


def wait(cond: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def committed_through(messages: list[BrokerMessage]) -> dict[Partition, int]:
    """Per partition, the next offset after the highest of ``messages``."""
    offsets: dict[Partition, int] = {}
    for m in messages:
        offsets[m.partition] = max(offsets.get(m.partition, 0), m.next_offset)
    return offsets


class ConsumerContract:
    """Mixed into a backend's test class; the class provides the ``backend`` fixture."""

    def test_round_trip_keeps_keys_headers_and_reports_real_offsets(self, backend: Backend) -> None:
        topic = backend.topic(3)
        sent = produce_all(backend.broker, topic, 30)
        assert len({(m.partition, m.offset) for m in sent}) == 30  # each ack names its own slot
        got = read_back(backend.broker, backend.group("roundtrip"), topic, 30)
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
            assert offsets == sorted(offsets) == list(range(len(offsets)))  # offsets count per partition
            assert [m.value for m in got if m.partition == part] == [m.value for m in sent if m.partition == part]
        assert dict(got[0].headers)["kind"] == b"test"

    @pytest.mark.parametrize("processed", [5, None], ids=["committed", "uncommitted"])
    def test_a_new_consumer_resumes_after_the_committed_offset_and_uncommitted_ones_are_redelivered(
        self, backend: Backend, processed: int | None
    ) -> None:
        topic = backend.topic(1)
        sent = produce_all(backend.broker, topic, 10)
        group = backend.group("resume")
        first = backend.broker.consumer(group)
        try:
            first.subscribe([topic])
            got = consume(first, 10)
            assert [m.offset for m in got] == list(range(10))
            if processed is not None:
                first.commit({got[processed].partition: got[processed].next_offset})  # processed 0..5
        finally:
            first.close()  # read 6..9 (or all) without committing them
        start = 0 if processed is None else processed + 1
        second = backend.broker.consumer(group)
        try:
            second.subscribe([topic])
            rest = drain(second, backend.quiet)
            assert second.lag() == {Partition(topic, 0): 10 - start}
        finally:
            second.close()
        assert [m.offset for m in rest] == list(range(start, 10))
        assert [m.value for m in rest] == [m.value for m in sent[start:]] == [f"m-{i}".encode() for i in range(start, 10)]

    def test_groups_are_independent_and_lag_and_caught_up_track_commits(self, backend: Backend) -> None:
        topic = backend.topic(2)
        sent = produce_all(backend.broker, topic, 12)
        one_group, two_group = backend.group("one"), backend.group("two")
        one, two = backend.broker.consumer(one_group), backend.broker.consumer(two_group)
        try:
            one.subscribe([topic])
            two.subscribe([topic])
            got = consume(one, 12)
            assert len(got) == len(consume(two, 12)) == 12  # each group reads everything
            assert sum(one.lag().values()) == 12  # read but nothing committed
            assert not backend.broker.caught_up(one_group, [topic])
            offsets = committed_through(got[:4])
            one.commit(offsets)
            expected = {p: sum(1 for m in sent if m.partition == p) - offsets.get(p, 0) for p in one.assignment()}
            assert one.lag() == expected
            one.commit(committed_through(got))
            assert sum(one.lag().values()) == 0
            assert backend.broker.caught_up(one_group, [topic])
            assert not backend.broker.caught_up(two_group, [topic])
        finally:
            one.close()
            two.close()

    def test_pause_holds_back_a_partition_until_resume(self, backend: Backend) -> None:
        topic = backend.topic(2)
        sent = produce_all(backend.broker, topic, 20)
        consumer = backend.broker.consumer(backend.group("pause"))
        try:
            consumer.subscribe([topic])
            first = consume(consumer, 1)
            held = first[0].partition
            consumer.pause([held])
            assert consumer.paused() == {held}
            during = drain(consumer, backend.quiet)
            assert during and all(m.partition != held for m in during)
            consumer.resume([held])
            after = drain(consumer, backend.quiet)
        finally:
            consumer.close()
        assert {m.partition for m in after} == {held}
        assert sorted((m.partition, m.offset) for m in first + during + after) == sorted(
            (m.partition, m.offset) for m in sent
        )

    def test_two_consumers_in_a_group_split_partitions_and_revoke_can_commit(self, backend: Backend) -> None:
        topic = backend.topic(4)
        group = backend.group("split")
        sent = produce_all(backend.broker, topic, 40, prefix="before")
        a, b = backend.broker.consumer(group), backend.broker.consumer(group)
        got_a: list[BrokerMessage] = []
        got_b: list[BrokerMessage] = []
        revoked_a: list[list[Partition]] = []
        committed_in_revoke: dict[Partition, int] = {}

        def on_revoke_a(parts):
            # What a processor does on revoke: commit what it has done, from the polling thread.
            offsets = committed_through([m for m in list(got_a) if m.partition in parts])
            a.commit(offsets)
            committed_in_revoke.update(offsets)
            revoked_a.append(parts)

        stop = threading.Event()
        threads = []
        try:
            a.subscribe([topic], on_revoke=on_revoke_a)
            threads.append(poll_in_thread(a, got_a, stop))
            assert wait(lambda: len(got_a) == 40), "first consumer did not read the topic"
            b.subscribe([topic])
            threads.append(poll_in_thread(b, got_b, stop))
            assert wait(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2), (a.assignment(), b.assignment())
            assert a.assignment().isdisjoint(b.assignment())
            assert a.assignment() | b.assignment() == {Partition(topic, i) for i in range(4)}
            assert revoked_a and committed_in_revoke
            more = produce_all(backend.broker, topic, 40, prefix="after")
            assert wait(lambda: sum(1 for m in got_a + got_b if m.value.startswith(b"after")) >= 40)
            owned_a, owned_b = a.assignment(), b.assignment()
        finally:
            stop_and_close(stop, threads, a, b)
        after_a = [m for m in got_a if m.value.startswith(b"after")]
        after_b = [m for m in got_b if m.value.startswith(b"after")]
        assert after_a and after_b
        assert {m.partition for m in after_a} <= owned_a and {m.partition for m in after_b} <= owned_b
        assert sorted(m.value for m in after_a + after_b) == sorted(m.value for m in more)  # each exactly once
        # The commit made inside on_revoke held: b did not re-read what a had committed, and
        # nothing was read twice.
        assert not [m for m in got_b if m.value.startswith(b"before")]
        before = [m.value for m in got_a + got_b if m.value.startswith(b"before")]
        assert sorted(before) == sorted(m.value for m in sent)
