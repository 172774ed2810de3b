"""The index stage: consume(enriched) -> RunTask(decode) -> BatchStep -> WriteToIndex -> CommitOffsets.

The index it writes to assigns stories on the way (``stories.with_stories``).

Offsets are committed only by CommitOffsets, at the end of the chain: a message counts as done
once the index acknowledged it, or it was dead-lettered.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Mapping

from newsflow.bus.backend import Broker, Producer
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.processor import StreamProcessor
from newsflow.bus.strategies import BatchStep, CommitOffsets, ProcessingStrategy, RunTask
from newsflow.bus.types import BrokerMessage, Partition
from newsflow.index.base import Index
from newsflow.pipeline.backends import stage_processor
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.enrich_stage import decode
from newsflow.pipeline.index_writer import WriteToIndex
from newsflow.pipeline.stories import with_stories
from newsflow.processors.story import THRESHOLDS

Commit = Callable[[Mapping[Partition, int]], None]


def index_processor(settings: PipelineSettings, broker: Broker, producer: Producer, index: Index, *,
                    source: str | None = None, stage: str = "index") -> StreamProcessor:
    """``source``/``stage``: another topic and consumer group (`newsflow reprocess`)."""
    topics = settings.bus.topics
    # enrich.near_duplicate_threshold is the near-copy threshold; the story threshold is fixed
    # (the stored band keys are laid out for it).
    near = max(settings.enrich.near_duplicate_threshold, THRESHOLDS.story)
    index = with_stories(index, replace(THRESHOLDS, near_copy=near))

    def factory(commit: Commit) -> ProcessingStrategy[BrokerMessage]:
        dead = DeadLetters(producer, topics.dead_letters, stage="index")
        write = WriteToIndex(index, CommitOffsets(commit, stage="index"), dead)
        return RunTask(decode, BatchStep(settings.bus.batch_size, settings.bus.batch_seconds, write), dead)

    return stage_processor(settings, broker, stage, source or topics.enriched, factory)
