"""The page as a Starlette app: GET only, server-rendered with Jinja2 (autoescape on), reading the
index through ``newsflow.index.base.Index`` (search, overview, story_groups) and the feed health
rows `newsflow status` shows. It writes nothing.

Routes: ``/`` (search, facets, histogram, stories, feeds), ``/story/<id>`` (one story's members),
``/healthz``. Every response forbids scripts and framing (Content-Security-Policy): the page has
no JavaScript, so an article's markup that escaping missed still could not run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from newsflow.core.errors import NewsflowError
from newsflow.index.base import FACETS, Index, SearchQuery, Story
from newsflow.web import render
from newsflow.web.query import FACET_PARAM, parse

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
HITS = 20  # results on the page
FACET_VALUES = 10
STORIES = 10  # the biggest stories in range
STORY_PREVIEW = 5  # members shown under each of them
STORY_MEMBERS = 500  # members listed on a story page (the latest, when a story has more)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
FACET_TITLES = {"site": "Sites", "language": "Languages", "persons": "People", "organisations": "Organisations", "places": "Places"}


@dataclass
class Sources:
    """What the page reads: the index, the feed health rows, a label for the backend, and the
    story document of a story id (the whole story's facts, beyond the members a query matches)."""

    index: Index
    feeds: Callable[[], list[dict[str, Any]]]
    backend: str
    story_facts: Callable[[str], Story | None] = lambda story_id: None


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "undated"


def _time(value: datetime | str | None) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(snippet=render.snippet, safe_href=render.safe_href, day=_day, time=_time)
    return Jinja2Templates(env=env)


def create_app(sources: Sources) -> Starlette:
    pages = templates()

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        context.setdefault("backend", sources.backend)
        return pages.TemplateResponse(request, name, context, status_code=status, headers=HEADERS)

    def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("page not served: %s", exc)
        return page(request, "error.html", {"message": f"the index cannot be read: {exc}"}, status=503)

    def home(request: Request) -> Response:
        asked = parse(request.query_params)
        query = asked.search_query(HITS)
        try:
            results = sources.index.search(query)
            overview = sources.index.overview(query, FACET_VALUES)
            stories = sources.index.story_groups(query, STORIES, STORY_PREVIEW)
        except NewsflowError as exc:
            return unavailable(request, exc)
        try:
            feeds, feeds_error = sources.feeds(), None
        except Exception as exc:  # the feed table is a side panel: the search still shows
            feeds, feeds_error = [], str(exc)
        facets = [(name, FACET_TITLES[name], FACET_PARAM[name], overview.facets.get(name, [])) for name in FACETS]
        return page(request, "index.html", {
            "asked": asked, "results": results, "facets": facets, "days": render.histogram(overview.days),
            "stories": stories, "feeds": feeds, "feeds_error": feeds_error,
        }, status=400 if asked.errors else 200)

    def story(request: Request) -> Response:
        story_id = request.path_params["story_id"]
        query = SearchQuery(story_id=story_id, limit=STORY_MEMBERS)
        try:
            found = sources.index.story_groups(query, 1, 1)
            members = sources.index.search(query).hits  # newest first
        except NewsflowError as exc:
            return unavailable(request, exc)
        if not found:
            return page(request, "error.html", {"message": "no such story"}, status=404)
        try:
            facts = sources.story_facts(story_id)
        except NewsflowError as exc:  # the members still show
            log.warning("story document not read: %s", exc)
            facts = None
        members.reverse()
        return page(request, "story.html", {"story": found[0], "facts": facts, "members": members, "asked": parse({})})

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok", headers=HEADERS)

    return Starlette(routes=[
        Route("/", home, methods=["GET"]),
        Route("/story/{story_id}", story, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
