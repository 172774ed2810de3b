"""Issue 14's end-to-end test: `newsflow run --once`, with every enricher, over a feed list that
mixes each hostile server (tests/support/hostile.py) with one good feed. The run ends (exit 0)
in bounded time, indexes the good feed's three articles, names each hostile class in its summary
and each hostile url in its log, sends nothing to the internal host, and no process of it (the
poller's own, its extraction workers) goes over 500 MB of peak RSS."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from newsflow.core.text import truncate
from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve
from tests.support.hostile import INTERNAL, hostile_web

RSS_LIMIT_KB = 500 * 1024
RUN_TIMEOUT = 110.0  # seconds; the run itself takes ~15 s here
DRIP_PAGES = 6


def _config(path: Path, data_dir: Path, good_base: str, feeds: list[str]) -> None:
    lines = [
        f'data_dir = "{data_dir}"',
        "[poller]",
        # The hostile servers stand on 127.0.0.1, allowed here on purpose; 127.0.0.2 stands for an
        # internal host, and the guard must keep the poller away from it.
        'allow_addresses = ["127.0.0.1"]',
        f'host_map = {{ "{SEED_ORIGIN}" = "{good_base}" }}',
        "per_host_delay = 0.0",
        "timeout = 5",
        # Short deadlines keep the test short; the dripping pages (DRIP_PAGES x request_deadline)
        # outlast feed_deadline, the slow page's feed (extract.timeout and a worker start) does not.
        "request_deadline = 2",
        "feed_deadline = 10",
        "stop_grace = 2",
        "[extract]",
        "timeout = 3",
        # [enrich] left out: every enricher, the default list.
    ]
    lines += [f'[[feeds]]\nurl = "{u}"' for u in feeds]
    path.write_text("\n".join(lines) + "\n")


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def _hwm(pid: int) -> tuple[int, str] | None:
    """(VmHWM in kB, short command line) of a live process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return (int(m.group(1)), truncate(cmd.strip(), 80)) if m else None


