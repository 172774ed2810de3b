"""The raw archive: every fetched article page and every changed feed, as WARC records (warcio),
so `newsflow reprocess` can replay extraction without the network.

What a page's records hold, and why:
- a ``response`` record: the status line and response headers as the server sent them, and the
  body as the extractor saw it, i.e. after the fetcher undid its Content-Encoding (gzip/deflate
  under a cap, ingest/decompress.py). The transfer headers that no longer describe that body
  (Content-Encoding, Transfer-Encoding, Content-Length) are renamed ``X-Newsflow-Original-…``,
  so any WARC reader gets the same bytes the extractor got, and replay is exact;
  ``WARC-Target-URI`` is the final url after redirects, ``WARC-Date`` the fetch time.
- a ``metadata`` record right after it (JSON): the feed, the requested url, the redirects and
  the feed entry the page was extracted with (its title, dates, labels feed the article).
The article's ``archive_ref`` is ``<file>:<offset>:<length>`` over both records.

One file is open at a time, gzip per record, appended through a buffered writer and flushed
after each page (a reader in another process sees whole records); it is fsynced and closed when
it passes ``max_file_bytes`` or ``max_file_seconds``, and closed files are pruned by age and
total size. Writes come from one thread (the poller's archive executor).

With ``archive.s3`` set, an uploader thread (ingest/archive_upload.py) sends each closed file to
the bucket; while a file is open its writer holds an exclusive ``flock`` on it, which is how the
uploader of any process tells it is not closed yet. Retention then deletes only uploaded files.

A failed write (disk full, unwritable directory) never raises to the caller: it is logged as one
error line, counted (newsflow_archive_errors_total), reported as a fault event, and the page
goes on without an ``archive_ref``. The file it was writing is closed (it may end in a torn
record, which readers skip) and the next write opens a new one.
"""

from __future__ import annotations

import dataclasses
import fcntl
import io
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsflow.core import faults
from newsflow.ingest import metrics
from newsflow.ingest.archive_upload import SUFFIX, ArchiveUploader
from newsflow.ingest.config import ArchiveConfig
from newsflow.ingest.feedparse import FeedEntry
from newsflow.ingest.fetch_result import FetchResult

log = logging.getLogger(__name__)

# Headers about the transfer, not the stored body: kept under another name.
_TRANSFER = ("content-encoding", "transfer-encoding", "content-length")
# After a failure, wait this long before trying to open a file again (no error line per page).
RETRY_AFTER = 30.0


class ArchiveError(OSError):
    """The archive directory cannot be written."""


def format_ref(name: str, offset: int, length: int) -> str:
    return f"{name}:{offset}:{length}"


def parse_ref(ref: str) -> tuple[str, int, int]:
    name, offset, length = ref.rsplit(":", 2)
    return name, int(offset), int(length)


