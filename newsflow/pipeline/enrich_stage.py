"""The enrich stage: consume(cleaned) -> RunTask(decode + enrich) -> Produce(enriched) -> CommitOffsets.

Offsets are committed only by CommitOffsets, at the end of the chain: a message counts as done
once the bus acknowledged its enriched copy, or it was dead-lettered.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from typing import Callable, Mapping

from newsflow.bus.backend import Broker, Producer
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import ARTICLES_ENRICHED, ENRICH_SECONDS
from newsflow.bus.processor import StreamProcessor
from newsflow.bus.strategies import CommitOffsets, Produce, ProcessingStrategy, RunTask, RunTaskInPool
from newsflow.bus.types import BrokerMessage, Partition
from newsflow.core.record import Article, article_headers
from newsflow.pipeline.backends import stage_processor
from newsflow.pipeline.config import PipelineSettings

Commit = Callable[[Mapping[Partition, int]], None]

# Articles queued per enrich pool worker (see enrich_processor).
IN_FLIGHT_PER_WORKER = 32


def decode(raw: BrokerMessage) -> Article:
    # A RecordError here marks a poison message: RunTask dead-letters it and the stream goes on.
    return Article.from_json(raw.value)


def enrich_processor(
    settings: PipelineSettings, broker: Broker, producer: Producer, chain: Callable[[Article], Article] | None,
    pool: Executor | None = None, *, source: str | None = None, target: str | None = None, stage: str = "enrich",
) -> StreamProcessor:
    """One enrich consumer; with ``pool`` (``enrich.workers > 1``, see pipeline/enrich_pool.py)
    the chain runs in its worker processes, results still forwarded in offset order.
    ``source``/``target``/``stage``: another topic pair and consumer group (`newsflow reprocess`)."""
    topics = settings.bus.topics

    def enrich(raw: BrokerMessage) -> bytes:
        started = time.perf_counter()
        enriched = chain(decode(raw)).to_json()
        ENRICH_SECONDS.observe(time.perf_counter() - started)  # successes only: failures are dead letters
        ARTICLES_ENRICHED.inc()
        return enriched

    def factory(commit: Commit) -> ProcessingStrategy[BrokerMessage]:
        dead = DeadLetters(producer, topics.dead_letters, stage="enrich")
        produce = Produce(producer, target or topics.enriched, CommitOffsets(commit, stage="enrich"),
                          headers=article_headers("enrich"))
        if pool is not None:
            from newsflow.pipeline.enrich_pool import CountEnriched, enrich_message

            # When the pool is full the processor polls the bus (up to 0.5 s) before offering again:
            # enough queued per worker that none idles through that wait, nor behind one slow page
            # (results leave in order). Sized for today's enrichment cost: docs/performance.md,
            # "Scaling out".
            return RunTaskInPool(enrich_message, CountEnriched(produce), dead, pool,
                                 max_in_flight=IN_FLIGHT_PER_WORKER * settings.enrich.workers)
        assert chain is not None
        return RunTask(enrich, produce, dead)

    return stage_processor(settings, broker, stage, source or topics.cleaned, factory)


