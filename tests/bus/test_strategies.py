"""Processing strategies: order, backpressure, dead letters, retries, and where commits may go."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import orjson
import pytest

from newsflow.bus.backend import BusUnavailable, MessageRejected
from newsflow.bus.dead_letters import DeadLetters, parse_envelope, replay
from newsflow.bus.strategies import Backoff, BatchStep, CommitOffsets, Produce, RunTask, RunTaskInPool
from newsflow.bus.types import FILTERED, BrokerMessage, Message, Partition
from newsflow.core.errors import Transient
from newsflow.core.record import RecordError
from tests.bus.helpers import (  # noqa: F401 - bus is a fixture
    P0,
    P1,
    Commits,
    Recorder,
    bus,
    bytes_msg,
    dead_letter_count,
    dead_letters_of,
    fast_backoff,
    msg,
    raw,
)


# -- RunTask --------------------------------------------------------------------------------


def test_run_task_transforms_and_sends_a_poison_message_to_dead_letters(bus):
    letters = DeadLetters(bus.producer(), "dead", "enrich")
    sink = Recorder()
    before = dead_letter_count("enrich")

    def parse(b: BrokerMessage) -> int:
        return int(b.value)

    step = RunTask(parse, sink, letters)
    step.submit(msg(0, b"1"))
    step.submit(msg(1, b"not a number"))
    step.submit(msg(2, b"3"))
    assert [m.payload for m in sink.got] == [1, FILTERED, 3]
    assert [m.committable for m in sink.got] == [{P0: 1}, {P0: 2}, {P0: 3}]
    (letter,) = dead_letters_of(bus)
    assert letter["stage"] == "enrich" and letter["error_type"] == "ValueError"
    assert letter["payload"] == "not a number" and (letter["topic"], letter["partition"], letter["offset"]) == ("in", 0, 1)
    assert dead_letter_count("enrich") == before + 1


def test_run_task_retries_transient_errors_instead_of_dead_lettering(bus):
    letters = DeadLetters(bus.producer(), "dead", "index")
    sink = Recorder()
    calls = {"n": 0}

    class Down(Transient):
        """Any dependency that is down for now (the index, in the index stage)."""

    def flaky(b: BrokerMessage) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Down("down")
        return b.value

    step = RunTask(flaky, sink, letters, backoff=Backoff(initial=0.0, maximum=0.0))
    with pytest.raises(MessageRejected):
        step.submit(msg(0))
    step.submit(msg(0))  # offered again by the processor
    assert [m.payload for m in sink.got] == [b"x"]
    assert dead_letters_of(bus) == []


def test_run_task_carries_a_result_the_next_step_refused(bus):
    sink = Recorder()
    calls = []
    step = RunTask(lambda b: calls.append(b.offset) or b.offset, sink, None)
    sink.reject = True
    step.submit(msg(0))  # accepted: the result waits inside the step
    with pytest.raises(MessageRejected):
        step.submit(msg(1))
    sink.reject = False
    step.poll()
    step.submit(msg(1))
    assert [m.payload for m in sink.got] == [0, 1]
    assert calls == [0, 1]  # fn ran once per message


def test_run_task_retries_when_the_dead_letter_topic_is_down():
    class DownProducer:
        def produce(self, *a, **k):
            raise BusUnavailable("down")

    sink = Recorder()
    step = RunTask(lambda b: int(b.value), sink, DeadLetters(DownProducer(), "dead", "s"), backoff=fast_backoff())
    with pytest.raises(MessageRejected):
        step.submit(msg(0, b"bad"))
    assert sink.got == []  # not forwarded, so never committed


# -- RunTaskInPool --------------------------------------------------------------------------


def test_run_task_in_pool_forwards_in_order_even_when_later_work_finishes_first(bus):
    gates = {i: threading.Event() for i in range(3)}

    def work(value: bytes) -> bytes:
        i = int(value)
        gates[i].wait(5)
        if i == 1:
            raise RecordError("bad record")
        return value

    sink = Recorder()
    with ThreadPoolExecutor(3) as pool:
        step = RunTaskInPool(lambda b: work(b.value), sink, DeadLetters(bus.producer(), "dead", "enrich"), pool)
        for i in range(3):
            step.submit(msg(i, b"%d" % i))
        gates[2].set()
        gates[1].set()
        step.poll()
        assert sink.got == []  # message 0 is not done; 1 and 2 must wait behind it
        gates[0].set()
        step.close()
        step.join(5)
    assert [m.payload for m in sink.got] == [b"0", FILTERED, b"2"]
    assert [m.committable[P0] for m in sink.got] == [1, 2, 3]
    assert [d["offset"] for d in dead_letters_of(bus)] == [1]


def test_run_task_in_pool_rejects_when_full():
    sink = Recorder()
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        step = RunTaskInPool(lambda b: gate.wait(5), sink, None, pool, max_in_flight=2)
        step.submit(msg(0))
        step.submit(msg(1))
        with pytest.raises(MessageRejected):
            step.submit(msg(2))
        gate.set()
        step.close()
        step.join(5)
    assert len(sink.got) == 2


def test_run_task_in_pool_keeps_a_failed_message_until_the_dead_letter_topic_takes_it(bus):
    class ComesBack:
        def __init__(self) -> None:
            self.down = True
            self.inner = bus.producer()

        def produce(self, *a, **k):
            if self.down:
                raise BusUnavailable("down")
            return self.inner.produce(*a, **k)

    runs: list[int] = []

    def work(b: BrokerMessage) -> bytes:
        runs.append(b.offset)
        raise RecordError("bad record")

    producer = ComesBack()
    sink = Recorder()
    with ThreadPoolExecutor(1) as pool:
        step = RunTaskInPool(work, sink, DeadLetters(producer, "dead", "enrich"), pool, backoff=fast_backoff())
        step.submit(msg(0))
        for _ in range(20):
            time.sleep(0.02)
            step.poll()
        assert sink.got == []  # not forwarded, so never committed, while the dead letter waits
        producer.down = False
        time.sleep(0.02)
        step.poll()
    assert [m.payload for m in sink.got] == [FILTERED]
    assert runs == [0]  # the failed work is dead-lettered again, not run again
    assert [d["offset"] for d in dead_letters_of(bus)] == [0]


# -- BatchStep ------------------------------------------------------------------------------


def test_batch_flushes_on_size_with_the_highest_offset_per_partition():
    sink = Recorder()
    step = BatchStep(3, 60, sink)
    step.submit(msg(0, b"a", P0))
    step.submit(msg(5, b"b", P1))
    step.submit(msg(1, b"c", P0))
    (batch,) = sink.got
    assert list(batch.payload) == [raw(0, b"a", P0), raw(5, b"b", P1), raw(1, b"c", P0)]
    assert batch.committable == {P0: 2, P1: 6}
    assert [o.offset for o in batch.payload.origins] == [0, 5, 1]


def test_batch_flushes_on_time_in_poll_and_on_join():
    sink = Recorder()
    step = BatchStep(100, 0.0, sink)
    step.submit(msg(0))
    step.poll()
    assert len(sink.got) == 1
    slow = Recorder()
    step = BatchStep(100, 3600, slow)
    step.submit(msg(0))
    step.poll()
    assert slow.got == []
    step.close()
    step.join(1)
    assert len(slow.got) == 1 and slow.closed and slow.joined


def test_batch_keeps_filtered_offsets_in_order():
    sink = Recorder()
    step = BatchStep(2, 3600, sink)
    step.submit(msg(0))
    step.submit(Message(FILTERED, {P0: 2}))  # dropped upstream: offsets only
    assert sink.got == []  # a FILTERED message must not overtake the batch
    step.submit(msg(2))
    (batch,) = sink.got
    assert len(batch.payload) == 2 and batch.committable == {P0: 3}
    only_filtered = BatchStep(2, 0.0, sink)
    only_filtered.submit(Message(FILTERED, {P1: 9}))
    only_filtered.poll()
    assert sink.got[-1].payload is FILTERED and sink.got[-1].committable == {P1: 9}


def test_batch_holds_a_refused_batch_and_rejects_until_it_is_taken():
    sink = Recorder()
    sink.reject = True
    step = BatchStep(1, 3600, sink)
    step.submit(msg(0))
    with pytest.raises(MessageRejected):
        step.submit(msg(1))
    sink.reject = False
    step.poll()
    step.submit(msg(1))
    assert [m.committable[P0] for m in sink.got] == [1, 2]


# -- Produce --------------------------------------------------------------------------------


class ManualProducer:
    """Futures resolved by the test, to play a slow or failing broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, Future]] = []
        self.offset = 0

    def produce(self, topic, key, value, headers=()):
        future: Future = Future()
        self.sent.append((topic, key, value, future))
        return future

    def ack(self, i: int) -> None:
        topic, key, value, future = self.sent[i]
        future.set_result(BrokerMessage(Partition(topic, 0), i, key, value))

    def fail(self, i: int) -> None:
        self.sent[i][3].set_exception(BusUnavailable("timed out"))


