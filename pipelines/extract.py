"""HTML main-text extraction and charset handling (resiliparse). Pure functions, no Beam."""

from __future__ import annotations

import re

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLTree

HTML_TYPES = ("text/html", "application/xhtml+xml")
_SNIFF_BYTES = 1024
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)


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


def html_to_text(payload: bytes, charset: str | None = None) -> str:
    """The main text of an HTML page: boilerplate (navigation, footers) removed, paragraphs kept."""
    tree = HTMLTree.parse(decode_html(payload, charset))
    return extract_plain_text(tree, main_content=True)
