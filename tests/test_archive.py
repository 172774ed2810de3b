"""The raw archive and `newsflow reprocess` on the embedded default (issue 18, items 1-2): the seed
site over real HTTP on 127.0.0.1 -> poller (archive on) -> WARC files; then the index wiped and the
server stopped, `newsflow reprocess` restores every article from the archive alone."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY
from warcio.archiveiterator import ArchiveIterator

from newsflow.core.record import Article
from newsflow.index.base import SearchQuery
from newsflow.ingest.archive_reader import read_ref, scan
from newsflow.ingest.archive_writer import archive_dir, parse_ref
from newsflow.ingest.extract.version import EXTRACTOR_VERSION
from newsflow.ingest.fetch_result import FetchResult
from newsflow.pipeline.backends import open_event_store, open_index
from newsflow.pipeline.reprocess import Selection, reprocess
from newsflow.pipeline.run_all import run_all
from newsflow.settings import Settings, load
from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve
from tests.support.feeds_http import LocalServer, serve_seed_site

REPO = Path(__file__).resolve().parents[1]
SEED_POSTS = ("post-2.html", "post-3.html", "post-us-russia-talks.html")


def _config(data_dir: Path, base: str, *, more_feeds: tuple[str, ...] = (), **archive: object) -> Path:
    """A config file for the CLI: the seed feeds, served on ``base`` (and ``more_feeds`` as they are)."""
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\n' for u in (*SEED_FEEDS, *more_feeds))
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in archive.items())
    path = data_dir.parent / f"{data_dir.name}.toml"
    path.write_text(
        f'data_dir = "{data_dir}"\n{feeds}'
        f'[poller]\nper_host_delay = 0.0\nallow_addresses = ["127.0.0.1"]\nhost_map = {{"{SEED_ORIGIN}" = "{base}"}}\n'
        f"[archive]\n{extra}"
    )
    return path


def _settings(config: Path) -> Settings:
    return load(config)


def _articles(s: Settings) -> dict[str, Article]:
    idx = open_index(s, create=False)
    try:
        return {h.id: idx.get(h.id) for h in idx.search(SearchQuery(limit=100)).hits}
    finally:
        idx.close()


def _wipe_index(s: Settings) -> None:
    for path in s.index_db.parent.glob(s.index_db.name + "*"):
        path.unlink()


def _newsflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsflow", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600, env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory):
    """One `run --once` over the seed site with the archive on (the default); the server is gone after."""
    tmp = tmp_path_factory.mktemp("archive")
    with serve(SEED_SITE) as base:
        config = _config(tmp / "data", base)
        s = _settings(config)
        summary = run_all(s, once=True)
    return config, s, summary, _articles(s)


def test_every_page_is_in_a_warc_file_that_warcio_reads(archived) -> None:
    _config_path, s, summary, articles = archived
    assert summary.indexed_total == 3
    root = archive_dir(s.archive, s.data_dir)
    files = sorted(root.glob("*.warc.gz"))
    assert files
    records = []
    for path in files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI")))
    responses = [uri for kind, uri in records if kind == "response"]
    # Two feeds (each a changed snapshot) and each post once per feed that carried it.
    assert sorted(set(responses)) == sorted([*SEED_FEEDS, *(f"{SEED_ORIGIN}/{p}" for p in SEED_POSTS)])
    assert len([kind for kind, _ in records if kind == "metadata"]) == len(responses)


def test_archive_ref_points_at_the_page_as_served(archived) -> None:
    _config_path, s, _summary, articles = archived
    root = archive_dir(s.archive, s.data_dir)
    assert len(articles) == 3
    for article in articles.values():
        assert article.archive_ref and article.extractor_version == EXTRACTOR_VERSION
        name, offset, length = parse_ref(article.archive_ref)
        assert (root / name).stat().st_size >= offset + length
        page = read_ref(root, article.archive_ref)
        assert page.result.url == article.url
        served = (SEED_SITE / article.url.rsplit("/", 1)[1]).read_bytes()
        assert page.result.body == served
        assert page.entry is not None and page.entry.link is not None and page.feed_url in SEED_FEEDS


def test_reprocess_restores_every_article_without_the_server(archived) -> None:
    config, s, _summary, before = archived
    _wipe_index(s)
    assert not s.index_db.exists()
    done = _newsflow("reprocess", "-c", str(config))
    assert done.returncode == 0, done.stderr
    assert "articles reprocessed: 6" in done.stdout  # each post once per feed that carried it
    after = _articles(s)
    assert sorted(after) == sorted(before)  # the same ids
    for aid, article in after.items():
        assert article.text == before[aid].text
        assert sorted(article.feeds) == sorted(SEED_FEEDS)
        assert article.archive_ref is not None and article.enrichment is not None
        assert article.enrichment.versions == before[aid].enrichment.versions


def test_outdated_reprocesses_only_older_articles(archived) -> None:
    _config_path, s, _summary, _before = archived
    # One article from an older extractor, one enriched by an older enricher, one up to date.
    (old_id, old), (stale_id, stale), _current = sorted(_articles(s).items())
    assert stale.enrichment is not None and "language" in stale.enrichment.versions
    stale_enrichment = stale.enrichment.model_copy(update={"versions": {**stale.enrichment.versions, "language": "0"}})
    idx = open_index(s)
    try:
        idx.write([old.model_copy(update={"extractor_version": "0"}),
                   stale.model_copy(update={"enrichment": stale_enrichment})])
    finally:
        idx.close()
    summary = reprocess(s, Selection(outdated=True))
    pages = [p for p in scan(archive_dir(s.archive, s.data_dir)) if p.meta.get("link_id") in (old_id, stale_id)]
    assert summary.sent == len(pages) == 4  # each carried by both feeds
    assert summary.up_to_date == 2
    after = _articles(s)
    assert after[old_id].extractor_version == EXTRACTOR_VERSION
    assert after[stale_id].enrichment.versions == _current[1].enrichment.versions


def _newsflow_as_extractor(version: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """`newsflow ARGS` run as if its extractor were at ``version``: a sitecustomize.py on PYTHONPATH sets
    it before anything imports it, in this interpreter and in every one it spawns (the extraction
    workers), as a release bumping ingest/extract/version.py would."""
    site = tmp / "newer-extractor"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import newsflow.ingest.extract.version as version\n"
        f"version.EXTRACTOR_VERSION = {version!r}\n"
    )
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "newsflow", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600, env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": path})


def test_a_newer_extractor_stamps_only_the_articles_it_reprocessed(tmp_path) -> None:
    """Two sites in one archive: the seed site at its blogspot origin, and the same pages served at
    127.0.0.1. A newer extractor reprocessing --outdated --site of the first stamps exactly its
    articles; the other site's keep their version and every other field."""
    newer = f"{EXTRACTOR_VERSION}-newer"
    with serve(SEED_SITE) as base, LocalServer() as other:
        serve_seed_site(other)
        config = _config(tmp_path / "data", base, more_feeds=(other.url("/rss.xml"),))
        s = _settings(config)
        assert run_all(s, once=True).indexed_total == 6
    before = _articles(s)
    assert {a.extractor_version for a in before.values()} == {EXTRACTOR_VERSION}
    site = urlsplit(SEED_ORIGIN).hostname
    pages = [p for p in scan(archive_dir(s.archive, s.data_dir)) if p.kind == "page"]
    selected = {p.meta["link_id"] for p in pages if urlsplit(p.result.url).hostname == site}
    assert 0 < len(selected) < len(before) and selected <= set(before)

    done = _newsflow_as_extractor(newer, tmp_path, "reprocess", "--outdated", "--site", site, "-c", str(config))
    assert done.returncode == 0, done.stderr
    on_site = [p for p in pages if urlsplit(p.result.url).hostname == site]
    assert f"pages selected: {len(on_site)}; articles reprocessed: {len(on_site)}; up to date: 0" in done.stdout

    after = _articles(s)
    assert sorted(after) == sorted(before)
    assert {aid for aid, a in after.items() if a.extractor_version == newer} == selected
    kept = ("url", "title", "text", "published_at", "authors", "source", "feeds")
    for aid, article in after.items():
        if aid in selected:
            assert {k: getattr(article, k) for k in kept} == {k: getattr(before[aid], k) for k in kept}
            assert article.enrichment is not None and article.archive_ref is not None
        else:  # outside the selection: untouched, its old version and every other field
            assert article == before[aid]


