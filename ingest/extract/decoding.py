"""Page bytes -> str: byte-order mark, else UTF-8, else the declared charset, else a guess
(``decode_page``: the policy, and how each step fails).

Also what tells a page's bytes from a file's (``BYTE_ORDER_MARKS``: the one table of them, which
the fetcher's sniffing uses too) and how a saved or served gzip is opened, capped.
"""

from __future__ import annotations

import codecs
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from charset_normalizer import from_bytes

from newsflow.ingest.extract.errors import ExtractionError

# Bigger decompressed pages are refused rather than parsed (a gzip bomb, a data dump).
MAX_PAGE_BYTES = 50_000_000

# Byte-order marks and the encoding each one announces.
BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"BZh", b"\xfd7zXZ", b"OggS", b"ID3",
          b"RIFF", b"\x00\x00\x01\x00", b"\x00asm", b"\x7fELF", b"(\xb5/\xfd")
# A declared charset is kept while its bad bytes (each replaced by U+FFFD) are at most one in
# STRAY_SHARE of the page's non-ASCII characters, or at most STRAY_BYTES when at least as many
# non-ASCII characters decode well (``_few_bad_bytes`` says why). Undeclared UTF-8 gets the share.
STRAY_SHARE = 20
STRAY_BYTES = 3
_ESCAPED = re.compile("[\udc00-\udcff]")  # a bad byte under errors=_ESCAPE


def _escape_bad_bytes(err: UnicodeError) -> tuple[str, int]:
    """Each undecodable byte as one lone surrogate, U+DC00 + the byte: as "surrogateescape" does,
    but for bytes under 0x80 as well (a truncated UTF-16 unit, a broken ISO-2022 escape), which
    "surrogateescape" refuses. No codec decodes valid input to a lone surrogate, so they count."""
    assert isinstance(err, UnicodeDecodeError)
    return "".join(chr(0xDC00 + b) for b in err.object[err.start:err.end]), err.end


_ESCAPE = "newsflow.escape_bad_bytes"
codecs.register_error(_ESCAPE, _escape_bad_bytes)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-z0-9_.:+-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-z0-9_.:+-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-z0-9_.:+-]+)", re.I)
# What browsers decode these labels as (WHATWG Encoding): pages labelled latin-1 are cp1252.
_WHATWG = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
           "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874",
           "gb2312": "gb18030", "gbk": "gb18030", "x-sjis": "shift_jis", "ks_c_5601-1987": "euc-kr",
           "windows-874": "cp874", "iso-8859-8-i": "iso8859-8", "x-mac-roman": "mac-roman"}
