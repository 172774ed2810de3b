"""Page bytes -> str: byte-order mark, else UTF-8, else the declared charset, else a guess.

Also what tells a page's bytes from a file's (``BYTE_ORDER_MARKS``: the one table of them, which
the fetcher's sniffing uses too) and how a saved or served gzip is opened, capped.
"""

from __future__ import annotations

import codecs
import re
import zlib
from pathlib import Path

from charset_normalizer import from_bytes

from newsflow.ingest.extract.errors import ExtractionError

# Bigger decompressed pages are refused rather than parsed (a gzip bomb, a data dump).
MAX_PAGE_BYTES = 50_000_000

# Byte-order marks and the encoding each one announces.
BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"BZh", b"\xfd7zXZ", b"OggS", b"ID3",
          b"RIFF", b"\x00\x00\x01\x00", b"\x00asm", b"\x7fELF", b"(\xb5/\xfd")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-z0-9_.:+-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-z0-9_.:+-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-z0-9_.:+-]+)", re.I)
# What browsers decode these labels as (WHATWG Encoding): pages labelled latin-1 are cp1252.
_WHATWG = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
           "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874",
           "gb2312": "gb18030", "gbk": "gb18030", "x-sjis": "shift_jis", "ks_c_5601-1987": "euc-kr"}
# Legacy encodings still seen on the web (python codec names, as charset_normalizer gives them).
_COMMON_LEGACY = frozenset({
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
    "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_8", "iso8859_9", "iso8859_15", "koi8_r", "koi8_u",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "euc_kr", "cp949", "gb2312", "gbk", "gb18030", "big5", "big5hkscs",
})


def read_page(path: str | Path, max_bytes: int = MAX_PAGE_BYTES) -> bytes:
    """A saved page's bytes, gunzipped when the file is gzip (by content, whatever its name)."""
    data = Path(path).read_bytes()
    return _gunzip(data, max_bytes, str(path)) if data[:2] == b"\x1f\x8b" else data


def decode_html(data: bytes, content_type: str | None = None, url: str | None = None) -> str:
    """Bytes -> str: BOM, else UTF-8, else the declared charset (HTTP, meta), else a guess.

    (Nearly) valid UTF-8 wins over a declaration because pages labelled latin-1 but written
    in UTF-8 are common, and legacy-encoded text is almost never valid UTF-8 by chance.
    Raises ExtractionError(kind="not_html") for binary data and "too_large" for a gzip bomb.
    """
    if data[:2] == b"\x1f\x8b":  # a gzipped body or file: the CLI and some servers hand these over
        data = _gunzip(data, MAX_PAGE_BYTES, url)
    for bom, encoding in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, errors="replace")
    head = data[:4096]
    if head.lstrip().startswith(_MAGIC) or b"\x00" in head or len(_CONTROL.findall(head)) > len(head) // 20:
        raise ExtractionError("binary content, not HTML", kind="not_html", url=url)
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    # Valid UTF-8, or UTF-8 with a few broken bytes (a pasted snippet in another encoding):
    # legacy text read as UTF-8 breaks at nearly every non-ASCII byte instead.
    if broken == 0 or broken <= len(_NON_ASCII.findall(text)) // 20:
        return text
    declared = [_HEADER_CHARSET.search(content_type or ""), _XML_ENCODING.search(head), _META_CHARSET.search(head)]
    for match in declared:
        encoding = _codec(match.group(1)) if match else None
        if encoding and encoding != "utf-8":  # a utf-8 label was just proven wrong
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                pass
    for guess in _guess_encodings(data):
        try:
            return data.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


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


def _codec(label: str | bytes) -> str | None:
    name = (label.decode("ascii", "ignore") if isinstance(label, bytes) else label).strip().lower()
    name = _WHATWG.get(name, name)
    try:
        return codecs.lookup(name).name.replace("_", "-")
    except LookupError:
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
