"""`newsflow run --once` over a feed list full of bad input: every problem gets a clear message
naming the feed or url, is counted in the summary, and the run still finishes (exit 0) and
indexes the good articles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.feeds_http import LocalServer, atom_feed, html_page

PY = [sys.executable, "-m", "newsflow"]


def _serve_bad_world(srv: LocalServer) -> list[str]:
    good_page = html_page("A perfectly good article", paragraphs=6)
    srv.static("/good.html", good_page, content_type="text/html; charset=utf-8")
    srv.static("/missing.html", b"gone", content_type="text/html", status=404)
    srv.static("/binary.html", b"%PDF-1.7\x00\x01\x02" * 200, content_type="application/pdf")
    srv.static("/empty.html", b"<html><body><nav>Home</nav></body></html>", content_type="text/html")
    srv.static("/huge.html", b"<html><body>" + b"<p>x</p>" * 400_000 + b"</body></html>", content_type="text/html")
    srv.route("/loop-a", lambda r: r.send(302, headers={"Location": srv.url("/loop-b")}))
    srv.route("/loop-b", lambda r: r.send(302, headers={"Location": srv.url("/loop-a")}))
    srv.static("/server-error.html", b"oops", content_type="text/html", status=503)
    entries = [  # (id, link, title)
        (f"urn:{path}", srv.url(path), path.strip("/"))
        for path in ("/good.html", "/missing.html", "/binary.html", "/empty.html", "/huge.html", "/loop-a")
    ]
    srv.static("/feed.xml", atom_feed(entries))
    srv.static("/malformed.xml", b"<rss><channel><title>x</title><item><title>unclosed", content_type="application/xml")
    srv.static("/not-a-feed.xml", b"<html><body><p>just a page</p></body></html>", content_type="text/html")
    srv.static("/feed-404.xml", b"no", status=404)
    srv.static("/feed-500.xml", b"no", status=500)
    return ["/feed.xml", "/malformed.xml", "/not-a-feed.xml", "/feed-404.xml", "/feed-500.xml"]


def test_run_once_survives_and_counts_bad_input(tmp_path: Path) -> None:
    with LocalServer() as srv:
        feeds = _serve_bad_world(srv)
        config = tmp_path / "newsflow.toml"
        lines = [f'data_dir = "{tmp_path / "data"}"', "[poller]", "per_host_delay = 0.0", "max_body_bytes = 2000000", "timeout = 5",
                 'allow_addresses = ["127.0.0.1"]']  # the hostile servers stand on loopback, allowed here on purpose
        lines += [f'[[feeds]]\nurl = "{srv.url(p)}"' for p in feeds]
        config.write_text("\n".join(lines) + "\n")
        proc = subprocess.run([*PY, "run", "--once", "--config", str(config)], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NEWSFLOW_ENRICH__ENRICHERS": '["language","stats"]'})
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = proc.stdout
    assert "feeds polled: 5" in summary
    assert "articles in the index: 1" in summary
    assert "feed errors:" in summary and "article errors:" in summary
    for kind in ("http_404", "http_5xx"):
        assert kind in summary.split("article errors:")[0], summary  # feed-level
    for kind in ("http_404", "not_html", "too_large", "redirect_loop", "no_text"):
        assert kind in summary.split("article errors:")[1], summary
    # The errors are said with the feed or url they concern.
    assert srv.url("/missing.html") in proc.stderr
    assert srv.url("/malformed.xml") in proc.stderr or srv.url("/not-a-feed.xml") in proc.stderr


def test_bad_config_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[poller]\nmax_intervall = 10\nper_host_concurrency = 9\n[[feeds]]\nurl = "gopher://x"\n')
    proc = subprocess.run([*PY, "run", "--once", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "poller.max_intervall: unknown key" in proc.stderr
    assert "poller.per_host_concurrency" in proc.stderr
    assert "feeds.0.url" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_env_override_is_named(tmp_path: Path) -> None:
    proc = subprocess.run([*PY, "config", "check"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "NEWSFLOW_POLLER__TIMEOUT": "soon", "NEWSFLOW_BUS__BACKEND": "carrier-pigeon"})
    assert proc.returncode == 2
    assert "poller.timeout" in proc.stderr and "bus.backend" in proc.stderr
