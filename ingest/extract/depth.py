"""The HTML parser's nesting limit: what a page nested deeper loses, and telling that it did.

lxml's HTML parser (libxml2, which trafilatura's ``load_html`` uses) holds at most ``MAX_DEPTH``
open elements. The element that would open below that, and everything after it in the page,
deep or not, are dropped with a fatal "Excessive depth in document" error that trafilatura
does not report: the tree just ends there. Unclosed inline tags (``<font>``, ``<b>``) pile up
that deep on sloppy pages, as do hostile ones.

The limit stays. lxml's ``huge_tree`` lifts it to 2,048, but the extractor's work grows with
depth times elements: a 2.2 MB page of elements nested 2,000 deep took 119 s to extract with
it, 0.25 s without (the parse stops at 256). So a page cut by the limit is told, not rescued:
``cut_by_depth`` says so, and the extractor names the cause (``too_deep``, or a note).
"""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, fromstring

# libxml2's limit without XML_PARSE_HUGE ("Excessive depth in document: 256"), <html> counted.
MAX_DEPTH = 256
_AT_LIMIT = etree.XPath("boolean(/" + "/".join(["*"] * MAX_DEPTH) + ")")


def cut_by_depth(tree: HtmlElement, html: str) -> bool:
    """Whether the parser dropped the end of ``html`` (parsed as ``tree``) at its depth limit.

    A tree that reaches ``MAX_DEPTH`` was cut or fits exactly; only those pages (next to none)
    are parsed again, alone, to read the parser's verdict.
    """
    if not _AT_LIMIT(tree):
        return False
    parser = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                        remove_pis=True)
    try:
        fromstring(html.encode("utf-8", "surrogatepass"), parser=parser)
    except (etree.ParserError, ValueError):
        pass
    return any(e.type_name == "ERR_RESOURCE_LIMIT" and "depth" in e.message.lower() for e in parser.error_log)
