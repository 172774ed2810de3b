"""decoding.decode_page's charset policy: a BOM, else (nearly) valid UTF-8, else the declaration
when it decodes with a few bad bytes at most, else a guess. The mixed cases of issue 14, item 6."""

from __future__ import annotations

import pytest

from newsflow.ingest.extract.article import extract, extract_article
from newsflow.ingest.extract.decoding import STRAY_BYTES, decode_page

URL = "https://news.example.org/a.html"
WESTERN = "Büdget naïve façade «ça»"  # 6 non-ASCII characters: under STRAY_SHARE (20) for one bad byte
PAGE = """<!DOCTYPE html><html><head>{head}<title>Council budget</title></head><body><article>
<p>The city council approved the new {word} on Tuesday after a debate that lasted more than six hours.</p>
<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>
<p>The mayor said the budget protected schools and public transport while keeping fees unchanged.</p>
{extra}</article></body></html>"""
JAPANESE = "東京都議会は火曜日、六時間以上に及ぶ審議の末、新しい予算案を可決した。野党議員は、来年の税収見通しが楽観的すぎると批判した。"
JA_PAGE = f"<html><head>{{head}}<title>予算</title></head><body><article><p>{JAPANESE * 3}</p></article></body></html>"
UTF8_HEADER = "text/html; charset=utf-8"


def page(head: str = "", word: str = WESTERN, extra: str = "") -> str:
    return PAGE.format(head=head, word=word, extra=extra)


def with_stray_bytes(html: str, *stray: bytes) -> bytes:
    """``html`` in UTF-8 with each of ``stray`` (cp1252 bytes, invalid in UTF-8) in its own paragraph."""
    data = html.encode("utf-8")
    extra = b"".join(b"<p>Caf" + byte + b" au lait, said the waiter of the city hall canteen.</p>" for byte in stray)
    return data.replace(b"</article>", extra + b"</article>")


def test_declared_utf8_with_one_stray_latin1_byte_stays_utf8() -> None:
    # The page: UTF-8 declared in the header and <meta>, one cp1252 "é" pasted in. Before, the
    # declaration was dropped for a guess (cp1252) and every other non-ASCII character became mojibake.
    data = with_stray_bytes(page('<meta charset="utf-8">'), b"\xe9")
    decoded = decode_page(data, UTF8_HEADER)
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("utf-8", "header", 1)
    assert decoded.text.count("\ufffd") == 1
    assert "Caf\ufffd au lait" in decoded.text
    assert WESTERN in decoded.text and "Ã" not in decoded.text
    assert decoded.note() == "charset utf-8 (header): 1 undecodable byte replaced"
    result = extract(data, URL, content_type=UTF8_HEADER)
    assert WESTERN in result.article.text and "Ã" not in result.article.text
    assert "charset utf-8 (header): 1 undecodable byte replaced" in result.notes


def test_declared_in_meta_only_is_kept_too() -> None:
    # What the benchmark's pages see: no header, the <meta> declaration.
    decoded = decode_page(with_stray_bytes(page('<meta charset="UTF-8">'), b"\xe9", b"\xe8"))
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("utf-8", "meta", 2)
    assert WESTERN in decoded.text


def test_up_to_stray_bytes_are_kept_one_more_is_a_wrong_declaration() -> None:
    few = with_stray_bytes(page('<meta charset="utf-8">'), *[b"\xe9"] * STRAY_BYTES)
    assert decode_page(few).source == "meta"
    # One more: over STRAY_BYTES, and 4 bad bytes among 6 good characters are no few in 20: a guess.
    many = with_stray_bytes(page('<meta charset="utf-8">'), *[b"\xe9"] * (STRAY_BYTES + 1))
    assert decode_page(many).source == "guess"


def test_a_stray_byte_among_many_utf8_characters_is_kept_by_the_share() -> None:
    # 5 bad bytes among 20 x 6 good characters: one in 25, more than STRAY_BYTES, still a few.
    data = with_stray_bytes(page('<meta charset="utf-8">', word=" ".join([WESTERN] * 20)), *[b"\xe9"] * 5)
    decoded = decode_page(data)
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("utf-8", "meta", 5)


def test_declared_utf8_without_any_utf8_character_is_a_wrong_declaration() -> None:
    # An ASCII page with one byte that is not UTF-8 and nothing else non-ASCII: nothing backs the
    # label, and reading the byte as cp1252 cannot make mojibake of anything else.
    data = with_stray_bytes(page('<meta charset="utf-8">', word="budget"), b"\xe9")
    decoded = decode_page(data, UTF8_HEADER)
    assert decoded.source == "guess"  # cp1252 or cp1250 on so little: "é" is 0xE9 in both
    assert "Café au lait" in decoded.text and "\ufffd" not in decoded.text


def test_a_legacy_page_declared_utf8_is_guessed() -> None:
    data = page('<meta charset="utf-8">').encode("cp1252")
    decoded = decode_page(data, UTF8_HEADER)
    assert (decoded.encoding, decoded.source) == ("cp1252", "guess")
    assert decoded.overruled == ("header: utf-8", "meta: utf-8")
    assert WESTERN in decoded.text


