"""Per-site template learning: lines that recur across several pages of one site are chrome.

A single page cannot tell "Post a Comment" or a newsletter box from article text; the site's
other posts can: the article changes from post to post, the theme does not. The memory keeps,
per site, how many distinct pages each (normalised) line was seen on, and strips lines seen on
at least ``min_pages`` pages from the edges of a text (the run of such lines at its start and
at its end). Lines inside the text are left alone: a recurring sub-heading ("Background") in
the middle of an article is the writer's, not the theme's.

``SiteTemplates`` is that memory. Pure apart from ``save``/``load`` (a JSON file: the poller keeps
it as ``site-memory.json`` in the data dir; its format is version 1, unchanged). Lines are kept as short
hashes with counts, capped per site and in all (the sites seen least recently are forgotten
first), so the memory stays small whatever the sites publish and however many there are.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from newsflow.core.record import Article

MIN_PAGES = 3  # a line on this many distinct pages of a site is the site's template
# Least-seen lines are forgotten beyond this. A theme has tens to a few hundred lines, seen on
# every page, so they outlive the article lines (seen once) that fill the rest.
MAX_LINES_PER_SITE = 1000
MAX_PAGES_REMEMBERED = 200  # page fingerprints kept per site, so a re-fetched page counts once
# Lines over all sites: past it, the least recently seen sites are forgotten, so the memory's
# size has a bound whatever the number of sites (per-site caps alone do not give one).
MAX_TOTAL_LINES = 200_000
MAX_SITES = 5000
MIN_LINE_CHARS = 2  # "|" or "-" alone says nothing
# Seconds between saves in the poller (a crash loses at most this much learning); also saved at
# shutdown. A save writes the whole memory, so saving every few pages would cost more than the
# learning is worth.
SAVE_SECONDS = 60.0


class Stripped(NamedTuple):
    text: str
    removed: list[str]


def _key(line: str) -> str:
    squashed = " ".join(line.split()).casefold()
    return hashlib.blake2b(squashed.encode("utf-8"), digest_size=8).hexdigest() if len(squashed) >= MIN_LINE_CHARS else ""


class _Site:
    __slots__ = ("lines", "pages")

    def __init__(self, lines: dict[str, int] | None = None, pages: list[str] | None = None) -> None:
        self.lines: dict[str, int] = dict(lines or {})
        self.pages: OrderedDict[str, None] = OrderedDict.fromkeys(pages or [])


class SiteTemplates:
    """Counts of lines per site over distinct pages; strips the recurring ones at text edges."""

    def __init__(self, path: str | Path | None = None, *, min_pages: int = MIN_PAGES) -> None:
        if min_pages < 2:
            raise ValueError("min_pages must be at least 2: a line on one page is that page's text")
        self.path = Path(path) if path else None
        self.min_pages = min_pages
        self._sites: OrderedDict[str, _Site] = OrderedDict()
        self._lines = 0  # over all sites
        self._unsaved = 0
        self._saved_at = time.monotonic()
        # The poller extracts in a thread pool: one page's learning at a time.
        self.lock = threading.Lock()
        if self.path and self.path.exists():
            self._load(self.path)

    # --- learning ------------------------------------------------------------------------

    def observe(self, site: str, text: str) -> bool:
        """Count the lines of one page of ``site``. False when that page was seen already."""
        if not site or not text:
            return False
        fingerprint = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
        entry = self._sites.get(site)
        if entry is None:
            entry = self._sites[site] = _Site()
        self._sites.move_to_end(site)
        if fingerprint in entry.pages:
            return False
        entry.pages[fingerprint] = None
        self._unsaved += 1
        if len(entry.pages) > MAX_PAGES_REMEMBERED:
            entry.pages.popitem(last=False)
        before = len(entry.lines)
        for key in {_key(line) for line in text.split("\n")} - {""}:
            entry.lines[key] = entry.lines.get(key, 0) + 1
        if len(entry.lines) > MAX_LINES_PER_SITE:
            keep = sorted(entry.lines.items(), key=lambda kv: kv[1], reverse=True)[: MAX_LINES_PER_SITE * 3 // 4]
            entry.lines = dict(keep)
        self._lines += len(entry.lines) - before
        self._forget_old_sites()
        return True

    def _forget_old_sites(self) -> None:
        while len(self._sites) > 1 and (self._lines > MAX_TOTAL_LINES or len(self._sites) > MAX_SITES):
            _, old = self._sites.popitem(last=False)  # the site seen least recently
            self._lines -= len(old.lines)

    @property
    def total_lines(self) -> int:
        return self._lines

    def save_due(self, now: float | None = None) -> bool:
        """Something new was learnt and the last save is ``SAVE_SECONDS`` old."""
        return self._unsaved > 0 and (time.monotonic() if now is None else now) - self._saved_at >= SAVE_SECONDS

    def pages_with(self, site: str, line: str) -> int:
        """On how many distinct observed pages of ``site`` this line occurs."""
        entry = self._sites.get(site)
        return entry.lines.get(_key(line), 0) if entry else 0

    # --- stripping -----------------------------------------------------------------------

    def is_template(self, site: str, line: str) -> bool:
        return bool(line.strip()) and self.pages_with(site, line) >= self.min_pages

    def strip(self, site: str, text: str) -> Stripped:
        """``text`` without the recurring lines at its start and its end (blank lines between
        them go too). Never empties a text: if every line recurs, the page is kept as it is
        (a site that republishes one notice is not a template)."""
        entry = self._sites.get(site)
        if entry is None or not text:
            return Stripped(text, [])
        lines = text.split("\n")
        start, end = 0, len(lines)
        while start < end and (not lines[start].strip() or self.is_template(site, lines[start])):
            start += 1
        while end > start and (not lines[end - 1].strip() or self.is_template(site, lines[end - 1])):
            end -= 1
        if start >= end:
            return Stripped(text, [])
        removed = [ln.strip() for ln in lines[:start] + lines[end:] if ln.strip()]
        return Stripped("\n".join(lines[start:end]), removed)

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> None:
        """Write the memory as JSON, atomically (a crash leaves the old file)."""
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no path to save the site memory to")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "sites": {s: {"lines": e.lines, "pages": list(e.pages)} for s, e in self._sites.items()}}
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.replace(tmp, target)
        self._unsaved = 0
        self._saved_at = time.monotonic()

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            sites = data["sites"] if data.get("version") == 1 else {}
            for site, e in sites.items():
                entry = _Site({k: int(v) for k, v in e["lines"].items()}, list(e["pages"])[-MAX_PAGES_REMEMBERED:])
                if len(entry.lines) > MAX_LINES_PER_SITE:  # saved under older, larger caps
                    entry.lines = dict(sorted(entry.lines.items(), key=lambda kv: kv[1], reverse=True)[:MAX_LINES_PER_SITE])
                self._sites[site] = entry
                self._lines += len(entry.lines)
            self._forget_old_sites()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # A corrupt memory only costs what it had learned: start afresh rather than fail the poller.
            self._sites.clear()
            self._lines = 0

    def __len__(self) -> int:
        return len(self._sites)


def learn_and_strip(memory: SiteTemplates, article: Article) -> Article:
    """The poller's step: strip what the site's other pages showed to be template, then learn
    from this page (its text as extracted, so a line stripped today still counts tomorrow)."""
    site = article.source or ""
    with memory.lock:
        stripped = memory.strip(site, article.text)
        if memory.observe(site, article.text) and memory.path and memory.save_due():
            try:
                memory.save()
            except OSError:
                pass  # learning is an optimisation: a full disk must not stop the poller
    if not stripped.removed:
        return article
    return article.model_copy(update={"text": stripped.text})
