"""The extractor's one error: a page that gives no article."""

from __future__ import annotations


class ExtractionError(ValueError):
    """A page that gives no article. ``kind``: "not_html", "no_text", "too_large", "too_deep"
    (no text above the HTML parser's nesting limit: ``depth``) or "bad_url"."""

    def __init__(self, message: str, *, kind: str, url: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.url}" if self.url else self.args[0]
