"""C4's line and page rules (Raffel et al. 2020, section 2.2), in the order and with the
semantics of TensorFlow Datasets `text/c4_utils.py` `clean_page`; thresholds are in
`config.C4`.

Each line, in order: a word over `c4_max_word_length` characters removes the line; citation
marks ("[1]", "[edit]", "[citation needed]") are cut out; a line not ending in . ? ! " (or
ending in "...") is removed; a line of fewer than `c4_min_words_per_line` whitespace words is
removed; then, on the lines still standing, "lorem ipsum" drops the page, "javascript" removes
the line, "{" drops the page, and a cookie / terms-of-use phrase removes the line. The page is
dropped when its kept lines hold fewer than `c4_min_sentences` sentences. C4 counts sentences
with nltk's punkt; here `pipelines.build.sentences.split_paragraph` (rule based, no model) counts them.
"""

from __future__ import annotations

import re
from collections import Counter

from pipelines.clean.quality.config import FilterConfig
from pipelines.clean.quality.text import Page
from pipelines.build.sentences import split_paragraph

_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")  # c4_utils.py citation_regex
END_MARKS = (".", "?", "!", '"')  # c4_utils.py _END_MARKS
ELLIPSIS = "..."  # c4_utils.py _ELLIPSIS
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")  # c4_utils.py _POLICY_SUBSTRINGS


def c4_lines(page: Page, config: FilterConfig, removed: Counter) -> Page | str:
    """The page with C4's line rules applied, or the reason C4 drops the whole page.

    Removed lines are added to `removed` by counter name (`lines/c4_<rule>`).
    """
    lines: list[str] = []
    paragraph_of: list[int] = []
    sentences = 0
    for line, paragraph in zip(page.lines, page.paragraph_of):
        line, why = _line_verdict(line, config)
        if why == "page":
            return line  # the page's drop reason
        if why is not None:
            removed[why] += 1
            continue
        if config.c4_min_sentences is not None and sentences < config.c4_min_sentences:
            sentences += len(split_paragraph(line))
        lines.append(line)
        paragraph_of.append(paragraph)
    if config.c4_min_sentences is not None and sentences < config.c4_min_sentences:
        return "c4_too_few_sentences"
    return Page(lines, paragraph_of)


def _line_verdict(line: str, config: FilterConfig) -> tuple[str, str | None]:
    """(line, None) to keep the (possibly edited) line; (line, counter) to remove it;
    (reason, "page") to drop the page."""
    limit = config.c4_max_word_length
    if limit is not None and len(line) > limit and any(len(w) > limit for w in line.split()):
        return line, "lines/c4_too_long_word"
    if config.c4_remove_citations and "[" in line:
        line = " ".join(_CITATION.sub("", line).split())  # lines keep single spaces
        if not line:
            return line, "lines/c4_citation_only"
    if config.c4_terminal_punct and (not line.endswith(END_MARKS) or line.endswith(ELLIPSIS)):
        return line, "lines/c4_no_terminal_punct"
    if config.c4_min_words_per_line is not None and len(line.split()) < config.c4_min_words_per_line:
        return line, "lines/c4_too_few_words"
    lower = line.lower()
    if config.c4_lorem_ipsum and "lorem ipsum" in lower:
        return "c4_lorem_ipsum", "page"
    if config.c4_javascript and "javascript" in lower:
        return line, "lines/c4_javascript"
    if config.c4_curly_brace and "{" in line:
        return "c4_curly_brace", "page"
    if config.c4_policy and any(p in lower for p in POLICY_SUBSTRINGS):
        return line, "lines/c4_policy"
    return line, None