def test_selection_by_feed_and_site(archived) -> None:
    _config_path, s, _summary, _before = archived
    assert reprocess(s, Selection(feed=SEED_FEEDS[0])).sent == 3
    assert reprocess(s, Selection(site="nowhere.example")).pages == 0
    assert reprocess(s, Selection(site="blogspot.com")).sent == 6


def test_an_interrupted_reprocess_resumes_after_its_checkpoint(archived) -> None:
    import threading

    _config_path, s, _summary, _before = archived
    stop = threading.Event()

    def stop_after_two(pages):
        for n, page in enumerate(pages):
            yield page
            if n == 3:  # two feed snapshots, then two pages
                stop.set()

    first = reprocess(s, Selection(until=None, site="example-news.blogspot.com"), stop=stop, track=stop_after_two)
    assert first.sent == 2
    second = reprocess(s, Selection(until=None, site="example-news.blogspot.com"))
    assert second.resumed_after is not None
    assert second.sent == 6  # counted over both runs: the first two are not sent again
    assert second.pages == 4


def test_unwritable_archive_is_an_error_line_and_articles_are_still_indexed(tmp_path, caplog) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the archive directory should be")
    errors_before = REGISTRY.get_sample_value("newsflow_archive_errors_total", {"kind": "page"}) or 0.0
    with serve(SEED_SITE) as base:
        s = _settings(_config(tmp_path / "data", base, dir=str(blocker / "archive")))
        with caplog.at_level(logging.ERROR, logger="newsflow.ingest.archive_writer"):
            summary = run_all(s, once=True)
    assert summary.indexed_total == 3
    assert all(a.archive_ref is None for a in _articles(s).values())
    lines = [r.getMessage() for r in caplog.records if r.name == "newsflow.ingest.archive_writer"]
    assert len(lines) == 1 and "cannot write" in lines[0] and str(blocker) in lines[0]
    errors = REGISTRY.get_sample_value("newsflow_archive_errors_total", {"kind": "page"}) or 0.0
    assert errors - errors_before == 6
    # The fault history (`newsflow status`) has them as one burst: 6 pages and the 2 feed snapshots.
    store = open_event_store(s, readonly=True)
    try:
        bursts = [e for e in store.recent(100) if e.kind == "archive_failed"]
    finally:
        store.close()
    assert bursts and sum(e.count for e in bursts) == 8 and "pages not archived" in bursts[0].detail


