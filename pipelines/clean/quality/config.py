"""The filter configuration, its named presets and how presets combine. Pure data, no Beam.

A preset is a `FilterConfig` constant with a name. Every rule has its own field; `None` (or
`False`) turns the rule off, so `NONE` is the config with every field off. `combine(a, b)` is
the union of two configs' rules: where both set the same threshold the stricter one wins (the
larger minimum, the smaller maximum), flags are or-ed and word lists are merged.

Each threshold cites its source in one comment. References:
- C4: Raffel et al. 2020, "Exploring the Limits of Transfer Learning ..." (T5), section 2.2, and
  its reference implementation, TensorFlow Datasets `text/c4_utils.py` (`clean_page`).
- Gopher: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
  Gopher", Appendix A.1.1 and Table A1, as implemented by datatrove 0.10.1
  `pipeline/filters/gopher_quality_filter.py` and `gopher_repetition_filter.py`.
- FineWeb: Penedo et al. 2024, "The FineWeb Datasets ..." (section 3.3, custom filters), as
  implemented by datatrove 0.10.1 `pipeline/filters/fineweb_quality_filter.py`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

# How `combine` merges one field: the stricter of two thresholds, or the union of two sets.
_MIN = {"merge": "max"}      # a minimum: the larger is stricter
_MAX = {"merge": "min"}      # a maximum: the smaller is stricter
_FLAG = {"merge": "or"}
_NGRAMS = {"merge": "ngrams"}  # ((n, max fraction), ...): per n the smaller fraction
_UNION = {"merge": "union"}

NGramLimits = tuple[tuple[int, float], ...]


@dataclass(frozen=True, kw_only=True)
class FilterConfig:
    name: str
    # --- document rules shared by `basic` and `gopher` (the same measurement in both) -------
    min_words: int | None = field(default=None, metadata=_MIN)
    max_words: int | None = field(default=None, metadata=_MAX)
    min_alpha_word_fraction: float | None = field(default=None, metadata=_MIN)
    # --- Gopher quality (Rae et al. 2021, Table A1) ------------------------------------------
    min_mean_word_length: float | None = field(default=None, metadata=_MIN)
    max_mean_word_length: float | None = field(default=None, metadata=_MAX)
    max_symbol_word_ratio: float | None = field(default=None, metadata=_MAX)
    max_bullet_line_fraction: float | None = field(default=None, metadata=_MAX)
    max_ellipsis_line_fraction: float | None = field(default=None, metadata=_MAX)
    min_stop_words: int | None = field(default=None, metadata=_MIN)
    # --- Gopher repetition (Rae et al. 2021, Table A1) ---------------------------------------
    max_dup_line_fraction: float | None = field(default=None, metadata=_MAX)
    max_dup_line_char_fraction: float | None = field(default=None, metadata=_MAX)
    max_dup_para_fraction: float | None = field(default=None, metadata=_MAX)
    max_dup_para_char_fraction: float | None = field(default=None, metadata=_MAX)
    max_top_ngram_char_fractions: NGramLimits = field(default=(), metadata=_NGRAMS)
    max_dup_ngram_char_fractions: NGramLimits = field(default=(), metadata=_NGRAMS)
    # --- C4 line and page rules (TFDS c4_utils.clean_page) -----------------------------------
    c4_max_word_length: int | None = field(default=None, metadata=_MAX)
    c4_remove_citations: bool = field(default=False, metadata=_FLAG)
    c4_terminal_punct: bool = field(default=False, metadata=_FLAG)
    c4_min_words_per_line: int | None = field(default=None, metadata=_MIN)
    c4_lorem_ipsum: bool = field(default=False, metadata=_FLAG)
    c4_javascript: bool = field(default=False, metadata=_FLAG)
    c4_curly_brace: bool = field(default=False, metadata=_FLAG)
    c4_policy: bool = field(default=False, metadata=_FLAG)
    c4_min_sentences: int | None = field(default=None, metadata=_MIN)
    # --- FineWeb custom filters (datatrove FineWebQualityFilter) -----------------------------
    fineweb_min_line_punct_fraction: float | None = field(default=None, metadata=_MIN)
    fineweb_max_short_line_fraction: float | None = field(default=None, metadata=_MAX)
    fineweb_short_line_length: int | None = field(default=None, metadata=_MIN)  # longer = more lines short
    fineweb_max_char_dup_fraction: float | None = field(default=None, metadata=_MAX)
    fineweb_max_newline_ratio: float | None = field(default=None, metadata=_MAX)
    # --- user word list and PII masking ------------------------------------------------------
    wordlist: tuple[str, ...] = field(default=(), metadata=_UNION)  # sorted, lowercase entries
    mask_pii: bool = field(default=False, metadata=_FLAG)

    @property
    def uses_c4_lines(self) -> bool:
        """Whether any C4 line or page rule is on (the C4 pass runs at all)."""
        return bool(self.c4_max_word_length is not None or self.c4_remove_citations or self.c4_terminal_punct
                    or self.c4_min_words_per_line is not None or self.c4_lorem_ipsum or self.c4_javascript
                    or self.c4_curly_brace or self.c4_policy or self.c4_min_sentences is not None)


NONE = FilterConfig(name="none")

# Lenient defaults that drop junk (near-empty pages, pages of symbols and numbers) without
# dropping short real texts:
# - min_words=5: C4 keeps only lines of at least 5 words (TFDS c4_utils.py _MIN_WORDS_PER_LINE;
#   Raffel et al. 2020, section 2.2); here applied to the whole document.
# - min_alpha_word_fraction=0.8: "80% of words in a document contain at least one alphabetic
#   character" (Rae et al. 2021, Appendix A.1.1 / Table A1).
BASIC = FilterConfig(name="basic", min_words=5, min_alpha_word_fraction=0.8)

C4 = FilterConfig(
    name="c4",
    c4_max_word_length=1000,  # drop lines with a word over 1000 chars: c4_utils.py _MAX_WORD_LENGTH
    c4_remove_citations=True,  # strip "[1]", "[edit]", "[citation needed]": c4_utils.py citation_regex
    c4_terminal_punct=True,  # keep lines ending in . ? ! " (not ...): c4_utils.py _END_MARKS; Raffel 2.2
    c4_min_words_per_line=5,  # c4_utils.py _MIN_WORDS_PER_LINE = 5 (datatrove's C4QualityFilter uses 3)
    c4_lorem_ipsum=True,  # drop pages with "lorem ipsum": Raffel et al. 2020, section 2.2
    c4_javascript=True,  # drop lines with "javascript": Raffel et al. 2020, section 2.2
    c4_curly_brace=True,  # drop pages with "{": Raffel et al. 2020, section 2.2
    c4_policy=True,  # drop cookie / terms-of-use lines: c4_utils.py _POLICY_SUBSTRINGS
    c4_min_sentences=3,  # c4_utils.py _MIN_NUM_SENTENCES = 3 (datatrove's C4QualityFilter uses 5)
)

GOPHER = FilterConfig(
    name="gopher",
    min_words=50,  # "fewer than 50 ... words": Rae et al. 2021, Table A1
    max_words=100_000,  # "... or greater than 100,000 words": Table A1
    min_alpha_word_fraction=0.8,  # 80% of words with an alphabetic character: Table A1
    min_mean_word_length=3,  # mean word length outside 3..10 characters: Table A1
    max_mean_word_length=10,  # Table A1
    max_symbol_word_ratio=0.1,  # '#' or ellipsis to word ratio over 0.1: Table A1
    max_bullet_line_fraction=0.9,  # over 90% of lines starting with a bullet: Table A1
    max_ellipsis_line_fraction=0.3,  # over 30% of lines ending with an ellipsis: Table A1
    min_stop_words=2,  # at least two of the, be, to, of, and, that, have, with: Appendix A.1.1
    max_dup_line_fraction=0.30,  # duplicate line fraction: Table A1
    max_dup_line_char_fraction=0.20,  # duplicate line character fraction: Table A1
    max_dup_para_fraction=0.30,  # duplicate paragraph fraction: Table A1
    max_dup_para_char_fraction=0.20,  # duplicate paragraph character fraction: Table A1
    max_top_ngram_char_fractions=((2, 0.20), (3, 0.18), (4, 0.16)),  # top n-gram char fraction: Table A1
    max_dup_ngram_char_fractions=((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)),  # Table A1
)

FINEWEB = FilterConfig(
    name="fineweb",
    fineweb_min_line_punct_fraction=0.12,  # line_punct_thr: datatrove FineWebQualityFilter; Penedo et al. 2024
    fineweb_max_short_line_fraction=0.67,  # short_line_thr: FineWebQualityFilter
    fineweb_short_line_length=30,  # short_line_length (chars): FineWebQualityFilter
    fineweb_max_char_dup_fraction=0.01,  # char_duplicates_ratio: FineWebQualityFilter
    fineweb_max_newline_ratio=0.3,  # new_line_ratio (newlines per word): FineWebQualityFilter
)

PRESETS: dict[str, FilterConfig] = {c.name: c for c in (NONE, BASIC, C4, GOPHER, FINEWEB)}


def preset(names: str) -> FilterConfig:
    """The preset called `names`, or the union of comma-separated presets ("c4,gopher")."""
    parts = list(dict.fromkeys(n.strip() for n in names.split(",")))
    for name in parts:
        if name not in PRESETS:
            raise ValueError(f"unknown filter preset {name!r}; choose one or more (comma-separated) of "
                             f"{', '.join(PRESETS)}")
    config = PRESETS[parts[0]]
    for name in parts[1:]:
        config = combine(config, PRESETS[name])
    return config


def combine(a: FilterConfig, b: FilterConfig) -> FilterConfig:
    """The union of two configs' rules; the stricter threshold where both set one."""
    merged = {f.name: _MERGE[f.metadata["merge"]](getattr(a, f.name), getattr(b, f.name))
              for f in dataclasses.fields(FilterConfig) if f.name != "name"}
    return FilterConfig(name=f"{a.name},{b.name}", **merged)


def _stricter(pick: Callable) -> Callable:
    return lambda x, y: x if y is None else y if x is None else pick(x, y)


def _merge_ngrams(x: NGramLimits, y: NGramLimits) -> NGramLimits:
    limits: dict[int, float] = dict(x)
    for n, fraction in y:
        limits[n] = min(fraction, limits.get(n, fraction))
    return tuple(sorted(limits.items()))


_MERGE: dict[str, Callable] = {
    "max": _stricter(max), "min": _stricter(min), "or": lambda x, y: x or y,
    "ngrams": _merge_ngrams, "union": lambda x, y: tuple(sorted(set(x) | set(y))),
}
