"""The raw archive and `newsflow reprocess` on the real services (issue 18): the seed site polled
into Kafka + Elasticsearch with the archive on; the alias deleted and the server stopped,
`newsflow reprocess` restores every article through the reprocess topics. Unique topics, groups
and alias per test, deleted afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from newsflow.index.elastic import ElasticIndex
from newsflow.pipeline.run_all import run_all
from newsflow.static_site import SEED_SITE, serve
from tests.support.daemons import REPO, new_pipeline  # noqa: F401
from tests.test_integration_kafka_es import SEED_IDS, seed_sections

pytestmark = pytest.mark.services


def test_reprocess_restores_the_index_through_the_reprocess_topics(kafka_bus_config, es_hosts, tmp_path) -> None:
    with new_pipeline(tmp_path, kafka_bus_config, es_hosts) as p:
        with serve(SEED_SITE) as base:
            sections = seed_sections(base)
            first = run_all(p.settings(tmp_path / "data", **sections), once=True)
            config = p.write_config(data_dir=tmp_path / "data", **sections)
        assert first.indexed_total == 3
        before = p.indexed()
        assert sorted(before["ids"]) == sorted(SEED_IDS)
        with p.es() as es:
            es.indices.refresh(index=p.alias)
            refs = {h["_id"]: h["_source"]["archive_ref"] for h in es.search(index=p.alias, size=10)["hits"]["hits"]}
        assert all(refs.values())

        idx = ElasticIndex(p.settings(tmp_path / "data").index.elasticsearch)
        try:
            idx.destroy()  # the index wiped: its alias and indices gone
        finally:
            idx.close()
        done = subprocess.run([sys.executable, "-m", "newsflow", "reprocess", "-c", str(config)], capture_output=True,
                              text=True, cwd=REPO, timeout=600, env={**os.environ, "NO_COLOR": "1"})
        assert done.returncode == 0, done.stderr
        assert "articles reprocessed: 6" in done.stdout
        after = p.indexed()
        assert sorted(after["ids"]) == sorted(before["ids"]) and after["urls_twice"] == []
        assert p.topic_messages(p.reprocess) == 6 and p.topic_messages(p.reprocess_enriched) == 6
        assert p.topic_messages(p.cleaned) == 6  # the live topic saw none of it
