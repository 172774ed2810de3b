"""The container check: trafilatura's answer against readability's reading of the page."""

from __future__ import annotations

from lxml.html import HtmlElement, fromstring

from newsflow.ingest.extract.container import check_container, reading_paragraphs

ARTICLE = [
    f"Paragraph {i} of the article says what happened in the harbour town on Sunday, and why the council voted as it did."
    for i in range(1, 7)
]
TEASERS = [f"Other story number {i} about something else entirely" for i in range(1, 25)]


def reading(paragraphs: list[str]) -> HtmlElement:
    return fromstring("<div>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>")


def check(text: str, paragraphs: list[str]):  # type: ignore[no-untyped-def]
    el = reading(paragraphs)
    return check_container(text, el, " ".join(el.itertext()))


def test_a_surplus_of_teasers_around_the_article_goes() -> None:
    text = "\n\n".join([*TEASERS[:12], *ARTICLE, *TEASERS[12:]])
    result = check(text, ARTICLE)
    assert result.verdict == "teasers"
    assert result.text == "\n\n".join(ARTICLE)
    assert {r.line for r in result.removed} == set(TEASERS)


def test_a_surplus_of_sentences_stays() -> None:
    # trafilatura read more than readability, but what it adds is prose: no evidence of a wrong block
    more = [f"Sentence number {i} adds a real detail to the story, as reporters on the scene confirmed." for i in range(40)]
    text = "\n\n".join([*ARTICLE, *more])
    result = check(text, ARTICLE)
    assert result.verdict is None and result.text == text


def test_inner_lines_readability_lacks_stay_when_the_surplus_goes() -> None:
    inner = "A subheading"
    text = "\n\n".join([*ARTICLE[:3], inner, *ARTICLE[3:], *TEASERS])
    result = check(text, ARTICLE)
    assert result.text == "\n\n".join([*ARTICLE[:3], inner, *ARTICLE[3:]])


def test_a_text_cut_short_takes_readabilitys_paragraphs() -> None:
    result = check("\n\n".join(ARTICLE[:2]), ARTICLE)
    assert result.verdict == "cut short"
    assert result.text == "\n\n".join(ARTICLE)


def test_a_longer_reading_of_headlines_is_not_taken() -> None:
    result = check("\n\n".join(ARTICLE[:2]), [*ARTICLE[:2], *TEASERS])
    assert result.verdict is None


def test_a_reading_of_another_block_is_no_evidence() -> None:
    other = [f"Unrelated paragraph {i} from a sidebar box, with enough words to be a reading." for i in range(12)]
    text = "\n\n".join([*ARTICLE, *TEASERS])
    assert check(text, other).verdict is None
    assert check("\n\n".join(ARTICLE[:1]), other).verdict is None


def test_reading_paragraphs_takes_outermost_blocks() -> None:
    el = fromstring("<div><p>One <b>bold</b> line</p><ul><li>Item <p>nested</p></li></ul><blockquote><p>Quote</p></blockquote></div>")
    assert reading_paragraphs(el) == ["One bold line", "Item nested", "Quote"]