def test_commit_never_gets_ahead_of_unacknowledged_produces():
    producer = ManualProducer()
    commits = Commits()
    step = Produce(producer, "out", CommitOffsets(commits, min_interval=0), backoff=fast_backoff())
    for i in range(3):
        step.submit(bytes_msg(i, b"v%d" % i))
    step.poll()
    assert commits.calls == []
    producer.ack(2)  # the last one acked first
    step.poll()
    assert commits.calls == []
    producer.ack(0)
    step.poll()
    assert commits.latest == {P0: 1}
    producer.fail(1)  # delivery failed: sent again, never skipped
    step.poll()
    assert commits.latest == {P0: 1}
    time.sleep(0.02)
    step.poll()  # the retry is due: message 1 is produced again
    assert [v for _, _, v, _ in producer.sent] == [b"v0", b"v1", b"v2", b"v1"]
    producer.ack(3)
    step.poll()
    assert commits.latest == {P0: 3}


def test_produce_uses_the_consumed_key_and_rejects_when_too_many_are_in_flight():
    producer = ManualProducer()
    step = Produce(producer, "out", Recorder(), max_in_flight=2)
    step.submit(bytes_msg(0))
    step.submit(Message(FILTERED, {P0: 2}))
    with pytest.raises(MessageRejected):
        step.submit(bytes_msg(2))
    assert producer.sent[0][:3] == ("out", b"k", b"x")
    assert len(producer.sent) == 1  # FILTERED is not produced, only kept in order