# Codecs python knows that are no page's charset: they would "decode" any page, wrongly.
_NOT_CHARSETS = frozenset({"utf-7", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
_ASCII_PROBE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
# Legacy encodings still seen on the web (python codec names, as charset_normalizer gives them).
_COMMON_LEGACY = frozenset({
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
    "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_8", "iso8859_9", "iso8859_15", "koi8_r", "koi8_u",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "euc_kr", "cp949", "gb2312", "gbk", "gb18030", "big5", "big5hkscs",
    # the JIS X 0213 supersets, which charset_normalizer names for EUC-JP and Shift_JIS pages
    "euc_jis_2004", "euc_jisx0213", "shift_jis_2004", "shift_jisx0213",
})


def read_page(path: str | Path, max_bytes: int = MAX_PAGE_BYTES) -> bytes:
    """A saved page's bytes, gunzipped when the file is gzip (by content, whatever its name)."""
    data = Path(path).read_bytes()
    return _gunzip(data, max_bytes, str(path)) if data[:2] == b"\x1f\x8b" else data


@dataclass(frozen=True)
class Decoded:
    """A page's text and how its charset was chosen.

    ``source``: "bom"; "header", "xml" or "meta", the declaration that was kept; "utf-8", (nearly)
    valid UTF-8 against another declaration or none; "guess", charset-normalizer's; "fallback",
    UTF-8 with replacements when nothing else decoded. ``replaced``: undecodable bytes, each shown
    as U+FFFD (a run of them may show as one). ``overruled``: the declarations not kept, as
    "meta: utf-8".
    """

    text: str
    encoding: str
    source: str
    replaced: int = 0
    overruled: tuple[str, ...] = ()

    def note(self) -> str | None:
        """One line for the extraction's notes when the charset choice is worth logging, else None."""
        parts = []
        if self.replaced:
            parts.append(f"{self.replaced} undecodable byte{'s' if self.replaced > 1 else ''} replaced")
        if self.overruled:
            parts.append(f"declared charset overruled ({', '.join(self.overruled)})")
        if not parts:
            return None
        return f"charset {self.encoding} ({self.source}): " + "; ".join(parts)


def decode_html(data: bytes, content_type: str | None = None, url: str | None = None) -> str:
    """Bytes -> str (``decode_page``'s text)."""
    return decode_page(data, content_type, url).text


def decode_page(data: bytes, content_type: str | None = None, url: str | None = None) -> Decoded:
    """Bytes -> str: a BOM, else (nearly) valid UTF-8, else the declared charset, else a guess.

    1. A byte-order mark wins over any declaration (as in the HTML standard).
    2. Valid UTF-8, or UTF-8 with at most one bad byte in ``STRAY_SHARE`` of its non-ASCII
       characters, wins over any other declaration. This departs from the HTML standard, where
       a header charset is "certain": UTF-8 proves itself, since legacy-encoded text is almost
       never valid UTF-8 by chance, while a single-byte legacy charset (windows-1252, koi8-r...)
       decodes any bytes without an error, so "it decodes" is no evidence for it; and pages
       labelled latin-1 but written in UTF-8 are common.
    3. The declared charset, in the order the HTML standard ranks them: the HTTP header, then an
       XML declaration, then <meta>. One is kept when it decodes the page with a few bad bytes at
       most (``_few_bad_bytes``), each replaced by U+FFFD: a stray byte in a UTF-8 page must not
       throw its declaration away for a guess, which turns the rest of the page into mojibake.
       An unknown name is skipped; a declaration that clearly fails (many bad bytes: the page is
       in another encoding) is skipped.
    4. Else a guess (charset-normalizer, the web's common legacy encodings first).

    Raises ExtractionError(kind="not_html") for binary data and "too_large" for a gzip bomb.
    """
    if data[:2] == b"\x1f\x8b":  # a gzipped body or file: the CLI and some servers hand these over
        data = _gunzip(data, MAX_PAGE_BYTES, url)
    for bom, encoding in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            body = data[len(bom):]
            reading = _read(body, encoding)
            return Decoded(reading.text, encoding, "bom", reading.bad, _contradicted(content_type, body[:4096], encoding))
    head = data[:4096]
    if head.lstrip().startswith(_MAGIC) or b"\x00" in head or len(_CONTROL.findall(head)) > len(head) // 20:
        raise ExtractionError("binary content, not HTML", kind="not_html", url=url)
    declared = _declarations(content_type, head)
    utf8 = _read(data, "utf-8")
    if utf8.bad * STRAY_SHARE <= utf8.non_ascii:  # valid, or a few broken bytes: a pasted snippet
        first = next(((source, codec) for source, _, codec in declared if codec), None)
        source = first[0] if first and first[1] == "utf-8" else "utf-8"
        return Decoded(utf8.text, "utf-8", source, utf8.bad, _overruled(declared, "utf-8"))
    for source, _label, codec in declared:
        if codec is None:
            continue  # a name no codec answers to: the next declaration, or a guess
        reading = utf8 if codec == "utf-8" else _read(data, codec)
        if _few_bad_bytes(reading):
            return Decoded(reading.text, codec, source, reading.bad, _overruled(declared, codec))
    for guess in _guess_encodings(data):
        try:
            return Decoded(data.decode(guess), _codec(guess) or guess, "guess", 0, _overruled(declared, None))
        except (LookupError, UnicodeDecodeError):
            continue
    return Decoded(utf8.text, "utf-8", "fallback", utf8.bad, _overruled(declared, "utf-8"))


@dataclass(frozen=True)
class _Reading:
    text: str  # undecodable bytes as U+FFFD
    bad: int  # undecodable bytes
    non_ascii: int  # non-ASCII characters, bad bytes included (0 when there are no bad bytes: not counted)


def _read(data: bytes, encoding: str) -> _Reading:
    try:
        return _Reading(data.decode(encoding), 0, 0)
    except UnicodeDecodeError:
        pass
    escaped = data.decode(encoding, errors=_ESCAPE)  # each bad byte as one lone surrogate
    bad = len(_ESCAPED.findall(escaped))
    non_ascii = len(escaped) - len(escaped.encode("ascii", "ignore"))
    return _Reading(data.decode(encoding, errors="replace"), bad, non_ascii)


def _few_bad_bytes(reading: _Reading) -> bool:
    """A declared charset that decodes the page with a few bad bytes at most: kept.

    A wrong declaration breaks at nearly every non-ASCII character (legacy text read as UTF-8:
    each accented letter is a bad byte and next to nothing decodes; Shift_JIS or EUC-JP read as
    UTF-8: most bytes fail), so its bad bytes rival or outnumber the characters it decodes. A
    stray byte (a snippet pasted from a cp1252 document) is one among many good characters. So:
    at most one bad byte in ``STRAY_SHARE`` non-ASCII characters, as for undeclared UTF-8, or,
    since the declaration tips the balance, up to ``STRAY_BYTES`` bad bytes when at least as
    many non-ASCII characters decode (a short or mostly English page with a few accented words).
    """
    good = reading.non_ascii - reading.bad
    return reading.bad * STRAY_SHARE <= reading.non_ascii or (reading.bad <= STRAY_BYTES and reading.bad <= good)


def _declarations(content_type: str | None, head: bytes) -> list[tuple[str, str, str | None]]:
    """(source, label, codec or None when unknown) of each charset declaration, HTML's order."""
    found = []
    for source, match in (("header", _HEADER_CHARSET.search(content_type or "")),
                          ("xml", _XML_ENCODING.search(head)), ("meta", _META_CHARSET.search(head))):
        if match:
            label = match.group(1)
            label = label.decode("ascii", "ignore") if isinstance(label, bytes) else label
            found.append((source, label.strip().lower(), _codec(label)))
    return found


def _overruled(declared: list[tuple[str, str, str | None]], kept: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"{source}: {label}" for source, label, codec in declared if codec != kept))


def _contradicted(content_type: str | None, head: bytes, encoding: str) -> tuple[str, ...]:
    return _overruled(_declarations(content_type, head), encoding)


def _guess_encodings(data: bytes) -> list[str]:
    """charset_normalizer's plausible decodings, the web's common legacy encodings first.

    Its own ranking on a few hundred bytes of Western text is noisy: iso8859-14 (Celtic)
    or cp1250 can beat cp1252 by a hair of "coherence" and turn "«ça»" into "ḋçaṠ" or
    "naïve" into "naďve". So: common web encodings before rare ones, then less chaos, then
    more coherence, and on a tie cp1252, what undeclared legacy pages mostly are.
    """
    sample = data if len(data) < 20_000 else data[:10_000] + data[-10_000:]
    results = list(from_bytes(sample)) or list(from_bytes(data))
    results.sort(key=lambda r: (r.encoding not in _COMMON_LEGACY, r.chaos, -r.coherence, r.encoding != "cp1252"))
    return [r.encoding for r in results if r.encoding != "utf_8"]  # utf-8 was proven wrong already


@lru_cache(maxsize=256)
def _codec(label: str | bytes) -> str | None:
    """The codec for a charset label, or None for an unknown one or one that is not ASCII-compatible
    (EBCDIC, UTF-7, python's own text transforms): an HTML page's markup is ASCII."""
    name = (label.decode("ascii", "ignore") if isinstance(label, bytes) else label).strip().lower()
    name = _WHATWG.get(name, name)
    try:
        name = codecs.lookup(name).name.replace("_", "-")
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        # No NUL bytes (binary content is refused first), so not UTF-16 or UTF-32 whatever the label
        # says; the HTML standard reads a <meta> label of UTF-16 as UTF-8.
        return "utf-8"
    if name in _NOT_CHARSETS:
        return None
    try:
        return name if _ASCII_PROBE.decode(name) == _ASCII_PROBE.decode("ascii") else None
    except (UnicodeError, LookupError):
        return None


def _gunzip(data: bytes, max_bytes: int, where: str | None) -> bytes:
    out = zlib.decompressobj(31)  # 31: gzip header
    try:
        body = out.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ExtractionError(f"corrupt gzip data ({exc})", kind="not_html", url=where) from exc
    if len(body) > max_bytes:
        raise ExtractionError(f"page over {max_bytes} bytes once gunzipped", kind="too_large", url=where)
    if not body and not out.eof:  # a truncated stream still gives its text; this gave nothing
        raise ExtractionError("corrupt gzip data (no content)", kind="not_html", url=where)
    return body
