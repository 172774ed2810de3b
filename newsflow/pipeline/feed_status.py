"""Feed health for analysts: the poller's per-feed state, published to the feed-status index.

In embedded mode the state store itself is the status store (`newsflow feeds list`,
`newsflow status` read it). With Elasticsearch, the poll loop publishes it every
``interval`` seconds and once more on shutdown, for Kibana's "Feed health" dashboard.
Publishing is best effort: a cluster outage delays it, never the polling.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any

from newsflow.ingest.feedstate import FeedState, FeedStateStore

log = logging.getLogger(__name__)


def _ts(value: float | None) -> str | None:
    return datetime.fromtimestamp(value, timezone.utc).isoformat() if value else None


def status_document(state: FeedState, name: str | None = None) -> dict[str, Any]:
    """The feed-status index document for one feed (fields of index/elastic.py FEED_STATUS_MAPPINGS)."""
    return {
        "url": state.url,
        "name": name or state.title,
        "status": state.status,
        "waiting": state.waiting,
        "last_attempt": _ts(state.last_poll),
        "last_success": _ts(state.last_success),
        "last_error": state.last_error,
        "last_error_kind": state.last_error_kind,
        "consecutive_failures": state.consecutive_errors,
        "next_poll": _ts(state.next_poll),
        "items_per_day": state.items_per_day,
        "moved_to": state.moved_to,
    }


class FeedStatusPublisher:
    """Runs beside the poller in a thread; ``index`` has ``write_feed_status(docs)``."""

    def __init__(self, store: FeedStateStore, index: Any, names: dict[str, str | None], interval: float = 60.0) -> None:
        self.store, self.index, self.names, self.interval = store, index, names, interval
        self._thread: threading.Thread | None = None

    def publish(self) -> int:
        docs = [status_document(s, self.names.get(s.url)) for s in self.store.all() if s.url in self.names]
        if not docs:
            return 0
        try:
            self.index.write_feed_status(docs)
        except Exception as exc:  # the dashboard can wait for the next round; polling must not
            log.warning("feed status not published: %s", exc)
            return 0
        return len(docs)

    def start(self, stop: threading.Event) -> "FeedStatusPublisher":
        def loop() -> None:
            while not stop.wait(self.interval):
                self.publish()

        self._thread = threading.Thread(target=loop, name="feed-status", daemon=True)
        self._thread.start()
        return self
