"""``indexed``: the web corpus (corpus.py) written to a real index, once per backend: a SqliteIndex
file, or the real Elasticsearch node under a unique alias (marked ``services``), with the story
documents the index stage would keep for its stories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from newsflow.index.base import Index, Outcome, StoryStore
from newsflow.pipeline.stories import with_stories

from .corpus import articles


@dataclass
class Indexed:
    backend: str
    index: Index
    data_dir: Path
    config_toml: str  # the [index] part of a config file that names this index
    stories: StoryStore  # the story documents, computed from the corpus' members


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.services)])
def indexed(request, tmp_path) -> Iterator[Indexed]:
    if request.param == "sqlite":
        from newsflow.index.sqlite_fts import SqliteIndex

        index = SqliteIndex(tmp_path / "index.sqlite3")  # where Settings.index_db puts it for data_dir
        index.setup()
        toml = ""
    else:
        index = request.getfixturevalue("elastic_index")
        cfg = request.getfixturevalue("es_config")
        toml = (
            f'[index]\nbackend = "elasticsearch"\n[index.elasticsearch]\nhosts = {list(cfg.hosts)!r}\n'
            f'alias = "{cfg.alias}"\nfeed_status_index = "{cfg.feed_status_index}"\n'
        ).replace("'", '"')
    assert {r.outcome for r in index.write(articles())} == {Outcome.OK}
    if request.param == "elasticsearch":
        index.refresh()
    store = with_stories(index).store
    store.put(list(store.compute(sorted({a.enrichment.story_id for a in articles()})).values()))
    yield Indexed(request.param, index, tmp_path, toml, store)
    if request.param == "sqlite":
        index.close()