@pytest.mark.parametrize("encoding", ["shift_jis", "euc_jp"])
def test_japanese_page_declared_utf8_is_guessed(encoding: str) -> None:
    # Many errors: the declaration clearly fails, and the guess reads the Japanese.
    data = JA_PAGE.format(head='<meta charset="utf-8">').encode(encoding)
    decoded = decode_page(data, UTF8_HEADER)
    assert decoded.source == "guess"
    assert JAPANESE in decoded.text and "\ufffd" not in decoded.text


def test_declared_legacy_multibyte_charset_with_a_bad_byte_is_kept() -> None:
    # EUC-JP can fail: two corrupt bytes among 150 good characters leave it declared.
    data = JA_PAGE.format(head='<meta charset="EUC-JP">').encode("euc_jp")
    data = data.replace("審議".encode("euc_jp"), b"\xff\xfe", 1)
    decoded = decode_page(data)
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("euc-jp", "meta", 2)
    assert "予算案を可決した" in decoded.text


def test_valid_utf8_beats_a_declared_single_byte_charset() -> None:
    # The HTML standard would keep the header's windows-1252, which decodes any bytes without an
    # error, so decoding is no evidence for it; valid UTF-8 is (legacy text almost never is).
    data = page('<meta charset="iso-8859-1">').encode("utf-8")
    decoded = decode_page(data, "text/html; charset=ISO-8859-1")
    assert (decoded.encoding, decoded.source) == ("utf-8", "utf-8")
    assert decoded.overruled == ("header: iso-8859-1", "meta: iso-8859-1")
    assert WESTERN in decoded.text


def test_the_header_wins_over_meta() -> None:
    html = "<html><head><meta charset='koi8-r'></head><body><p>" + "Переговоры в Женеве были сложными. " * 5 + "</p></body></html>"
    decoded = decode_page(html.encode("cp1251"), "text/html; charset=windows-1251")
    assert (decoded.encoding, decoded.source, decoded.overruled) == ("cp1251", "header", ("meta: koi8-r",))
    assert "Переговоры в Женеве" in decoded.text


def test_a_header_that_fails_gives_way_to_meta() -> None:
    data = JA_PAGE.format(head='<meta charset="shift_jis">').encode("shift_jis")
    decoded = decode_page(data, UTF8_HEADER)
    assert (decoded.encoding, decoded.source, decoded.overruled) == ("shift-jis", "meta", ("header: utf-8",))
    assert JAPANESE in decoded.text


@pytest.mark.parametrize("label", ["x-bogus-charset", "utf-7", "cp037", "unicode_escape", "rot13"])
def test_an_unknown_or_non_ascii_compatible_label_is_a_guess(label: str) -> None:
    # Not a charset a page can be in (python knows some: EBCDIC, UTF-7, its own text transforms).
    data = page(f'<meta charset="{label}">').encode("cp1252")
    decoded = decode_page(data, f"text/html; charset={label}")
    assert (decoded.encoding, decoded.source) == ("cp1252", "guess")
    assert WESTERN in decoded.text


def test_a_meta_utf16_label_on_a_page_without_nul_bytes_is_utf8() -> None:
    # The HTML standard's reading; python's utf-16 would "decode" the ASCII markup as CJK.
    data = with_stray_bytes(page('<meta charset="utf-16">'), b"\xe9")
    decoded = decode_page(data)
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("utf-8", "meta", 1)


def test_nothing_declared_is_guessed() -> None:
    data = page().encode("cp1252")
    decoded = decode_page(data)
    assert (decoded.encoding, decoded.source, decoded.overruled) == ("cp1252", "guess", ())
    assert decoded.note() is None
    assert WESTERN in decoded.text


def test_nothing_declared_valid_utf8_is_utf8() -> None:
    decoded = decode_page(page().encode("utf-8"))
    assert (decoded.encoding, decoded.source, decoded.replaced, decoded.note()) == ("utf-8", "utf-8", 0, None)


@pytest.mark.parametrize(
    ("bom", "encoding", "overruled"),
    [(b"\xef\xbb\xbf", "utf-8", ("header: shift_jis", "meta: windows-1252")),
     (b"\xff\xfe", "utf-16-le", ("header: shift_jis",))],  # a UTF-16 <meta> is not ASCII: not read
    ids=["utf-8", "utf-16-le"],
)
def test_a_bom_wins_over_the_declarations(bom: bytes, encoding: str, overruled: tuple[str, ...]) -> None:
    html = page('<meta charset="windows-1252">')
    decoded = decode_page(bom + html.encode(encoding), "text/html; charset=shift_jis")
    assert (decoded.encoding, decoded.source) == (encoding, "bom")
    assert decoded.overruled == overruled
    assert WESTERN in decoded.text and not decoded.text.startswith("\ufeff")
    assert WESTERN in extract_article(bom + html.encode(encoding), URL, content_type="text/html; charset=shift_jis").text


def test_an_undecodable_ascii_byte_is_counted_too() -> None:
    # A UTF-16 page cut mid-unit ends in a lone "\n": "surrogateescape" refuses bytes under 0x80
    # (found by the fuzz targets).
    decoded = decode_page(b"\xff\xfe" + "<p>café</p>".encode("utf-16-le") + b"\n")
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("utf-16-le", "bom", 1)
    assert decoded.text == "<p>café</p>\ufffd"
