"""Serve a folder over HTTP on 127.0.0.1 (a free port): the demo's news site, and the tests'."""

from __future__ import annotations

import contextlib
import errno
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Iterator

# Package data (newsflow.seeds): found in a checkout and in an installed wheel alike.
SEED_SITE = Path(str(resources.files("newsflow.seeds") / "site"))
# The seed blog's own origin: its feeds and pages name it in every link.
SEED_ORIGIN = "https://example-news.blogspot.com"
SEED_FEEDS = (f"{SEED_ORIGIN}/feeds/posts/default.xml", f"{SEED_ORIGIN}/rss.xml")


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".xml": "application/xml"}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextlib.contextmanager
def serve(folder: Path, port: int = 0) -> Iterator[str]:
    """Yield the base url (``http://127.0.0.1:PORT``) of a static server for ``folder``."""
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder to serve", str(folder))
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
