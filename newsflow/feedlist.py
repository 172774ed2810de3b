"""Edit the feed list inside the TOML config file, keeping the user's comments and layout (tomlkit)."""

from __future__ import annotations

from pathlib import Path

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.items import AoT, Array

from newsflow.core.errors import NewsflowError
from newsflow.ingest.config import FeedConfig


class FeedListError(NewsflowError):
    """The config file cannot hold the feed list (not TOML, or `feeds` is not a list)."""


def _load(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except ParseError as exc:
        raise FeedListError(f"{path}: not valid TOML: {exc}: fix the file, then add the feeds again") from exc


def read_feeds(path: Path) -> list[FeedConfig]:
    doc = _load(path)
    return [FeedConfig.model_validate(item if isinstance(item, str) else dict(item)) for item in doc.get("feeds", [])]


def _url(item: object) -> str:
    """A listed feed's url: the list may hold plain url strings beside tables."""
    return str(item) if isinstance(item, str) else str(item["url"])  # type: ignore[index]


def add_feeds(path: Path, feeds: list[FeedConfig]) -> tuple[int, int]:
    """Append feeds not already listed (by url). Returns (added, already present)."""
    doc = _load(path)
    existing = doc.get("feeds")
    known = {_url(item) for item in existing} if existing is not None else set()
    added = skipped = 0
    new_items = []
    for feed in feeds:
        if feed.url in known:
            skipped += 1
            continue
        known.add(feed.url)
        entry = {"url": feed.url}
        if feed.name:
            entry["name"] = feed.name
        new_items.append(entry)
        added += 1
    if not new_items:
        return added, skipped
    if existing is None or (isinstance(existing, Array) and len(existing) == 0):
        # A fresh list reads best as an array of tables ([[feeds]]).
        if existing is not None:
            del doc["feeds"]
        aot = tomlkit.aot()
        for entry in new_items:
            aot.append(tomlkit.item(entry))
        doc.append("feeds", aot)
    elif isinstance(existing, AoT):
        for entry in new_items:
            existing.append(tomlkit.item(entry))
    elif isinstance(existing, Array):
        plain = all(isinstance(item, str) for item in existing)
        for entry in new_items:
            if plain and len(entry) == 1:
                existing.append(entry["url"])  # a list of plain urls stays one
                continue
            table = tomlkit.inline_table()
            table.update(entry)
            existing.append(table)
        existing.multiline(True)
    else:
        raise FeedListError(f"{path}: 'feeds' must be a list of tables")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a config
    return added, skipped
