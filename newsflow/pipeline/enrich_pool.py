"""``enrich.workers > 1``: the enrich stage runs the chain in a pool of worker processes.

Enrichment is CPU-bound Python (spaCy, YAKE), so threads would share one core; processes use
them all. Each worker builds its own chain once (models loaded in the worker, not pickled), and
``bus.steps.RunTaskInPool`` keeps results in submission order, so offsets still commit in order.
The chain keeps no state between articles (copies are found in the index by the index stage),
so any worker can enrich any article.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Callable

from newsflow.bus.metrics import ARTICLES_ENRICHED
from newsflow.bus.strategies import ProcessingStrategy
from newsflow.bus.types import FILTERED, BrokerMessage, Message
from newsflow.core.record import Article

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from newsflow.processors.config import EnrichConfig

_chain: Any = None
_init_error: BaseException | None = None


def _init_worker(cfg: "EnrichConfig") -> None:
    global _chain, _init_error
    from newsflow.processors.enrich import build_chain

    try:
        _chain = build_chain(cfg)
    except Exception as exc:  # kept for _warm: an initializer's own exception only breaks the pool
        _init_error = exc


def _warm(_: int) -> None:
    """One task per worker at start-up: models are loaded, and a missing one is reported as itself."""
    if _init_error is not None:
        raise _init_error


def enrich_message(raw: BrokerMessage) -> bytes:
    """In a worker: decode, enrich, encode. A RecordError dead-letters the message; a failed enricher only empties its fields."""
    if _chain is None:  # this worker could not load its models: fatal for the stage, not the message's fault
        raise BrokenProcessPool(f"enrich worker has no chain: {_init_error!r}")
    return _chain(Article.from_json(raw.value)).to_json()


class SelfHealingPool(Executor):
    """A worker that dies (OOM kill, a crash in a model) breaks a ProcessPoolExecutor for good.

    RunTaskInPool then raises, and the stream processor restarts the stage from its committed
    offsets; this wrapper gives the restarted stage a fresh pool instead of the broken one.
    """

    def __init__(self, factory: Callable[[], ProcessPoolExecutor]) -> None:
        self._factory = factory
        self._inner = factory()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> "Future[Any]":
        try:
            return self._inner.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            log.warning("an enrich worker died; starting a new worker pool")
            self._inner.shutdown(wait=False, cancel_futures=True)
            self._inner = self._factory()
            return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def start_pool(cfg: "EnrichConfig") -> SelfHealingPool:
    """``cfg.workers`` processes with the chain loaded; a model that fails to load fails here, at start-up."""
    return SelfHealingPool(lambda: _start(cfg))


def _start(cfg: "EnrichConfig") -> ProcessPoolExecutor:
    # spawn: the daemon already runs bus client threads, which a forked child would inherit half-locked.
    pool = ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(cfg,))
    try:
        list(pool.map(_warm, range(cfg.workers)))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool


class CountEnriched(ProcessingStrategy[bytes]):
    """Counts enriched articles in the daemon (the workers' own metrics are not exported)."""

    def __init__(self, next: ProcessingStrategy[bytes]) -> None:
        self._next = next

    def submit(self, message: Message[bytes]) -> None:
        self._next.submit(message)  # MessageRejected propagates: counted when accepted
        if message.payload is not FILTERED:
            ARTICLES_ENRICHED.inc()

    def poll(self) -> None:
        self._next.poll()

    def join(self, timeout: float | None = None) -> None:
        self._next.join(timeout)

    def close(self) -> None:
        self._next.close()

    def terminate(self) -> None:
        self._next.terminate()
