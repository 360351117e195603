"""Document rules on words and lines: the word-count and alphabetic-word rules shared by the
`basic` and `gopher` presets, and Gopher's quality rules (Rae et al. 2021, Appendix A.1.1,
Table A1; datatrove 0.10.1 `gopher_quality_filter.py`). Each rule returns a drop reason or None.

Differences from datatrove, where its word tokenizer (nltk) and ours differ: a word here is a
whitespace token (each CJK character one word) that is not only punctuation, so "end." is one
word of 4 characters, not two tokens; the stop-word rule ignores case and surrounding
punctuation ("The," counts as "the"); ratios divide by that word count.
"""

from __future__ import annotations

import re
from itertools import compress
from operator import itemgetter, not_

from pipelines.clean.quality.config import FilterConfig
from pipelines.clean.quality.text import Page

# Rae et al. 2021, Appendix A.1.1: "the, be, to, of, and, that, have, with".
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
_STOP_WORD = re.compile(rf"\b(?:{'|'.join(STOP_WORDS)})\b", re.IGNORECASE)
BULLETS = ("\u2022", "-")  # datatrove: lines whose first character is "•" or "-"
ELLIPSES = ("...", "\u2026")


def too_few_words(page: Page, config: FilterConfig) -> str | None:
    if config.min_words is not None and len(page.words) < config.min_words:
        return "too_few_words"
    return None


def too_many_words(page: Page, config: FilterConfig) -> str | None:
    if config.max_words is not None and len(page.words) > config.max_words:
        return "too_many_words"
    return None


def low_alpha_ratio(page: Page, config: FilterConfig) -> str | None:
    words = page.words
    if config.min_alpha_word_fraction is None or not words:
        return None
    # A word starting with a letter settles most words in C; only the rest are scanned.
    starts = list(map(str.isalpha, map(itemgetter(0), words)))
    later = compress(words, map(not_, starts))
    alpha = starts.count(True) + sum(1 for w in later if any(map(str.isalpha, w)))
    return "low_alpha_ratio" if alpha / len(words) < config.min_alpha_word_fraction else None


def empty(page: Page, config: FilterConfig) -> str | None:
    del config  # every preset drops a document with no text left
    return None if page.lines else "empty"


def mean_word_length(page: Page, config: FilterConfig) -> str | None:
    words = page.words
    if not words:
        return None
    mean = sum(map(len, words)) / len(words)
    if config.min_mean_word_length is not None and mean < config.min_mean_word_length:
        return "gopher_mean_word_length_low"
    if config.max_mean_word_length is not None and mean > config.max_mean_word_length:
        return "gopher_mean_word_length_high"
    return None


def symbol_ratio(page: Page, config: FilterConfig) -> str | None:
    """'#' per word, then ellipses ("..." or "…") per word, each at most the threshold."""
    if config.max_symbol_word_ratio is None or not page.words:
        return None
    limit = config.max_symbol_word_ratio * len(page.words)
    text = page.text
    if text.count("#") > limit:
        return "gopher_hash_ratio"
    if text.count("...") + text.count("\u2026") > limit:
        return "gopher_ellipsis_ratio"
    return None


def bullet_lines(page: Page, config: FilterConfig) -> str | None:
    lines = page.lines
    if config.max_bullet_line_fraction is None or not lines:
        return None
    bullets = sum(1 for line in lines if line.startswith(BULLETS))
    return "gopher_bullet_lines" if bullets / len(lines) > config.max_bullet_line_fraction else None


def ellipsis_lines(page: Page, config: FilterConfig) -> str | None:
    lines = page.lines
    if config.max_ellipsis_line_fraction is None or not lines:
        return None
    ending = sum(1 for line in lines if line.endswith(ELLIPSES))
    return "gopher_ellipsis_lines" if ending / len(lines) > config.max_ellipsis_line_fraction else None


def stop_words(page: Page, config: FilterConfig) -> str | None:
    """At least `min_stop_words` different stop words (datatrove: the set intersection)."""
    needed = config.min_stop_words
    if needed is None:
        return None
    found: set[str] = set()
    for match in _STOP_WORD.finditer(page.text):
        found.add(match.group(0).lower())
        if len(found) >= needed:
            return None
    return "gopher_stop_words" if len(found) < needed else None


# The word rules shared with `basic` run first, in this order, so `basic` keeps its reasons.
WORD_RULES = (too_few_words, too_many_words, low_alpha_ratio, empty)
QUALITY_RULES = (mean_word_length, symbol_ratio, bullet_lines, ellipsis_lines, stop_words)
