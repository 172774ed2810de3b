"""Every use of trafilatura's internals, in one place; tests/test_trafilatura_adapter.py fails
when a trafilatura upgrade changes one of them.

The rest of the extractor uses trafilatura's documented functions only (``bare_extraction``,
``load_html``, ``xmltotxt``: its docs' "Core functions"). Three things it needs have no public
way in:

* **readability's reading of the page.** trafilatura (default mode) runs readability on every
  page as its safety net, compares, and throws readability's answer away when its own wins.
  That answer is the tail check's second opinion (``line_filters.unconfirmed_tail``).
  ``try_readability`` is documented, but calling it ourselves would run readability a second
  time, and on pages trafilatura never asks it about; so trafilatura's own call goes through a
  recorder, which keeps the first answer for the ``read_body`` call in progress.
* **the source element of each block.** trafilatura's output blocks carry no trace of the
  element they came from, and looking the lines up in the page again is costly. trafilatura
  hands every candidate block's source element to ``main_extractor.handle_textelem``; a
  recorder around it passes each block it keeps, with that element, to ``read_body``'s
  ``on_block`` (``line_filters.RoleBoxes``).
* **the steps of ``extract_metadata``** (meta tags, JSON-LD, the title, author and site-name
  fallbacks, htmldate's parameters): the public function runs them all, including a byline
  search over the whole page and htmldate's extensive search, which ``metadata.page_metadata``
  narrows or skips.

The two recorders are installed when this module is imported: they replace module attributes
that trafilatura looks up at each call, call the original and return its answer unchanged.
What they record goes to the ``read_body`` call that set the context variable (threads and
concurrent calls keep their own); outside one, nothing is recorded. Should trafilatura stop
calling either function, nothing is recorded and the check that needs it does not run.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Callable

import trafilatura
import trafilatura.external
import trafilatura.main_extractor
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_sitename, extract_title
from trafilatura.settings import Document, set_date_params

__all__ = [
    "Document", "Reading", "examine_meta", "extract_author", "extract_meta_json", "extract_sitename", "extract_title",
    "read_body", "set_date_params",
]

# A block trafilatura kept, with the page element it read it from: (element, block).
BlockHook = Callable[[HtmlElement, HtmlElement], None]


@dataclass(frozen=True)
class Reading:
    """trafilatura's document (its body tree, no metadata) and readability's reading of the
    page when trafilatura computed one (its first non-empty answer), else None."""

    document: Document | None
    readability: HtmlElement | None


@dataclass
class _Watch:
    on_block: BlockHook | None
    readability: HtmlElement | None = None


_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar("trafilatura_watch", default=None)


def read_body(tree: HtmlElement, url: str, *, favor_precision: bool = False, on_block: BlockHook | None = None) -> Reading:
    """trafilatura's body of the page ``tree`` (it works on its own copy), with what its run showed."""
    watch = _Watch(on_block)
    token = _WATCH.set(watch)
    try:
        options = {"favor_precision": True} if favor_precision else {}
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,  # metadata.page_metadata: the fields an Article has
            include_comments=False,
            output_format="txt",  # body.body_text serialises doc.body; skips trafilatura's own pass
            **options,
        )
    finally:
        _WATCH.reset(token)
    return Reading(document, watch.readability)  # type: ignore[arg-type]  # not as_dict: a Document


# --- the recorders ------------------------------------------------------------------------

_try_readability = getattr(trafilatura.external, "try_readability", None)
_try_readability = getattr(_try_readability, "__wrapped__", _try_readability)  # a reloaded module wraps once
_handle_textelem = trafilatura.main_extractor.handle_textelem
_handle_textelem = getattr(_handle_textelem, "__wrapped__", _handle_textelem)


def recorded_readability(tree: HtmlElement) -> HtmlElement:
    assert _try_readability is not None
    result = _try_readability(tree)
    watch = _WATCH.get()
    if watch is not None and watch.readability is None and result is not None and len(result):
        watch.readability = result
    return result


def recorded_textelem(element, potential_tags, options):  # type: ignore[no-untyped-def]
    result = _handle_textelem(element, potential_tags, options)
    watch = _WATCH.get()
    if result is not None and watch is not None and watch.on_block is not None:
        watch.on_block(element, result)
    return result


if _try_readability is not None:
    recorded_readability.__wrapped__ = _try_readability  # type: ignore[attr-defined]
    trafilatura.external.try_readability = recorded_readability
recorded_textelem.__wrapped__ = _handle_textelem  # type: ignore[attr-defined]
trafilatura.main_extractor.handle_textelem = recorded_textelem
