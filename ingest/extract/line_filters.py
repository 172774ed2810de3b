"""Filters of single lines anywhere in an article's text, each on its own evidence.

* **credits**: a line that labels a picture or a paid post (an image credit or source, a ©
  notice, an advertising label) or a dateline alone (``strip_credits``);
* **role boxes**: a line the page shows inside an element whose class or id names a role
  never article text: a newsletter form, a disclaimer, a photo credit (``RoleBoxes`` tells
  the elements as trafilatura reads them, ``lines_in_boxes`` drops the lines);
* **form boxes**: a line the page shows inside the small box around an email field or a text
  area: a sign-up or comment form, in any language (``form_boxes``, then ``lines_in_boxes``);
* **the tail check**: the last lines a second extractor (readability) does not confirm
  (``unconfirmed_tail``).

The words they look for are data (``vocabulary``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from lxml.html import HtmlElement

from newsflow.ingest.extract.chrome import FilterResult, Removed
from newsflow.ingest.extract.vocabulary import ADVERT_LABELS, CREDIT_LABELS, MONTH_STEMS, ROLE_NAMES, TAXONOMY_CLASS_PREFIXES

# The second opinion's tail check (``unconfirmed_tail``): the other extractor must hold at
# least this share of the text (else it read another block and its silence means nothing),
# and the tail it does not confirm may be at most this share of the text (a closing box, not
# half the article).
MIN_CONFIRMED_SHARE = 0.7
MAX_UNCONFIRMED_TAIL_SHARE = 0.3
MIN_BOX_LINE_WORDS = 4  # shorter lines leave a role box only when they are most of it
MAX_CREDIT_WORDS = 15
MAX_MARKED_WORDS = 40  # an advertising label or a © notice may carry a sentence or two
MAX_FORM_BOX_WORDS = 60  # a sign-up or comment form's box: heading, labels, fine print
MIN_FORM_LINE_WORDS = 2  # a form's labels are short ("Name *"); one word alone may be anything

_WORD = re.compile(r"\w+")
# A line that labels a picture or a paid post, not article text: an image credit or source
# ("Foto: dpa", "Crédits photos : X", "Quelle: Y", "© Reuters | Z"), an advertising label
# ("Anzeige - ...", "*Werbung. ..."). The label must be followed by its separator, so "Werbung
# nervt." or "Source code matters" stay. Labels, not sentences; short lines only.
_CREDIT_LINE = re.compile(
    rf"[\W_]*(?:(?:{'|'.join(CREDIT_LABELS)}) ?[:©]|(?P<ad>(?:{'|'.join(ADVERT_LABELS)}) ?[-–:.|*])|(?P<copy>[©ⓒ]))",
    re.IGNORECASE,
)
# A dateline alone on its line ("23.10.2018", "3:59 PM", "January 13, 2020 at 08:45 AM"): the
# page's date, shown above or under the text, which the date field holds.
_MONTH = rf"(?:{'|'.join(MONTH_STEMS)})[^\W\d]*\.?"
_DATE_LINE = re.compile(
    rf"\W*(?:\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{4}}-\d\d-\d\d|\d{{1,2}}\.? {_MONTH} \d{{4}}|{_MONTH} \d{{1,2}},? \d{{4}}|(?=\d{{1,2}}:\d\d))"
    r"(?: ?(?:[|,–-]|um|at|à)? ?\d{1,2}:\d\d(?: ?[ap]\.?m\.?| ?uhr)?)?\W*",
    re.IGNORECASE,
)
# Role names in an element's class or id, once its taxonomy classes are set aside.
ROLE_WORDS = re.compile("|".join(ROLE_NAMES), re.IGNORECASE)
# An input field for an email address (type, name, id or placeholder says so).
_EMAIL_FIELD = re.compile(r"mail", re.IGNORECASE)
_TAXONOMY_CLASS = re.compile(rf"\b(?:{'|'.join(TAXONOMY_CLASS_PREFIXES)})-\S*", re.IGNORECASE)
_ROLE_STOP = frozenset({"body", "html", "article", "main"})


def strip_credits(text: str) -> FilterResult:
    """Drop image credits, © notices, advertising labels and datelines anywhere in ``text``
    (``_CREDIT_LINE``, ``_DATE_LINE``): they label a picture, a paid post or the page, never
    the article."""
    return _drop_lines(text, _credit_line, "credit")


def _credit_line(line: str) -> bool:
    """An image credit, a © notice, an advertising label or a dateline alone, anywhere in the
    text (module doc)."""
    m = _CREDIT_LINE.match(line)
    if not m:
        return _DATE_LINE.fullmatch(line) is not None
    limit = MAX_MARKED_WORDS if m.group("ad") or m.group("copy") else MAX_CREDIT_WORDS
    return len(_WORD.findall(line)) <= limit


def unconfirmed_tail(text: str, other: str) -> FilterResult:
    """Cut the lines at the end of ``text`` that a second extractor's text (``other``) lacks.

    Two extractors that agree on the article but not on its last lines: the lines only one of
    them kept are a closing box (author bio, promo, "more on this topic", comment form) far
    more often than article text. Only the tail: a lead or teaser that the other one skipped
    at the head is article text as often as not. Lines are compared as word sequences, so the
    other extractor's own line breaks and punctuation do not matter.
    """
    other_words = " " + " ".join(_WORD.findall(other.casefold())) + " "
    lines = text.split("\n")
    sized = [(i, len(line)) for i, line in enumerate(lines) if _WORD.search(line)]

    def confirmed(i: int) -> bool:
        return f" {' '.join(_WORD.findall(lines[i].casefold()))} " in other_words

    cut = len(lines)
    for i, _ in reversed(sized):
        if confirmed(i):
            break
        cut = i
    tail = [line.strip() for line in lines[cut:] if line.strip()]
    if not tail:  # most pages: the last line is confirmed, and no other line needs looking up
        return FilterResult(text, [])
    total = sum(n for _, n in sized)
    if sum(n for i, n in sized if i < cut and confirmed(i)) < MIN_CONFIRMED_SHARE * total:
        return FilterResult(text, [])
    if sum(len(line) for line in lines[cut:] if _WORD.search(line)) > MAX_UNCONFIRMED_TAIL_SHARE * total:
        return FilterResult(text, [])
    return FilterResult("\n".join(lines[:cut]).rstrip(), [Removed(line, "unconfirmed", "tail") for line in tail])


@dataclass
class RoleBoxes:
    """The texts of the blocks trafilatura keeps whose source element (or an ancestor below
    <article>/<main>) has a class or id naming a non-article role (``ROLE_WORDS``).

    trafilatura discards some of these names itself, but its guard against over-pruning puts
    them back on some pages. The answer per ancestor is cached, so siblings cost one
    dictionary lookup.
    """

    texts: list[str] = field(default_factory=list)
    known: dict[HtmlElement, bool] = field(default_factory=dict)  # holds the proxies, so lookups hit

    def observe(self, element: HtmlElement, block: HtmlElement) -> None:
        """One block trafilatura kept (``block``) and the page element it read it from."""
        if self.holds(element):
            self.texts.append(" ".join(block.itertext()))

    def holds(self, element: HtmlElement) -> bool:
        path = []
        el, found = element, False
        while el is not None and isinstance(el.tag, str) and el.tag not in _ROLE_STOP:
            if el in self.known:
                found = self.known[el]
                break
            path.append(el)
            names = f"{el.get('class') or ''} {el.get('id') or ''}"
            if names.strip() and ROLE_WORDS.search(_TAXONOMY_CLASS.sub(" ", names)):
                found = True
                break
            el = el.getparent()
        for seen in path:
            self.known[seen] = found
        return found


def form_boxes(tree: HtmlElement) -> list[str]:
    """The texts of the small boxes around a page's email fields and text areas: a newsletter
    sign-up or a comment form, with its heading, labels and fine print, in any language. A box is
    the largest ancestor of the field (below <article>/<main>/<body>) holding at most
    ``MAX_FORM_BOX_WORDS`` words, so a page wrapped whole in a <form> (ASP.NET) has none."""
    boxes: list[str] = []
    seen: set[HtmlElement] = set()
    for field_el in tree.iter("input", "textarea"):
        if field_el.tag == "input" and not _EMAIL_FIELD.search(
                f"{field_el.get('type') or ''} {field_el.get('name') or ''} {field_el.get('id') or ''} {field_el.get('placeholder') or ''}"):
            continue
        box = None
        for parent in field_el.iterancestors():
            if not isinstance(parent.tag, str) or parent.tag in _ROLE_STOP:
                break
            if len(parent.text_content().split()) > MAX_FORM_BOX_WORDS:  # lxml's own walk: cheap
                break
            box = parent
        if box is not None and box not in seen:
            seen.add(box)
            text = _shown_text(box)
            if text.strip():
                boxes.append(text)
    return boxes


def quotes(box: str, words: list[str]) -> bool:
    """Whether the text ``box`` holds the token sequence ``words`` (casefolded ``\\w+`` tokens)."""
    return f" {' '.join(words)} " in " " + " ".join(_WORD.findall(box.casefold())) + " "


def _shown_text(el: HtmlElement) -> str:
    """The text of ``el`` but what a text area holds: a "share by email" form comes prefilled
    with the article's own lead."""
    parts = []
    for node in el.iter():
        if node is not el and node.tail:
            parts.append(node.tail)
        if node.text and node.tag != "textarea" and isinstance(node.tag, str):
            parts.append(node.text)
    return " ".join(parts)