def test_produce_join_gives_up_on_unacked_messages_without_committing():
    producer = ManualProducer()
    commits = Commits()
    step = Produce(producer, "out", CommitOffsets(commits, min_interval=3600))
    step.submit(bytes_msg(0))
    step.submit(bytes_msg(1))
    producer.ack(0)
    step.close()
    step.join(0.2)
    assert commits.latest == {P0: 1}  # forced on join, and only what was acked


def test_produce_rejects_while_the_bus_refuses():
    class Refusing:
        def produce(self, *a, **k):
            raise BusUnavailable("backlog full")

    step = Produce(Refusing(), "out", Recorder(), backoff=fast_backoff())
    with pytest.raises(MessageRejected):
        step.submit(bytes_msg(0))


# -- CommitOffsets --------------------------------------------------------------------------


def test_commit_offsets_throttles_and_forces_on_join():
    commits = Commits()
    step = CommitOffsets(commits, min_interval=3600)
    step.submit(msg(0))
    step.submit(msg(1, partition=P1))
    step.submit(msg(1))
    step.poll()
    assert commits.calls == []
    step.close()
    step.join()
    assert commits.calls == [{P0: 2, P1: 2}]


def test_commit_offsets_keeps_offsets_when_a_commit_fails():
    calls = []

    def commit(offsets):
        calls.append(dict(offsets))
        if len(calls) == 1:
            raise BusUnavailable("down")

    step = CommitOffsets(commit, min_interval=0)
    step.submit(msg(0))
    step.poll()
    assert calls == [{P0: 1}, {P0: 1}]


