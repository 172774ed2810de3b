"""trafilatura's body tree -> the article's text, chrome filtered; and the test for a body
that is a layout table, which gets a second opinion from trafilatura's precision mode."""

from __future__ import annotations

import unicodedata

from trafilatura.xml import xmltotxt

from newsflow.ingest.config import ExtractConfig
from newsflow.ingest.extract.chrome import Removed, strip_chrome
from newsflow.ingest.extract.options import ExtractOptions
from newsflow.ingest.extract.trafilatura_adapter import Document

LAYOUT_TABLE_SHARE = 0.5


def body_text(doc: Document | None, settings: ExtractConfig, options: ExtractOptions) -> tuple[str, list[Removed]]:
    """trafilatura's body as text, one block (paragraph, heading, quote, list, table) per
    paragraph, blocks separated by a blank line; then the chrome filter."""
    if doc is None or doc.body is None:
        return "", []
    body = doc.body
    blocks = [body.text.strip()] if body.text and body.text.strip() else []
    for child in body:
        block = xmltotxt(child, False).strip()
        if block:
            blocks.append(block)
    text = unicodedata.normalize("NFC", "\n\n".join(blocks))  # as trafilatura.extract() does
    if not settings.boilerplate_filter:
        return text, []
    return strip_chrome(text, inner=options.inner_chrome, calls_to_action=options.calls_to_action,
                        inner_lines=options.inner_lines)


def layout_table(text: str) -> bool:
    """Most of the text in table rows ("| cell | cell |"): a page laid out with tables, whose
    row trafilatura took whole, navigation and all."""
    rows = sum(len(line) for line in text.split("\n") if line.lstrip().startswith("|"))
    return rows > LAYOUT_TABLE_SHARE * len(text)
