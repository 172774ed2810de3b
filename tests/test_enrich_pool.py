"""enrich.workers > 1: the chain runs in worker processes; results and errors come back as in one process."""

from __future__ import annotations

import pytest

from newsflow.bus.types import FILTERED, BrokerMessage, Message, Partition
from newsflow.core.record import Article
from newsflow.pipeline.enrich_pool import CountEnriched, enrich_message, start_pool
from newsflow.processors.config import EnrichConfig

TEXT = "The foreign minister met his counterpart in Geneva on Monday to discuss the trade agreement. " * 5


def _raw(value: bytes, offset: int = 0) -> BrokerMessage:
    return BrokerMessage(Partition("t", 0), offset, b"k", value)


@pytest.fixture(scope="module")
def pool():
    p = start_pool(EnrichConfig(enrichers=["language", "stats"], workers=2))
    yield p
    p.shutdown(wait=True)


def test_workers_enrich_like_the_chain(pool):
    from newsflow.processors.enrich import build_chain

    article = Article.new("https://news.example/a/1", title="Talks", text=TEXT)
    got = Article.from_json(pool.submit(enrich_message, _raw(article.to_json())).result(timeout=60))
    want = build_chain(EnrichConfig(enrichers=["language", "stats"]))(article)
    assert got.enrichment is not None and want.enrichment is not None
    assert got.enrichment.language == want.enrichment.language
    assert got.enrichment.model_dump(exclude={"versions"}) == want.enrichment.model_dump(exclude={"versions"})


def test_a_bad_record_fails_in_the_worker_as_itself(pool):
    with pytest.raises(Exception) as info:
        pool.submit(enrich_message, _raw(b"not json")).result(timeout=60)
    assert "BrokenProcessPool" not in type(info.value).__name__  # a poison message, dead-lettered, not fatal


def test_a_missing_model_fails_at_start_up():
    from newsflow.processors.enrich import EnricherUnavailable

    with pytest.raises(EnricherUnavailable):
        start_pool(EnrichConfig(enrichers=["language", "entities"], spacy_model="no_such_spacy_model_xyz", workers=2))


def test_count_enriched_counts_accepted_outputs_only():
    from newsflow.bus.backend import MessageRejected
    from newsflow.bus.metrics import ARTICLES_ENRICHED

    class Next:
        reject = False
        got: list = []

        def submit(self, m):
            if self.reject:
                raise MessageRejected("full")
            self.got.append(m)

        def poll(self): ...
        def join(self, timeout=None): ...
        def close(self): ...
        def terminate(self): ...

    nxt = Next()
    step = CountEnriched(nxt)  # type: ignore[arg-type]
    before = ARTICLES_ENRICHED._value.get()
    step.submit(Message(b"x", {}))
    step.submit(Message(FILTERED, {}))  # a dead letter's offsets: not an enriched article
    nxt.reject = True
    with pytest.raises(MessageRejected):
        step.submit(Message(b"y", {}))
    assert ARTICLES_ENRICHED._value.get() - before == 1
    assert len(nxt.got) == 2


def _pid() -> int:
    import os

    return os.getpid()


def test_a_dead_worker_gets_the_stage_a_fresh_pool():
    """A killed worker breaks a process pool for good; the restarted stage must get a new one."""
    import multiprocessing
    import os
    import signal
    import time
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from newsflow.pipeline.enrich_pool import SelfHealingPool

    pool = SelfHealingPool(lambda: ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
    try:
        first = pool.submit(_pid).result(timeout=60)
        broken = pool._inner
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not broken._broken and time.monotonic() < deadline:  # the executor notices the death
            time.sleep(0.05)
        with pytest.raises(BrokenProcessPool):  # what RunTaskInPool saw, and raised to the processor
            broken.submit(_pid)
        second = pool.submit(_pid).result(timeout=60)  # the restarted stage's submit: a new worker
        assert second != first
    finally:
        pool.shutdown()
