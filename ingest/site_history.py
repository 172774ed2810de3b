"""A site's past, when backfill is given the site's address instead of a feed or sitemap.

The sources are tried in the order that reaches furthest back: the sitemaps the site's
robots.txt lists (a sitemap holds every url, a feed only its latest few and, at best, links to
its archives), then the main feeds feed discovery finds (ingest/discover_feeds.py). The first
source whose history holds entries in the window is the one backfilled; its url is the
"seen" key, as if it had been given.
"""

from __future__ import annotations

from newsflow.ingest.config import PollerConfig
from newsflow.ingest.discover_feeds import discover
from newsflow.ingest.feed_history import History, Window, read_history
from newsflow.ingest.feedparse import FeedError
from newsflow.ingest.fetch_result import FetchError
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.robots import RobotsPolicy, agent_token

MAX_SOURCES = 5  # sources of one site tried at most


async def site_sources(fetcher: Fetcher, url: str, *, obey_robots: bool) -> list[str]:
    """The site's sitemaps (robots.txt), then its main feeds; FetchError when the page fails."""
    robots = RobotsPolicy(fetcher, agent_token(fetcher.config.user_agent))
    sitemaps = await robots.sitemaps(url)
    found = await discover(fetcher, url, obey_robots=obey_robots)
    feeds = [f.url for f in found.chosen]
    return list(dict.fromkeys([*sitemaps, *feeds]))[:MAX_SOURCES]


async def read_site_history(fetcher: Fetcher, url: str, window: Window, config: PollerConfig, **limits: int) -> History:
    """The history of the first of the site's sources with entries in ``window`` (else of the
    first readable one). FeedError when the site offers no readable feed or sitemap."""
    sources = await site_sources(fetcher, url, obey_robots=config.obey_robots)
    first: History | None = None
    why: list[str] = []
    for source in sources:
        try:
            history = await read_history(fetcher, source, window, config, **limits)
        except (FetchError, FeedError) as exc:
            why.append(f"{source}: {exc}")
            continue
        history.site = url
        if history.entries:
            return history
        first = first or history
    if first is not None:
        return first
    detail = f" ({'; '.join(why)})" if why else ""
    raise FeedError(f"{url} is a web page, and no feed or sitemap of its site could be read{detail}", kind="not_a_feed")
