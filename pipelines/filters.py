"""Quality filters and the per-record cleaning flow. Pure functions, no Beam.

`clean_record` takes one `RawRecord` through extraction (HTML), normalization, the line rules
and the document rules, and returns a documents-schema row (a dict) or a `Drop` / `Reject`
with a reason. Line-level counts go to the `count(name, n)` function passed in (C4's
`counter_inc_fn`), so a test can count into a dict and a Beam job into Metrics counters.

Filter settings are a frozen `FilterConfig`; presets are named module constants (`BASIC`) in
`PRESETS`. Stricter C4 / Gopher / FineWeb presets add fields and rules here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from resiliparse.parse.html import HTMLParserException

from pipelines.extract import html_to_text
from pipelines.readers import Drop, RawRecord, Reject
from pipelines.textnorm import normalize_text

Count = Callable[..., None]  # count(name: str, n: int = 1)


def no_count(name: str, n: int = 1) -> None:
    """The default counter: counts nothing."""


@dataclass(frozen=True, kw_only=True)
class FilterConfig:
    name: str
    min_words: int
    min_alpha_word_fraction: float
    max_words: int | None = None


# Lenient defaults that drop junk (near-empty pages, pages of symbols and numbers) without
# dropping short real texts:
# - min_words=5: C4 keeps only lines of at least 5 words (Raffel et al. 2020, T5, section 2.2,
#   "We only retained lines that contained at least 5 words"); here applied to the document.
#   Gopher's document minimum is 50 words (Rae et al. 2021, Table A1), for a stricter preset.
# - min_alpha_word_fraction=0.8: "80% of words in a document contain at least one alphabetic
#   character" (Rae et al. 2021, Gopher, Appendix A.1.1 / Table A1).
BASIC = FilterConfig(name="basic", min_words=5, min_alpha_word_fraction=0.8)

PRESETS: dict[str, FilterConfig] = {"basic": BASIC}

# A word is a run of non-space characters, except that each CJK ideograph or kana counts as
# one word (those scripts are written without spaces; word processors count them this way).
# Tokens made only of punctuation (a dialogue dash, French guillemets, "--") are not words,
# as datatrove's Gopher filter counts only "non_symbol_words"; symbols ($, |, +) and digits
# stay words, so pages of symbols and numbers still fail the alphabetic-word rule.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_SPACES = re.compile(r"\s+")


def preset(name: str) -> FilterConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown filter preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None


def split_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if not _is_punctuation(w)]


def _is_punctuation(token: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in token)


def clean_lines(text: str, config: FilterConfig, count: Count = no_count) -> tuple[str, int]:
    """Collapse whitespace runs inside each line and drop lines left empty; (text, lines removed)."""
    del config  # the basic line rules have no settings yet; presets will add some
    kept: list[str] = []
    removed = 0
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if line:
            kept.append(line)
        else:
            removed += 1
    count("lines/kept", len(kept))
    if removed:
        count("lines/removed_empty", removed)
    return "\n".join(kept), removed


def too_few_words(words: list[str], config: FilterConfig) -> bool:
    return len(words) < config.min_words


def too_many_words(words: list[str], config: FilterConfig) -> bool:
    return config.max_words is not None and len(words) > config.max_words


def low_alpha_ratio(words: list[str], config: FilterConfig) -> bool:
    if not words:
        return False
    alpha = sum(1 for w in words if any(c.isalpha() for c in w))
    return alpha / len(words) < config.min_alpha_word_fraction


# Document rules in the order they run; the first that fires names the drop reason.
DOCUMENT_RULES: tuple[Callable[[list[str], FilterConfig], bool], ...] = (
    too_few_words, too_many_words, low_alpha_ratio)


def document_verdict(words: list[str], config: FilterConfig) -> tuple[bool, str | None]:
    """(True, None) to keep the document, or (False, reason)."""
    for rule in DOCUMENT_RULES:
        if rule(words, config):
            return False, rule.__name__
    return True, None


def record_text(record: RawRecord) -> str:
    """The raw text of a record: extracted from its HTML payload, or its plain text."""
    if record.html is not None:
        return html_to_text(record.html, record.charset)
    return record.text or ""


def clean_record(record: RawRecord, config: FilterConfig, count: Count = no_count) -> dict | Drop | Reject:
    """A documents-schema row for `record`, or why it is not kept."""
    try:
        raw = record_text(record)
    except HTMLParserException as err:
        return Reject(source=record.source, position=record.position, reason="html_parse_error",
                      detail=f"{type(err).__name__}: {err}"[:200])
    text, removed = clean_lines(normalize_text(raw), config, count)
    words = split_words(text)
    keep, reason = document_verdict(words, config)
    if not keep:
        return Drop(reason=reason, source=record.source, position=record.position)
    return {
        "id": record.id,
        "url": record.url,
        "text": text,
        "lang": record.lang or "und",
        "lang_score": None,
        "source": record.source,
        "timestamp": record.timestamp,
        "num_chars": len(text),
        "num_words": len(words),
        "num_lines": text.count("\n") + 1 if text else 0,
        "num_lines_removed": removed,
        "mean_word_length": sum(map(len, words)) / len(words) if words else 0.0,
    }
