"""Untrusted strings kept to a size before they reach a log line, a metric label, a state row or an
error message (a leaf: imports nothing of newsflow)."""

from __future__ import annotations

# What a log line, an error message or a stored url may quote of a string a stranger's server sent.
MAX_QUOTED_CHARS = 500


def truncate(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """``value`` as a string of at most ``limit`` characters, saying how much was cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    marker = f"…[{len(text) - limit} more chars]"
    return text[: max(0, limit - len(marker))] + marker
