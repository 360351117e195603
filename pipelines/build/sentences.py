"""Sentence splitting for every language (pure; no model, no Beam).

Each line of a document is a paragraph. Inside a paragraph, sentences are found by sentencex
(Wikimedia's rule-based segmenter: per-language abbreviation lists and terminal marks for
about 300 languages, with fallback chains; deterministic), given the document's language.
Two measured gaps of sentencex 1.0 are closed after it (docs/sentences.md):
- a CJK full stop, question or exclamation mark followed directly by a Latin letter or a digit
  ends a sentence ("します。apt-get は…"); sentencex keeps them together;
- an ellipsis followed by a lowercase letter does not ("отдохнуть... на наших детях");
  sentencex splits there for some languages (Russian, German).
BERT's data pipeline wants one sentence per segment (Devlin et al. 2019,
"create_pretraining_data.py" reads one sentence per line).
"""

from __future__ import annotations

import re

import sentencex

DEFAULT_LANG = "en"

_CJK_STOP_LATIN = re.compile(r"[\u3002\uff01\uff1f][A-Za-z0-9]")
_CJK_STOP_BEFORE_LATIN = re.compile(r"(?<=[\u3002\uff01\uff1f])(?=[A-Za-z0-9])")
_ELLIPSES = ("...", "\u2026")


def split_sentences(text: str, lang: str | None = None) -> list[str]:
    """Split a document into sentences: paragraphs at newlines, then sentence boundaries.

    `lang` is the document's ISO 639-1 code (`lang` of the documents dataset); None, "" or
    "und" split with English rules. Sentences are stripped and never empty.
    """
    code = lang if lang and lang != "und" else DEFAULT_LANG
    # the two fixes' conditions, looked for once in the document: most paragraphs need neither
    cjk = _CJK_STOP_LATIN.search(text) is not None
    ellipsis = "..." in text or "\u2026" in text
    if not cjk and not ellipsis:  # sentencex's stripped pieces, line by line, in one comprehension
        return [s for raw in text.splitlines() if (line := raw.strip())
                for s in map(str.strip, sentencex.segment(code, line)) if s]
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out += _split_line(line, code, cjk, ellipsis)
    return out


def split_paragraph(paragraph: str, lang: str | None = None) -> list[str]:
    """Split one line of text into sentences (stripped, never empty)."""
    return _split_line(paragraph, lang if lang and lang != "und" else DEFAULT_LANG, True, True)


def _split_line(paragraph: str, code: str, cjk: bool, ellipsis: bool) -> list[str]:
    """sentencex's pieces of a paragraph, with the fixes the flags allow where they apply."""
    pieces = sentencex.segment(code, paragraph)
    if cjk and _CJK_STOP_LATIN.search(paragraph):
        pieces = [part for piece in pieces for part in _CJK_STOP_BEFORE_LATIN.split(piece)]
    if ellipsis and ("..." in paragraph or "\u2026" in paragraph):
        pieces = _join_ellipsis_continuations(pieces)
    return [s for s in map(str.strip, pieces) if s]


def _join_ellipsis_continuations(pieces: list[str]) -> list[str]:
    """A piece that starts with a lowercase letter joins a piece ending with an ellipsis.

    sentencex's pieces tile the paragraph, so joining pieces keeps the text between them."""
    out: list[str] = []
    for piece in pieces:
        head = piece.lstrip()
        if out and (not head or head[0].islower() and out[-1].rstrip().endswith(_ELLIPSES)):
            out[-1] += piece
        else:
            out.append(piece)
    return out
