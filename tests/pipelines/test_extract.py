import pytest

from pipelines.extract import charset_of, decode_html, html_to_text, is_html, mime_type
from tests.conftest import shared_data

ARTICLE = b"""<!doctype html><html><head><title>T</title><script>var x = 1;</script><style>p{}</style></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/about">About</a></li></ul></nav>
<main><article><h1>A headline</h1><p>The first paragraph of the article has several words.</p>
<p>The second paragraph follows it.</p></article></main>
<footer>Copyright 2024 Example Inc. All rights reserved.</footer></body></html>"""


@pytest.mark.parametrize("content_type,payload,expected", [
    ("text/html; charset=UTF-8", b"", True),
    ("application/xhtml+xml", b"", True),
    ("TEXT/HTML", b"", True),
    ("image/png", b"<html>", False),
    ("text/plain", b"<!doctype html>", False),
    (None, b"  \n<!DOCTYPE html><html>", True),
    (None, b"<HTML lang=en><body>", True),
    ("", b"<html>", True),
    (None, b"%PDF-1.4 <html>" + b" " * 2000, True),
    (None, b"%PDF-1.4" + b" " * 2000 + b"<html>", False),
    (None, b"just text", False),
])
def test_is_html(content_type, payload, expected):
    assert is_html(content_type, payload) is expected


def test_mime_type():
    assert mime_type(" Text/HTML ; charset=utf-8") == "text/html"
    assert mime_type(None) is None and mime_type(" ") is None


@pytest.mark.parametrize("content_type,expected", [
    ('text/html; charset="ISO-8859-1"', "cp1252"),  # WHATWG maps latin-1 labels to windows-1252
    ("text/html; charset=utf8", "utf-8"),
    ("text/html;charset='Shift_JIS'", "shift_jis"),
    ("text/html", None),
    ("text/html; charset=bogus", None),
    (None, None),
])
def test_charset_of(content_type, expected):
    assert charset_of(content_type) == expected


def test_decode_uses_declared_then_meta_charset():
    assert decode_html("<p>Caf\u00e9</p>".encode("cp1252"), "cp1252") == "<p>Caf\u00e9</p>"
    meta = "<html><head><meta charset=windows-1252></head><body>cr\u00e8me</body></html>".encode("cp1252")
    assert "cr\u00e8me" in decode_html(meta)


def test_decode_survives_a_wrong_label():
    # Declared UTF-8 but written in windows-1252: UTF-8 fails, the cp1252 fallback decodes it.
    assert decode_html("Caf\u00e9 \u20ac".encode("cp1252"), "utf-8") == "Caf\u00e9 \u20ac"


def test_main_text_drops_navigation_scripts_and_footer():
    assert html_to_text(ARTICLE) == ("A headline\n\nThe first paragraph of the article has several words.\n\n"
                                     "The second paragraph follows it.")


def test_empty_payload_gives_empty_text():
    assert html_to_text(b"") == ""


def test_real_common_crawl_page():
    from pipelines.readers import RawRecord, ReaderConfig, read_source

    items = read_source(str(shared_data("warc", "cc-main-2025-33-sample.warc.gz")), ReaderConfig())
    pages = {r.url: html_to_text(r.html, r.charset) for r in items if isinstance(r, RawRecord)}
    assert pages["http://www.example.com/"].startswith("Example Domain\n\nThis domain is for use in")
    assert "Common Crawl maintains a free, open repository" in pages["https://www.commoncrawl.org/"]
