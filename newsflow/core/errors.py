"""Error types every layer shares (a leaf: imports nothing of newsflow)."""

from __future__ import annotations


class NewsflowError(Exception):
    """An expected failure a user can cause or meet (bad config, a service down, a missing file or
    model). Its message names the cause and what to do; the CLI prints it as one line, with no
    traceback unless ``--debug``."""


class ConfigError(NewsflowError):
    """A bad config file, key or value. The message names the key and the file."""


class Transient(NewsflowError):
    """A dependency (the bus, the index) cannot be reached right now: callers back off and retry
    the same work, they never drop it."""
