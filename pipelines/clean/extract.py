"""HTML main-text extraction and charset handling. Pure functions, no Beam.

Extractors, by name in `EXTRACTORS` (docs/language.md compares them, `benchmarks/extractors.py`):
- `resiliparse` (the default): Resiliparse's `extract_plain_text(main_content=True)`, the
  extractor datatrove's Resiliparse step and many recent corpora use; the fastest by far.
- `trafilatura`: `trafilatura.extract` with the library's defaults (plain text, comments kept).
- `trafilatura-precision`: FineWeb's settings (datatrove's `Trafilatura` step:
  `favor_precision=True, include_comments=False`) without its `deduplicate=True`, whose cache
  of seen text is global to the process: the same page extracts differently depending on
  what the worker saw before, which breaks the project's determinism.

Every extractor sees at most `MAX_HTML_BYTES` of a payload, so one huge page cannot stall a
worker; `extract_html` says so in `Extraction.truncated`. A page nested deeper than
`MAX_DEPTH` elements is extracted without Resiliparse's main-content detection, whose cost
grows with the square of the depth (`Extraction.too_deep`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLTree

HTML_TYPES = ("text/html", "application/xhtml+xml")
_SNIFF_BYTES = 1024
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)

# Common Crawl truncates every payload at 1 MiB (since 2013) and is raising that limit to
# 5 MiB (commoncrawl/cc-notebooks, "Truncated Records"); a 5 MiB cap never cuts a CC page
# and bounds the worst case here to ~0.4 s (resiliparse) / ~7 s (trafilatura) and
# < 500 MB per page (docs/language.md, "Huge pages").
MAX_HTML_BYTES = 5 * 1024 * 1024

# libxml2 (so lxml and trafilatura) stops building the tree at a depth of 256 elements;
# Resiliparse's main-content pass takes 5 s at a depth of 20,000 and grows quadratically.
MAX_DEPTH = 256
_DEEP_SELECTOR = " > ".join(["*"] * MAX_DEPTH)

DEFAULT_EXTRACTOR = "resiliparse"


@dataclass(frozen=True, kw_only=True)
class Extraction:
    """The main text of a page and what was done to get it."""

    text: str
    truncated: bool = False  # the payload was cut at MAX_HTML_BYTES before extraction
    too_deep: bool = False  # nested deeper than MAX_DEPTH: extracted without boilerplate removal


def mime_type(content_type: str | None) -> str | None:
    """`text/html` of `text/html; charset=UTF-8`, lowercased; None when absent or blank."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime or None


def is_html(content_type: str | None, payload: bytes) -> bool:
    """HTML by the HTTP Content-Type; without one, by `<html` / `<!doctype html` near the start."""
    mime = mime_type(content_type)
    if mime is not None:
        return mime in HTML_TYPES
    return _HTML_START.search(payload[:_SNIFF_BYTES]) is not None


def charset_of(content_type: str | None) -> str | None:
    """The WHATWG name of the charset a Content-Type declares; None when absent or unknown."""
    match = _CHARSET.search(content_type or "")
    if match is None:
        return None
    return map_encoding_to_html5(match.group(1), fallback_utf8=False)


def decode_html(payload: bytes, charset: str | None = None) -> str:
    """Decode an HTML payload: the declared charset, else the <meta> charset, else detection.

    A payload that does not decode with that charset falls back to UTF-8 and then
    Windows-1252 (mislabelled pages are common), so decoding never fails.
    """
    encoding = charset or detect_encoding(payload, from_html_meta=True)
    return bytes_to_str(payload, encoding, errors="replace", fallback_encodings=("utf-8", "cp1252"))


def _resiliparse(html: str) -> Extraction:
    tree = HTMLTree.parse(html)
    if tree.document is not None and tree.document.query_selector(_DEEP_SELECTOR) is not None:
        return Extraction(text=extract_plain_text(tree, main_content=False), too_deep=True)
    return Extraction(text=extract_plain_text(tree, main_content=True))


def _trafilatura(**options) -> Callable[[str], Extraction]:
    def extract(html: str) -> Extraction:
        import trafilatura  # imported on first use: it loads lxml, justext and htmldate

        return Extraction(text=trafilatura.extract(html, output_format="txt", **options) or "")
    return extract


EXTRACTORS: dict[str, Callable[[str], Extraction]] = {
    "resiliparse": _resiliparse,
    "trafilatura": _trafilatura(),
    # FineWeb's settings (datatrove `Trafilatura(favour_precision=True)`), less deduplicate=True.
    "trafilatura-precision": _trafilatura(favor_precision=True, include_comments=False),
}


def check_extractor(name: str) -> str:
    """`name` if it is an extractor; else a ValueError listing the choices (for `--extractor`)."""
    if name not in EXTRACTORS:
        raise ValueError(f"unknown extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
    return name


def extract_html(payload: bytes, charset: str | None = None, *, extractor: str = DEFAULT_EXTRACTOR,
                 max_bytes: int = MAX_HTML_BYTES) -> Extraction:
    """The main text of an HTML payload (at most `max_bytes` of it), with the extractor named."""
    extract = EXTRACTORS[check_extractor(extractor)]
    truncated = len(payload) > max_bytes
    result = extract(decode_html(payload[:max_bytes] if truncated else payload, charset))
    return Extraction(text=result.text, truncated=truncated, too_deep=result.too_deep)


def html_to_text(payload: bytes, charset: str | None = None, *, extractor: str = DEFAULT_EXTRACTOR) -> str:
    """The main text of an HTML page: boilerplate (navigation, footers) removed, paragraphs kept."""
    return extract_html(payload, charset, extractor=extractor).text
