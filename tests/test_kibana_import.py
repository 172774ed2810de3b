"""`newsflow kibana import` and `newsflow setup --kibana-url`.

Kibana cannot run here. This is the one fake in these tests: a small ``http.server`` on
127.0.0.1 stands in for Kibana's saved objects import API. It records each request (method,
path, query, headers, the multipart body parsed with the standard library) and answers the way
Kibana does (``{"success", "successCount", "successResults"}``, or its error bodies).
Everything else is real: the CLI, the NDJSON files, httpx, the embedded bus and index.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from benchmarks.corpus import free_port
from newsflow import kibana
from newsflow.cli.app import app

KIBANA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "kibana"
SECRET = "c2VjcmV0LWlkOnNlY3JldC1rZXktOTg3NjU="  # an API key that must never be printed


@dataclass
class Part:
    name: str | None
    filename: str | None
    content_type: str
    payload: bytes


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    parts: list[Part] = field(default_factory=list)


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    msg = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP)
    assert msg.is_multipart(), f"not multipart: {content_type}"
    return [
        Part(p.get_param("name", header="content-disposition"), p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
        for p in msg.iter_parts()
    ]


def kibana_success(req: Recorded) -> tuple[int, Any]:
    """What Kibana answers to a good import: one successResult per object of the file."""
    objects = [json.loads(line) for line in req.parts[0].payload.decode().splitlines() if line.strip()]
    results = [{"type": o["type"], "id": o["id"], "meta": {"title": o["attributes"]["title"]}} for o in objects]
    return 200, {"success": True, "successCount": len(objects), "successResults": results, "warnings": []}


Answer = Callable[[Recorded], tuple[int, Any]]


class FakeKibana:
    """Records requests; answers with the queued answers, then like a healthy Kibana."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: list[Answer] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                split = urlsplit(self.path)
                req = Recorded("POST", split.path, parse_qs(split.query, keep_blank_values=True),
                               {k.lower(): v for k, v in self.headers.items()}, body)
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("multipart/"):
                    req.parts = parse_multipart(ctype, body)
                outer.requests.append(req)
                status, answer = (outer.answers.pop(0) if outer.answers else kibana_success)(req)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(answer, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def only_request(self) -> Recorded:
        assert len(self.requests) == 1, [r.path for r in self.requests]
        return self.requests[0]


@pytest.fixture
def fake_kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def cli(monkeypatch):
    for var in ("NEWSFLOW_KIBANA_URL", "NEWSFLOW_KIBANA_API_KEY", "NEWSFLOW_KIBANA_USER", "NEWSFLOW_KIBANA_PASSWORD",
                "NEWSFLOW_KIBANA_DIR", "NEWSFLOW_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, list(args))
        result.flat = " ".join(result.output.split())  # rich wraps long lines; compare without wrapping
        return result

    return invoke


def shipped_objects() -> list[dict[str, Any]]:
    return [json.loads(line) for p in sorted(KIBANA_DIR.glob("*.ndjson")) for line in p.read_text().splitlines() if line.strip()]


def sent_objects(req: Recorded) -> list[dict[str, Any]]:
    return [json.loads(line) for line in req.parts[0].payload.decode().splitlines() if line.strip()]


# -- the request ---------------------------------------------------------------------------------


def test_import_posts_every_object_as_one_multipart_file(fake_kibana, cli):
    result = cli("kibana", "import", "--url", fake_kibana.url + "/", "--api-key", SECRET)
    assert result.exit_code == 0, result.output
    req = fake_kibana.only_request()
    assert req.method == "POST"
    assert req.path == "/api/saved_objects/_import"
    assert req.query == {"overwrite": ["true"]}
    assert req.headers["kbn-xsrf"] == "true"
    assert req.headers["authorization"] == f"ApiKey {SECRET}"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert len(req.parts) == 1
    part = req.parts[0]
    assert part.name == "file" and part.filename.endswith(".ndjson")
    assert sent_objects(req) == shipped_objects()  # every line of every file, in order, unchanged
    sent = {(o["type"], o["id"]) for o in sent_objects(req)}
    assert {("dashboard", "newsflow-stories"), ("search", "newsflow-search-story-members")} <= sent  # stories.ndjson
    expected = len(shipped_objects())
    assert f"imported {expected} of {expected} saved objects" in result.flat
    assert SECRET not in result.output


def test_space_basic_auth_and_no_overwrite(fake_kibana, cli):
    result = cli("kibana", "import", "--url", fake_kibana.url, "--space", "analysts", "--user", "elastic",
                 "--password", "pa:ss", "--no-overwrite")
    assert result.exit_code == 0, result.output
    req = fake_kibana.only_request()
    assert req.path == "/s/analysts/api/saved_objects/_import"
    assert req.query == {}  # without overwrite Kibana keeps what exists and reports conflicts
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"elastic:pa:ss").decode()
    assert "pa:ss" not in result.output
    assert "space analysts" in result.flat


def test_secrets_can_come_from_the_environment(fake_kibana, cli, monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KIBANA_URL", fake_kibana.url)
    monkeypatch.setenv("NEWSFLOW_KIBANA_API_KEY", SECRET)
    result = cli("kibana", "import")
    assert result.exit_code == 0, result.output
    assert fake_kibana.only_request().headers["authorization"] == f"ApiKey {SECRET}"


def test_data_views_follow_the_configured_index_names(fake_kibana, cli):
    result = cli("kibana", "import", "--url", fake_kibana.url, "--alias", "news", "--feed-status-index", "news-feeds")
    assert result.exit_code == 0, result.output
    sent = sent_objects(fake_kibana.only_request())
    views = {o["id"]: o["attributes"]["title"] for o in sent if o["type"] == "index-pattern"}
    assert views == {kibana.ARTICLES_VIEW_ID: "news*", kibana.FEED_STATUS_VIEW_ID: "news-feeds"}
    # Nothing else changes.
    assert [o for o in sent if o["type"] != "index-pattern"] == [o for o in shipped_objects() if o["type"] != "index-pattern"]


# -- Kibana's answers ------------------------------------------------------------------------------


def test_refused_objects_exit_non_zero_and_are_listed(fake_kibana, cli):
    errors = [
        {"id": "newsflow-news-overview", "type": "dashboard", "title": "newsflow: News overview",
         "meta": {"title": "newsflow: News overview", "icon": "dashboardApp"},
         "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "newsflow-articles"}]}},
        {"id": "newsflow-map-places", "type": "map", "meta": {"title": "newsflow: places mentioned"},
         "error": {"type": "unknown", "message": "Document contains at least one immense term", "statusCode": 400}},
    ]
    fake_kibana.answers.append(lambda req: (200, {"success": False, "successCount": 26, "errors": errors}))
    result = cli("kibana", "import", "--url", fake_kibana.url, "--api-key", SECRET)
    assert result.exit_code == 1
    assert "refused 2 of" in result.flat and "(26 imported)" in result.flat
    assert "dashboard newsflow-news-overview ('newsflow: News overview'): missing_references: index-pattern/newsflow-articles" in result.flat
    assert "map newsflow-map-places ('newsflow: places mentioned'): unknown: Document contains at least one immense term" in result.flat
    assert SECRET not in result.output


def test_an_http_error_exits_non_zero_with_kibanas_message(fake_kibana, cli):
    fake_kibana.answers.append(lambda req: (401, {"statusCode": 401, "error": "Unauthorized",
                                                  "message": "[security_exception] unable to authenticate user [elastic]"}))
    result = cli("kibana", "import", "--url", fake_kibana.url, "--user", "elastic", "--password", "hunter2-secret")
    assert result.exit_code == 1
    assert "answered HTTP 401: [security_exception] unable to authenticate user [elastic]" in result.flat
    assert "hunter2-secret" not in result.output


def test_conflicts_without_overwrite_keep_the_existing_objects(fake_kibana, cli):
    def conflicts(req: Recorded) -> tuple[int, Any]:
        objs = sent_objects(req)
        errs = [{"id": o["id"], "type": o["type"], "meta": {}, "error": {"type": "conflict"}} for o in objs[:3]]
        return 200, {"success": False, "successCount": len(objs) - 3, "errors": errs}

    fake_kibana.answers.append(conflicts)
    result = cli("kibana", "import", "--url", fake_kibana.url, "--no-overwrite")
    assert result.exit_code == 0, result.output
    assert "3 already exist and were kept" in result.flat


def test_conflicts_with_overwrite_are_a_failure(fake_kibana, cli):
    fake_kibana.answers.append(lambda req: (200, {"success": False, "successCount": 0,
                                                  "errors": [{"id": "x", "type": "lens", "error": {"type": "conflict"}}]}))
    result = cli("kibana", "import", "--url", fake_kibana.url)
    assert result.exit_code == 1
    assert "lens x: conflict" in result.flat


def test_a_non_json_answer_is_an_error(fake_kibana, cli):
    fake_kibana.answers.append(lambda req: (200, "<html>a proxy login page</html>"))
    result = cli("kibana", "import", "--url", fake_kibana.url)
    assert result.exit_code == 1
    assert "without JSON" in result.flat


def test_waits_while_kibana_is_starting(fake_kibana, cli):
    not_ready = lambda req: (503, {"statusCode": 503, "error": "Service Unavailable", "message": "Kibana server is not ready yet"})  # noqa: E731
    fake_kibana.answers += [not_ready, not_ready]
    result = cli("kibana", "import", "--url", fake_kibana.url, "--wait", "30")
    assert result.exit_code == 0, result.output
    assert len(fake_kibana.requests) == 3


def test_without_wait_a_starting_kibana_is_an_error(fake_kibana, cli):
    fake_kibana.answers.append(lambda req: (503, {"statusCode": 503, "message": "Kibana server is not ready yet"}))
    result = cli("kibana", "import", "--url", fake_kibana.url)
    assert result.exit_code == 1
    assert "HTTP 503: Kibana server is not ready yet" in result.flat
    assert len(fake_kibana.requests) == 1


def test_unreachable_kibana_is_a_clear_error_without_the_password(cli):
    url = f"http://admin:s3cr3t-pw@127.0.0.1:{free_port()}"
    result = cli("kibana", "import", "--url", url)
    assert result.exit_code == 1
    assert "cannot reach Kibana at http://127.0.0.1:" in result.flat
    assert "s3cr3t-pw" not in result.output


# -- usage errors: nothing is sent -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args,message",
    [
        (["--api-key", "k", "--user", "u", "--password", "p"], "either an API key or a user"),
        (["--user", "u"], "--user needs --password"),
        (["--password", "p"], "--password needs --user"),
        (["--space", "Bad/Space"], "invalid Kibana space id"),
    ],
)
def test_bad_options_send_nothing(fake_kibana, cli, args, message):
    result = cli("kibana", "import", "--url", fake_kibana.url, *args)
    assert result.exit_code == 2
    assert message in result.flat
    assert not fake_kibana.requests


def test_a_broken_ndjson_file_is_named_and_nothing_is_sent(fake_kibana, cli, tmp_path):
    (tmp_path / "a.ndjson").write_text('{"type": "index-pattern", "id": "x", "attributes": {"title": "x"}}\n{not json\n')
    result = cli("kibana", "import", "--url", fake_kibana.url, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "a.ndjson:2: not JSON" in result.flat
    assert not fake_kibana.requests


def test_an_empty_folder_is_an_error(fake_kibana, cli, tmp_path):
    result = cli("kibana", "import", "--url", fake_kibana.url, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "no .ndjson files" in result.flat


# -- newsflow setup --------------------------------------------------------------------------------


def test_setup_creates_the_embedded_bus_and_index_and_imports_into_kibana(fake_kibana, cli, tmp_path):
    config = tmp_path / "newsflow.toml"
    data = tmp_path / "data"
    config.write_text(
        f'data_dir = "{data}"\n'
        '[bus]\nbackend = "local"\n'
        '[index]\nbackend = "sqlite"\n'
        '[index.elasticsearch]\nalias = "nf-news"\nfeed_status_index = "nf-feeds"\n'
    )
    result = cli("setup", "--config", str(config), "--kibana-url", fake_kibana.url, "--kibana-api-key", SECRET)
    assert result.exit_code == 0, result.output
    assert (data / "bus.sqlite3").is_file() and (data / "index.sqlite3").is_file()
    req = fake_kibana.only_request()
    assert req.headers["authorization"] == f"ApiKey {SECRET}"
    views = {o["id"]: o["attributes"]["title"] for o in sent_objects(req) if o["type"] == "index-pattern"}
    assert views == {kibana.ARTICLES_VIEW_ID: "nf-news*", kibana.FEED_STATUS_VIEW_ID: "nf-feeds"}
    assert "newsflow.articles.cleaned (4 partitions)" in result.flat
    assert SECRET not in result.output
    # Idempotent: a second run succeeds too.
    again = cli("setup", "--config", str(config))
    assert again.exit_code == 0, again.output


def test_setup_fails_when_kibana_refuses(fake_kibana, cli, tmp_path):
    config = tmp_path / "newsflow.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    fake_kibana.answers.append(lambda req: (403, {"statusCode": 403, "error": "Forbidden", "message": "not allowed"}))
    result = cli("setup", "--config", str(config), "--kibana-url", fake_kibana.url)
    assert result.exit_code == 1
    assert "HTTP 403: not allowed" in result.flat
