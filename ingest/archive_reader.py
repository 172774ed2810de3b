"""Reading the raw archive back (ingest/archive_writer.py wrote it): one page by its
``archive_ref``, or every archived page of the directory in order, each rebuilt as the
FetchResult and feed entry the extractor got the first time. No network."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import httpx
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

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


def read_ref(root: Path, ref: str) -> ArchivedPage:
    """The page ``ref`` points at; ValueError when it is not there."""
    name, offset, length = parse_ref(ref)
    with open(root / name, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    for page in _pages(io.BytesIO(data), name, offset):
        return page
    raise ValueError(f"no archived page at {ref}")


def files(root: Path) -> list[str]:
    """The archive's WARC files, oldest first (their names start with the time they were opened)."""
    return sorted(p.name for p in root.glob(f"*{SUFFIX}")) if root.is_dir() else []


def scan(root: Path, after: tuple[str, int] | None = None) -> Iterator[ArchivedPage]:
    """Every archived page and feed, oldest first; ``after`` (file, offset): resume there."""
    for name in files(root):
        if after is not None and name < after[0]:
            continue
        with open(root / name, "rb") as fh:
            start = after[1] if after is not None and name == after[0] else 0
            fh.seek(start)
            try:
                yield from _pages(fh, name, start)
            except (ArchiveLoadFailed, EOFError, OSError):
                continue  # a torn last record (a write that failed, a crash): the rest of the file is unreadable
