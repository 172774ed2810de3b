"""`newsflow stories` on the embedded index: the biggest stories, one story's members, and an
unknown id as one error line."""

from __future__ import annotations

import json

from newsflow.index.sqlite_fts import SqliteIndex
from newsflow.pipeline.stories import with_stories
from tests.support.story_corpus import corpus, fingerprinted
from tests.test_cli_errors import error_line, newsflow


def test_stories_lists_the_biggest_and_shows_one_with_its_members(tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "newsflow.toml"
    cfg.write_text(f'data_dir = "{data}"\n', encoding="utf-8")
    copies = corpus()
    index = with_stories(SqliteIndex(data / "index.sqlite3"))
    index.setup()
    index.write([fingerprinted(c.article) for c in copies])
    index.close()

    listed = newsflow("stories", "-c", str(cfg), "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    stories = json.loads(listed.stdout)
    assert len(stories) == len({c.story for c in copies})
    assert [s["size"] for s in stories] == sorted((s["size"] for s in stories), reverse=True)
    first = min((c.article for c in copies if c.story == "us-russia"), key=lambda a: (a.published_at, a.id))
    story = next(s for s in stories if s["first_article"] == first.id)
    assert story["title"] == first.title and story["first_site"] == first.site

    shown = newsflow("stories", story["story_id"], "-c", str(cfg), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    members = json.loads(shown.stdout)["members"]
    assert {m["id"] for m in members} == {c.article.id for c in copies if c.story == "us-russia"}
    assert members[0]["id"] == first.id  # in time order
    text = newsflow("stories", story["story_id"], "-c", str(cfg), cwd=tmp_path)
    assert text.returncode == 0 and first.title in text.stdout and "exact_copy" in text.stdout

    searched = newsflow("search", "business-like", "-c", str(cfg), "--json", "--limit", "50", cwd=tmp_path)
    hits = json.loads(searched.stdout)["hits"]
    assert len(hits) == len(members) and {h["story_id"] for h in hits} == {story["story_id"]}

    error_line(newsflow("stories", "no-such-story", "-c", str(cfg), cwd=tmp_path), 2, "no-such-story")