def lines_in_boxes(text: str, boxes: list[str], min_words: int = MIN_BOX_LINE_WORDS) -> FilterResult:
    """Drop the lines of ``text`` that the page shows inside one of ``boxes`` (the texts of
    elements whose class or id names a non-article role: a newsletter form, a disclaimer, a
    photo credit; ``RoleBoxes``; or a form, ``form_boxes``). Lines are compared as word sequences;
    a short line (under ``min_words`` words) must be most of its box, as a few words can sit inside
    any box by chance."""
    keyed = [" " + " ".join(_WORD.findall(box.casefold())) + " " for box in boxes]
    keyed = [box for box in keyed if box.strip()]
    if not keyed:
        return FilterResult(text, [])

    def in_box(line: str) -> bool:
        words = _WORD.findall(line.casefold())
        key = f" {' '.join(words)} "
        return any(key in box and (len(words) >= min_words or 2 * len(key) >= len(box)) for box in keyed)

    return _drop_lines(text, in_box, "box")


def _drop_lines(text: str, test: Callable[[str], bool], category: str) -> FilterResult:
    kept: list[str] = []
    removed: list[Removed] = []
    for line in text.split("\n"):
        if line.strip() and test(line):
            removed.append(Removed(line.strip(), category, "inner"))
            if kept and not kept[-1].strip():
                kept.pop()  # with the blank line that separated it
            continue
        kept.append(line)
    while kept and not kept[0].strip():
        kept.pop(0)
    return FilterResult("\n".join(kept).rstrip(), removed)
