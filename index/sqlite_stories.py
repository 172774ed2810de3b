"""``StoryStore`` on the embedded index (sqlite_fts.py's tables): candidates from ``article_keys``
(one row per article and band key), members by the ``articles.story_id`` column, one row per
story in ``stories``. Every read sees every committed write (``settle`` does nothing)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from newsflow.index.base import CANDIDATES, STORY_SITES, StoredMember, Story
from newsflow.index.sqlite_fts import SqliteIndex
from newsflow.index.story_document import from_story_document, parse_time, stored_member, to_story_document

# A member's story fields, read from its record without parsing the whole article.
_MEMBER = (
    "a.id, a.sort_at, json_extract(a.record, '$.enrichment.minhash'), json_extract(a.record, '$.enrichment.story_bands'), "
    "a.story_id, json_extract(a.record, '$.enrichment.story_relation'), json_extract(a.record, '$.enrichment.story_of')"
)
_FIELDS = ("story_id", "story_relation", "story_of", "near_duplicate_of")


def _member(row: tuple[Any, ...]) -> StoredMember:
    article_id, at, minhash, bands, story_id, relation, story_of = row
    return stored_member(article_id, at, {
        "minhash": json.loads(minhash) if minhash else [], "story_bands": json.loads(bands) if bands else [],
        "story_id": story_id, "story_relation": relation, "story_of": story_of,
    })


class SqliteStories:
    def __init__(self, index: SqliteIndex) -> None:
        self._index = index

    def setup(self) -> None:
        self._index.setup()  # the tables are the index's own (schema 2)

    def candidates(self, keys: Sequence[Sequence[str]], limit: int = CANDIDATES) -> list[list[StoredMember]]:
        return [self._candidates(k, limit) for k in keys]

    def _candidates(self, keys: Sequence[str], limit: int) -> list[StoredMember]:
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        with self._index.locked() as db:
            rows = db.execute(
                f"SELECT {_MEMBER}, count(*) AS shared FROM article_keys k JOIN articles a ON a.rowid = k.article "
                f"WHERE k.key IN ({marks}) GROUP BY k.article ORDER BY shared DESC, a.sort_at, a.id LIMIT ?",
                [*keys, limit],
            ).fetchall()
        return [_member(r[:-1]) for r in rows]

    def members(self, ids: Sequence[str]) -> dict[str, StoredMember]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._index.locked() as db:
            rows = db.execute(f"SELECT {_MEMBER} FROM articles a WHERE a.id IN ({marks})", list(ids)).fetchall()
        return {r[0]: _member(r) for r in rows}

    def story_members(self, story_id: str) -> list[StoredMember]:
        with self._index.locked() as db:
            rows = db.execute(f"SELECT {_MEMBER} FROM articles a WHERE a.story_id = ? ORDER BY a.sort_at, a.id",
                              (story_id,)).fetchall()
        return [_member(r) for r in rows]

    def move(self, updates: dict[str, dict[str, str | None]]) -> None:
        with self._index.locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for article_id, fields in updates.items():
                    sets = [(f, v) for f, v in fields.items() if f in _FIELDS]
                    if not sets:
                        continue
                    paths = ", ".join(f"'$.enrichment.{f}', ?" for f, _ in sets)
                    db.execute(
                        f"UPDATE articles SET record = json_set(record, {paths}), "
                        "story_id = coalesce(?, story_id) WHERE id = ?",
                        [*(v for _, v in sets), fields.get("story_id"), article_id],
                    )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def settle(self) -> None:
        """Nothing to do: SQLite reads see committed writes."""

    def compute(self, story_ids: Sequence[str]) -> dict[str, Story]:
        with self._index.locked() as db:  # one read transaction: every story as of one moment
            db.execute("BEGIN")
            try:
                found = {s: self._compute(db, s) for s in dict.fromkeys(story_ids)}
            finally:
                db.execute("COMMIT")
        return {s: f for s, f in found.items() if f is not None}

    @staticmethod
    def _compute(db: Any, story_id: str) -> Story | None:
        size, first_at, last_at, last_updated = db.execute(
            "SELECT count(*), min(sort_at), max(sort_at), max(json_extract(record, '$.updated_at')) "
            "FROM articles WHERE story_id = ?", (story_id,)).fetchone()
        if not size:
            return None
        first_id, first_title, first_site = db.execute(
            "SELECT id, json_extract(record, '$.title'), coalesce(json_extract(record, '$.site'), source) "
            "FROM articles WHERE story_id = ? ORDER BY sort_at, id LIMIT 1", (story_id,)).fetchone()
        sites = [r[0] for r in db.execute(
            "SELECT DISTINCT coalesce(json_extract(record, '$.site'), source) AS s FROM articles "
            "WHERE story_id = ? AND s IS NOT NULL ORDER BY s LIMIT ?", (story_id, STORY_SITES))]
        languages = [r[0] for r in db.execute(
            "SELECT DISTINCT language FROM articles WHERE story_id = ? AND language IS NOT NULL ORDER BY language",
            (story_id,))]
        last = parse_time(last_at)
        if last_updated:
            last = max(last, parse_time(last_updated))
        return Story(story_id, size, sites, len(sites), parse_time(first_at), first_site, first_id, last,
                     first_title, languages)

    def put(self, stories: Sequence[Story]) -> None:
        rows = [(s.story_id, s.size, s.first_seen.timestamp(), json.dumps(to_story_document(s))) for s in stories]
        with self._index.locked() as db:
            db.execute("BEGIN IMMEDIATE")  # one commit (one fsync) for the batch's stories
            try:
                db.executemany("INSERT OR REPLACE INTO stories(story_id, size, first_seen, record) VALUES (?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def delete(self, story_ids: Sequence[str]) -> None:
        with self._index.locked() as db:
            db.executemany("DELETE FROM stories WHERE story_id = ?", [(s,) for s in story_ids])

    def get(self, story_id: str) -> Story | None:
        with self._index.locked() as db:
            row = db.execute("SELECT record FROM stories WHERE story_id = ?", (story_id,)).fetchone()
        return from_story_document(json.loads(row[0])) if row else None

    def biggest(self, limit: int = 10) -> list[Story]:
        with self._index.locked() as db:
            rows = db.execute("SELECT record FROM stories ORDER BY size DESC, first_seen, story_id LIMIT ?",
                              (limit,)).fetchall()
        return [from_story_document(json.loads(r[0])) for r in rows]
