"""The three stages, each a composition of small steps over whichever bus the config picked.

    poll:   feeds --(Poller: fetch, extract)--> produce(cleaned)          seen-marks after the ack
    enrich: consume(cleaned) -> RunTask(decode+enrich) -> Produce(enriched) -> CommitOffsets
    index:  consume(enriched) -> RunTask(decode) -> BatchStep -> WriteToIndex -> CommitOffsets

Offsets are committed only by CommitOffsets, at the end of each chain: a message counts as done
once its output is acknowledged by the bus or the index, or it was dead-lettered.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Executor, Future
from typing import Any, Callable, Mapping

from newsflow.bus.backend import Broker, Producer
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import ARTICLES_ENRICHED, DEAD_LETTERS, ENRICH_SECONDS
from newsflow.bus.processor import StreamProcessor
from newsflow.bus.steps import BatchStep, CommitOffsets, Produce, ProcessingStrategy, RunTask, RunTaskInPool, WriteToIndex
from newsflow.bus.types import BrokerMessage, Partition
from newsflow.index.base import Index
from newsflow.ingest.record import Article
from newsflow.settings import Settings
from newsflow.wiring import group

Commit = Callable[[Mapping[Partition, int]], None]

# Articles queued per enrich pool worker (see enrich_processor).
IN_FLIGHT_PER_WORKER = 32


class ArticleSink:
    """What the poller emits into: one cleaned article per message, keyed by its stable id.

    ``healthy`` says whether the bus took the last article (the poll daemon's readiness): False
    from a refused or failed produce until one succeeds again.
    """

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self.healthy = True

    def __call__(self, article: Article) -> "Future[Any]":
        try:
            future = self._producer.produce(self._topic, article.id.encode(), article.to_json())
        except Exception:
            self.healthy = False
            raise
        future.add_done_callback(self._delivered)
        return future

    def _delivered(self, future: "Future[Any]") -> None:
        self.healthy = future.exception() is None


def decode(raw: BrokerMessage) -> Article:
    # A RecordError here marks a poison message: RunTask dead-letters it and the stream goes on.
    return Article.from_json(raw.value)


def enrich_processor(
    settings: Settings, broker: Broker, producer: Producer, chain: Callable[[Article], Article] | None,
    pool: Executor | None = None,
) -> StreamProcessor:
    """One enrich consumer; with ``pool`` (``enrich.workers > 1``, see newsflow/enrich_pool.py)
    the chain runs in its worker processes, results still forwarded in offset order."""
    topics = settings.bus.topics

    def enrich(raw: BrokerMessage) -> bytes:
        started = time.perf_counter()
        enriched = chain(decode(raw)).to_json()
        ENRICH_SECONDS.observe(time.perf_counter() - started)  # successes only: failures are dead letters
        ARTICLES_ENRICHED.inc()
        return enriched

    def factory(commit: Commit) -> ProcessingStrategy[BrokerMessage]:
        dead = DeadLetters(producer, topics.dead_letters, stage="enrich")
        produce = Produce(producer, topics.enriched, CommitOffsets(commit, stage="enrich"))
        if pool is not None:
            from newsflow.enrich_pool import CountEnriched, enrich_message

            # When the pool is full the processor polls Kafka (up to 0.5 s) before offering again:
            # enough queued per worker that none idles through that wait, nor behind one slow page
            # (results leave in order). 8 a worker did at 80 ms an article; at 35 (yake-rust) the
            # workers idled half the time (1.04x for 2 workers); 32 x ~35 ms covers it.
            return RunTaskInPool(enrich_message, CountEnriched(produce), dead, pool,
                                 max_in_flight=IN_FLIGHT_PER_WORKER * settings.enrich.workers)
        assert chain is not None
        return RunTask(enrich, produce, dead)

    DEAD_LETTERS.labels("enrich")  # export the count from the start, 0 included, so alerts can use it
    return StreamProcessor(
        broker.consumer(group(settings, "enrich")),
        [topics.cleaned],
        factory,
        stage="enrich",
        shutdown_timeout=settings.daemon.shutdown_timeout,
    )


def index_processor(settings: Settings, broker: Broker, producer: Producer, index: Index) -> StreamProcessor:
    topics = settings.bus.topics

    def factory(commit: Commit) -> ProcessingStrategy[BrokerMessage]:
        dead = DeadLetters(producer, topics.dead_letters, stage="index")
        write = WriteToIndex(index, CommitOffsets(commit, stage="index"), dead)
        return RunTask(decode, BatchStep(settings.bus.batch_size, settings.bus.batch_seconds, write), dead)

    DEAD_LETTERS.labels("index")
    return StreamProcessor(
        broker.consumer(group(settings, "index")),
        [topics.enriched],
        factory,
        stage="index",
        shutdown_timeout=settings.daemon.shutdown_timeout,
    )


def start_thread(processor: StreamProcessor, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=processor.run, args=(stop,), name=f"stage-{processor.stage}", daemon=True)
    thread.start()
    return thread
