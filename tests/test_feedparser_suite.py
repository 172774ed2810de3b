"""feedparser's public ill-formed and well-formed test feeds, and our own bad feeds, through the
poller from a local server: none may crash it, each is counted as ok, bozo or an error.

Article links in those feeds point at example.com and friends; the fetcher is given the test
server as its HTTP proxy, so those requests stay on 127.0.0.1 (https ones fail to tunnel and
count as connect errors). Set NEWSFLOW_FEEDPARSER_SAMPLE=N to take every N-th well-formed file.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsflow.ingest.feedstate import FeedStateStore
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.poll_stats import PollStats
from newsflow.ingest.poller import Poller
from newsflow.ingest.config import FeedConfig, PollerConfig
from tests.support.feeds_http import CollectingSink, LocalServer, Request, html_page, stub_extract

OWN = Path(__file__).parent / "fixtures" / "feeds"
HEADER_CTYPE = re.compile(rb"^\s*Header:\s*Content-type:\s*(.+?)\s*$", re.I | re.M)
EXPECT = re.compile(rb"^\s*Expect:\s*(not bozo|bozo)\b", re.I | re.M)
HUGE = 50 * 1024 * 1024

# Our own fixtures and what the poller must make of each.
EXPECTED = {
    "bad_encoding_declared.xml": "bozo",
    "bogus_encoding_name.xml": "bozo",
    "doctype_bomb.xml": "entity_expansion",  # refused, never expanded (issue 14)
    "empty.xml": "empty",
    "garbage.xml": "not_a_feed",
    "html_page.xml": "not_a_feed",
    "json_feed.xml": "not_a_feed",
    "nul_bytes_in_feed.xml": "bozo",
    "relative_links.xml": "ok",
    "truncated_atom.xml": "bozo",
    "unclosed_tags.xml": "bozo",
    "undefined_entity.xml": "bozo",
    "utf16_no_bom.xml": "ok",
    "whitespace_only.xml": "empty",
    "huge-50MB": "too_large",
}


@dataclass
class Case:
    name: str  # "own/x.xml", "illformed/...", "wellformed/..."
    path: str  # served at
    body: bytes | None  # None: generated (the 50 MB body)
    content_type: str


def _content_type(body: bytes) -> str:
    # feedparser's test files name the HTTP header they expect in a comment.
    m = HEADER_CTYPE.search(body[:2000])
    return m.group(1).decode("latin-1") if m else "application/xml"


def _cases() -> tuple[list[Case], str | None]:
    cases = [Case(f"own/{p.name}", f"/own/{p.name}", p.read_bytes(), "application/xml") for p in sorted(OWN.glob("*.xml"))]
    cases.append(Case("own/huge-50MB", "/own/huge-50MB", None, "application/rss+xml"))
    try:
        from tests.support.feedparser_corpus import corpus_dir

        corpus = corpus_dir()
    except Exception as exc:  # no network for the one-time download: run our own feeds only
        return cases, f"feedparser corpus unavailable ({type(exc).__name__}: {exc})"
    every = max(1, int(os.environ.get("NEWSFLOW_FEEDPARSER_SAMPLE", "1")))
    for part in ("illformed", "wellformed"):
        files = sorted((corpus / part).rglob("*.xml"))
        if part == "wellformed":
            files = files[::every]
        for n, path in enumerate(files):
            body = path.read_bytes()
            rel = path.relative_to(corpus).as_posix()
            cases.append(Case(rel, f"/fp/{n}/{part}", body, _content_type(body)))
    return cases, None


def _serve(server: LocalServer, cases: list[Case]) -> None:
    for case in cases:
        if case.body is None:
            server.route(case.path, _huge)
        else:
            server.static(case.path, case.body, case.content_type)

    def foreign(r: Request) -> None:  # article pages on example.com & co, reached through the "proxy"
        r.send(200, html_page(r.path), {"Content-Type": "text/html"})

    server.fallback = foreign


def _huge(r: Request) -> None:
    r.send(200, b"", {"Content-Type": "application/rss+xml", "Content-Length": str(HUGE)}, length=False)
    chunk = b"<rss><channel><title>" + b"x" * (1024 * 1024 - 21)
    for _ in range(HUGE // len(chunk)):
        r.handler.wfile.write(chunk)


@dataclass
class SuiteRun:
    cases: list[Case]
    stats: PollStats
    outcome: dict[str, str]  # case name -> ok | bozo | error kind
    skipped_corpus: str | None


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    cases, skipped = _cases()
    # A generous timeout: on a loaded 2-core machine a local request can stall for seconds, and a
    # timeout here would be about the machine, not about the feed.
    config = PollerConfig(allow_addresses=["127.0.0.1"], per_host_delay=0.0, per_host_concurrency=2, concurrency=16, timeout=60.0,
                          max_entries_per_poll=20, max_body_bytes=5_000_000)
    db = tmp_path_factory.mktemp("suite") / "state.sqlite3"
    with LocalServer() as server:
        _serve(server, cases)
        urls = {server.url(c.path): c.name for c in cases}

        async def main() -> PollStats:
            async with Fetcher(config, proxy=server.base) as fetcher:
                with FeedStateStore(db) as store:
                    poller = Poller(config, store, fetcher, stub_extract, CollectingSink(),
                                    feeds=[FeedConfig(url=u) for u in urls])
                    try:
                        return await poller.poll_once()
                    finally:
                        poller.close()

        stats = asyncio.run(main())
    outcome = {}
    with FeedStateStore(db) as store:
        for url, name in urls.items():
            state = store.get(url)
            assert state is not None, name
            if state.last_result == "error":
                outcome[name] = state.last_error_kind or "?"
            else:
                outcome[name] = "bozo" if state.bozo_reason else "ok"
    return SuiteRun(cases, stats, outcome, skipped)


def test_every_feed_counted_and_nothing_crashed(suite: SuiteRun) -> None:
    s = suite.stats
    assert s.feeds_polled == len(suite.cases)
    assert s.feeds_changed + s.not_modified + s.unchanged + sum(s.feed_errors.values()) == s.feeds_polled
    assert "internal" not in s.feed_errors, [e for e in s.errors if e.kind == "internal"]
    assert "extract_crash" not in s.article_errors
    assert s.bozo_feeds == sum(1 for v in suite.outcome.values() if v == "bozo")
    summary = Counter(v if v in ("ok", "bozo") else "error" for v in suite.outcome.values())
    print(f"\n{len(suite.cases)} feeds: {dict(summary)}; errors by kind {dict(s.feed_errors)}; "
          f"articles {s.articles_emitted}, article errors {dict(s.article_errors)}")
    if suite.skipped_corpus:
        pytest.skip(suite.skipped_corpus + "; our own feeds passed")


def test_own_bad_feeds_classified(suite: SuiteRun) -> None:
    got = {name.split("/", 1)[1]: v for name, v in suite.outcome.items() if name.startswith("own/")}
    assert got == EXPECTED


def test_feedparser_corpus_outcomes(suite: SuiteRun) -> None:
    """Our verdict agrees with the "Expect:" line feedparser's own test files carry."""
    if suite.skipped_corpus:
        pytest.skip(suite.skipped_corpus)
    corpus = [c for c in suite.cases if not c.name.startswith("own/")]
    assert any(c.name.startswith("illformed/") for c in corpus) and any(c.name.startswith("wellformed/") for c in corpus)
    disagree = {}
    for case in corpus:
        assert case.body is not None
        m = EXPECT.search(case.body[:3000])
        if not m:
            continue
        got = suite.outcome[case.name]
        if m.group(1).lower() == b"not bozo":
            # Obsolete CDF files holding only channel metadata are not RSS/Atom/RDF to us.
            if got != "ok" and not case.name.startswith("wellformed/cdf/"):
                disagree[case.name] = got
        elif got == "ok":  # feedparser flags it: so must we (as bozo, or as an error)
            disagree[case.name] = got
    assert disagree == {}
