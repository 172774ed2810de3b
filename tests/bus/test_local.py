"""The embedded bus: the consumer contract (tests/bus/contract.py) on a SQLite file, and what only
the local backend does: stable key hashing, durability across broker instances, backpressure,
the eager hand-over, retention, growing topics."""

from __future__ import annotations

import threading

import pytest

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.local import LocalBroker, partition_for
from newsflow.bus.types import Partition
from tests.bus.contract import Backend, ConsumerContract
from tests.conftest import unique


def drain(consumer, timeout: float = 0.2, limit: int = 10_000):
    out = []
    while len(out) < limit:
        message = consumer.poll(timeout)
        if message is None:
            break
        out.append(message)
    return out


@pytest.fixture
def broker():
    b = LocalBroker(None, max_backlog=10_000)
    yield b
    b.close()


class TestLocalBus(ConsumerContract):
    @pytest.fixture
    def backend(self, tmp_path):
        b = LocalBroker(tmp_path / "bus.sqlite3", max_backlog=10_000)

        def make_topic(partitions: int) -> str:
            name = unique("t")
            b.create_topics({name: partitions})
            return name

        yield Backend(b, make_topic, quiet=0.3)
        b.close()


def test_a_key_lands_on_its_partition_for_and_end_offsets_count_per_partition(broker):
    """Same key -> same partition and per-partition offsets are the contract; here: which partition."""
    broker.create_topics({"t": 4})
    producer = broker.producer()
    sent = [producer.produce("t", f"k{i % 5}".encode(), f"v{i}".encode()).result() for i in range(40)]

    assert all(m.partition.index == partition_for(m.key, 4) for m in sent)
    assert {m.partition.index for m in sent} == {partition_for(f"k{i}".encode(), 4) for i in range(5)}
    assert broker.end_offsets("t") == {
        Partition("t", i): sum(1 for m in sent if m.partition.index == i) for i in range(4)
    }


def test_consumer_reads_everything_in_partition_order_with_headers(broker):
    broker.create_topics({"t": 3})
    producer = broker.producer()
    for i in range(30):
        producer.produce("t", None if i % 2 else f"k{i}".encode(), f"v{i}".encode(), [("h", bytes([i]))])
    consumer = broker.consumer("g")
    consumer.subscribe(["t"])
    got = drain(consumer)
    assert sorted(m.value for m in got) == sorted(f"v{i}".encode() for i in range(30))
    for index in range(3):
        offsets = [m.offset for m in got if m.partition.index == index]
        assert offsets == sorted(offsets) == list(range(len(offsets)))
    assert all(m.headers == (("h", bytes([int(m.value[1:])])),) for m in got)
    # Unkeyed messages are spread over the partitions, not piled onto one.
    assert len({m.partition.index for m in got if m.key is None}) == 3


def test_new_broker_on_the_same_file_resumes_at_committed_offsets(tmp_path):
    path = tmp_path / "bus.sqlite3"
    first = LocalBroker(path, max_backlog=100)
    first.create_topics({"t": 2})
    producer = first.producer()
    for i in range(10):
        producer.produce("t", f"k{i}".encode(), f"v{i}".encode())
    consumer = first.consumer("g")
    consumer.subscribe(["t"])
    done = drain(consumer, limit=4)
    committed = {}
    for m in done:
        committed[m.partition] = m.next_offset
    consumer.commit(committed)
    # Read further without committing, then "crash": no close of consumer or broker.
    drain(consumer, limit=3)

    second = LocalBroker(path, max_backlog=100)
    assert second.committed("g", "t") == committed
    again = second.consumer("g")
    again.subscribe(["t"])
    rest = drain(again)
    assert sorted(m.value for m in done + rest) == sorted(f"v{i}".encode() for i in range(10))
    assert not {(m.partition, m.offset) for m in done} & {(m.partition, m.offset) for m in rest}
    second.close()
    first.close()


