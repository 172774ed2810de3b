"""The archive's S3-compatible copy ([archive.s3]) against a real S3 server (S3Proxy on 127.0.0.1,
tests/support/s3proxy.py), on the embedded default: closed WARC files are uploaded and checked;
with the local copies gone, `newsflow reprocess` restores every article from the bucket alone;
an endpoint that is down costs no article and no file, and the files go up once it is back;
retention never deletes a file not uploaded; a bad [archive.s3] is one `error:` line."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from prometheus_client import REGISTRY

from benchmarks.corpus import free_port
from newsflow.ingest.archive_reader import read_ref
from newsflow.ingest.archive_s3 import S3Store
from newsflow.ingest.archive_upload import MARKERS
from newsflow.ingest.archive_writer import WarcArchive, archive_dir
from newsflow.ingest.config import ArchiveConfig
from newsflow.pipeline.backends import open_event_store
from newsflow.pipeline.run_all import run_all
from newsflow.settings import Settings, load
from newsflow.static_site import SEED_SITE, serve
from tests.conftest import REQUIRE_SERVICES
from tests.support.s3proxy import CREDENTIAL, IDENTITY, S3ProxyUnavailable, s3proxy, s3proxy_jar
from tests.test_archive import _articles, _config, _newsflow, _page, _wipe_index

BUCKET = "newsflow-archive"
SECRET_ENV = {"NEWSFLOW_ARCHIVE__S3__SECRET_ACCESS_KEY": CREDENTIAL}


@pytest.fixture(scope="module")
def jar() -> Path:
    try:
        return s3proxy_jar()
    except S3ProxyUnavailable as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"{exc}; NEWSFLOW_REQUIRE_SERVICES=1, so the S3 tests must not skip", pytrace=False)
        pytest.skip(str(exc))


def _client(endpoint: str) -> Any:
    # Checksums only where S3 requires them, as newsflow's client (S3Proxy has no flexible checksums).
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=IDENTITY,
                        aws_secret_access_key=CREDENTIAL,
                        config=Config(request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


@pytest.fixture(scope="module")
def endpoint(jar: Path, tmp_path_factory: pytest.TempPathFactory):
    with s3proxy(jar, free_port(), tmp_path_factory.mktemp("s3proxy")) as url:
        _client(url).create_bucket(Bucket=BUCKET)
        yield url


def _s3_config(data_dir: Path, base: str, endpoint: str, *, prefix: str, archive: dict[str, Any] | None = None,
               **s3: Any) -> Path:
    """The seed site's config (tests/test_archive.py) with an [archive.s3] section; the secret is
    not in the file: NEWSFLOW_ARCHIVE__S3__SECRET_ACCESS_KEY gives it (SECRET_ENV)."""
    path = _config(data_dir, base, **(archive or {}))
    keys = {"bucket": BUCKET, "prefix": prefix, "endpoint_url": endpoint, "region": "us-east-1",
            "access_key_id": IDENTITY, **s3}
    lines = "".join(f"{k} = {v!r}\n".replace("True", "true").replace("False", "false") for k, v in keys.items())
    path.write_text(path.read_text() + "[archive.s3]\n" + lines.replace("'", '"'))
    return path


def _load(config: Path) -> Settings:
    with mock.patch.dict(os.environ, SECRET_ENV):
        return load(config)


def _objects(endpoint: str, prefix: str) -> dict[str, bytes]:
    client = _client(endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("Contents", [])
    return {o["Key"].rsplit("/", 1)[1]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def _local(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.glob("*.warc.gz")}


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _poll(tmp: Path, endpoint: str, prefix: str, **s3: Any) -> tuple[Path, Settings, Any]:
    """One `run --once` over the seed site, small files so they rotate; the server is gone after."""
    with serve(SEED_SITE) as base:
        config = _s3_config(tmp / "data", base, endpoint, prefix=prefix, archive={"max_file_bytes": 15_000}, **s3)
        s = _load(config)
        summary = run_all(s, once=True)
    return config, s, summary


def test_a_poll_uploads_every_closed_file_as_it_is(endpoint: str, tmp_path: Path) -> None:
    uploaded_before = _metric("newsflow_archive_uploaded_files_total")
    _config_path, s, summary = _poll(tmp_path, endpoint, "keep")
    assert summary.indexed_total == 3
    root = archive_dir(s.archive, s.data_dir)
    local = _local(root)
    assert len(local) >= 2  # rotated past max_file_bytes
    assert _objects(endpoint, "keep") == local  # every file, byte for byte (the last one closed at the stop)
    assert sorted(p.name for p in (root / MARKERS).iterdir()) == sorted(local)
    assert _metric("newsflow_archive_uploaded_files_total") - uploaded_before == len(local)
    # A page read by its archive_ref where the file is not on local disk: a ranged GET.
    store = S3Store(s.archive.s3)
    for article in _articles(s).values():
        page = read_ref(tmp_path / "elsewhere", article.archive_ref, store)
        assert page.result.body == (SEED_SITE / article.url.rsplit("/", 1)[1]).read_bytes()


def test_reprocess_restores_every_article_from_the_bucket_alone(endpoint: str, tmp_path: Path) -> None:
    config, s, summary = _poll(tmp_path, endpoint, "dropped", keep_local=False)
    assert summary.indexed_total == 3
    before = _articles(s)
    root = archive_dir(s.archive, s.data_dir)
    assert _local(root) == {}  # keep_local off: each file deleted once uploaded
    assert len(_objects(endpoint, "dropped")) >= 2
    _wipe_index(s)
    with mock.patch.dict(os.environ, SECRET_ENV):
        done = _newsflow("reprocess", "-c", str(config))  # the web server is stopped: no network but S3
    assert done.returncode == 0, done.stderr
    assert "articles reprocessed: 6" in done.stdout  # each post once per feed that carried it
    after = _articles(s)
    assert sorted(after) == sorted(before)
    for aid, article in after.items():
        assert article.text == before[aid].text and article.archive_ref is not None
    assert _local(root) == {} and not list(root.glob(".download-*"))  # downloads are temporary


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.2)


def test_endpoint_down_costs_nothing_and_files_go_up_once_it_is_back(jar: Path, tmp_path: Path, caplog) -> None:
    port = free_port()
    down = f"http://127.0.0.1:{port}"
    errors_before = _metric("newsflow_archive_errors_total", kind="upload")
    with caplog.at_level(logging.ERROR, logger="newsflow.ingest.archive_upload"):
        _config_path, s, summary = _poll(tmp_path, down, "late", retry_initial=0.2, retry_max=0.5, close_timeout=10.0)
    assert summary.indexed_total == 3
    assert all(a.archive_ref for a in _articles(s).values())
    root = archive_dir(s.archive, s.data_dir)
    local = _local(root)
    assert len(local) >= 2 and not (root / MARKERS).exists()  # every file kept, none marked uploaded
    assert _metric("newsflow_archive_errors_total", kind="upload") > errors_before
    lines = [r.getMessage() for r in caplog.records if r.name == "newsflow.ingest.archive_upload"]
    assert lines and all(f"upload of s3://{BUCKET}/late/" in line and "local copy is kept" in line
                         for line in lines[:-1])
    assert "files are left for the next start" in lines[-1]
    store = open_event_store(s, readonly=True)
    try:
        assert [e for e in store.recent(100) if e.kind == "archive_upload_failed"]
    finally:
        store.close()

    # A running process keeps trying: the server comes back on that port, the files go up.
    archive = WarcArchive(s.archive, root)
    try:
        failures = _metric("newsflow_archive_errors_total", kind="upload")
        _wait_for(lambda: _metric("newsflow_archive_errors_total", kind="upload") > failures, "a failed retry")
        with s3proxy(jar, port, tmp_path / "s3proxy") as url:
            _client(url).create_bucket(Bucket=BUCKET)
            _wait_for(lambda: not archive.uploader.pending(), "the uploads once the endpoint is back")
            assert _objects(url, "late") == local
    finally:
        archive.close()


def test_retention_deletes_only_uploaded_files(endpoint: str, tmp_path: Path) -> None:
    s3 = {"bucket": BUCKET, "prefix": "retention", "region": "us-east-1", "access_key_id": IDENTITY,
          "secret_access_key": CREDENTIAL, "retry_initial": 0.2, "close_timeout": 2.0}
    limits = {"max_file_bytes": 5000, "max_total_bytes": 6000}
    # The endpoint down: nothing is uploaded, so nothing may be deleted, past the limit or not.
    dead = ArchiveConfig(**limits, s3={**s3, "endpoint_url": f"http://127.0.0.1:{free_port()}"})
    archive = WarcArchive(dead, tmp_path)
    for n in range(7):  # two pages a file: the fourth file is open after the seventh
        archive.write_page(_page(n), feed_url="f", entry=None, link_id=None, fetched_at=1.0)
    assert archive._name is not None and archive._name not in {p.name for p in archive.uploader.pending()}
    assert len(archive.uploader.pending()) == 3  # the closed ones: an open file is never taken
    archive.close()
    written = sorted(_local(tmp_path))
    assert len(written) == 4 and sum(len(b) for b in _local(tmp_path).values()) > 6000

    # The endpoint up: they go up, and the next file's opening deletes the oldest uploaded ones.
    live = ArchiveConfig(**limits, s3={**s3, "endpoint_url": endpoint})
    archive = WarcArchive(live, tmp_path)
    _wait_for(lambda: not archive.uploader.pending(), "the uploads")
    archive.write_page(_page(9), feed_url="f", entry=None, link_id=None, fetched_at=1.0)
    archive.close()
    kept = sorted(_local(tmp_path))
    assert set(written) - set(kept)  # retention deleted some...
    assert set(written) <= set(_objects(endpoint, "retention"))  # ...each one in the bucket first
    assert sorted(p.name for p in (tmp_path / MARKERS).iterdir()) == kept  # the deleted files' markers went too


def test_bad_s3_config_is_one_error_line(endpoint: str, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[archive.s3]\nbucket = "Not_A_Bucket"\n')
    done = _newsflow("config", "check", "-c", str(config))
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        f"error: invalid configuration ({config}):"]
    assert "archive.s3.bucket: Value error, not a bucket name" in done.stderr

    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[archive.s3]\nendpoint_url = "{endpoint}"\n')
    done = _newsflow("config", "check", "-c", str(config))
    assert done.returncode == 2 and "archive.s3: Value error, bucket must be set when endpoint_url is" in done.stderr

    good = _s3_config(tmp_path / "data", "http://127.0.0.1:1", endpoint, prefix="nothing-here")
    with mock.patch.dict(os.environ, SECRET_ENV):
        done = _newsflow("config", "check", "-c", str(good))
    assert done.returncode == 0, done.stderr
    assert f"archive=on + s3://{BUCKET}/nothing-here/" in done.stdout

    # Credentials the server refuses, with only the bucket to read from: one line, no traceback.
    with mock.patch.dict(os.environ, {"NEWSFLOW_ARCHIVE__S3__SECRET_ACCESS_KEY": "wrong"}):
        done = _newsflow("reprocess", "-c", str(good))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[0].startswith(f"error: listing of s3://{BUCKET}/nothing-here/ failed: ")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
