import pytest

from pipelines.clean.urlnorm import is_tracking, normalize_escapes, normalize_host, normalize_url, remove_dot_segments


@pytest.mark.parametrize("url, expected", [
    ("HTTP://Example.COM:80/a/./b/../c?b=2&utm_source=x&a=1#frag", "http://example.com/a/c?a=1&b=2"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/%7euser/%2f?Q=%e2%82%ac", "https://example.com:8443/~user/%2F?Q=%E2%82%AC"),
    ("http://Bücher.de./ü", "http://xn--bcher-kva.de/%C3%BC"),
    ("http://xn--bcher-kva.de/%c3%bc", "http://xn--bcher-kva.de/%C3%BC"),
    ("http://user:pw@EXAMPLE.com/", "http://user:pw@example.com/"),
    ("http://[::1]:80/", "http://[::1]/"),
    ("https://ex.com/a/b/..", "https://ex.com/a/"),
    ("https://ex.com/index.html?fbclid=1&gclid=2&UTM_Medium=m", "https://ex.com/index.html"),
    ("https://ex.com/A/?b=1&a=2&b=0", "https://ex.com/A/?a=2&b=1&b=0"),  # path case kept, stable sort
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("  http://example.com  ", "http://example.com/"),
    ("http://www.example.com/", "http://www.example.com/"),   # www. is another host
    ("https://example.com/?", "https://example.com/"),
    ("mailto:x@example.com", "mailto:x@example.com"),        # not http(s): as it is
    ("example.com/page", "example.com/page"),                 # no scheme: as it is
    ("http://example.com:99999/", "http://example.com:99999/"),  # bad port: as it is
    ("", None), ("   ", None), (None, None),
])
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_normalize_url_is_idempotent():
    for url in ["HTTP://Example.COM:80/a/./b/../c?b=2&a=1#f", "http://Bücher.de./ü?x=%7e"]:
        once = normalize_url(url)
        assert normalize_url(once) == once


def test_pieces():
    assert normalize_escapes("%41%2f%7E%zz") == "A%2F~%zz"
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("/../a/.") == "/a/"
    assert normalize_host("EXAMPLE.com.") == "example.com"
    assert normalize_host("münchen.DE") == "xn--mnchen-3ya.de"
    assert is_tracking("utm_campaign") and is_tracking("FBCLID") and not is_tracking("id")
