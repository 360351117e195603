"""FineWeb's custom line filters (Penedo et al. 2024, section 3.3), with the semantics of
datatrove 0.10.1 `fineweb_quality_filter.py` (FineWebQualityFilter); thresholds are in
`config.FINEWEB`. One rule returning a drop reason or None, checks in datatrove's order:

- fewer than `fineweb_min_line_punct_fraction` of the lines end in terminal punctuation
  (any script's sentence terminal, `text.TERMINAL_PUNCTUATION`);
- more than `fineweb_max_short_line_fraction` of the lines have at most
  `fineweb_short_line_length` characters;
- more than `fineweb_max_char_dup_fraction` of the characters (newlines not counted) are in
  lines equal to an earlier line;
- more than `fineweb_max_newline_ratio` newlines per word.

Lines are the cleaned non-empty lines; newlines are counted between them (n lines, n - 1
newlines), so a blank line between paragraphs does not count twice, as it would in datatrove
on text that keeps blank lines (FineWeb's trafilatura output has none).
"""

from __future__ import annotations

from pipelines.clean.quality.config import FilterConfig
from pipelines.clean.quality.text import TERMINAL_PUNCTUATION, Page


def fineweb_lines(page: Page, config: FilterConfig) -> str | None:
    lines = page.lines
    if not lines:
        return None
    n = len(lines)
    if config.fineweb_min_line_punct_fraction is not None:
        ending = sum(1 for line in lines if line[-1] in TERMINAL_PUNCTUATION)
        if ending / n < config.fineweb_min_line_punct_fraction:
            return "fineweb_line_punct"
    if config.fineweb_max_short_line_fraction is not None:
        short_length = config.fineweb_short_line_length or 0
        short = sum(1 for line in lines if len(line) <= short_length)
        if short / n > config.fineweb_max_short_line_fraction:
            return "fineweb_short_lines"
    if config.fineweb_max_char_dup_fraction is not None:
        chars = len(page.text) - (n - 1)
        if page.line_duplicates[1] / chars > config.fineweb_max_char_dup_fraction:
            return "fineweb_char_dup"
    if config.fineweb_max_newline_ratio is not None and page.words:
        if (n - 1) / len(page.words) > config.fineweb_max_newline_ratio:
            return "fineweb_newline_ratio"
    return None
