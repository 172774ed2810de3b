"""Extraction in worker processes, each page with a time budget.

Extraction is CPU-bound lxml and regex work that no thread can interrupt: a hostile page can hold
a worker for minutes. Here each page runs in a worker process (pebble's ProcessPool); a page over
its budget fails as ``extract_timeout`` and its worker is killed and replaced, so the other pages
go on. ``submit`` returns a concurrent.futures Future, as the poller's thread path does.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessPool

from newsflow.core.record import Article
from newsflow.ingest.config import ExtractConfig
from newsflow.ingest.feedparse import FeedEntry


class ExtractTimeout(Exception):
    """A page took longer than the budget; its worker was replaced."""

    kind = "extract_timeout"


class WorkerFailed(Exception):
    """The extractor raised in the worker: its kind and message, carried back as plain data."""

    def __init__(self, message: str, kind: str | None) -> None:
        super().__init__(message)
        if kind:
            self.kind = kind


def _extract(html: bytes, url: str, entry: FeedEntry | None, feed_url: str, config: ExtractConfig,
             content_type: str | None) -> Article | tuple[str, str | None, str]:
    from newsflow.ingest.extract.article import extract_article

    try:
        return extract_article(html, url, entry, feed_url, config, content_type=content_type)
    except Exception as exc:  # sent back as data: the extractor's exceptions need not pickle
        return ("error", getattr(exc, "kind", None), f"{type(exc).__name__}: {exc}")


class ExtractWorkers:
    """``workers`` processes extracting pages, ``budget`` seconds each at most."""

    def __init__(self, config: ExtractConfig, *, workers: int = 1, budget: float = 30.0) -> None:
        self.config = config
        self.workers = workers
        self.budget = budget
        # spawn, not fork: the poller has threads (the event loop, the bus client) that fork would
        # copy mid-state into the child.
        self._pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("spawn"))

    def submit(self, html: bytes, url: str, entry: FeedEntry | None, feed_url: str, *,
               content_type: str | None = None) -> "Future[Article]":
        task = self._pool.schedule(_extract, args=(html, url, entry, feed_url, self.config, content_type),
                                   timeout=self.budget)
        result: Future[Article] = Future()
        # Given up by the caller (a feed's deadline, a stop): the page is dropped, or its worker
        # stopped and replaced if it had begun, instead of running on to the budget's end.
        result.add_done_callback(lambda r: task.cancel() if r.cancelled() else None)

        def done(f: "Future[Any]") -> None:
            if not result.set_running_or_notify_cancel():
                return  # cancelled: nobody waits for this page
            try:
                value = f.result()
            except FutureTimeout:
                result.set_exception(ExtractTimeout(f"extraction took over {self.budget:g}s; its worker was replaced"))
            except Exception as exc:  # the worker died (killed, out of memory): this page's failure
                result.set_exception(WorkerFailed(f"extraction worker failed: {type(exc).__name__}: {exc}", None))
            else:
                if isinstance(value, tuple):
                    result.set_exception(WorkerFailed(value[2], value[1]))
                else:
                    result.set_result(value)

        task.add_done_callback(done)
        return result

    def close(self) -> None:
        self._pool.close()
        self._pool.join(timeout=self.budget + 5)
        self._pool.stop()
