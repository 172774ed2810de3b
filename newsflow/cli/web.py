"""`newsflow web`: serve the read-only search page (newsflow/web/) over the configured index."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, err, load_settings, out

DEFAULT_PORT = 8686


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def web(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(DEFAULT_PORT, min=1, max=65535, help="Port to listen on."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a non-loopback --host: anyone who reaches it reads the whole index."
    ),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Serve a read-only search page (facets, articles per day, stories, feed health) on 127.0.0.1."""
    import uvicorn

    from newsflow.pipeline.backends import open_index
    from newsflow.pipeline.stories import StoryIndex, with_stories
    from newsflow.status import feed_health
    from newsflow.web.app import Sources, create_app

    if not is_loopback(host) and not allow_remote:
        raise CliError(f"--host {host} is not a loopback address: the page has no login; add --allow-remote to serve it there", exit_code=2)
    s = load_settings(config)
    index = with_stories(open_index(s, create=False))  # reads only: its story store, never its write
    if not is_loopback(host):
        err.print(f"[yellow]warning: serving the whole index without a login on {host}:{port}[/]", highlight=False)
    facts = index.store.get if isinstance(index, StoryIndex) else (lambda story_id: None)
    app = create_app(Sources(index=index, feeds=lambda: feed_health(s), backend=s.index.backend, story_facts=facts))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    shown = f"[{host}]" if ":" in host else host
    out.print(f"newsflow web: http://{shown}:{port}/ ({s.index.backend} index; Ctrl-C stops)", highlight=False)
    try:
        server.run()  # until Ctrl-C or SIGTERM
    finally:
        index.close()
    if not server.started:
        raise CliError(f"cannot listen on {shown}:{port} (see the line above)")
