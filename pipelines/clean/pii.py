"""E-mail and IP address masking (pure; no Beam).

Follows datatrove 0.10.1 `pipeline/formatters/pii.py` (PIIFormatter): e-mail addresses are
replaced, and IP addresses only when they are public (`ipaddress` `is_global`), so private,
loopback, link-local, reserved and documentation addresses (10.0.0.1, 127.0.0.1,
192.168.1.1, 192.0.2.7, 2001:db8::1) stay. Differences: the replacements are the placeholders
`<email>` and `<ip>` (datatrove substitutes made-up addresses), IPv6 addresses are masked too
(datatrove masks IPv4 only), and an IPv4 address must stand on its own, not inside a longer
dotted number such as a version "1.2.3.4.5".

Every pattern has bounded repetition (an e-mail local part at most 64 characters, RFC 5321),
so a 20 MB line without spaces is scanned in linear time.
"""

from __future__ import annotations

import ipaddress
import re

EMAIL_PLACEHOLDER = "<email>"
IP_PLACEHOLDER = "<ip>"

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?<![A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]){_LOCAL}@(?:{_LABEL}\.){{1,8}}{_LABEL}")
# Candidates start with a character class, so the regex engine skips ahead to them quickly;
# the address must stand on its own (checked around the match, `_stands_alone`) and
# `ipaddress` decides whether it is a public address.
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:\d{1,3}(?:\.\d{1,3}){3}"  # IPv4 tail
                   r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}")
# How far a match can reach around its anchor: an e-mail 64 characters before its "@" and
# 9 * 64 after; an IPv6 address 45 characters around a ":hhhh:" it must contain.
_AT = re.compile("@")
_EMAIL_REACH = (65, 9 * 64)
_COLONS = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_REACH = (46, 46)


def mask_pii(text: str) -> tuple[str, int, int]:
    """(text with e-mails and public IPs replaced, number of e-mails, number of IPs)."""
    text, emails = _mask(text, _EMAIL, _spans(text, _AT, _EMAIL_REACH), lambda m: True)
    text, ipv4 = _mask(text, _IPV4, [(0, len(text))], _public_ip(text, "._"))  # "::ffff:8.8.8.8" masks 8.8.8.8
    text, ipv6 = _mask(text, _IPV6, _spans(text, _COLONS, _IPV6_REACH), _public_ip(text, "._:"))
    return text, emails, ipv4 + ipv6


def is_public_ip(candidate: str) -> bool:
    try:
        return ipaddress.ip_address(candidate).is_global
    except ValueError:
        return False


def _mask(text: str, pattern: re.Pattern, spans, accept) -> tuple[str, int]:
    """Replace the matches of `pattern` inside `spans` that `accept(match)` approves."""
    parts: list[str] = []
    done = found = 0
    for start, end in spans:
        for match in pattern.finditer(text, start, end):
            if accept(match):
                parts += [text[done:match.start()], EMAIL_PLACEHOLDER if pattern is _EMAIL else IP_PLACEHOLDER]
                done = match.end()
                found += 1
    if not found:
        return text, 0
    parts.append(text[done:])
    return "".join(parts), found


def _spans(text: str, anchor: re.Pattern, reach: tuple[int, int]):
    """Merged (start, end) stretches of `text` reaching `reach` around each match of `anchor`."""
    start = end = -1
    for match in anchor.finditer(text):
        low, high = max(0, match.start() - reach[0]), min(len(text), match.end() + reach[1])
        if low > end:
            if end >= 0:
                yield start, end
            start = low
        end = high
    if end >= 0:
        yield start, end


def _public_ip(text: str, joiners: str):
    def accept(match: re.Match) -> bool:
        return _stands_alone(text, match.start(), match.end(), joiners) and is_public_ip(match.group(0))
    return accept


def _stands_alone(text: str, start: int, end: int, joiners: str) -> bool:
    """Not inside a longer word or dotted / colon-separated run ("a1.2.3.4", "1.2.3.4.5").

    `joiners` are the characters that may not come just before the match.
    """
    before = text[start - 1] if start else " "
    if before.isalnum() or before in joiners:
        return False
    after = text[end:end + 2]
    if not after:
        return True
    return not (after[0].isalnum() or after[0] in "_:" or (after[0] == "." and after[1:2].isalnum()))
