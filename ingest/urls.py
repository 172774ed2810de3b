"""Canonical article urls: one spelling per article, so its id (a hash of it) is stable."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit

from courlan import normalize_url, scrub_url

from newsflow.core.text import truncate

# Longer links are not article urls (a 4 MB "link" is an attack on logs and state): refused whole.
MAX_URL_CHARS = 8192


class InvalidURL(ValueError):
    """A link that cannot be an article url (not http/https, no host, unparseable)."""


def canonical_url(link: str, base: str | None = None) -> str:
    """Resolve ``link`` against ``base`` and normalise it with courlan.

    Lowercases scheme and host, drops default ports, fragments and tracking
    parameters (utm_*, fbclid, ...), keeps the scheme (http and https may be two
    different sites) and every other query parameter. Pure.
    """
    if not isinstance(link, str) or not link.strip():
        raise InvalidURL("empty link")
    if len(link) > MAX_URL_CHARS:
        raise InvalidURL(f"link of {len(link)} characters is over the {MAX_URL_CHARS}-character limit: {truncate(link, 120)!r}")
    url = link.strip()
    try:
        if base:
            url = urljoin(base, url)  # raises ValueError on a malformed base ("http://[::1/") too
        # Drop the fragment ourselves: courlan's non-strict mode keeps some of them.
        url = urldefrag(scrub_url(url)).url
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidURL(f"unparseable url {truncate(link, 300)!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"not an http(s) url: {truncate(link, 300)!r}")
    if not parts.hostname:
        raise InvalidURL(f"url has no host: {truncate(link, 300)!r}")
    if not parts.path or "/." in parts.path:  # "http://h" is "http://h/"; courlan only strips leading "/../"
        url = parts._replace(path=_remove_dot_segments(parts.path or "/")).geturl()
    try:
        return normalize_url(url, strict=False, trailing_slash=True)
    except ValueError as exc:  # courlan raises on some malformed parts
        raise InvalidURL(f"cannot normalise url {truncate(link, 300)!r}: {exc}") from exc


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: "/a/./b/../c" -> "/a/c"."""
    out: list[str] = []
    segments = path.split("/")
    for seg in segments[1:] if path.startswith("/") else segments:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." names the directory "/a/"
    return "/" + "/".join(out)


def host_of(url: str) -> str:
    """The host[:port] a url points at, lowercased: the key of per-host politeness."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host
