"""Rule-based sentence splitting (pure; no model, no Beam).

Each line of a document is a paragraph. Inside a paragraph a sentence ends at a run of
`.`, `!`, `?` or `…` (plus closing quotes/brackets) followed by whitespace and a sentence
start: an uppercase letter, a digit, or an opening quote/bracket. A single `.` does not end
a sentence after a known abbreviation ("Dr.", "e.g."), an initial ("J."), or a list number
at the start of the paragraph ("1."). BERT's data pipeline wants one sentence per segment
(Devlin et al. 2019, "create_pretraining_data.py" reads one sentence per line).
"""

from __future__ import annotations

import re

# Abbreviations after which "." almost never ends a sentence (titles, Latin, company and
# reference forms). Lowercased, without the final dot.
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt ft gen gov sen rep lt col capt cmdr sgt rev hon pres supt
vs v e.g i.e cf al approx dept est fig figs no nos vol vols pp p ch sec art ed eds
inc ltd co corp bros jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m
""".split())

_CLOSERS = "\"'\u2019\u201d)]}\u00bb"
_OPENERS = "\"'\u2018\u201c([{\u00ab\u00bf\u00a1"
_BOUNDARY = re.compile(r"(?:[.!?\u2026]+)[" + re.escape(_CLOSERS) + r"]*(?=\s+(\S))")


def split_sentences(text: str) -> list[str]:
    """Split a document into sentences: paragraphs at newlines, then sentence boundaries."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.extend(split_paragraph(line))
    return out


def split_paragraph(paragraph: str) -> list[str]:
    """Split one line of text into sentences (stripped, never empty)."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        if not _starts_sentence(match.group(1)):
            continue
        candidate = paragraph[start:match.end()]
        if _is_non_boundary(candidate, match.group(0)):
            continue
        sentences.append(candidate.strip())
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS


def _is_non_boundary(candidate: str, punctuation: str) -> bool:
    """True when a lone '.' ends an abbreviation, an initial or a leading list number."""
    if punctuation.rstrip(_CLOSERS) != ".":
        return False
    words = candidate.split()
    last = words[-1].rstrip(_CLOSERS)[:-1].lstrip(_OPENERS) if words else ""
    if last.lower() in ABBREVIATIONS:
        return True
    if len(last) == 1 and last.isalpha():  # an initial: "J. R. R. Tolkien"
        return True
    return len(words) == 1 and (last.isdigit() or last.lower() in {"i", "ii", "iii", "iv", "v"})
