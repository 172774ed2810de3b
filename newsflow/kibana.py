"""The client behind `newsflow kibana import`: load the saved objects of deploy/kibana/ (data views,
saved searches, Lens charts, a map, two dashboards) through Kibana's saved objects import API.

One multipart request carries every object, so Kibana resolves the references between them
(dashboards -> charts -> data views) within the import. Secrets (API key, password) only ever
go into the Authorization header; nothing here prints them.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional
from urllib.parse import urlsplit, urlunsplit

import orjson

from newsflow.core.errors import NewsflowError
from newsflow.index.config import ElasticsearchConfig

if TYPE_CHECKING:
    import httpx

KIBANA_DIR_ENV = "NEWSFLOW_KIBANA_DIR"
# A source checkout keeps the objects beside the code; an image sets NEWSFLOW_KIBANA_DIR.
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "deploy" / "kibana"
# The two data views whose index pattern follows the config (alias, feed_status_index).
ARTICLES_VIEW_ID = "newsflow-articles"
FEED_STATUS_VIEW_ID = "newsflow-feed-status"
DEFAULTS = ElasticsearchConfig()
# Kibana space ids: lowercase letters, digits, "_" and "-" (it refuses anything else).
_SPACE_ID = re.compile(r"^[a-z0-9_-]+$")
_RETRY_STATUS = {502, 503, 504}  # Kibana starting up ("Kibana server is not ready yet") or a proxy in front of it


class KibanaError(NewsflowError):
    """Kibana could not be reached or refused the request (exit 1)."""

    exit_code = 1


class KibanaUsageError(KibanaError):
    """Bad options or unreadable object files: nothing was sent (exit 2)."""

    exit_code = 2


@dataclass
class ImportResult:
    success: bool
    success_count: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def conflicts_only(self) -> bool:
        """Every error is "already exists" (an import without overwrite): nothing is broken."""
        return bool(self.errors) and all((e.get("error") or {}).get("type") == "conflict" for e in self.errors)

    def error_lines(self) -> list[str]:
        return [describe_error(e) for e in self.errors]


def describe_error(e: dict[str, Any]) -> str:
    """One line per object Kibana refused, e.g. ``dashboard newsflow-feed-health ("..."): missing_references: index-pattern/x``."""
    title = e.get("title") or (e.get("meta") or {}).get("title")
    what = f"{e.get('type', '?')} {e.get('id', '?')}" + (f" ({title!r})" if title else "")
    error = e.get("error") or {}
    kind = str(error.get("type") or "error")
    detail = ""
    if kind == "missing_references":
        detail = ", ".join(f"{r.get('type')}/{r.get('id')}" for r in error.get("references") or [])
    elif kind == "unsupported_type":
        detail = "this Kibana does not know the object type"
    elif error.get("message"):
        detail = str(error["message"])
    return f"{what}: {kind}" + (f": {detail}" if detail else "")


# -- the objects (pure) -------------------------------------------------------------------------


def ndjson_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob("*.ndjson"))
    if not files:
        raise KibanaUsageError(f"no .ndjson files in {directory}")
    return files


def read_objects(files: Iterable[Path]) -> list[dict[str, Any]]:
    """Every saved object of the files, in order. A line that is not a JSON object is an error naming file:line."""
    objects: list[dict[str, Any]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KibanaUsageError(f"{path}: {exc.strerror or exc}") from exc
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise KibanaUsageError(f"{path}:{n}: not JSON: {exc}") from exc
            if not isinstance(obj, dict) or not obj.get("type") or not obj.get("id"):
                raise KibanaUsageError(f"{path}:{n}: not a saved object (needs type and id)")
            objects.append(obj)
    if not objects:
        raise KibanaUsageError("the .ndjson files hold no saved objects")
    return objects


def retarget(objects: list[dict[str, Any]], alias: str, feed_status_index: str) -> list[dict[str, Any]]:
    """Point the two data views at the configured indices (the files name the defaults)."""
    patterns = {ARTICLES_VIEW_ID: f"{alias}*", FEED_STATUS_VIEW_ID: feed_status_index}
    result = []
    for obj in objects:
        if obj.get("type") == "index-pattern" and obj.get("id") in patterns:
            obj = {**obj, "attributes": {**obj.get("attributes", {}), "title": patterns[obj["id"]]}}
        result.append(obj)
    return result


def to_ndjson(objects: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objects)


def import_url(base_url: str, space: Optional[str] = None, overwrite: bool = True) -> str:
    base = base_url.rstrip("/")
    prefix = f"/s/{space}" if space and space != "default" else ""
    return f"{base}{prefix}/api/saved_objects/_import" + ("?overwrite=true" if overwrite else "")


def auth_headers(api_key: Optional[str] = None, user: Optional[str] = None, password: Optional[str] = None) -> dict[str, str]:
    """``ApiKey <encoded>`` (the base64 ``id:key`` Kibana and Elasticsearch show) or basic auth; none without either."""
    if api_key and user:
        raise KibanaUsageError("give either an API key or a user, not both")
    if api_key:
        return {"Authorization": f"ApiKey {api_key}"}
    if user:
        if password is None:
            raise KibanaUsageError("--user needs --password (or NEWSFLOW_KIBANA_PASSWORD)")
        token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    if password is not None:
        raise KibanaUsageError("--password needs --user")
    return {}


def redact(url: str) -> str:
    """The url without user:password@ (safe to print)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# -- the request --------------------------------------------------------------------------------


