"""Reading the raw archive back (ingest/archive_writer.py wrote it): one page by its
``archive_ref``, or every archived page of the directory in order, each rebuilt as the
FetchResult and feed entry the extractor got the first time. No network, unless archive.s3 is
set (``store``): a file not on local disk is then read from the bucket, one page by a ranged GET,
a whole file (scan) downloaded to a temporary file beside the archive and deleted after."""

from __future__ import annotations

import io
import json
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Iterator

import httpx
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from newsflow.ingest.archive_s3 import S3Store
from newsflow.ingest.archive_writer import SUFFIX, format_ref, parse_ref
from newsflow.ingest.feedparse import FeedEntry
from newsflow.ingest.fetch_result import FetchResult


@dataclass
class ArchivedPage:
    ref: str
    kind: str  # page | feed
    result: FetchResult
    fetched_at: datetime
    feed_url: str | None
    entry: FeedEntry | None
    meta: dict[str, Any]

    @property
    def file(self) -> str:
        return parse_ref(self.ref)[0]

    @property
    def end(self) -> int:
        """The offset just past this page's records in its file (a resume point)."""
        _name, offset, length = parse_ref(self.ref)
        return offset + length


def entry_from_json(data: dict[str, Any] | None) -> FeedEntry | None:
    if not data:
        return None
    fields = dict(data)
    for key in ("published", "updated"):
        if fields.get(key):
            fields[key] = datetime.fromisoformat(fields[key])
    for key in ("authors", "categories"):
        fields[key] = tuple(fields.get(key) or ())
    return FeedEntry(**fields)


def _result(record: Any) -> FetchResult:
    http = record.http_headers
    headers = httpx.Headers([(k, v) for k, v in http.headers
                             if not k.lower().startswith("x-newsflow-original-") and k.lower() != "content-length"])
    # The stored body is the decoded one (see archive_writer): read it as stored.
    body = record.raw_stream.read()
    return FetchResult(url=record.rec_headers.get_header("WARC-Target-URI"), status=int(http.get_statuscode()),
                       headers=headers, body=body, elapsed=0.0)


def _pages(stream: Any, name: str, base: int = 0) -> Iterator[ArchivedPage]:
    it = ArchiveIterator(stream)
    pending: tuple[int, FetchResult, str] | None = None
    for record in it:
        # Read the record before asking its offset: warcio reads to the record's end to answer.
        if record.rec_type == "response":
            result, date = _result(record), record.rec_headers.get_header("WARC-Date")
            pending = (base + it.get_record_offset(), result, date)
            continue
        if record.rec_type != "metadata" or pending is None:
            continue
        meta = json.loads(record.content_stream().read())
        end = base + it.get_record_offset() + it.get_record_length()
        start, result, date = pending
        pending = None
        result.requested_url = meta.get("requested_url") or result.url
        result.redirects = tuple(meta.get("redirects") or ())
        yield ArchivedPage(
            ref=format_ref(name, start, end - start), kind=meta.get("kind", "page"), result=result,
            fetched_at=datetime.fromisoformat(date.replace("Z", "+00:00")), feed_url=meta.get("feed_url"),
            entry=entry_from_json(meta.get("entry")), meta=meta,
        )


def read_ref(root: Path, ref: str, store: S3Store | None = None) -> ArchivedPage:
    """The page ``ref`` points at; ValueError when it is not there."""
    name, offset, length = parse_ref(ref)
    try:
        with open(root / name, "rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
    except FileNotFoundError:
        if store is None:
            raise
        data = store.read(name, offset, length)
    for page in _pages(io.BytesIO(data), name, offset):
        return page
    raise ValueError(f"no archived page at {ref}")


def files(root: Path, store: S3Store | None = None) -> list[str]:
    """The archive's WARC files, local and in the store, oldest first (their names start with the
    time they were opened)."""
    local = {p.name for p in root.glob(f"*{SUFFIX}")} if root.is_dir() else set()
    remote = {n for n in store.names() if n.endswith(SUFFIX)} if store is not None else set()
    return sorted(local | remote)


@contextmanager
def _open(root: Path, name: str, store: S3Store | None) -> Iterator[IO[bytes]]:
    """The file ``name``: the local copy, else (with a store) a temporary download of it."""
    try:
        fh = open(root / name, "rb")
    except FileNotFoundError:
        if store is None:
            raise
    else:
        with fh:
            yield fh
        return
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        store.download(name, Path(tmp) / name)
        with open(Path(tmp) / name, "rb") as fh:
            yield fh


def scan(root: Path, after: tuple[str, int] | None = None, store: S3Store | None = None) -> Iterator[ArchivedPage]:
    """Every archived page and feed, oldest first; ``after`` (file, offset): resume there."""
    for name in files(root, store):
        if after is not None and name < after[0]:
            continue
        with _open(root, name, store) as fh:
            start = after[1] if after is not None and name == after[0] else 0
            fh.seek(start)
            try:
                yield from _pages(fh, name, start)
            except (ArchiveLoadFailed, EOFError, OSError):
                continue  # a torn last record (a write that failed, a crash): the rest of the file is unreadable
