"""WriteToIndex (newsflow/pipeline/index_writer.py): retries, dead letters, isolation of a poison article."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from newsflow.bus.backend import MessageRejected
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.strategies import TRANSIENT_ERRORS, Backoff, Batch, CommitOffsets
from newsflow.bus.types import Message
from newsflow.core.record import Article
from newsflow.index.base import IndexUnavailable, Outcome, WriteResult
from newsflow.pipeline.index_writer import WriteToIndex
from tests.bus.helpers import P0, Commits, bus, dead_letters_of, fast_backoff, raw  # noqa: F401 - bus is a fixture


# -- WriteToIndex ---------------------------------------------------------------------------


class ScriptedIndex:
    """Answers each write from a script: an exception to raise, or a list of outcomes."""

    def __init__(self, *script) -> None:
        self.script = list(script)
        self.writes: list[list[str]] = []
        self.stored: dict[str, Article] = {}

    def write(self, articles):
        self.writes.append([a.id for a in articles])
        step = self.script.pop(0) if self.script else None
        if isinstance(step, BaseException):
            raise step
        outcomes = step or [Outcome.OK] * len(articles)
        results = []
        for article, outcome in zip(articles, outcomes):
            if outcome is Outcome.OK:
                self.stored[article.id] = article
            results.append(WriteResult(article.id, outcome, None if outcome is Outcome.OK else "nope"))
        return results


def articles(n: int) -> list[Article]:
    return [Article.new(f"https://example.org/{i}", title=f"t{i}", text="text") for i in range(n)]


def batch_message(items: list[Article], first_offset: int = 0) -> Message[Any]:
    origins = [raw(first_offset + i, a.to_json()) for i, a in enumerate(items)]
    return Message(Batch(items, origins), {P0: first_offset + len(items)})


def test_write_to_index_retries_retry_items_and_dead_letters_rejected_ones(bus):
    index = ScriptedIndex([Outcome.OK, Outcome.RETRY, Outcome.REJECTED], [Outcome.OK])
    commits = Commits()
    docs = articles(3)
    step = WriteToIndex(
        index, CommitOffsets(commits, min_interval=0), DeadLetters(bus.producer(), "dead", "index"), backoff=fast_backoff()
    )
    step.submit(batch_message(docs))
    assert commits.calls == []  # item 1 is still to be written
    with pytest.raises(MessageRejected):
        step.submit(batch_message(articles(1), 3))
    time.sleep(0.02)
    step.poll()
    assert index.writes == [[d.id for d in docs], [docs[1].id]]
    assert commits.latest == {P0: 3}
    (letter,) = dead_letters_of(bus)
    assert letter["error_type"] == "IndexRejected" and letter["offset"] == 2
    assert Article.from_json(letter["payload"]).id == docs[2].id


def test_write_to_index_never_commits_while_the_index_is_down_and_join_gives_up():
    index = ScriptedIndex(*[IndexUnavailable("connection refused")] * 1000)
    commits = Commits()
    step = WriteToIndex(index, CommitOffsets(commits, min_interval=0), None, backoff=fast_backoff())
    step.submit(batch_message(articles(2)))
    for _ in range(5):
        step.poll()
    step.close()
    step.join(0.2)
    assert len(index.writes) > 1  # it kept retrying
    assert commits.calls == []  # and never committed: the batch comes back next run


def test_write_to_index_terminate_wakes_a_waiting_join():
    index = ScriptedIndex(*[IndexUnavailable("down")] * 10)
    commits = Commits()
    step = WriteToIndex(index, CommitOffsets(commits, 0), None, backoff=Backoff(initial=3600, maximum=3600))
    step.submit(batch_message(articles(1)))
    step.close()
    threading.Timer(0.1, step.terminate).start()
    step.join(None)  # would wait an hour for the retry without terminate()
    assert commits.calls == []


def test_write_to_index_isolates_an_article_that_keeps_breaking_the_client(bus):
    docs = articles(3)

    class Breaks(ScriptedIndex):
        def write(self, batch):
            if any(a.id == docs[1].id for a in batch):
                self.writes.append([a.id for a in batch])
                raise TypeError("client choked")
            return super().write(batch)

    index = Breaks()
    commits = Commits()
    step = WriteToIndex(
        index,
        CommitOffsets(commits, 0),
        DeadLetters(bus.producer(), "dead", "index"),
        backoff=Backoff(initial=0.0, maximum=0.0),
        isolate_after=2,
    )
    step.submit(batch_message(docs))
    for _ in range(5):
        step.poll()
    assert set(index.stored) == {docs[0].id, docs[2].id}
    assert commits.latest == {P0: 3}
    assert [d["offset"] for d in dead_letters_of(bus)] == [1]


def test_an_index_that_is_down_is_transient_for_every_strategy():
    """RunTask and RunTaskInPool retry these instead of dead-lettering (tests/bus/test_strategies.py)."""
    assert isinstance(IndexUnavailable("down"), TRANSIENT_ERRORS)