def entry_to_json(entry: FeedEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    data = dataclasses.asdict(entry)
    for key in ("published", "updated"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


def _http_headers(res: FetchResult) -> StatusAndHeaders:
    headers = []
    for name, value in res.headers.multi_items():
        if name.lower() in _TRANSFER:
            name = f"X-Newsflow-Original-{name}"
        headers.append((name, value))
    headers.append(("Content-Length", str(len(res.body))))
    return StatusAndHeaders(f"{res.status} {_reason(res.status)}", headers, protocol="HTTP/1.1")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class WarcArchive:
    """The archive directory's writer. ``write_page`` / ``write_feed`` return the record's ref,
    or None when the archive could not take it."""

    def __init__(self, config: ArchiveConfig, root: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.root = root
        self._clock = clock
        self._lock = threading.Lock()
        self._fh: io.BufferedWriter | None = None
        self._name: str | None = None
        self._opened_at = 0.0
        self._seq = 0
        self._failed_at: float | None = None
        self.last_error: str | None = None
        self.uploader = ArchiveUploader(config.s3, root).start() if config.s3.enabled else None

    # -- writing -------------------------------------------------------------------

    def write_page(self, res: FetchResult, *, feed_url: str, entry: FeedEntry | None, link_id: str | None,
                   fetched_at: float) -> str | None:
        meta = {
            "kind": "page", "feed_url": feed_url, "requested_url": res.requested_url or res.url,
            "redirects": list(res.redirects), "link_id": link_id, "entry": entry_to_json(entry),
        }
        return self._write("page", res, meta, fetched_at)

    def write_feed(self, res: FetchResult, *, feed_url: str, fetched_at: float) -> str | None:
        meta = {"kind": "feed", "feed_url": feed_url, "requested_url": res.requested_url or res.url,
                "redirects": list(res.redirects)}
        return self._write("feed", res, meta, fetched_at)

    def _write(self, kind: str, res: FetchResult, meta: dict[str, Any], fetched_at: float) -> str | None:
        with self._lock:
            now = self._clock()
            if self._failed_at is not None and now - self._failed_at < RETRY_AFTER:
                return self._failed(kind, self.last_error or "archive unavailable", quiet=True)
            try:
                fh, name = self._file(now)
                start = fh.tell()
                self._records(fh, res, meta, fetched_at)
                fh.flush()
                end = fh.tell()
            except Exception as exc:  # OSError above all (disk full, unwritable); whatever it is, the page goes on
                self._close(sync=False)
                self._failed_at = now
                return self._failed(kind, f"{type(exc).__name__}: {exc}", quiet=False)
            self._failed_at = None
            metrics.ARCHIVE_RECORDS.labels(kind).inc()
            metrics.ARCHIVE_BYTES.inc(end - start)
            ref = format_ref(name, start, end - start)
            if end >= self.config.max_file_bytes:
                self._rotate()
            return ref

    @staticmethod
    def _records(fh: io.BufferedWriter, res: FetchResult, meta: dict[str, Any], fetched_at: float) -> None:
        writer = WARCWriter(fh, gzip=True)
        date = datetime.fromtimestamp(fetched_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        response = writer.create_warc_record(
            res.url, "response", payload=io.BytesIO(res.body), http_headers=_http_headers(res),
            warc_headers_dict={"WARC-Date": date},
        )
        writer.write_record(response)
        metadata = writer.create_warc_record(
            res.url, "metadata", payload=io.BytesIO(json.dumps(meta).encode()),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": date,
                               "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")},
        )
        writer.write_record(metadata)

    def _failed(self, kind: str, message: str, *, quiet: bool) -> None:
        self.last_error = message
        metrics.ARCHIVE_ERRORS.labels(kind).inc()
        faults.emit(faults.ARCHIVE_FAILED, "poll", message[:300])
        if not quiet:
            log.error("archive: cannot write to %s: %s; pages go on without an archive_ref (next try in %gs)",
                      self.root, message, RETRY_AFTER)
        return None

    # -- files ---------------------------------------------------------------------

    def _file(self, now: float) -> tuple[io.BufferedWriter, str]:
        if self._fh is not None and now - self._opened_at >= self.config.max_file_seconds:
            self._rotate()
        if self._fh is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%S")
            name = f"newsflow-{stamp}-{os.getpid()}-{self._seq:05d}{SUFFIX}"
            self._fh = open(self.root / name, "ab")
            fcntl.flock(self._fh, fcntl.LOCK_EX)  # "open": no uploader takes it (ingest/archive_upload.py)
            self._name, self._opened_at = name, now
            self._prune(now)
        assert self._name is not None
        return self._fh, self._name

    def _rotate(self) -> None:
        self._close(sync=True)

    def _close(self, *, sync: bool) -> None:
        fh, self._fh, self._name = self._fh, None, None
        if fh is None:
            return
        try:
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        except OSError as exc:
            log.error("archive: closing a WARC file failed: %s", exc)
        finally:
            try:
                fh.close()
            except OSError:
                pass
            if self.uploader is not None:
                self.uploader.kick()

    def close(self) -> None:
        with self._lock:
            self._close(sync=True)
        if self.uploader is not None:
            self.uploader.close()

    def _prune(self, now: float) -> None:
        """Delete closed files past ``retention_days`` or, oldest first, past ``max_total_bytes``;
        with archive.s3, only the uploaded ones (the others are the only copy)."""
        cfg = self.config
        if cfg.retention_days is None and cfg.max_total_bytes is None:
            return
        files = sorted((p for p in self.root.glob(f"*{SUFFIX}") if p.name != self._name), key=lambda p: p.name)
        sizes = {p: p.stat().st_size for p in files}
        total = sum(sizes.values()) + (self._fh.tell() if self._fh is not None else 0)
        if self.uploader is not None:
            files = [p for p in files if self.uploader.uploaded(p)]
        for path in files:
            old = cfg.retention_days is not None and now - path.stat().st_mtime > cfg.retention_days * 86400
            over = cfg.max_total_bytes is not None and total > cfg.max_total_bytes
            if not (old or over):
                continue
            try:
                path.unlink()
            except OSError as exc:
                log.error("archive: cannot delete %s: %s", path, exc)
                continue
            if self.uploader is not None:
                self.uploader.forget(path)
            total -= sizes[path]
            log.info("archive: deleted %s (%s)", path.name, "retention_days" if old else "max_total_bytes")


def archive_dir(config: ArchiveConfig, data_dir: Path) -> Path:
    path = Path(config.dir).expanduser()
    return path if path.is_absolute() else data_dir / path
