"""`newsflow extract FILE_OR_URL [--url URL] --json`: the stable contract other tools call."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from newsflow.static_site import SEED_ORIGIN, SEED_SITE, serve

PY = [sys.executable, "-m", "newsflow"]
CONTRACT = {"id", "url", "title", "text", "published_at", "authors", "site", "language"}


def _run(*args: str, allow_loopback: bool = True) -> subprocess.CompletedProcess[str]:
    # The test server is on 127.0.0.1: allowed past the SSRF guard, visibly, through the environment.
    env = {**os.environ, "NEWSFLOW_POLLER__ALLOW_ADDRESSES": "127.0.0.1"} if allow_loopback else None
    return subprocess.run([*PY, "extract", *args], capture_output=True, text=True, timeout=120, env=env)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def test_gzipped_variant_file_gives_the_clean_article(tmp_path: Path) -> None:
    page = tmp_path / "page.html.gz"
    page.write_bytes(gzip.compress((SEED_SITE / "variants" / "post-us-russia-talks.sloppy-div-body.html").read_bytes()))
    proc = _run(str(page), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert CONTRACT <= set(doc)
    assert doc["url"] == f"{SEED_ORIGIN}/post-us-russia-talks.html"  # from the page's canonical link
    assert doc["published_at"].startswith("2022-01-10")
    assert doc["language"] == "en" and doc["authors"] == ["Anna Berg"] and doc["site"] == "Example News"
    assert _norm(doc["text"]) == _norm((SEED_SITE / "expected" / "post-us-russia-talks.txt").read_text())


def test_url_over_http() -> None:
    with serve(SEED_SITE) as base:
        proc = _run(f"{base}/post-2.html", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["title"].startswith("Heavy Snowfall")
    assert _norm(doc["text"]) == _norm((SEED_SITE / "expected" / "post-2.txt").read_text())


def test_bad_inputs_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    binary = tmp_path / "x.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    proc = _run(str(binary), "--url", "https://example.org/x")
    assert proc.returncode == 1 and "not HTML" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run(str(tmp_path / "missing.html"))
    assert proc.returncode == 1 and "missing.html" in proc.stderr
    with serve(SEED_SITE) as base:
        proc = _run(f"{base}/no-such-page.html")
        assert proc.returncode == 1 and "404" in proc.stderr
        # Without the allow-list, a loopback url is refused before any request: one line, no traceback.
        proc = _run(f"{base}/post-2.html", allow_loopback=False)
    assert proc.returncode == 1 and "loopback address" in proc.stderr and "allow_addresses" in proc.stderr
    assert "Traceback" not in proc.stderr
