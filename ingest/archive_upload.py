"""Closed WARC files to the archive's S3-compatible store ([archive.s3]), on a thread of their own.

Local disk stays the write buffer: the writer (ingest/archive_writer.py) writes as it always does
and wakes this thread when it closes a file. The thread uploads every closed, non-empty file of
the directory not uploaded yet, oldest first (ingest/archive_s3.py: one PUT, then checked), then
records it: a marker ``.uploaded/<name>`` when ``keep_local`` is on, else it deletes the local
copy. It rescans the directory every ``RESCAN`` seconds, so files another process closed (or left
after a crash, or a failure) go up too.

"Closed": the writer holds an exclusive ``flock`` on the file it writes, in whatever process, so
a file is closed when a shared lock is granted at once; a file opened an instant ago is empty and
waits for the next pass.

A failed upload (endpoint down, bad credentials, no bucket) keeps the local copy: one error line,
``newsflow_archive_errors_total{kind="upload"}``, an ``archive_upload_failed`` fault event, and
another try after ``retry_initial`` seconds, doubling up to ``retry_max``. A stopping process
spends up to ``close_timeout`` seconds uploading what is left; what is still left then goes up at
the next start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from newsflow.core import faults
from newsflow.ingest import metrics
from newsflow.ingest.archive_s3 import ArchiveStoreError, S3Store
from newsflow.ingest.config import ArchiveS3Config

log = logging.getLogger(__name__)

SUFFIX = ".warc.gz"
MARKERS = ".uploaded"
RESCAN = 60.0


def closed(path: Path) -> bool:
    """True when no writer holds ``path`` open and it has records."""
    try:
        with open(path, "rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return os.fstat(fh.fileno()).st_size > 0
    except OSError:  # locked by a writer (BlockingIOError), or gone
        return False


class ArchiveUploader:
    def __init__(self, config: ArchiveS3Config, root: Path, store: S3Store | None = None) -> None:
        self.config = config
        self.root = root
        self.store = store or S3Store(config)
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsflow-archive-upload", daemon=True)

    def start(self) -> "ArchiveUploader":
        self._thread.start()
        return self

    def kick(self) -> None:
        """A file was closed: upload it now (unless a failure's wait is under way)."""
        self._wake.set()

    def uploaded(self, path: Path) -> bool:
        return (self.root / MARKERS / path.name).exists()

    def forget(self, path: Path) -> None:
        """``path`` was deleted (retention): its marker goes too."""
        (self.root / MARKERS / path.name).unlink(missing_ok=True)

    def pending(self) -> list[Path]:
        """Closed files not uploaded yet, oldest first."""
        if not self.root.is_dir():
            return []
        names = sorted(p for p in self.root.glob(f"*{SUFFIX}") if not self.uploaded(p))
        return [p for p in names if closed(p)]

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.0
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass: a file closed during it brings the next one at once
            if self._pass():
                delay = 0.0
                self._wake.wait(RESCAN)
            else:
                delay = min(max(delay * 2, self.config.retry_initial), self.config.retry_max)
                log.error("archive: %s; the local copy is kept (next try in %gs)", self.last_error, delay)
                self._stopping.wait(delay)  # a closed file does not cut the wait short: the store is away
        if not self._pass():
            log.error("archive: %s; %d files are left for the next start", self.last_error, len(self.pending()))

    def _pass(self) -> bool:
        """Upload what is pending; False at the first failure."""
        pending = self.pending()
        metrics.ARCHIVE_UPLOAD_PENDING.set(len(pending))
        for path in pending:
            try:
                self._upload(path)
            except FileNotFoundError:
                continue  # another process's uploader took it (keep_local off), or retention did
            except Exception as exc:  # ArchiveStoreError above all; whatever it is, the thread goes on
                self.last_error = str(exc) if isinstance(exc, ArchiveStoreError) else f"{type(exc).__name__}: {exc}"
                metrics.ARCHIVE_ERRORS.labels("upload").inc()
                faults.emit(faults.ARCHIVE_UPLOAD_FAILED, "poll", self.last_error[:300])
                return False
            metrics.ARCHIVE_UPLOAD_PENDING.dec()
        if self.last_error is not None and pending:
            log.info("archive: uploads to %s work again", self.config.location())
            self.last_error = None
        return True

    def _upload(self, path: Path) -> None:
        self.store.upload(path)
        metrics.ARCHIVE_UPLOADED.inc()
        if self.config.keep_local:
            (self.root / MARKERS).mkdir(exist_ok=True)
            (self.root / MARKERS / path.name).touch()
            log.info("archive: uploaded %s to %s", path.name, self.config.location(path.name))
        else:
            path.unlink()
            log.info("archive: uploaded %s to %s; local copy deleted", path.name, self.config.location(path.name))

    def close(self) -> None:
        """Upload what is left (up to ``close_timeout`` seconds), then stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(self.config.close_timeout)
            if self._thread.is_alive():
                log.warning("archive: uploads to %s still running after %gs; what is left goes up at the next start",
                            self.config.location(), self.config.close_timeout)
