"""The ``backend`` fixture: each contract test runs once per index backend.

``sqlite``: a SqliteIndex on a file in the test's tmp dir. ``elasticsearch``: an ElasticIndex on
the real node under a unique alias (tests/conftest.py ``elastic_index``), deleted after the test;
marked ``services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import pytest

from newsflow.core.record import Article
from newsflow.index.base import Index, SearchQuery, SearchResults, WriteResult


@dataclass
class Backend:
    name: str
    index: Index
    opener: Callable[[], Index]  # a new instance over the same storage
    settle: Callable[[], None]  # make acknowledged writes visible to search and count
    opened: list[Index] = field(default_factory=list)

    def write(self, articles: Sequence[Article]) -> list[WriteResult]:
        """``index.write``, then what it wrote is visible to search (Elasticsearch: a refresh)."""
        results = self.index.write(articles)
        self.settle()
        return results

    def search(self, **query) -> SearchResults:
        return self.index.search(SearchQuery(**query))

    def titles(self, **query) -> list[str | None]:
        return [h.title for h in self.search(**query).hits]

    def reopen(self) -> Index:
        index = self.opener()
        self.opened.append(index)
        return index


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.services)])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "sqlite":
        from newsflow.index.sqlite_fts import SqliteIndex

        path = tmp_path / "index.sqlite3"
        index = SqliteIndex(path)
        index.setup()
        b = Backend("sqlite", index, lambda: SqliteIndex(path), lambda: None)
    else:
        from newsflow.index.elastic import ElasticIndex

        elastic = request.getfixturevalue("elastic_index")  # set up now, destroyed after the test
        config = request.getfixturevalue("es_config")
        b = Backend("elasticsearch", elastic, lambda: ElasticIndex(config), elastic.refresh)
    yield b
    for index in b.opened:
        index.close()
    if b.name == "sqlite":
        b.index.close()
