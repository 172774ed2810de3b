"""Which dead letters ``newsflow dlq replay`` refuses: those whose cause persists.

Sending such a letter back only makes its stage fail again and dead-letter it once more, on every
replay. So, before sending a letter back, its stage's failure is tried again:

* a letter from ``cleaned`` or ``enriched`` whose payload this version of newsflow still cannot
  read as an article (not JSON, a newer ``schema_version``, ...) is refused: the stage would
  refuse it the same way;
* a letter from ``enriched`` (the index stage's) is written to the index, as the stage would: if
  the index still rejects it (an id Elasticsearch refuses, a document its mapping refuses, one
  too large for the request limit) it is refused with the index's reason; if it is written, the
  cause is gone and the letter is sent back as before (the index upserts by id: no duplicate).
  When the index cannot be reached (or answers "retry") nothing is known: the letter is sent
  back, and the stage waits for the index as it always does.

Anything else (an enricher that failed on a readable article, ...) is sent back unchecked.
"""

from __future__ import annotations

import logging
from typing import Callable

from newsflow.bus.config import TopicsConfig
from newsflow.bus.dead_letters import DeadLetter
from newsflow.core.record import Article, RecordError
from newsflow.index.base import Index, IndexUnavailable, Outcome

log = logging.getLogger(__name__)


class PersistingCause:
    """``replay``'s ``check``: the reason a dead letter would fail again, or None."""

    def __init__(self, topics: TopicsConfig, open_index: Callable[[], Index]) -> None:
        self._article_topics = {topics.cleaned, topics.enriched}
        self._index_topic = topics.enriched
        self._open_index = open_index
        self._index: Index | None = None
        self._index_down = False

    def __call__(self, letter: DeadLetter) -> str | None:
        if letter.topic not in self._article_topics:
            return None
        try:
            article = Article.from_json(letter.payload)
        except RecordError as exc:
            return f"still unreadable: {exc}"
        if letter.topic != self._index_topic or self._index_down:
            return None
        try:
            if self._index is None:
                self._index = self._open_index()
            (result,) = self._index.write([article])
        except IndexUnavailable as exc:
            log.warning("the index is unavailable (%s): index dead letters are sent back unchecked", exc)
            self._index_down = True
            return None
        except Exception as exc:  # the index client fails on this article: the stage would dead-letter it again
            return f"writing it to the index fails: {type(exc).__name__}: {exc}"
        if result.outcome is Outcome.REJECTED:
            return f"the index still rejects it: {result.error}"
        return None

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
