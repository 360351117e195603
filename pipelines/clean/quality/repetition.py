"""Gopher's repetition rules (Rae et al. 2021, Table A1), with the semantics of datatrove 0.10.1
`gopher_repetition_filter.py`; thresholds are in `config.GOPHER`. Each rule returns a drop
reason or None. Every fraction divides by the characters of the document text.

- duplicate lines / paragraphs: the number (and characters) of lines / paragraphs equal to an
  earlier one, over the number of lines / paragraphs (and over the text length);
- top n-gram (n = 2..4): count x characters (words joined by spaces) of the most frequent
  word n-gram, the first one seen among equally frequent ones (`Counter.most_common`);
- duplicate n-grams (n = 5..10): scanning left to right, an n-gram seen before adds its
  characters (words joined without spaces) and the scan jumps past it.

The n-grams are exact: word ids, then each n-gram's id from the (n-1)-gram id and the next
word through `numpy.unique`, so there is no Python loop over n-grams except at the few
positions whose n-gram occurs more than once (datatrove joins strings for every n-gram).
"""

from __future__ import annotations

import numpy as np

from pipelines.clean.quality.config import FilterConfig
from pipelines.clean.quality.text import Page, find_duplicates


def dup_paragraphs(page: Page, config: FilterConfig) -> str | None:
    if config.max_dup_para_fraction is None and config.max_dup_para_char_fraction is None:
        return None
    paragraphs = page.paragraphs
    if not paragraphs:
        return None
    count, chars = find_duplicates(paragraphs)
    if config.max_dup_para_fraction is not None and count / len(paragraphs) > config.max_dup_para_fraction:
        return "gopher_dup_para_frac"
    if config.max_dup_para_char_fraction is not None and chars / len(page.text) > config.max_dup_para_char_fraction:
        return "gopher_dup_para_char_frac"
    return None


def dup_lines(page: Page, config: FilterConfig) -> str | None:
    if config.max_dup_line_fraction is None and config.max_dup_line_char_fraction is None:
        return None
    if not page.lines:
        return None
    count, chars = page.line_duplicates
    if config.max_dup_line_fraction is not None and count / len(page.lines) > config.max_dup_line_fraction:
        return "gopher_dup_line_frac"
    if config.max_dup_line_char_fraction is not None and chars / len(page.text) > config.max_dup_line_char_fraction:
        return "gopher_dup_line_char_frac"
    return None


def ngram_repetition(page: Page, config: FilterConfig) -> str | None:
    top = dict(config.max_top_ngram_char_fractions)
    dup = dict(config.max_dup_ngram_char_fractions)
    words = page.words
    if not (top or dup) or len(words) < 2:
        return None
    text_chars = len(page.text)
    grams = NGrams(words)
    for n in range(2, max(top.keys() | dup.keys()) + 1):
        if not grams.advance():
            return None  # fewer than n words: no n-grams (datatrove skips them too)
        if n in top and grams.top_chars() / text_chars > top[n]:
            return f"gopher_top_{n}gram"
        if n in dup:
            if not grams.has_repeats():
                if n >= max(top, default=0):
                    return None  # no repeated n-gram, so no repeated longer one either
                continue
            if grams.duplicate_chars() / text_chars > dup[n]:
                return f"gopher_dup_{n}gram"
    return None


class NGrams:
    """Exact ids of a document's word n-grams for n = 1, 2, ... (one `advance()` per n)."""

    def __init__(self, words: list[str]) -> None:
        vocabulary = {w: i for i, w in enumerate(dict.fromkeys(words))}
        self.words = np.fromiter(map(vocabulary.__getitem__, words), dtype=np.int64, count=len(words))
        self.num_words_types = len(vocabulary)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.cum_chars = np.concatenate(([0], np.cumsum(lengths)))
        self.n = 1
        self.ids = self.words  # ids of the current n-grams, < len(words)
        self.first = self.counts = None

    def advance(self) -> bool:
        """Move to n + 1; False when there are fewer than n + 1 words."""
        m = len(self.words) - self.n
        if m <= 0:
            return False
        # (n-1)-gram id < number of words and word id < number of word types: no overflow below
        # 2**63 for any document under three billion words.
        keys = self.ids[:m] * self.num_words_types + self.words[self.n:self.n + m]
        _, self.first, self.ids, self.counts = np.unique(keys, return_index=True, return_inverse=True,
                                                         return_counts=True)
        self.ids = self.ids.reshape(-1)
        self.n += 1
        return True

    def chars(self, start: int) -> int:
        """Characters of the n words from `start`, joined without spaces."""
        return int(self.cum_chars[start + self.n] - self.cum_chars[start])

    def top_chars(self) -> int:
        """Count x length (words joined by single spaces) of the most frequent n-gram."""
        best = int(self.counts.max())
        start = int(self.first[self.counts == best].min())
        return best * (self.chars(start) + self.n - 1)

    def has_repeats(self) -> bool:
        return bool((self.counts > 1).any())

    def duplicate_chars(self) -> int:
        """datatrove's find_all_duplicate, visiting only positions whose n-gram repeats."""
        repeated = np.flatnonzero(self.counts[self.ids] > 1)
        seen: set[int] = set()
        total = 0
        next_start = 0
        ids = self.ids
        for position in repeated.tolist():
            if position < next_start:
                continue  # inside an n-gram already counted as a duplicate
            gram = int(ids[position])
            if gram in seen:
                total += self.chars(position)
                next_start = position + self.n
            else:
                seen.add(gram)
        return total


REPETITION_RULES = (dup_paragraphs, dup_lines, ngram_repetition)