def import_objects(
    url: str,
    payload: bytes,
    *,
    headers: dict[str, str],
    space: Optional[str] = None,
    overwrite: bool = True,
    ca_certs: Optional[Path] = None,
    timeout: float = 60.0,
    wait: float = 0.0,
) -> ImportResult:
    """POST the NDJSON as the multipart field ``file``. ``wait``: keep retrying for this many seconds
    while Kibana is unreachable or starting (5xx), as it is for a minute or two after its container starts."""
    import httpx  # here, not at the top: every `newsflow` invocation imports this module

    if space is not None and not _SPACE_ID.match(space):
        raise KibanaUsageError(f"invalid Kibana space id {space!r} (lowercase letters, digits, '_' and '-')")
    if not url.startswith(("http://", "https://")):
        raise KibanaUsageError(f"the Kibana url must start with http:// or https:// (got {redact(url)!r})")
    target = import_url(url, space, overwrite)
    shown = redact(target)
    verify: ssl.SSLContext | bool = True
    if ca_certs is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_certs))
        except (OSError, ssl.SSLError) as exc:
            raise KibanaUsageError(f"--ca-certs {ca_certs}: {exc}") from exc
    request_headers = {"kbn-xsrf": "true", **headers}
    deadline = time.monotonic() + wait
    delay = 1.0
    with httpx.Client(timeout=timeout, verify=verify) as client:
        while True:
            problem: str
            try:
                resp = client.post(target, headers=request_headers, files={"file": ("newsflow.ndjson", payload, "application/ndjson")})
            except httpx.HTTPError as exc:  # connection refused, DNS, TLS, timeout
                problem = f"cannot reach Kibana at {shown}: {type(exc).__name__}: {_no_secrets(str(exc), url)}"
            else:
                if resp.status_code not in _RETRY_STATUS:
                    return _result(resp, shown)
                problem = f"Kibana at {shown} answered HTTP {resp.status_code}: {_message(resp)}"
            if time.monotonic() + delay > deadline:
                raise KibanaError(problem)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _result(resp: "httpx.Response", shown: str) -> ImportResult:
    if resp.status_code != 200:
        raise KibanaError(f"Kibana at {shown} answered HTTP {resp.status_code}: {_message(resp)}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise KibanaError(f"Kibana at {shown} answered HTTP 200 without JSON: {resp.text[:200]!r}") from exc
    if not isinstance(body, dict) or "success" not in body:
        raise KibanaError(f"Kibana at {shown} answered an unexpected body: {str(body)[:200]}")
    return ImportResult(bool(body["success"]), int(body.get("successCount") or 0), list(body.get("errors") or []))


def _message(resp: "httpx.Response") -> str:
    """Kibana's error body is ``{"statusCode", "error", "message"}``; fall back to the text."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]


def _no_secrets(text: str, url: str) -> str:
    parts = urlsplit(url)
    for secret in (parts.password, parts.username):
        if secret:
            text = text.replace(secret, "***")
    return text


def run_import(
    url: str,
    *,
    directory: Optional[Path] = None,
    api_key: Optional[str] = None,
    user: Optional[str] = None,
    password: Optional[str] = None,
    space: Optional[str] = None,
    overwrite: bool = True,
    alias: str = DEFAULTS.alias,
    feed_status_index: str = DEFAULTS.feed_status_index,
    ca_certs: Optional[Path] = None,
    wait: float = 0.0,
) -> tuple[int, ImportResult]:
    """Read, retarget and import the objects. Returns (objects sent, Kibana's answer)."""
    folder = directory or Path(os.environ.get(KIBANA_DIR_ENV) or DEFAULT_DIR)
    objects = retarget(read_objects(ndjson_files(folder)), alias, feed_status_index)
    headers = auth_headers(api_key, user, password)
    result = import_objects(
        url, to_ndjson(objects), headers=headers, space=space, overwrite=overwrite, ca_certs=ca_certs, wait=wait
    )
    return len(objects), result
