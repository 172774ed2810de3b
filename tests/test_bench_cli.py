"""Tiny runs of `newsflow bench poll` and `newsflow bench pipeline`: they run and print their figures.

Performance is never asserted here (timings on a shared machine prove nothing); only that each
command finishes and prints every figure it promises, beside its baseline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NUMBER = r"[0-9]+(?:\.[0-9]+)?"


def _bench(*args: str, timeout: float) -> str:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "newsflow", "bench", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.timeout(180)
def test_bench_poll_prints_both_passes_and_rss():
    text = _bench("poll", "--feeds", "40", "--hosts", "8", "--delay", "0.01", timeout=170)
    for label in ("first pass", "second pass", "quiet poll"):
        assert re.search(rf"^{label}: {NUMBER} feeds/s, {NUMBER} ms CPU per feed$", text, re.M), text
    assert re.search(rf"^peak RSS: {NUMBER} MB", text, re.M), text
    # The second pass is really conditional: 304s and same-bytes polls, not 40 more parses.
    assert re.search(r"not_modified \d+, unchanged \d+", text), text


@pytest.mark.timeout(400)
@pytest.mark.services
def test_bench_pipeline_prints_every_figure(kafka_bus_config, es_hosts):
    text = _bench("pipeline", "--articles", "20", "--naive-sample", "20", "--ceiling-sample", "10", "--stall", "90", timeout=390)
    assert re.search(rf"^extraction-only ceiling: {NUMBER} articles/s; end to end / ceiling = {NUMBER}$", text, re.M), text
    assert re.search(rf"^naive baseline: {NUMBER} articles/s; end to end / naive = {NUMBER}x$", text, re.M), text
    assert re.search(rf"^end to end: {NUMBER} articles/s \(20 searchable", text, re.M), text
    for stage in ("poll", "enrich", "index"):  # rows: stage, articles, articles/s, CPU ms/article, peak RSS
        assert re.search(rf"│ {stage}\s+│ 20\s+│ (?:{NUMBER}|-)\s+│ {NUMBER}\s+│ {NUMBER}", text), text
    # The local Kafka and Elasticsearch share the cores: their CPU is shown, and the bound it sets.
    for service in ("kafka", "elasticsearch"):
        assert re.search(rf"│ \({service}\)\s+│ -\s+│ -\s+│ {NUMBER}\s+│", text), text
    assert re.search(rf"^CPU per article: newsflow {NUMBER} ms \+ services {NUMBER} ms = {NUMBER} ms; "
                     rf"the ceiling's extraction {NUMBER} ms: end to end / ceiling <= {NUMBER} on shared cores$", text, re.M), text


@pytest.mark.timeout(300)
def test_bench_enrich_prints_each_enricher_beside_extraction():
    text = _bench("enrich", "--pages", "12", timeout=290)
    assert re.search(rf"│ extraction \(newsflow's extractor, the baseline\)\s+│\s+{NUMBER} │\s+1\.00 │", text), text
    for name in ("language", "stats", "keyphrases", "entities", "places", "fingerprint"):
        assert re.search(rf"│   {name}\s+│\s+{NUMBER} │\s+{NUMBER} │", text), text
    assert re.search(rf"^extraction: {NUMBER} ms/article; enrichment: {NUMBER} ms/article; "
                     rf"enrichment / extraction = {NUMBER}$", text, re.M), text
    # The reference YAKE (a dev dependency) runs on the same texts, beside newsflow's yake-rust.
    m = re.search(rf"^reference YAKE \(yake\): {NUMBER} ms/article; newsflow's keyphrases \(yake-rust\): {NUMBER} "
                  rf"ms/article = {NUMBER}x less CPU; same phrases (\d+)%, same set on (\d+) of (\d+) articles$", text, re.M)
    assert m, text
    assert int(m.group(3)) > 0 and int(m.group(2)) <= int(m.group(3))


@pytest.mark.timeout(180)
def test_bench_stories_prints_grouping_quality_beside_its_cost():
    text = _bench("stories", "--stories", "12", "--batch", "20", "--enrich-sample", "0", timeout=170)
    assert re.search(r"^12 texts \(stories\), 84 articles", text, re.M), text
    m = re.search(rf"│ sqlite\s+│\s+({NUMBER}) │\s+({NUMBER}) │\s+(\d+) / (\d+) / (\d+) │\s+(\d+) │", text)
    assert m, text
    right, wrong, missed = (int(m.group(i)) for i in (3, 4, 5))
    # Every pair of one text's seven articles is counted once, right or missed.
    assert right + missed == 12 * 21 and float(m.group(1)) == (right / (right + wrong) if right + wrong else 1.0)
    assert re.search(rf"│ sqlite\s+│\s+{NUMBER} │\s+{NUMBER} │\s+{NUMBER} │\s+{NUMBER} │", text), text  # recall by kind
    assert re.search(r"^sqlite: same-topic pairs of different texts \(>= 3 shared names\): \d+, merged: \d+$", text, re.M), text
    assert re.search(rf"^highest similarity between two different texts: {NUMBER}", text, re.M), text
    for row in ("fingerprint \\(MinHash, the fingerprint enricher\\)", "sqlite: index write, plain \\(baseline\\)",
                "sqlite: index write with story grouping", "sqlite: grouping alone \\(difference\\)"):
        assert re.search(rf"│ {row}\s+│\s+-?{NUMBER} │", text), row + "\n" + text


@pytest.mark.timeout(180)
def test_bench_archive_prints_its_cost_beside_extraction():
    text = _bench("archive", "--pages", "5", timeout=170)
    for label in ("baseline: extraction CPU \\(no archive\\)", "archive write CPU", "archive read CPU"):
        assert re.search(rf"{label}[^│]*│\s*{NUMBER} ms", text), text
    assert re.search(rf"archive bytes \(gzip, both records\)\s*│\s*{NUMBER} KiB", text), text


@pytest.mark.timeout(400)
def test_bench_reprocess_prints_live_delay_alone_and_beside_a_reprocess():
    text = _bench("reprocess", "--archived", "20", "--live", "20", timeout=390)
    for label in ("live alone \\(baseline\\)", "live beside reprocess"):
        assert re.search(rf"{label}\s*│\s*\d+\s*│\s*{NUMBER}\s*│\s*{NUMBER}\s*│\s*{NUMBER}\s*│\s*{NUMBER}", text), text
    # The archived pages and the first live pass's (a page whose extraction failed under load
    # still counts: its bytes were archived), never the second pass's.
    m = re.search(r"articles reprocessed: (\d+)", text)
    assert m and 0 < int(m.group(1)) <= 40, text
