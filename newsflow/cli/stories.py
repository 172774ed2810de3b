"""`newsflow stories`: the biggest stories, or one story's facts and members, from either index."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, load_settings, out


def stories(
    story_id: str = typer.Argument("", help="A story id: its facts and members (default: list the biggest stories)."),
    limit: int = typer.Option(10, min=1, max=1000, help="Stories listed, or members shown."),
    as_json: bool = typer.Option(False, "--json"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """The biggest stories (copies of one text across sites), or the members of one."""
    import orjson
    from rich.markup import escape

    from newsflow.index.story_document import to_story_document
    from newsflow.pipeline.backends import open_index
    from newsflow.pipeline.stories import StoryIndex, with_stories

    s = load_settings(config)
    index = with_stories(open_index(s, create=False))
    if not isinstance(index, StoryIndex):  # both backends have a story store: a new backend would not
        raise CliError(f"index.backend {s.index.backend!r} keeps no stories", exit_code=2)
    try:
        if not story_id:
            found = index.store.biggest(limit)
            if as_json:
                sys.stdout.write(orjson.dumps([to_story_document(x) for x in found], option=orjson.OPT_INDENT_2).decode() + "\n")
                return
            out.print(f"{len(found)} stories, biggest first", highlight=False)
            for x in found:
                out.print(f"\n[bold]{escape(x.title or x.first_article)}[/]  [dim]{x.size} articles · {x.site_count} sites · "
                          f"first {x.first_seen:%Y-%m-%d %H:%M} by {escape(x.first_site or '?')}[/]", highlight=False)
                out.print(f"  story {x.story_id} · {escape(', '.join(x.sites[:8]))}", highlight=False)
            return
        story = index.store.get(story_id)
        members = index.store.story_members(story_id)
        if story is None and not members:
            raise CliError(f"no story {story_id!r} in the index (`newsflow stories` lists them)", exit_code=2)
        members = sorted(members, key=lambda m: m.order)[:limit]
        articles = {m.id: index.get(m.id) for m in members}
        rows = [{"id": m.id, "at": m.at.isoformat(), "relation": m.relation, "story_of": m.story_of,
                 "site": a.site or a.source if a else None, "title": a.title if a else None, "url": a.url if a else None}
                for m in members for a in [articles[m.id]]]
        if as_json:
            doc = {"story": to_story_document(story) if story else None, "members": rows}
            sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
            return
        if story is not None:
            out.print(f"[bold]{escape(story.title or story.first_article)}[/]  [dim]{story.size} articles · "
                      f"{story.site_count} sites · first {story.first_seen:%Y-%m-%d %H:%M} by "
                      f"{escape(story.first_site or '?')} · last {story.last_update:%Y-%m-%d %H:%M}[/]", highlight=False)
        for r in rows:
            out.print(f"\n  {r['at'][:16]}  {escape(r['relation'] or '')}  {escape(r['site'] or '')}", highlight=False)
            out.print(f"    {escape(r['title'] or r['id'])}", highlight=False)
            out.print(f"    {r['url'] or ''}", highlight=False, markup=False)
    finally:
        index.close()
