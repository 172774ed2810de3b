"""Content-Encoding decoding with a hard cap on what it produces: a compression bomb is stopped
at the cap, never inflated whole. Pure: bytes in, bytes out, no I/O.

Only the encodings newsflow asks for (``ACCEPT``) are decoded, one layer of them: a server that
stacks encodings ("gzip, gzip") or sends one it was not asked for (zstd, br) is refused.
"""

from __future__ import annotations

import zlib

# What the fetcher sends as Accept-Encoding; everything else is refused.
ACCEPT = ("gzip", "deflate")
ACCEPT_HEADER = ", ".join(ACCEPT)


# How much of a deflate body is kept for a retry as raw deflate: the zlib header's check fails
# on its first two bytes, other errors of a mislabelled raw stream come within its first blocks.
RAW_RETRY_WINDOW = 65_536


class DecodingRefused(ValueError):
    """The body's Content-Encoding is one newsflow did not ask for, or several stacked."""


class OverCap(ValueError):
    """Decoding would produce more than the cap."""


class Decoder:
    """Feed it network chunks; it returns decoded bytes and raises ``OverCap`` as soon as the
    total would pass ``cap``. Memory stays within about ``cap`` plus one chunk."""

    def __init__(self, coding: str, cap: int) -> None:
        self.coding = coding
        self.cap = cap
        self.produced = 0
        self._zlib = self._new() if coding != "identity" else None
        # deflate: the input so far, while nothing came out of it: a retry as raw deflate starts
        # from its first byte, which an earlier chunk may hold. None once no retry is possible.
        self._raw_retry: bytes | None = b"" if coding == "deflate" else None

    def _new(self) -> "zlib._Decompress":
        if self.coding == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(zlib.MAX_WBITS)  # deflate: zlib-wrapped, as RFC 9110 says

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return self._count(chunk)
        out = bytearray()
        data = chunk
        if self._raw_retry is not None:
            self._raw_retry = self._raw_retry + chunk if len(self._raw_retry) < RAW_RETRY_WINDOW else None
        while data:
            room = self.cap - self.produced - len(out) + 1  # one byte over the cap proves the bomb
            try:
                piece = self._zlib.decompress(data, room)
            except zlib.error:
                if self._raw_retry is not None and self.produced == 0 and not out:
                    # Many servers send raw deflate without the zlib wrapper.
                    data, self._raw_retry = self._raw_retry, None
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            out += piece
            if self.produced + len(out) > self.cap:
                raise OverCap(f"decoded body is over the {self.cap}-byte cap")
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                break  # trailing bytes after the stream's end are ignored, as browsers do
        return self._count(bytes(out))

    def _count(self, data: bytes) -> bytes:
        if data:
            self._raw_retry = None
        self.produced += len(data)
        if self.produced > self.cap:
            raise OverCap(f"body is over the {self.cap}-byte cap")
        return data


def decoder(content_encoding: str | None, cap: int) -> Decoder:
    """The decoder for a response's Content-Encoding header, or ``DecodingRefused``."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    codings = ["gzip" if c == "x-gzip" else c for c in codings]
    if not codings:
        return Decoder("identity", cap)
    if len(codings) > 1:
        raise DecodingRefused(f"stacked content encodings ({', '.join(codings)}) refused: newsflow decodes one layer")
    if codings[0] not in ACCEPT:
        raise DecodingRefused(f"content encoding {codings[0][:40]!r} was not asked for (Accept-Encoding: {ACCEPT_HEADER})")
    return Decoder(codings[0], cap)