def test_backpressure_blocks_a_producer_until_the_group_commits():
    broker = LocalBroker(None, max_backlog=3, block_timeout=30)
    broker.create_topics({"t": 1})
    consumer = broker.consumer("g")
    consumer.subscribe(["t"])  # registers the group on the topic
    producer = broker.producer()
    for i in range(3):
        producer.produce("t", b"k", b"v%d" % i)
    assert broker.backlog("t") == 3

    produced = threading.Event()
    errors: list[BaseException] = []

    def fourth() -> None:
        try:
            producer.produce("t", b"k", b"v3")
            produced.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=fourth)
    thread.start()
    assert not produced.wait(0.5), "produce should block while the backlog is full"
    first = consumer.poll(1.0)
    consumer.commit({first.partition: first.next_offset})
    assert produced.wait(5.0), "a commit should make room"
    thread.join(5)
    assert not errors
    assert broker.backlog("t") == 3
    broker.close()


def test_backpressure_gives_up_after_block_timeout_or_stop():
    broker = LocalBroker(None, max_backlog=1, block_timeout=0.3)
    consumer = broker.consumer("g")
    consumer.subscribe(["t"])
    producer = broker.producer()
    producer.produce("t", None, b"a")
    with pytest.raises(BusUnavailable, match="max_backlog"):
        producer.produce("t", None, b"b")

    stop = threading.Event()
    stop.set()
    stopping = broker.producer(stop=stop, block_timeout=60)
    with pytest.raises(BusUnavailable, match="stopping"):
        stopping.produce("t", None, b"c")
    daemon_stop = threading.Event()
    daemon_stop.set()
    stopped_broker = LocalBroker(None, max_backlog=1, block_timeout=60, stop=daemon_stop)
    stopped_broker.consumer("g").subscribe(["t"])
    stopped_broker.producer().produce("t", None, b"a")
    with pytest.raises(BusUnavailable, match="stopping"):
        stopped_broker.producer().produce("t", None, b"b")
    stopped_broker.close()
    assert broker.end_offsets("t") == {Partition("t", 0): 1}
    broker.close()


def test_no_backpressure_without_a_subscribed_group_or_after_it_left():
    broker = LocalBroker(None, max_backlog=2, block_timeout=0.2)
    producer = broker.producer()
    for i in range(5):
        producer.produce("t", None, b"x")
    consumer = broker.consumer("g")
    consumer.subscribe(["t"])
    with pytest.raises(BusUnavailable):
        producer.produce("t", None, b"x")
    consumer.close()
    producer.produce("t", None, b"x")  # a group with no live member no longer holds producers back
    broker.close()


def _poll_until(consumers, predicate, rounds: int = 100):
    for _ in range(rounds):
        for c in consumers:
            c.poll(0.01)
        if predicate():
            return
    raise AssertionError("condition not reached")


def test_a_group_of_two_splits_partitions_and_rebalances_on_join_and_leave(broker):
    broker.create_topics({"t": 4})
    calls: list[tuple[str, str, list[int]]] = []

    def callbacks(name):
        return (
            lambda ps: calls.append((name, "assign", [p.index for p in ps])),
            lambda ps: calls.append((name, "revoke", [p.index for p in ps])),
        )

    a, b = broker.consumer("g"), broker.consumer("g")
    a.subscribe(["t"], *callbacks("a"))
    _poll_until([a], lambda: len(a.assignment()) == 4)

    b.subscribe(["t"], *callbacks("b"))
    for _ in range(3):
        b.poll(0.01)
    assert b.assignment() == set(), "b must wait until a has released its partitions"
    _poll_until([a, b], lambda: a.assignment() and b.assignment())
    assert len(a.assignment()) == len(b.assignment()) == 2
    assert a.assignment() | b.assignment() == {Partition("t", i) for i in range(4)}
    assert ("a", "revoke", [0, 1, 2, 3]) in calls
    # b got its partitions only after a had released them.
    assert calls.index(("a", "revoke", [0, 1, 2, 3])) < next(i for i, c in enumerate(calls) if c[:2] == ("b", "assign"))

    b.close()
    _poll_until([a], lambda: len(a.assignment()) == 4)


def test_commit_for_a_partition_not_owned_is_ignored(broker):
    broker.create_topics({"t": 1})
    broker.producer().produce("t", None, b"x")
    a = broker.consumer("g")
    a.subscribe(["t"])
    assert a.poll(0.5) is not None
    stranger = broker.consumer("g")  # never polled, owns nothing
    stranger.commit({Partition("t", 0): 1})
    assert broker.committed("g", "t") == {}
    a.commit({Partition("t", 0): 1})
    assert broker.committed("g", "t") == {Partition("t", 0): 1}