def _page(n: int) -> FetchResult:
    import random

    body = random.Random(n).randbytes(2000) + f"<p>page {n}</p>".encode()  # incompressible: sizes grow predictably
    return FetchResult(f"https://example.org/{n}.html", 200, httpx.Headers({"content-type": "text/html"}), body, 0.0)


def test_files_rotate_by_size_and_time_and_old_ones_are_pruned(tmp_path) -> None:
    from newsflow.ingest.archive_writer import WarcArchive
    from newsflow.ingest.config import ArchiveConfig

    now = [1_800_000_000.0]
    cfg = ArchiveConfig(max_file_bytes=5000, max_file_seconds=60, max_total_bytes=12_000)
    archive = WarcArchive(cfg, tmp_path, clock=lambda: now[0])
    refs = []
    for n in range(12):
        refs.append(archive.write_page(_page(n), feed_url="https://example.org/feed", entry=None, link_id=None,
                                       fetched_at=now[0]))
        now[0] += 1.0
    archive.close()
    names = {parse_ref(r)[0] for r in refs}
    assert len(names) >= 5  # rotated past 5000 bytes: two pages a file
    files = sorted(p.name for p in tmp_path.glob("*.warc.gz"))
    assert sum((tmp_path / f).stat().st_size for f in files) <= 12_000 + 5000 + 2500  # the total, with the open file
    assert files[-1] == parse_ref(refs[-1])[0] and parse_ref(refs[0])[0] not in files  # the oldest went first
    page = read_ref(tmp_path, refs[-1])
    assert page.result.url == "https://example.org/11.html" and page.result.body == _page(11).body

    # Time: a file open longer than max_file_seconds is closed before the next write.
    timed = WarcArchive(ArchiveConfig(max_file_seconds=60), tmp_path / "timed", clock=lambda: now[0])
    first = timed.write_page(_page(1), feed_url="f", entry=None, link_id=None, fetched_at=now[0])
    now[0] += 61
    second = timed.write_page(_page(2), feed_url="f", entry=None, link_id=None, fetched_at=now[0])
    timed.close()
    assert parse_ref(first)[0] != parse_ref(second)[0]


def test_retention_days_deletes_old_closed_files(tmp_path) -> None:
    from newsflow.ingest.archive_writer import WarcArchive
    from newsflow.ingest.config import ArchiveConfig

    old = tmp_path / "newsflow-20200101T000000-1-00001.warc.gz"
    old.write_bytes(b"")
    os.utime(old, (1_000_000.0, 1_000_000.0))
    fresh = tmp_path / "newsflow-20200101T000000-1-00002.warc.gz"
    fresh.write_bytes(b"")
    archive = WarcArchive(ArchiveConfig(retention_days=30), tmp_path)
    assert archive.write_page(_page(1), feed_url="f", entry=None, link_id=None, fetched_at=1.0)
    archive.close()
    assert not old.exists() and fresh.exists()


def test_archive_off_writes_nothing_and_reprocess_says_so(tmp_path) -> None:
    with serve(SEED_SITE) as base:
        config = _config(tmp_path / "data", base, enabled=False)
        s = _settings(config)
        summary = run_all(s, once=True)
    assert summary.indexed_total == 3
    assert not archive_dir(s.archive, s.data_dir).exists()
    assert all(a.archive_ref is None for a in _articles(s).values())
    done = _newsflow("reprocess", "-c", str(config))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: no archive in {archive_dir(s.archive, s.data_dir)}: nothing to "
                                                "reprocess (archive.enabled on, then poll)"]
