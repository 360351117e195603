"""URL normalization for per-URL dedup. Pure functions, standard library only.

`normalize_url` maps the spellings of one page to one string, with only the changes that do
not change what a server returns (RFC 3986 section 6.2.2 syntax-based and 6.2.3 scheme-based
normalization) plus dropping tracking parameters:

- scheme and host lowercased; a trailing dot of the host removed; an internationalized host in
  ASCII (IDNA 2003 punycode, Python's `idna` codec, which is also what WARC-Target-URI holds);
- the default port dropped (80 for http, 443 for https); an empty path becomes "/";
- percent-escapes of unreserved characters decoded, the hex digits of the others uppercased,
  and characters outside ASCII percent-encoded as UTF-8 (so `/é` and `/%c3%a9` are one path);
- "." and ".." path segments removed (RFC 3986 section 5.2.4);
- the fragment dropped; tracking parameters (`TRACKING_PARAMS`, any `utm_*`) dropped; the
  remaining query parameters sorted (stable: equal keys keep their values' order).

Kept as they are, because a server may answer them differently: the case of the path, a
trailing slash, `index.html`, a `www.` prefix, `http` versus `https`, empty parameters.
URLs that are not http(s) with a host are returned stripped of surrounding whitespace only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# Tracking parameters that never select content: Google Analytics campaign parameters (utm_*,
# https://support.google.com/analytics/answer/10917952) and the click identifiers and mail
# tracking tokens stripped by Firefox's query stripping (privacy.query_stripping.strip_list) and
# Brave's list (brave-core, browser/net/brave_site_hacks_network_delegate_helper.cc).
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "twclid", "ttclid",
    "yclid", "igshid", "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "__hssc", "__hstc",
    "__hsfp", "hsctatracking", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "__s",
    "rb_clickid", "s_cid", "_openstat", "wickedid", "_ga", "_gl",
})
TRACKING_PREFIXES = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_NON_ASCII = re.compile(r"[^\x21-\x7e]")  # also spaces and controls: never literal in a URL


def _escape(match: re.Match) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _encode_char(match: re.Match) -> str:
    return "".join(f"%{b:02X}" for b in match.group(0).encode("utf-8"))


def normalize_escapes(part: str) -> str:
    """Decode escaped unreserved characters, uppercase other escapes, encode non-ASCII as UTF-8."""
    return _NON_ASCII.sub(_encode_char, _ESCAPE.sub(_escape, part))


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path: '/a/./b/../c' -> '/a/c'."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments[1:], start=1):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def normalize_host(host: str) -> str:
    """Lowercase, no trailing dot, internationalized labels as punycode (kept as is if invalid)."""
    host = host.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def normalize_query(query: str) -> str:
    pairs = [normalize_escapes(p) for p in query.split("&") if p]
    pairs = [p for p in pairs if not is_tracking(p.split("=", 1)[0])]
    return "&".join(sorted(pairs, key=lambda p: p.split("=", 1)[0]))


def normalize_url(url: str | None) -> str | None:
    """The normalized form of `url`, or None when it is missing or blank."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or an unbalanced IPv6 bracket: keep the URL as it is
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = normalize_host(parts.hostname)
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    path = remove_dot_segments(normalize_escapes(parts.path or "/"))
    return urlunsplit((scheme, netloc, path, normalize_query(parts.query), ""))
