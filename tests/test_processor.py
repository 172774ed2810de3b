"""The stream processor driving composed stages over the local bus (and once over real Kafka).

The two compositions the daemon uses:

    enrich: consumer(cleaned)  -> RunTask(decode + enrich + encode) -> Produce(enriched) -> CommitOffsets
    index:  consumer(enriched) -> RunTask(decode) -> BatchStep -> WriteToIndex -> CommitOffsets
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import orjson
import pytest

from newsflow.bus.backend import BusUnavailable, MessageRejected
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.local import LocalBroker
from newsflow.bus.processor import StreamProcessor
from newsflow.bus.strategies import Backoff, BatchStep, CommitOffsets, ProcessingStrategy, Produce, RunTask
from newsflow.pipeline.index_writer import WriteToIndex
from newsflow.bus.types import BrokerMessage, Message
from newsflow.index.base import IndexUnavailable, SearchQuery
from newsflow.index.sqlite_fts import SqliteIndex
from newsflow.core.record import Article, Enrichment

CLEANED, ENRICHED, DEAD = "cleaned", "enriched", "dead"


def eventually(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout}s")


class Running:
    """A processor's run() on its own thread, as the embedded daemon runs each stage."""

    def __init__(self, processor: StreamProcessor) -> None:
        self.processor = processor
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.processor.run(self.stop)
        except BaseException as exc:
            self.error = exc

    def close(self, timeout: float = 20.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return after stop"
        if self.error is not None:
            raise self.error


def enrich(raw: BrokerMessage) -> bytes:
    article = Article.from_json(raw.value)  # RecordError on a poison message -> dead letters
    enriched = article.model_copy(update={"enrichment": Enrichment(language="en", keyphrases=["talks"])})
    return enriched.to_json()


def enrich_stage(
    broker, group: str = "enrich", cleaned: str = CLEANED, enriched: str = ENRICHED, dead: str = DEAD, **kw
) -> StreamProcessor:
    producer = broker.producer()
    letters = DeadLetters(producer, dead, "enrich")

    def factory(commit):
        return RunTask(enrich, Produce(producer, enriched, CommitOffsets(commit, 0.05, stage="enrich")), letters)

    kw.setdefault("poll_timeout", 0.05)
    return StreamProcessor(broker.consumer(group), [cleaned], factory, stage="enrich", **kw)


def index_stage(broker, index, group: str = "index", **kw) -> StreamProcessor:
    letters = DeadLetters(broker.producer(), DEAD, "index")

    def factory(commit):
        return RunTask(
            lambda raw: Article.from_json(raw.value),
            BatchStep(5, 0.05, WriteToIndex(index, CommitOffsets(commit, 0.05, stage="index"), letters, backoff=Backoff(0.01, 0.05))),
            letters,
        )

    kw.setdefault("poll_timeout", 0.05)
    return StreamProcessor(broker.consumer(group), [ENRICHED], factory, stage="index", **kw)


def article(i: int) -> Article:
    return Article.new(
        f"https://news.example/{i}",
        title=f"US-Russia talks, day {i}",
        text=f"Negotiators met again on day {i}. The talks were complicated but business-like.",
        source="news.example",
        feeds=["https://news.example/feed"],
    )


@pytest.fixture
def broker():
    b = LocalBroker(None, max_backlog=1000)
    b.create_topics({CLEANED: 4, ENRICHED: 4, DEAD: 1})
    yield b
    b.close()


def dead_letters(broker) -> list[dict]:
    c = broker.consumer("inspect-dead")
    c.subscribe([DEAD])
    out = []
    while (m := c.poll(0.2)) is not None:
        out.append(orjson.loads(m.value))
    c.close()
    return out


def test_enrich_and_index_stages_end_to_end_with_poison_messages(broker):
    index = SqliteIndex(":memory:")
    index.setup()
    producer = broker.producer()
    for i in range(20):
        a = article(i)
        producer.produce(CLEANED, a.id.encode(), a.to_json())
    producer.produce(CLEANED, b"poison-1", b"not json at all")
    producer.produce(CLEANED, b"poison-2", orjson.dumps({"schema_version": 1, "id": "x"}))  # no url

    stages = [Running(enrich_stage(broker)), Running(index_stage(broker, index))]
    try:
        assert broker.wait_caught_up({"enrich": [CLEANED], "index": [ENRICHED]}, timeout=30)
    finally:
        for stage in stages:
            stage.close()

    assert index.count() == 20
    stored = index.get(article(7).id)
    assert stored is not None and stored.enrichment is not None and stored.enrichment.language == "en"
    assert index.search(SearchQuery(text="US-Russia talks")).total == 20
    letters = dead_letters(broker)
    assert sorted(d["key"] for d in letters) == ["poison-1", "poison-2"]
    assert {d["stage"] for d in letters} == {"enrich"} and {d["error_type"] for d in letters} == {"RecordError"}
    # Keys carried from stage to stage: an article stays on one partition end to end.
    assert sum(broker.end_offsets(ENRICHED).values()) == 20
    assert stages[0].processor.processed == 22


class SwitchableIndex(SqliteIndex):
    """The SQLite index, with a switch to play an index that is down."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.down = True
        self.attempts = 0

    def write(self, articles):
        self.attempts += 1
        if self.down:
            raise IndexUnavailable("connection refused")
        return super().write(articles)


def test_index_down_commits_nothing_then_a_restart_indexes_everything(tmp_path):
    path = tmp_path / "bus.sqlite3"
    broker = LocalBroker(path)
    broker.create_topics({ENRICHED: 2, DEAD: 1})
    producer = broker.producer()
    for i in range(8):
        a = article(i)
        producer.produce(ENRICHED, a.id.encode(), a.to_json())
    index = SwitchableIndex()
    index.setup()

    stage = Running(index_stage(broker, index, shutdown_timeout=0.5, join_timeout=0.5))
    eventually(lambda: index.attempts >= 3, what="write attempts against the down index")
    stage.close()  # must return although the index never came back
    assert broker.committed("index", ENRICHED) == {}
    assert index.count() == 0
    broker.close()

    # A new process: the same bus file, the index is back.
    broker = LocalBroker(path)
    index.down = False
    stage = Running(index_stage(broker, index))
    try:
        assert broker.wait_caught_up({"index": [ENRICHED]}, timeout=30)
    finally:
        stage.close()
    assert index.count() == 8
    broker.close()


class PassOn(ProcessingStrategy[Any]):
    """A test step's plumbing: everything but ``submit`` goes to the next step."""

    next: ProcessingStrategy[Any]

    def poll(self):
        self.next.poll()

    def join(self, timeout=None):
        self.next.close()
        self.next.join(timeout)

    def close(self):
        pass

    def terminate(self):
        self.next.terminate()


class Gate(PassOn):
    """Accepts messages only while open; otherwise MessageRejected (a slow downstream)."""

    def __init__(self, next: ProcessingStrategy[Any], opened: threading.Event, accepted: list) -> None:
        self.next, self.opened, self.accepted = next, opened, accepted

    def submit(self, message: Message[Any]) -> None:
        if not self.opened.is_set():
            raise MessageRejected("closed")
        self.accepted.append(message.origin)
        self.next.submit(message)



def test_backpressure_pauses_the_consumer_and_commits_stay_behind_accepted_work(broker):
    producer = broker.producer()
    for i in range(10):
        producer.produce(CLEANED, f"k{i}".encode(), b"%d" % i)
    opened = threading.Event()
    accepted: list[BrokerMessage] = []
    commits: list[dict] = []
    ahead: list[tuple] = []

    def factory(commit):
        def recording_commit(offsets):
            # Every committed offset must cover only messages the gate let through.
            for partition, offset in offsets.items():
                done = [m.offset for m in accepted if m.partition == partition]
                if not done or offset > max(done) + 1:
                    ahead.append((partition, offset, done))
            commits.append(dict(offsets))
            commit(offsets)

        return Gate(CommitOffsets(recording_commit, 0.0), opened, accepted)

    processor = StreamProcessor(broker.consumer("g"), [CLEANED], factory, stage="gate", poll_timeout=0.05)
    stage = Running(processor)
    try:
        eventually(lambda: processor.stats()["backpressure"], what="paused consumer")
        assert broker.committed("g", CLEANED) == {} and processor.processed == 0
        opened.set()
        assert broker.wait_caught_up({"g": [CLEANED]}, timeout=30)
    finally:
        stage.close()
    assert sorted(m.value for m in accepted) == sorted(b"%d" % i for i in range(10))
    assert commits and not ahead
    assert not processor.stats()["backpressure"]


def test_two_processors_of_one_group_share_partitions(broker):
    seen: dict[str, list[bytes]] = {"a": [], "b": []}

    def factory_for(name):
        def factory(commit):
            return RunTask(lambda raw: seen[name].append(raw.value), CommitOffsets(commit, 0.05), None)

        return factory

    a = StreamProcessor(broker.consumer("shared"), [CLEANED], factory_for("a"), stage="a", poll_timeout=0.05)
    b = StreamProcessor(broker.consumer("shared"), [CLEANED], factory_for("b"), stage="b", poll_timeout=0.05)
    stages = [Running(a), Running(b)]
    try:
        eventually(lambda: len(a.assigned) == 2 and len(b.assigned) == 2, what="a 2/2 split")
        assert not a.assigned & b.assigned
        producer = broker.producer()
        for i in range(40):
            producer.produce(CLEANED, f"key-{i}".encode(), b"%d" % i)
        assert broker.wait_caught_up({"shared": [CLEANED]}, timeout=30)
    finally:
        for stage in stages:
            stage.close()
    assert seen["a"] and seen["b"]
    assert sorted(seen["a"] + seen["b"]) == sorted(b"%d" % i for i in range(40))


def test_a_rebalance_commits_in_flight_work_before_the_new_owner_starts(broker):
    """A commits rarely; when B joins, A must finish and commit on revoke, so B re-reads nothing."""
    producer = broker.producer()
    for i in range(20):
        producer.produce(CLEANED, f"key-{i}".encode(), b"%d" % i)
    seen: list[bytes] = []

    def factory(commit):
        return RunTask(lambda raw: seen.append(raw.value), CommitOffsets(commit, 3600), None)

    a = StreamProcessor(broker.consumer("g"), [CLEANED], factory, stage="a", poll_timeout=0.05)
    stages = [Running(a)]
    try:
        eventually(lambda: a.processed == 20, what="A processed everything")
        assert broker.committed("g", CLEANED) == {}  # throttled: nothing committed yet
        b = StreamProcessor(broker.consumer("g"), [CLEANED], factory, stage="b", poll_timeout=0.05)
        stages.append(Running(b))
        eventually(lambda: a.assigned and b.assigned, what="the rebalance")
        assert broker.caught_up("g", [CLEANED])  # committed by A's revoke
        time.sleep(0.3)  # give B time to (wrongly) re-read anything
    finally:
        for stage in stages:
            stage.close()
    assert sorted(seen) == sorted(b"%d" % i for i in range(20))


class FlakyConsumer:
    """A consumer whose first polls fail as if the broker were down."""

    def __init__(self, inner, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def poll(self, timeout):
        if self.failures > 0:
            self.failures -= 1
            raise BusUnavailable("broker restarting")
        return self.inner.poll(timeout)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_bus_unavailable_backs_off_and_the_processor_carries_on(broker):
    producer = broker.producer()
    for i in range(5):
        producer.produce(CLEANED, None, b"%d" % i)
    got: list[bytes] = []

    def factory(commit):
        return RunTask(lambda raw: got.append(raw.value), CommitOffsets(commit, 0.0), None)

    processor = StreamProcessor(
        FlakyConsumer(broker.consumer("g"), 3), [CLEANED], factory, poll_timeout=0.05, backoff=Backoff(0.01, 0.01)
    )
    stage = Running(processor)
    try:
        assert broker.wait_caught_up({"g": [CLEANED]}, timeout=30)
    finally:
        stage.close()
    assert sorted(got) == [b"%d" % i for i in range(5)]
    assert processor.errors == 3


class CrashOnce(PassOn):
    """A strategy with a bug that bites once, on one message."""

    crashed = False

    def __init__(self, next, seen) -> None:
        self.next, self.seen = next, seen

    def submit(self, message):
        if message.origin.value == b"3" and not CrashOnce.crashed:
            CrashOnce.crashed = True
            raise RuntimeError("bug")
        self.seen.append(message.origin.value)
        self.next.submit(message)



def test_a_strategy_crash_restarts_from_the_committed_offsets(broker):
    broker.create_topics({"single": 1})
    producer = broker.producer()
    for i in range(6):
        producer.produce("single", None, b"%d" % i)
    seen: list[bytes] = []
    CrashOnce.crashed = False
    processor = StreamProcessor(
        broker.consumer("g"),
        ["single"],
        lambda commit: CrashOnce(CommitOffsets(commit, 0.0), seen),
        poll_timeout=0.05,
        reconnect=lambda: broker.consumer("g"),
    )
    stage = Running(processor)
    try:
        assert broker.wait_caught_up({"g": ["single"]}, timeout=30)
    finally:
        stage.close()
    assert CrashOnce.crashed and processor.errors == 1
    # Nothing skipped: message 3 came back after the restart.
    assert sorted(set(seen)) == [b"%d" % i for i in range(6)]


def test_without_reconnect_a_crash_is_raised(broker):
    broker.create_topics({"single": 1})
    broker.producer().produce("single", None, b"3")
    CrashOnce.crashed = False
    processor = StreamProcessor(
        broker.consumer("g"), ["single"], lambda commit: CrashOnce(CommitOffsets(commit, 0.0), []), poll_timeout=0.05
    )
    with pytest.raises(RuntimeError, match="bug"):
        processor.run(threading.Event())
    assert broker.committed("g", "single") == {}


@pytest.mark.services
def test_enrich_stage_over_real_kafka(kafka_broker, kafka_topic):
    """The same composition over the Kafka backend: the steps rely only on the protocols."""
    cleaned, enriched, dead = kafka_topic(2), kafka_topic(2), kafka_topic(1)
    producer = kafka_broker.producer()
    for i in range(6):
        a = article(i)
        producer.produce(cleaned, a.id.encode(), a.to_json())
    producer.produce(cleaned, b"poison", b"{not json")
    producer.flush(30)
    group = f"test-{cleaned}"
    processor = enrich_stage(kafka_broker, group, cleaned, enriched, dead, poll_timeout=0.5)
    stage = Running(processor)
    try:
        eventually(lambda: processor.processed >= 7, timeout=90, what="all messages processed")
    finally:
        stage.close(60)  # joins the strategy: produce acks and the final commit happen before close

    check = kafka_broker.consumer(group)
    assigned = threading.Event()
    check.subscribe([cleaned], on_assign=lambda ps: assigned.set())
    deadline = time.monotonic() + 60
    while not assigned.is_set() and time.monotonic() < deadline:
        check.poll(0.5)
    assert assigned.is_set()
    assert sum(check.lag().values()) == 0  # everything the stage processed was committed
    check.close()

    reader = kafka_broker.consumer(f"reader-{enriched}")
    reader.subscribe([enriched, dead])
    got: list[BrokerMessage] = []
    deadline = time.monotonic() + 60
    while len(got) < 7 and time.monotonic() < deadline:
        m = reader.poll(0.5)
        if m is not None:
            got.append(m)
    reader.close()
    out = [Article.from_json(m.value) for m in got if m.partition.topic == enriched]
    assert sorted(a.id for a in out) == sorted(article(i).id for i in range(6))
    assert all(a.enrichment and a.enrichment.language == "en" for a in out)
    (letter,) = [orjson.loads(m.value) for m in got if m.partition.topic == dead]
    assert letter["key"] == "poison" and letter["topic"] == cleaned
