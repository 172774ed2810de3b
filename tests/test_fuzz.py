"""Property-based fuzzing of the parsers and the extractor on mutated real feeds and pages.

The targets, strategies and properties are benchmarks/fuzz_targets.py's, shared with
`newsflow bench fuzz` (the long run, before a release). Here each target runs a modest number of
examples, the same ones on every run (derandomized: CI does not go red on a new random find; the
long run is for finding), each within its deadline. Below them: the regression tests of what
fuzzing found, and a short run of the command.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from benchmarks.fuzz_targets import PROLOG_PADDING, MemoryBound, _laughs, run_examples, targets
from newsflow.ingest.decompress import OverCap, decoder
from newsflow.ingest.extract.decoding import decode_html
from newsflow.ingest.feedparse import FeedError, parse_feed
from newsflow.ingest.opml import OpmlError, read_opml
from newsflow.ingest.urls import InvalidURL, canonical_url

REPO = Path(__file__).resolve().parent.parent
TARGETS = {t.name: t for t in targets()}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(TARGETS))
def test_property(name: str) -> None:
    target = TARGETS[name]
    run_examples(target, target.examples, derandomize=True)


# --- what fuzzing found -------------------------------------------------------------------------

FEED_TAIL = b'<rss version="2.0"><channel><title>t &l6;</title><item><title>&l6;</title><guid>g</guid></item></channel></rss>'


@pytest.mark.parametrize("codec", ["utf-8", "cp500", "utf-32"])
def test_feed_entities_past_the_first_megabyte_or_in_ebcdic_are_refused(codec: str) -> None:
    # A 1 MB comment before the DOCTYPE hid it from a scan of the first MB, and expat's amplification
    # limit grows with the document: 60 MB of titles and 200 MB of memory from a 1 MB feed.
    # EBCDIC and UTF-32 hid it from a byte search at any size.
    doc = b'<?xml version="1.0" encoding="%s"?>' % codec.encode() + PROLOG_PADDING + _laughs(6) + FEED_TAIL
    body = doc.decode().encode(codec)
    with MemoryBound(40_000_000), pytest.raises(FeedError) as exc:
        parse_feed(body, "http://a.example/feed")
    assert exc.value.kind == "entity_expansion"


@pytest.mark.parametrize("label", ["undefined", "utf-8\x00"])
def test_feed_with_an_encoding_label_feedparser_cannot_look_up_is_a_feed_error(label: str) -> None:
    # feedparser catches UnicodeDecodeError and LookupError, not the UnicodeError of the "undefined"
    # codec, nor codecs.lookup's ValueError on a NUL in the label.
    body = (b'<?xml version="1.0" encoding="%s"?><rss version="2.0"><channel><title>t\xe9</title></channel></rss>'
            % label.encode())
    for content_type in (None, f"application/rss+xml; charset={label}"):
        with pytest.raises(FeedError) as exc:
            parse_feed(body, "http://a.example/feed", content_type)
        assert exc.value.kind == "malformed"


def test_feedparser_crash_is_a_feed_error() -> None:
    # feedparser's loose parser raised KeyError('links') on a tag inside <link.
    body = (b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>t</title><item><title>A</title>'
            b"<link<item></item>>http://news.invalid/d1</link></item></channel></rss>")
    with pytest.raises(FeedError) as exc:
        parse_feed(body, "http://a.example/feed")
    assert exc.value.kind == "malformed"


def test_canonical_url_with_a_malformed_base_is_invalid_url() -> None:
    # urljoin raised ValueError("Invalid IPv6 URL") outside the error handling.
    with pytest.raises(InvalidURL):
        canonical_url("0", "http://[::1/.  ")


@pytest.mark.parametrize("first", [1, 2, 3])
def test_raw_deflate_split_before_the_header_check_decodes_whole(first: int) -> None:
    # "deflate" without the zlib wrapper is retried as raw deflate; the bytes of the chunks fed
    # before the zlib header check failed were lost, and the body came out empty or cut.
    plain = b"<html>" + b"hello world " * 100 + b"</html>"
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = c.compress(plain) + c.flush()
    dec = decoder("deflate", 1 << 20)
    assert dec.feed(body[:first]) + dec.feed(body[first:]) == plain


def test_decoder_bomb_stays_within_its_cap_in_memory() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, mtime=0)
    with MemoryBound(4_000_000):
        dec = decoder("gzip", 1_000_000)
        with pytest.raises(OverCap):
            for at in range(0, len(bomb), 16_384):
                dec.feed(bomb[at:at + 16_384])


def test_opml_with_invalid_characters_or_names_recovered() -> None:
    # libxml2's recovery keeps "&#xD800;" as bytes lxml cannot decode, and makes names ("x:")
    # that etree.QName refuses: both escaped read_opml.
    doc = (b'<?xml version="1.0"?><opml version="2.0"><body><outline text="&#xD800;A" xmlUrl="https://a.example/f"/>'
           b'<outline text="B" xmlUrl="https://b.example/f"/></body></opml>')
    assert [f.url for f in read_opml(doc)] == ["https://b.example/f"]
    with pytest.raises(OpmlError):
        read_opml(b"<x:")


# A label naming a codec that is no text encoding escaped as LookupError ("base64", "hex", "rot13",
# "zlib") or UnicodeError ("undefined"): such labels are now passed over for a guess.
@pytest.mark.parametrize("label", ["base64", "hex", "rot13", "zlib", "undefined"])
def test_decode_html_with_a_non_text_codec_declared(label: str) -> None:
    page = b'<html><head><meta charset="%s"></head><body>caf\xe9 \xe9\xe9\xe9\xe9 na\xefve</body></html>' % label.encode()
    assert isinstance(decode_html(page), str)
    assert isinstance(decode_html(page, f"text/html; charset={label}"), str)


# --- the long run's command ---------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_bench_fuzz_runs_every_target_and_saves_nothing_when_all_pass(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "newsflow", "bench", "fuzz", "--seconds", "4", "--seed", "0", "--out", str(tmp_path / "failures")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=170,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert re.search(rf"^fuzzing {len(TARGETS)} targets for 4 s; failures go to .*failures$", text, re.M), text
    for name in TARGETS:
        assert re.search(rf"^{name}: [1-9]\d* examples, 0 failures$", text, re.M), text
    assert re.search(r"^total: \d+ examples in \d+ s, 0 failures$", text, re.M), text
    assert not (tmp_path / "failures").exists()


@pytest.mark.timeout(120)
def test_bench_fuzz_saves_the_minimal_failing_input_and_exits_1(tmp_path: Path) -> None:
    # A property that fails on any url with a query: hypothesis shrinks it, the command saves it.
    script = (
        "import sys, benchmarks.fuzz_targets as f\n"
        "orig = f.check_url\n"
        "def broken(case):\n"
        "    assert '?' not in case.args['link'], 'a query'\n"
        "f.check_url = broken\n"
        "from benchmarks.fuzz import bench_fuzz\n"
        "import typer\n"
        "app = typer.Typer(); app.command()(bench_fuzz)\n"
        "sys.argv = ['fuzz', '--seconds', '3', '--targets', 'url', '--out', sys.argv[1]]\n"
        "app()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=110)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = re.search(r"^url: \d+ examples, 1 failure: AssertionError: a query -> saved (\S+)$", proc.stdout, re.M)
    assert m, proc.stdout
    saved = Path(m.group(1))
    assert (saved / "input.bin").read_bytes().count(b"?") >= 1
    assert "AssertionError" in (saved / "error.txt").read_text()
    assert re.search(r"^total: \d+ examples in \d+ s, 1 failures \(minimal inputs in ", proc.stdout, re.M)
