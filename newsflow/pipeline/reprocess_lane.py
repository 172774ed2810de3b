"""The reprocess lane: articles that are not live news travel apart from it.

`newsflow reprocess` (archived pages extracted again) and `newsflow backfill` (a source's past,
fetched now) send their articles on the bus's reprocess topic, never the live one. This process
runs its own enrich consumer (reprocess topic -> reprocess-enriched topic) and its own index
consumer (-> the index) in consumer groups of their own: live articles never queue behind a big
reprocess in a topic partition; they only share the machine and the index with it. Commits,
retries and the dead-letter path are the live stages' (enrich_stage.py, index_stage.py).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

from newsflow.core.errors import NewsflowError
from newsflow.core.record import Article, article_headers
from newsflow.pipeline.backends import group, open_broker, open_index, service_probes, topic_partitions
from newsflow.pipeline.config import PipelineSettings
from newsflow.pipeline.enrich_stage import enrich_processor
from newsflow.pipeline.index_stage import index_processor
from newsflow.pipeline.run_all import start_thread

ENRICH_STAGE = "enrich-reprocess"
INDEX_STAGE = "index-reprocess"


class ReprocessLane:
    """The reprocess topics with their enrich and index consumers running in this process.
    ``send`` puts an article on the lane; ``drain`` waits until both stages committed all of it."""

    def __init__(self, settings: PipelineSettings, stop: threading.Event, *, source: str) -> None:
        from newsflow.processors.enrich import build_chain

        self.settings = settings
        self._stop = stop
        down = [f"{name}: {why}" for name, probe in service_probes(settings, index=True).items() if (why := probe())]
        if down:  # one line now, not a client's retries and log lines for half a minute
            raise NewsflowError(f"cannot start: {'; '.join(down)} (`newsflow status` shows the services; "
                                "`newsflow services up` starts the local ones)")
        topics = settings.bus.topics
        self.topic = topics.reprocess
        self.chain = build_chain(settings.enrich)
        self.broker = open_broker(settings, stop)
        self.broker.create_topics({**topic_partitions(settings), topics.reprocess: topics.partitions,
                                   topics.reprocess_enriched: topics.partitions})
        self.index = open_index(settings)
        self.producer = self.broker.producer()
        self._headers = article_headers(source)
        self._stage_stop = threading.Event()
        processors = [
            enrich_processor(settings, self.broker, self.producer, self.chain, source=topics.reprocess,
                             target=topics.reprocess_enriched, stage=ENRICH_STAGE),
            index_processor(settings, self.broker, self.producer, self.index, source=topics.reprocess_enriched,
                            stage=INDEX_STAGE),
        ]
        self._threads = [start_thread(p, self._stage_stop) for p in processors]

    def send(self, article: Article) -> "Future[Any]":
        return self.producer.produce(self.topic, article.id.encode(), article.to_json(), self._headers)

    def drain(self, timeout: float) -> None:
        """Until the lane's enrich and index groups have committed everything sent (or a stop)."""
        t = self.settings.bus.topics
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            if (self.broker.caught_up(group(self.settings, ENRICH_STAGE), [t.reprocess])
                    and self.broker.caught_up(group(self.settings, INDEX_STAGE), [t.reprocess_enriched])):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the reprocess stages did not catch up within {timeout:.0f}s")
            self._stop.wait(0.2)

    def close(self) -> None:
        self._stage_stop.set()
        for thread in self._threads:
            thread.join(self.settings.daemon.shutdown_timeout)
        self.producer.close()
        refresh = getattr(self.index, "refresh", None)
        if refresh:
            refresh()
        self.index.close()
        close = getattr(self.broker, "close", None)
        if close:
            close()
