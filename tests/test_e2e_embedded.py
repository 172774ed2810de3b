"""End to end on the embedded default: the seed site over real HTTP on 127.0.0.1 ->
poller -> local bus -> enrich -> local bus -> SQLite FTS5 index. No services needed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from newsflow.index.base import SearchQuery
from newsflow.pipeline.run_all import run_all
from newsflow.ingest.config import FeedConfig
from newsflow.settings import Settings, load
from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve
from newsflow.pipeline.backends import open_index

EXPECTED = SEED_SITE / "expected"
SEED_ID_URL = f"{SEED_ORIGIN}/post-us-russia-talks.html"
CHROME = ("Post a Comment", "Previous Post", "Next Post", "Share:", "Related Posts", "Powered by Blogger")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _settings(data_dir: Path, base: str) -> Settings:
    s = load(None, data_dir=data_dir)
    return s.model_copy(
        update={
            "feeds": [FeedConfig(url=u) for u in SEED_FEEDS],
            "poller": s.poller.model_copy(update={"host_map": {SEED_ORIGIN: base}, "per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"]}),
        }
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("embedded")
    with serve(SEED_SITE) as base:
        s = _settings(data_dir, base)
        first = run_all(s, once=True)
        second = run_all(s, once=True)
    return s, first, second


def test_three_articles_each_once_after_two_runs(two_runs) -> None:
    s, first, second = two_runs
    assert first.poll.feeds_polled == 2
    assert first.indexed_total == 3
    assert second.indexed_total == 3
    idx = open_index(s, create=False)
    try:
        hits = idx.search(SearchQuery(limit=50)).hits
    finally:
        idx.close()
    urls = sorted(h.url for h in hits)
    assert urls == sorted(f"{SEED_ORIGIN}/{name}" for name in ("post-2.html", "post-3.html", "post-us-russia-talks.html"))


def test_restart_does_not_refetch_unchanged_feeds(two_runs) -> None:
    _, first, second = two_runs
    assert first.poll.articles_emitted >= 3
    # Second run: every feed answers 304 or has the same body hash; nothing is fetched again.
    assert second.poll.not_modified + second.poll.unchanged == 2
    assert second.poll.entries_new == 0
    assert second.poll.articles_emitted == 0


def test_seed_article_clean_dated_english_with_entities_and_labels(two_runs) -> None:
    s, _, _ = two_runs
    idx = open_index(s, create=False)
    try:
        from newsflow.core.record import article_id

        art = idx.get(article_id(SEED_ID_URL))
    finally:
        idx.close()
    assert art is not None
    assert _norm(art.text) == _norm((EXPECTED / "post-us-russia-talks.txt").read_text(encoding="utf-8"))
    for chrome in CHROME:
        assert chrome not in art.text
    assert art.published_at is not None and art.published_at.date() == date(2022, 1, 10)
    assert art.enrichment is not None
    assert art.enrichment.language == "en"
    ents = art.enrichment.entities
    assert "NATO" in ents.organisations
    assert any("Stoltenberg" in p for p in ents.persons)
    assert any("Ryabkov" in p for p in ents.persons)
    assert any("Blinken" in p for p in ents.persons)
    assert {"NATO", "Russia", "Ukraine", "USA", "World"} <= set(art.categories)
    # Both feeds carried it: the record keeps each of them.
    assert sorted(art.feeds) == sorted(SEED_FEEDS)
    assert set(art.enrichment.versions) >= {"language", "keyphrases", "entities", "places", "fingerprint", "stats"}


def test_every_post_matches_its_expected_text(two_runs) -> None:
    s, _, _ = two_runs
    from newsflow.core.record import article_id

    idx = open_index(s, create=False)
    try:
        for name in ("post-2", "post-3", "post-us-russia-talks"):
            art = idx.get(article_id(f"{SEED_ORIGIN}/{name}.html"))
            assert art is not None, name
            assert _norm(art.text) == _norm((EXPECTED / f"{name}.txt").read_text(encoding="utf-8")), name
    finally:
        idx.close()


def test_demo_then_search_from_the_cli(tmp_path: Path) -> None:
    """The README's first command: `newsflow demo`, then `newsflow search Stoltenberg` finds the seed article."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "NEWSFLOW_CONFIG": ""}
    env.pop("NEWSFLOW_CONFIG")
    cli = [sys.executable, "-m", "newsflow"]
    demo = subprocess.run([*cli, "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Ongoing US-Russia Talks" in demo.stdout
    found = subprocess.run([*cli, "search", "Stoltenberg", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr[-3000:]
    result = json.loads(found.stdout)
    assert result["total"] == 1
    assert result["hits"][0]["url"] == SEED_ID_URL
