"""Test doubles and helpers for the strategies (tests/bus/test_strategies.py) and the pipeline's
index writer (tests/test_index_writer.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from newsflow.bus.backend import MessageRejected
from newsflow.bus.local import LocalBroker
from newsflow.bus.strategies import Backoff, ProcessingStrategy
from newsflow.bus.types import BrokerMessage, Message, Partition

P0 = Partition("in", 0)
P1 = Partition("in", 1)


def raw(offset: int, value: bytes = b"x", partition: Partition = P0, key: bytes | None = b"k") -> BrokerMessage:
    return BrokerMessage(partition, offset, key, value)


def msg(offset: int, value: bytes = b"x", partition: Partition = P0) -> Message[Any]:
    return Message.of(raw(offset, value, partition))


def bytes_msg(offset: int, value: bytes = b"x", partition: Partition = P0) -> Message[bytes]:
    """What a decode/encode step hands to Produce: bytes, with the consumed message as origin."""
    return msg(offset, value, partition).replace(value)


class Recorder(ProcessingStrategy[Any]):
    """A last step that records what reached it; ``reject`` makes it refuse submissions."""

    def __init__(self) -> None:
        self.got: list[Message[Any]] = []
        self.reject = False
        self.closed = self.joined = self.terminated = False

    def submit(self, message):
        if self.reject:
            raise MessageRejected("full")
        self.got.append(message)

    def poll(self):
        pass

    def join(self, timeout=None):
        self.joined = True

    def close(self):
        self.closed = True

    def terminate(self):
        self.terminated = True


class Commits:
    def __init__(self) -> None:
        self.calls: list[dict[Partition, int]] = []

    def __call__(self, offsets):
        self.calls.append(dict(offsets))

    @property
    def latest(self) -> dict[Partition, int]:
        merged: dict[Partition, int] = {}
        for call in self.calls:
            merged.update(call)
        return merged


def dead_letter_count(stage: str) -> float:
    return REGISTRY.get_sample_value("newsflow_dead_letters_total", {"stage": stage}) or 0.0


def fast_backoff() -> Backoff:
    return Backoff(initial=0.001, maximum=0.01)


@pytest.fixture
def bus():
    broker = LocalBroker(None)
    broker.create_topics({"dead": 1, "out": 2, "in": 2})
    yield broker
    broker.close()


def dead_letters_of(broker: LocalBroker, group: str = "check") -> list[dict]:
    consumer = broker.consumer(group)
    consumer.subscribe(["dead"])
    out = []
    while (m := consumer.poll(0.2)) is not None:
        out.append(orjson.loads(m.value))
    consumer.close()
    return out
