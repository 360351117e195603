"""What the quality rules share: words, lines, paragraphs and duplicate counts, computed once.

A `Page` is one document as its cleaned lines (no empty lines, whitespace collapsed) plus the
paragraph each line belongs to (paragraphs are separated by blank lines in the source text).
Its text, words and duplicate-line counts are computed on first use and shared by every rule.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property

# A word is a run of non-space characters, except that each CJK ideograph or kana counts as
# one word (those scripts are written without spaces; word processors count them this way).
# Tokens made only of punctuation (a dialogue dash, French guillemets, "--") are not words,
# as datatrove's Gopher filter counts only "non_symbol_words"; symbols ($, |, +) and digits
# stay words, so pages of symbols and numbers still fail the alphabetic-word rule.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")  # also MinHash's words (pipelines.clean.minhash)

# Sentence-final punctuation in every script: datatrove's TERMINAL_PUNCTUATION (utils/text.py,
# the stop_chars of FineWebQualityFilter), about Unicode's Sentence_Terminal property.
TERMINAL_PUNCTUATION = frozenset(
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e"
    "\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9"
    "\u17da\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d"
    "\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54"
    "\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d"
    "\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56"
    "\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87"
    "\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1"
    "\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df"
    "\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2"
    "\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf"
    "\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7"
    "\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42"
    "\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43"
    "\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44\U00016e98"
    "\U0001bc9f\U0001da88")


def split_words(text: str) -> list[str]:
    # w[0].isalnum() settles almost every token without the per-character category check.
    return [w for w in WORD_TOKEN.findall(text) if w[0].isalnum() or not _is_punctuation(w)]


def _is_punctuation(token: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in token)


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number, total length) of the items equal to an earlier item: datatrove's find_duplicates."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


class Page:
    """One document's cleaned lines and the pieces several rules share, each computed once."""

    def __init__(self, lines: list[str], paragraph_of: list[int] | None = None) -> None:
        self.lines = lines
        self.paragraph_of = paragraph_of if paragraph_of is not None else [0] * len(lines)

    @cached_property
    def text(self) -> str:
        return "\n".join(self.lines)

    @cached_property
    def words(self) -> list[str]:
        return split_words(self.text)

    @cached_property
    def line_duplicates(self) -> tuple[int, int]:
        return find_duplicates(self.lines)

    @cached_property
    def paragraphs(self) -> list[str]:
        """The lines of each paragraph joined by newlines (datatrove splits on two or more)."""
        paragraphs: list[str] = []
        current: list[str] = []
        previous = None
        for line, paragraph in zip(self.lines, self.paragraph_of):
            if paragraph != previous and current:
                paragraphs.append("\n".join(current))
                current = []
            current.append(line)
            previous = paragraph
        if current:
            paragraphs.append("\n".join(current))
        return paragraphs