# The command runs under a small launcher that forks and execs it and reports wait4's ru_maxrss.
# Forked from pytest itself, the child's high-water mark would start at pytest's own size (the
# kernel counts the copy it had before exec), which after hundreds of tests is far above the run's.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str, dict[int, tuple[int, str]], int, float]:
    """Run ``cmd``; return (exit code, stdout, stderr, per-process peak RSS {pid: (kB, cmd)} polled
    from /proc, the kernel's peak RSS of the largest single process of the tree (wait4's
    ru_maxrss: the main process and every descendant it reaped), seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "maxrss")
        code, out, err, peaks, _, seconds = _run_polled([sys.executable, "-c", _LAUNCHER, report, *cmd], env, timeout)
        kernel_peak = int(open(report).read()) if os.path.exists(report) else 0
    peaks = {pid: seen for pid, seen in peaks.items() if "-c \nimport os, sys" not in seen[1]}  # not the launcher
    return code, out, err, peaks, kernel_peak, seconds


def _run_polled(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str, dict[int, tuple[int, str]], int, float]:
    started = time.monotonic()
    peaks: dict[int, tuple[int, str]] = {}
    with open(os.devnull, "rb") as stdin, \
            subprocess.Popen(cmd, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        # Read both pipes in threads: the run's logs must not fill a pipe and block it.
        chunks: dict[str, list[bytes]] = {"out": [], "err": []}
        readers = [threading.Thread(target=lambda s=s, k=k: chunks[k].extend(iter(lambda: s.read(65536), b"")), daemon=True)
                   for k, s in (("out", proc.stdout), ("err", proc.stderr))]
        for t in readers:
            t.start()
        status = rusage = None
        while True:
            for pid in _tree(proc.pid):
                seen = _hwm(pid)
                if seen and seen[0] >= peaks.get(pid, (0, ""))[0]:
                    peaks[pid] = seen
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        for t in readers:
            t.join(10)
    return (proc.returncode, b"".join(chunks["out"]).decode(errors="replace"), b"".join(chunks["err"]).decode(errors="replace"),
            peaks, rusage.ru_maxrss, time.monotonic() - started)


def _counts(line: str) -> Counter[str]:
    """"feed errors: deadline 1, timeout 2" -> Counter."""
    return Counter({k: int(n) for k, n in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1])})


def _summary_line(stdout: str, prefix: str) -> str:
    found = [ln for ln in stdout.splitlines() if ln.startswith(prefix)]
    assert found, f"no {prefix!r} line in the summary:\n{stdout}"
    return found[0]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("hostile")
    with hostile_web(drip_pages=DRIP_PAGES) as web, serve(SEED_SITE) as good_base:
        config = tmp / "newsflow.toml"
        _config(config, tmp / "data", good_base, [SEED_FEEDS[0], *(f.url for f in web.feeds)])
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        code, out, err, peaks, kernel_peak, seconds = run_measured(
            [sys.executable, "-m", "newsflow", "run", "--once", "--config", str(config)], env, RUN_TIMEOUT)
        canary_hits = list(web.canary.hits)
    # For the report: each process's peak, the largest first.
    report = "\n".join(f"  pid {pid}: {kb / 1024:.0f} MB  {cmd}" for pid, (kb, cmd) in sorted(peaks.items(), key=lambda p: -p[1][0]))
    print(f"\nhostile run: {seconds:.1f}s, exit {code}; peak RSS per process:\n{report}\n"
          f"  kernel's peak of one process (wait4 ru_maxrss): {kernel_peak / 1024:.0f} MB\n{out}")
    return {"code": code, "out": out, "err": err, "peaks": peaks, "kernel_peak": kernel_peak, "seconds": seconds,
            "canary": canary_hits, "web": web, "config": config, "data": tmp / "data"}


def test_run_ends_cleanly_in_bounded_time(hostile_run) -> None:
    assert hostile_run["seconds"] < RUN_TIMEOUT, "the run was killed"
    assert hostile_run["code"] == 0, hostile_run["err"][-3000:]
    assert "Traceback" not in hostile_run["err"], hostile_run["err"][-5000:]
    # Every log line stays short: hostile urls and bodies are not echoed whole (the 4 MB link).
    longest = max(map(len, hostile_run["err"].splitlines()), default=0)
    assert longest < 5000, f"a log line of {longest} characters"


def test_good_feed_indexed(hostile_run) -> None:
    out = hostile_run["out"]
    assert "articles in the index: 3" in out, out
    from newsflow.index.base import SearchQuery
    from newsflow.pipeline.backends import open_index
    from newsflow.settings import load

    idx = open_index(load(hostile_run["config"]), create=False)
    try:
        urls = sorted(h.url for h in idx.search(SearchQuery(limit=50)).hits)
    finally:
        idx.close()
    assert urls == sorted(f"{SEED_ORIGIN}/{n}.html" for n in ("post-2", "post-3", "post-us-russia-talks"))


def test_summary_names_each_hostile_class(hostile_run) -> None:
    out, web = hostile_run["out"], hostile_run["web"]
    assert f"feeds polled: {1 + len(web.feeds)} " in out, out
    feed_errors = _counts(_summary_line(out, "feed errors:"))
    article_errors = _counts(_summary_line(out, "article errors:"))
    want_feed = Counter(f.feed_kind for f in web.feeds if f.feed_kind)
    want_article = Counter(kind for f in web.feeds for kind in f.pages.values())
    # The dripping pages: the feed's deadline cuts them off, after one or more timed out.
    drips = want_article.pop("timeout")
    assert 1 <= article_errors.pop("timeout", 0) <= drips, out
    assert feed_errors == want_feed, out
    assert article_errors == want_article, out
    for kind in ("blocked_address", "decoding", "too_large", "entity_expansion", "timeout", "deadline",
                 "redirect_loop", "bad_url", "extract_timeout", "not_html"):
        assert re.search(rf"errors:.*\b{kind} \d", out), kind


def test_log_names_each_hostile_feed_and_page(hostile_run) -> None:
    err, web = hostile_run["err"], hostile_run["web"]
    lines = err.splitlines()
    for feed in web.feeds:
        if feed.feed_kind:
            assert any(feed.url in ln and feed.feed_kind in ln for ln in lines), (feed.what, feed.url)
        for url, kind in feed.pages.items():
            if kind == "timeout":
                continue  # which dripping pages are reached before the deadline varies
            shown = truncate(url, 300)[:100]  # a 4 MB link is shown cut
            assert any(shown in ln and kind in ln for ln in lines), (feed.what, shown, kind)


def test_internal_host_never_reached(hostile_run) -> None:
    assert hostile_run["canary"] == [], hostile_run["canary"]
    err = hostile_run["err"]
    assert err.count(f"refused to connect to {INTERNAL}") >= 3, err[-5000:]


def test_peak_rss_under_500_mb(hostile_run) -> None:
    peaks = hostile_run["peaks"]
    assert len(peaks) >= 2, peaks  # the run and at least one extraction worker were seen
    over = {pid: (kb, cmd) for pid, (kb, cmd) in peaks.items() if kb >= RSS_LIMIT_KB}
    assert not over, over
    assert hostile_run["kernel_peak"] < RSS_LIMIT_KB, hostile_run["kernel_peak"]