def test_terminate_commits_nothing_more():
    commits = Commits()
    step = CommitOffsets(commits, min_interval=3600)
    step.submit(msg(0))
    step.terminate()
    step.join()
    assert commits.calls == []


# -- dead letters ---------------------------------------------------------------------------


def test_dead_letter_envelope_round_trips_text_and_binary_payloads(bus):
    letters = DeadLetters(bus.producer(), "dead", "enrich")
    letters.send(raw(4, "naïve text".encode()), error=ValueError("boom")).result()
    letters.send(raw(5, b"\xff\xfe binary", key=b"\x00\xff"), error="rejected by mapping").result()
    first, second = dead_letters_of(bus)
    assert first["schema"] == "newsflow.dead_letter" and first["schema_version"] == 1
    assert first["payload"] == "naïve text" and first["payload_encoding"] == "utf-8"
    assert first["error"] == "boom" and first["key"] == "k"
    assert second["payload_encoding"] == "base64" and second["error_type"] == "Rejected"
    parsed = parse_envelope(orjson.dumps(second))
    assert parsed.payload == b"\xff\xfe binary" and parsed.key == b"\x00\xff"
    assert (parsed.topic, parsed.partition, parsed.offset) == ("in", 0, 5)
    for bad in (b"not json", b"{}", orjson.dumps({**first, "schema_version": 99})):
        with pytest.raises(ValueError):
            parse_envelope(bad)


def _three_dead_letters(bus, stage: str):
    """Three messages on "in", each dead-lettered to "dead" by ``stage``; the producer."""
    producer = bus.producer()
    letters = DeadLetters(producer, "dead", stage)
    for i in range(3):
        letters.send(producer.produce("in", b"key%d" % i, b"payload %d" % i).result(), error="boom").result()
    return producer


def test_replay_sends_payloads_back_to_their_topics_and_commits(bus):
    producer = _three_dead_letters(bus, "enrich")
    producer.produce("dead", None, b"garbage").result()

    result = replay(bus.consumer("replay"), producer, "dead", idle_timeout=0.5)
    assert (result.replayed, result.invalid, result.by_topic) == (3, 1, {"in": 3})
    assert bus.caught_up("replay", ["dead"])
    reader = bus.consumer("reader")
    reader.subscribe(["in"])
    values = []
    while (m := reader.poll(0.2)) is not None:
        values.append((m.key, m.value))
    assert sorted(values) == sorted([(b"key%d" % i, b"payload %d" % i) for i in range(3)] * 2)
    # Running it again replays nothing: the group's offsets moved on.
    assert replay(bus.consumer("replay"), producer, "dead", idle_timeout=0.3).replayed == 0


def test_replay_refuses_a_letter_whose_cause_persists_and_sends_the_others_back(bus):
    producer = _three_dead_letters(bus, "index")

    def check(letter):
        return "still rejected: bad id" if letter.payload == b"payload 1" else None

    result = replay(bus.consumer("replay"), producer, "dead", idle_timeout=0.5, check=check)
    assert (result.replayed, result.refused, result.invalid, result.by_topic) == (2, 1, 0, {"in": 2})
    (refusal,) = result.refusals
    assert (refusal.offset, refusal.reason, refusal.letter.stage, refusal.letter.offset) == (1, "still rejected: bad id", "index", 1)
    assert bus.caught_up("replay", ["dead"])  # moved past the refused letter too
    reader = bus.consumer("reader")
    reader.subscribe(["in", "dead"])
    got = []
    while (m := reader.poll(0.2)) is not None:
        got.append((m.partition.topic, m.value))
    assert sorted(v for t, v in got if t == "in") == [b"payload 0", b"payload 0", b"payload 1", b"payload 2", b"payload 2"]
    assert len([v for t, v in got if t == "dead"]) == 3  # the refused letter was not produced again
