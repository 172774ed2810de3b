"""What the templates need beyond autoescaping (pure): highlighted snippets as safe markup, links
that may become hrefs, and the histogram's bar heights."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from newsflow.index.base import Bucket
from newsflow.index.normalise import HIGHLIGHT_POST, HIGHLIGHT_PRE

_MARKS = re.compile(f"({re.escape(HIGHLIGHT_PRE)}|{re.escape(HIGHLIGHT_POST)})")


def snippet(text: str) -> Markup:
    """A hit's snippet: every character of the article text escaped; the index's own highlight
    marks (``<em>``/``</em>``, balanced) become ``<mark>``."""
    out: list[str] = []
    open_ = False
    for part in _MARKS.split(" ".join(text.split())):
        if part == HIGHLIGHT_PRE and not open_:
            out.append("<mark>")
            open_ = True
        elif part == HIGHLIGHT_POST and open_:
            out.append("</mark>")
            open_ = False
        else:
            out.append(str(escape(part)))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def safe_href(url: str | None) -> str | None:
    """The URL if a link to it is safe to follow (http or https with a host), else None: a
    ``javascript:`` or ``data:`` URL is shown as text, never made a link."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def histogram(days: list[Bucket]) -> list[tuple[Bucket, int]]:
    """Each day with its bar height in percent of the busiest day (at least 2, so a bar shows)."""
    top = max((d.count for d in days), default=0)
    return [(d, max(2, round(100 * d.count / top))) for d in days] if top else []
