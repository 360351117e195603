import io

import pytest

from pipelines.clean.extract import (DEFAULT_EXTRACTOR, EXTRACTORS, MAX_DEPTH, MAX_HTML_BYTES, Extraction, charset_of,
                               check_extractor, decode_html, extract_html, html_to_text, is_html, mime_type)
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
    from pipelines.clean.readers import RawRecord, ReaderConfig, read_source

    items = read_source(str(shared_data("warc", "cc-main-2025-33-sample.warc.gz")), ReaderConfig())
    pages = {r.url: html_to_text(r.html, r.charset) for r in items if isinstance(r, RawRecord)}
    assert pages["http://www.example.com/"].startswith("Example Domain\n\nThis domain is for use in")
    assert "Common Crawl maintains a free, open repository" in pages["https://www.commoncrawl.org/"]


# --- extractors ------------------------------------------------------------------------------

def test_extractors_are_named_and_checked():
    assert list(EXTRACTORS) == ["resiliparse", "trafilatura", "trafilatura-precision"]
    assert DEFAULT_EXTRACTOR == "resiliparse"
    assert check_extractor("trafilatura") == "trafilatura"
    with pytest.raises(ValueError, match="unknown extractor 'boilerpipe'; choose one of resiliparse, trafilatura"):
        check_extractor("boilerpipe")
    with pytest.raises(ValueError, match="unknown extractor"):
        html_to_text(ARTICLE, extractor="nope")


@pytest.mark.parametrize("extractor,expected", [
    ("resiliparse", "A headline\n\nThe first paragraph of the article has several words.\n\n"
                    "The second paragraph follows it."),
    # trafilatura's defaults keep the two-link menu of this tiny page; precision mode drops it.
    ("trafilatura", "Home\nAbout\nA headline\nThe first paragraph of the article has several words.\n"
                    "The second paragraph follows it."),
    ("trafilatura-precision", "A headline\nThe first paragraph of the article has several words.\n"
                              "The second paragraph follows it."),
])
def test_each_extractor_on_an_article(extractor, expected):
    assert html_to_text(ARTICLE, extractor=extractor) == expected
    assert extract_html(ARTICLE, extractor=extractor) == Extraction(text=expected)


@pytest.mark.parametrize("extractor", list(EXTRACTORS))
def test_each_extractor_survives_junk(extractor):
    for empty in (b"", b"<html><body></body></html>", b"<!-- -->", b"<script>var a = 1;</script>"):
        assert html_to_text(empty, extractor=extractor) == ""
    # Binary junk decodes (cp1252 fallback) and extracts without an error; what text it gives
    # (resiliparse keeps the control characters, trafilatura gives nothing) is the filters' business.
    assert isinstance(html_to_text(b"\x00\x01\x02\xff" * 100, extractor=extractor), str)


def test_trafilatura_extraction_does_not_depend_on_earlier_pages():
    # trafilatura's deduplicate=True keeps a process-wide cache: the second call would lose text.
    first = html_to_text(ARTICLE, extractor="trafilatura-precision")
    assert html_to_text(ARTICLE, extractor="trafilatura-precision") == first != ""


# --- huge and deep pages -------------------------------------------------------------------

def test_a_20_mb_single_line_page_is_cut_at_the_cap():
    page = b"<!doctype html><html><body><p>" + b"word " * 4_000_000 + b"</p></body></html>"
    assert len(page) > 20_000_000 and b"\n" not in page
    result = extract_html(page)
    assert result.truncated is True and result.too_deep is False
    assert result.text.startswith("word word ") and len(result.text) <= MAX_HTML_BYTES
    assert len(result.text) > MAX_HTML_BYTES - 100


def test_the_cap_is_a_parameter_and_small_pages_are_not_cut():
    assert extract_html(ARTICLE).truncated is False
    cut = extract_html(ARTICLE, max_bytes=ARTICLE.index(b"<p>The second"))
    assert cut.truncated is True
    assert cut.text == "A headline\n\nThe first paragraph of the article has several words."


@pytest.mark.parametrize("depth,too_deep", [(100, False), (MAX_DEPTH, True), (200_000, True)])
def test_deeply_nested_pages_skip_main_content_detection(depth, too_deep):
    # 200,000 unclosed <div>s would take hours in resiliparse's main-content pass.
    page = b"<html><body>" + b"<div>" * depth + b"<p>Deep text survives.</p></body></html>"
    assert extract_html(page) == Extraction(text="Deep text survives.", too_deep=too_deep)


# --- charsets and content types through the WARC reader -----------------------------------

CAFE_TEXT = "Le caf\u00e9 \u00e9tait tr\u00e8s bon, et la cr\u00e8me br\u00fbl\u00e9e aussi."
CAFE = f"<html><body><p>{CAFE_TEXT}</p></body></html>"
TENKI = ("<html><head>{meta}<title>\u5929\u6c17</title></head><body><p>\u4eca\u65e5\u306f\u3068\u3066\u3082"
         "\u826f\u3044\u5929\u6c17\u3067\u3059\u306d\u3002\u660e\u65e5\u306f\u96e8\u304c\u964d\u308b\u305d\u3046"
         "\u3067\u3059\u3002</p></body></html>")
TENKI_TEXT = "\u4eca\u65e5\u306f\u3068\u3066\u3082\u826f\u3044\u5929\u6c17\u3067\u3059\u306d\u3002" \
             "\u660e\u65e5\u306f\u96e8\u304c\u964d\u308b\u305d\u3046\u3067\u3059\u3002"


def _read_warc(tmp_path, responses):
    """Write (url, http header pairs, body) responses to a WARC file and read them back."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from pipelines.clean.readers import ReaderConfig, read_source

    path = tmp_path / "pages.warc.gz"
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, headers, body in responses:
            http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http))
    return list(read_source(str(path), ReaderConfig()))


def test_a_response_without_content_type_is_sniffed(tmp_path):
    from pipelines.clean.readers import Drop, RawRecord

    html, text = _read_warc(tmp_path, [("http://a.test/", [], ARTICLE),
                                       ("http://b.test/", [], b"just some plain text, no markup")])
    assert isinstance(html, RawRecord) and html.html == ARTICLE and html.charset is None
    assert html_to_text(html.html, html.charset).startswith("A headline\n\n")
    assert isinstance(text, Drop) and text.reason == "not_html"


@pytest.mark.parametrize("extractor", list(EXTRACTORS))
def test_non_utf8_pages_decode_by_header_meta_or_detection(tmp_path, extractor):
    cafe = CAFE.encode("cp1252")
    records = _read_warc(tmp_path, [
        ("http://declared.test/", [("Content-Type", "text/html; charset=windows-1252")], cafe),
        ("http://detected.test/", [("Content-Type", "text/html")], cafe),
        ("http://meta.test/", [("Content-Type", "text/html")],
         TENKI.format(meta="<meta charset=shift_jis>").encode("shift_jis")),
        ("http://sniffed.test/", [], TENKI.format(meta="").encode("shift_jis")),
    ])
    texts = [html_to_text(r.html, r.charset, extractor=extractor) for r in records]
    assert [r.charset for r in records] == ["cp1252", None, None, None]
    assert texts == [CAFE_TEXT, CAFE_TEXT, TENKI_TEXT, TENKI_TEXT]