def test_wait_caught_up_waits_for_every_group(broker):
    """Groups are independent (the contract); ``run --once`` drains by waiting for all of them."""
    broker.create_topics({"t": 2})
    producer = broker.producer()
    for i in range(6):
        producer.produce("t", f"k{i}".encode(), b"v")
    one, two = broker.consumer("one"), broker.consumer("two")
    one.subscribe(["t"])
    two.subscribe(["t"])
    got_one, got_two = drain(one), drain(two)
    assert len(got_one) == len(got_two) == 6
    assert not broker.wait_caught_up({"one": ["t"]}, timeout=0.1)
    one.commit({m.partition: m.next_offset for m in got_one})
    assert broker.caught_up("one", ["t"]) and not broker.caught_up("two", ["t"])
    assert broker.wait_caught_up({"one": ["t"]}, timeout=1)
    assert not broker.wait_caught_up({"one": ["t"], "two": ["t"]}, timeout=0.3)


def test_paused_partitions_yield_nothing_until_resumed(broker):
    broker.create_topics({"t": 2})
    producer = broker.producer()
    p0_key = next(k for k in (f"k{i}".encode() for i in range(100)) if partition_for(k, 2) == 0)
    p1_key = next(k for k in (f"k{i}".encode() for i in range(100)) if partition_for(k, 2) == 1)
    producer.produce("t", p0_key, b"zero")
    producer.produce("t", p1_key, b"one")
    c = broker.consumer("g")
    c.subscribe(["t"], on_assign=lambda ps: c.pause([Partition("t", 0)]))
    assert [m.value for m in drain(c)] == [b"one"]
    c.resume([Partition("t", 0)])
    assert [m.value for m in drain(c)] == [b"zero"]


def test_poll_wakes_up_when_a_message_arrives(broker):
    broker.create_topics({"t": 1})
    c = broker.consumer("g")
    c.subscribe(["t"])
    assert c.poll(0.05) is None
    threading.Timer(0.2, lambda: broker.producer().produce("t", None, b"late")).start()
    message = c.poll(10.0)
    assert message is not None and message.value == b"late"


def test_another_broker_instance_on_the_same_file_sees_new_messages(tmp_path):
    """As `newsflow dlq replay` in another process produces while the daemon consumes."""
    path = tmp_path / "bus.sqlite3"
    daemon, other = LocalBroker(path), LocalBroker(path)
    daemon.create_topics({"t": 1})
    c = daemon.consumer("g")
    c.subscribe(["t"])
    assert c.poll(0.05) is None
    other.producer().produce("t", None, b"from elsewhere")
    message = c.poll(5.0)
    assert message is not None and message.value == b"from elsewhere"
    daemon.close()
    other.close()


def test_purge_keeps_what_some_group_has_not_committed(broker):
    broker.create_topics({"t": 1, "dead": 1})
    producer = broker.producer()
    for i in range(5):
        producer.produce("t", None, b"%d" % i)
        producer.produce("dead", None, b"%d" % i)
    c = broker.consumer("g")
    c.subscribe(["t"])
    c.poll(0)
    c.commit({Partition("t", 0): 3})
    assert broker.purge(older_than=0) == 3  # only t's committed messages; nobody consumed "dead"
    late = broker.consumer("late")  # a group that starts after the purge finds the rest
    late.subscribe(["t", "dead"])
    got = drain(late)
    assert sorted(m.value for m in got if m.partition.topic == "t") == [b"3", b"4"]
    assert len([m for m in got if m.partition.topic == "dead"]) == 5


def test_growing_a_topic_rebalances_subscribers(broker):
    broker.create_topics({"t": 1})
    c = broker.consumer("g")
    c.subscribe(["t"])
    c.poll(0)
    assert len(c.assignment()) == 1
    broker.create_topics({"t": 3})
    broker.create_topics({"t": 2})  # never shrinks
    c.poll(0)
    assert c.assignment() == {Partition("t", i) for i in range(3)}


def test_closed_broker_raises_bus_unavailable(broker):
    producer = broker.producer()
    broker.close()
    with pytest.raises(BusUnavailable):
        producer.produce("t", None, b"x")


def test_bad_values_are_refused():
    broker = LocalBroker(None)
    with pytest.raises(TypeError):
        broker.producer().produce("t", None, "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        broker.create_topics({"t": 0})
    broker.close()

