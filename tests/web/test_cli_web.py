"""`newsflow web`'s binding rules: loopback by default; another address only with --allow-remote,
and then with a warning on stderr."""

from __future__ import annotations

import httpx
import pytest

from benchmarks.corpus import free_port
from newsflow.cli.web import is_loopback

from .serve import newsflow, web


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False),
])  # fmt: skip
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_a_non_loopback_address_is_refused_without_allow_remote(tmp_path):
    proc = newsflow("web", "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        "error: --host 0.0.0.0 is not a loopback address: the page has no login; add --allow-remote to serve it there"
    ]


def test_allow_remote_serves_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    port = free_port()
    with web("--host", "0.0.0.0", "--allow-remote", port=port, cwd=tmp_path) as proc:
        resp = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert resp.status_code == 200 and 'id="total">0<' in resp.text  # an empty embedded index
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "warning: serving the whole index without a login on 0.0.0.0" in err
