"""Facet counts, articles per day and story groups on the embedded index: SQL GROUP BY over the
``articles`` rows a query matches (``where``/``params`` from ``SqliteIndex``, alias ``a``).

Facet values are read from the record JSON (the names as written, as Elasticsearch's keyword
fields hold them); a value counts articles (``count(DISTINCT a.rowid)``), not mentions. Ties are
broken by value in byte order, as Elasticsearch's terms aggregation does. Stories group on the
``story_id`` column (indexed; story assignment keeps it equal to the record's).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any, Callable

from newsflow.index.base import FACETS, Bucket, Hit, Overview, StoryGroup

# facet -> (FROM clause joined to ``articles a``, the value expression).
_FACET_SQL: dict[str, tuple[str, str]] = {
    "site": ("", "json_extract(a.record, '$.site')"),
    "language": ("", "a.language"),
    "persons": (", json_each(a.record, '$.enrichment.entities.persons') v", "v.value"),
    "organisations": (", json_each(a.record, '$.enrichment.entities.organisations') v", "v.value"),
    "places": (", json_each(a.record, '$.enrichment.places') v", "json_extract(v.value, '$.name')"),
}
assert set(_FACET_SQL) == set(FACETS)

STORY_ID = "a.story_id"  # the column (indexed) that story assignment keeps equal to the record's
# An outlet: the site name, else the source host (as in the record).
_OUTLET = "coalesce(json_extract(a.record, '$.site'), json_extract(a.record, '$.source'))"


def overview(db: sqlite3.Connection, where: list[str], params: list[Any], size: int) -> Overview:
    conditions = " AND ".join(where) or "1"
    total = db.execute(f"SELECT count(*) FROM articles a WHERE {conditions}", params).fetchone()[0]
    facets: dict[str, list[Bucket]] = {}
    for name in FACETS:
        joins, value = _FACET_SQL[name]
        rows = db.execute(
            f"SELECT {value} AS value, count(DISTINCT a.rowid) AS n FROM articles a{joins} "
            f"WHERE {conditions} AND value IS NOT NULL AND value != '' "
            "GROUP BY value ORDER BY n DESC, value LIMIT ?",
            [*params, size],
        ).fetchall()
        facets[name] = [Bucket(str(v), n) for v, n in rows]
    days = db.execute(
        f"SELECT date(a.sort_at, 'unixepoch') AS day, count(*) FROM articles a WHERE {conditions} "
        "GROUP BY day ORDER BY day",
        params,
    ).fetchall()
    return Overview(total=total, facets=facets, days=[Bucket(d, n) for d, n in days])


def story_groups(
    db: sqlite3.Connection,
    where: list[str],
    params: list[Any],
    limit: int,
    members: int,
    hit: Callable[[str], Hit],
) -> list[StoryGroup]:
    conditions = " AND ".join([*where, f"{STORY_ID} IS NOT NULL"])
    rows = db.execute(
        f"SELECT {STORY_ID} AS story, count(*) AS n, count(DISTINCT {_OUTLET}), min(a.sort_at) "
        f"FROM articles a WHERE {conditions} GROUP BY story ORDER BY n DESC, story LIMIT ?",
        [*params, limit],
    ).fetchall()
    groups = []
    for story, n, outlets, first in rows:
        records = db.execute(
            f"SELECT a.record FROM articles a WHERE {conditions} AND {STORY_ID} = ? "
            "ORDER BY a.sort_at, a.id LIMIT ?",
            [*params, story, members],
        ).fetchall()
        groups.append(
            StoryGroup(
                story_id=story,
                size=n,
                site_count=outlets,
                first_seen=datetime.fromtimestamp(first, timezone.utc),
                members=[hit(r) for (r,) in records],
            )
        )
    return groups
