"""The per-record cleaning flow: extraction, normalization, quality rules, PII masking. No Beam.

`clean_record` takes one `RawRecord` through extraction (HTML), normalization, the line rules
and the document rules, and returns a documents-schema row (a dict) or a `Drop` / `Reject`
with a reason. Line-level counts go to the `count(name, n)` function passed in (C4's
`counter_inc_fn`), so a test can count into a dict and a Beam job into Metrics counters.

Filter settings are a frozen `FilterConfig`; the named presets (`none`, `basic`, `c4`,
`gopher`, `fineweb`) and their combination (`preset("c4,gopher")`) live in
`pipelines.clean.quality.config`, the rules in `pipelines.clean.quality.*`. The order (docs/filters.md):

1. line stage: whitespace runs collapse and empty lines go (`lines/removed_empty`); then C4's
   line rules (`lines/c4_*`), which may drop the page (`c4_lorem_ipsum`, `c4_curly_brace`,
   `c4_too_few_sentences`);
2. on the page as extracted (before C4's line removal, as in FineWeb's pipeline, where the
   Gopher filters run before C4's): the word rules (`too_few_words`, `too_many_words`,
   `low_alpha_ratio`, `empty`) and Gopher's quality rules (`gopher_*`);
3. on the text after C4's line removal: FineWeb's line filters (`fineweb_*`), the word list
   (`wordlist`);
4. on the page as extracted: Gopher's repetition rules (`gopher_dup_*`, `gopher_top_*`), last
   because they cost the most.

The first rule that fires names the drop reason; which documents are kept does not depend on
the order. A kept document's e-mails and public IPs are then masked when `mask_pii` is set.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from resiliparse.parse.html import HTMLParserException

from pipelines.clean.extract import DEFAULT_EXTRACTOR, extract_html
from pipelines.clean.langid import identify
from pipelines.clean.pii import mask_pii
from pipelines.clean.quality.c4 import c4_lines
from pipelines.clean.quality.config import BASIC, C4, FINEWEB, GOPHER, NONE, PRESETS, FilterConfig, combine, preset
from pipelines.clean.quality.fineweb import fineweb_lines
from pipelines.clean.quality.gopher import QUALITY_RULES, WORD_RULES
from pipelines.clean.quality.repetition import REPETITION_RULES
from pipelines.clean.quality.text import Page, split_words
from pipelines.clean.quality.wordlist import find_listed, load_wordlist
from pipelines.clean.readers import Drop, RawRecord, Reject, dropped_document
from pipelines.clean.textnorm import normalize_text

__all__ = ["BASIC", "C4", "FINEWEB", "GOPHER", "KEEP_ALL", "NONE", "PRESETS", "FilterConfig", "LangConfig",
           "Page", "clean_lines", "clean_record", "document_signals", "combine", "configure", "filter_page",
           "manifest_config", "preset", "split_words"]

Count = Callable[..., None]  # count(name: str, n: int = 1)


def no_count(name: str, n: int = 1) -> None:
    """The default counter: counts nothing."""


@dataclass(frozen=True, kw_only=True)
class LangConfig:
    """Which identified languages to keep (`--langs`, `--lang-min-score`). Every kept document's
    language is identified (pipelines.clean.langid) whatever this says."""

    keep: frozenset[str] | None = None  # None: every language
    # 0 keeps everything; FineWeb keeps English at a fastText score >= 0.65 (Penedo et al. 2024)
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"--lang-min-score must be within [0, 1], got {self.min_score}")


KEEP_ALL = LangConfig()


def configure(presets: str = "basic", *, wordlist_url: str | None = None, mask_pii: bool = False,
              storage_options: dict | None = None) -> FilterConfig:
    """The config for `--preset`, `--wordlist` and `--mask-pii` (reads the word list once)."""
    config = preset(presets)
    if wordlist_url is not None:
        config = dataclasses.replace(config, wordlist=load_wordlist(wordlist_url, storage_options))
    return dataclasses.replace(config, mask_pii=True) if mask_pii else config


def manifest_config(config: FilterConfig) -> dict:
    """The config as the manifest records it: the word list by size and sha256, not its words."""
    described = dataclasses.asdict(config)
    if config.wordlist:
        digest = hashlib.sha256("\n".join(config.wordlist).encode("utf-8")).hexdigest()
        described["wordlist"] = {"entries": len(config.wordlist), "sha256": digest}
    return described


def clean_lines(text: str, count: Count = no_count) -> tuple[Page, int]:
    """Collapse whitespace runs inside each line and drop lines left empty: (page, lines removed).

    A run of empty lines separates paragraphs (Gopher's paragraph rules).
    """
    lines: list[str] = []
    paragraph_of: list[int] = []
    paragraph = removed = 0
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line:
            lines.append(line)
            paragraph_of.append(paragraph)
        else:
            removed += 1
            paragraph += 1
    if removed:
        count("lines/removed_empty", removed)
    return Page(lines, paragraph_of), removed


def filter_page(page: Page, config: FilterConfig, count: Count = no_count) -> tuple[Page, str | None]:
    """(the page after the line rules, None) to keep it, or (page, drop reason)."""
    final = page
    if config.uses_c4_lines:
        removed: Counter = Counter()
        result = c4_lines(page, config, removed)
        for name, n in sorted(removed.items()):
            count(name, n)
        if isinstance(result, str):
            return page, result
        final = result
    count("lines/kept", len(final.lines))
    for rule in WORD_RULES + QUALITY_RULES:
        reason = rule(page, config)
        if reason is not None:
            return final, reason
    if not final.lines:
        return final, "empty"
    reason = fineweb_lines(final, config)
    if reason is None and config.wordlist and find_listed(final.text, config.wordlist) is not None:
        reason = "wordlist"
    for rule in REPETITION_RULES:
        reason = reason or rule(page, config)
    return final, reason


def record_text(record: RawRecord, extractor: str = DEFAULT_EXTRACTOR, count: Count = no_count) -> str:
    """The raw text of a record: extracted from its HTML payload, or its plain text."""
    if record.bad_timestamp:
        count("input/bad_timestamp")
    if record.html is None:
        if record.truncated:
            count("text/truncated")
        return record.text or ""
    extraction = extract_html(record.html, record.charset, extractor=extractor)
    if extraction.truncated:
        count("extract/truncated")
    if extraction.too_deep:
        count("extract/too_deep")
    return extraction.text


def language_verdict(text: str, langs: LangConfig, count: Count = no_count) -> tuple[str, float, str | None]:
    """(language, score, drop reason or None) of a page's text."""
    lang, score = identify(text)
    if langs.keep is not None and lang not in langs.keep:
        count(f"lang_dropped/{lang}")
        return lang, score, "lang_not_wanted"
    if score < langs.min_score:
        return lang, score, "lang_low_score"
    return lang, score, None


def clean_record(record: RawRecord, config: FilterConfig, count: Count = no_count, *,
                 langs: LangConfig = KEEP_ALL, extractor: str = DEFAULT_EXTRACTOR,
                 dropped_fraction: float = 0.0) -> dict | Drop | Reject:
    """A documents-schema row for `record`, or why it is not kept (a Drop holding the text the
    rules judged when `dropped_fraction` samples it: `--write-dropped`).

    The language is identified after line cleaning and before the quality rules (FineWeb's
    order: the Gopher and C4 rules are written for English).
    """
    try:
        raw = record_text(record, extractor, count)
    except HTMLParserException as err:
        return Reject(source=record.source, position=record.position, reason="html_parse_error",
                      detail=f"{type(err).__name__}: {err}"[:200])
    page, removed = clean_lines(normalize_text(raw), count)
    lang, score, reason = language_verdict(page.text, langs, count)
    if reason is None:
        final, reason = filter_page(page, config, count)
    if reason is not None:
        document = dropped_document({"id": record.id, "url": record.url, "source": record.source,
                                     "text": page.text}, dropped_fraction) if dropped_fraction else None
        return Drop(reason=reason, source=record.source, position=record.position, document=document)
    text, words = final.text, final.words
    if config.mask_pii:
        text, emails, ips = mask_pii(text)
        if emails:
            count("pii/email_masked", emails)
        if ips:
            count("pii/ip_masked", ips)
        if emails or ips:
            words = split_words(text)
    return {
        "id": record.id,
        "url": record.url,
        "text": text,
        "lang": lang,
        "lang_score": score,
        "source": record.source,
        "timestamp": record.timestamp,
        **document_signals(text, words),
        "num_lines_removed": removed + len(page.lines) - len(final.lines),
    }


def document_signals(text: str, words: list[str] | None = None) -> dict:
    """num_chars, num_words, num_lines and mean_word_length of a kept text (its lines are never
    empty, so they are its newlines plus one); `words` when the caller has split them already."""
    words = split_words(text) if words is None else words
    return {"num_chars": len(text), "num_words": len(words),
            "num_lines": text.count("\n") + 1 if text else 0,
            "mean_word_length": sum(map(len, words)) / len(words) if words else 0.0}
