"""The text a tokenizer learns from: documents datasets and parallel corpora, several at once,
with languages resampled as XLM did (pure logic; the job is pipelines/tokenizer/job.py).

An input is a documents dataset (a folder with a manifest, output of `shardlm clean`; each
document's `lang` column is its language) or a parallel corpus (TSV `src<TAB>tgt` / JSONL files
named `*.<l1>-<l2>.tsv`, read by `pipelines.build.parallel`; each side is a text in its language).

Languages: with `lang_alpha`, a language holding the share p_l of the texts is drawn with
probability q_l = p_l^α / Σ_k p_k^α (Lample & Conneau 2019, section 3.1: α = 0.5; XLM-R: 0.3),
keeping the number of texts: a text of language l is used r_l = q_l / p_l times in expectation
(its whole part, plus one more with probability of the fraction, from a generator seeded by
`seed` and consumed in input order), so rare languages are repeated and frequent ones thinned.
Without `lang_alpha` every text is used once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from pipelines import progress
from pipelines.docs_input import document_files, iter_documents
from schemas import NotCommittedError, read_manifest
from shards.storage import retrying

log = logging.getLogger(__name__)

UNKNOWN_LANG = "und"  # ISO 639-2 "undetermined", for a document without a language


@dataclass(frozen=True, kw_only=True)
class CorpusConfig:
    inputs: tuple[str, ...]
    langs: tuple[str, str] | None = None  # parallel files whose names do not say their languages
    lang_alpha: float | None = None
    max_texts: int | None = None  # the first N texts of the inputs, in order, before resampling
    seed: int = 0
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("give at least one --input")
        if self.lang_alpha is not None and not 0.0 < self.lang_alpha <= 1.0:
            raise ValueError(f"--lang-alpha must be in (0, 1] (XLM used 0.5, XLM-R 0.3), got {self.lang_alpha}")
        if self.max_texts is not None and self.max_texts < 1:
            raise ValueError(f"--max-documents must be >= 1, got {self.max_texts}")


@dataclass(frozen=True)
class Source:
    """One --input: a documents dataset's Parquet files, or a parallel corpus's files."""

    url: str
    kind: str  # documents | parallel
    files: tuple = ()


def open_sources(config: CorpusConfig) -> list[Source]:
    """Every input, with its files; fails before any work on a missing or unreadable one."""
    from pipelines.build.parallel import parallel_files

    sources = []
    for url in config.inputs:
        try:  # a documents dataset is committed by its manifest (its rejects/ hold .jsonl files)
            sources.append(Source(url, "documents", tuple(document_files(url, config.storage_options))))
        except (FileNotFoundError, NotCommittedError) as not_documents:
            try:
                files = parallel_files(url, config.langs, config.storage_options)
            except FileNotFoundError:  # neither: the documents error says what is missing
                raise not_documents from None
            sources.append(Source(url, "parallel", tuple(files)))
    return sources


def iter_lang_texts(sources: list[Source], config: CorpusConfig, counter: Counter,
                    with_text: bool = True) -> Iterator[tuple[str, str]]:
    """(language, text) of every input in order, at most `config.max_texts`; bad parallel lines
    count in `counter` (`pairs/rejected/<reason>`). Without `with_text`, documents' texts are
    not read (their text is then "")."""
    from pipelines.build.parallel import PairFields, iter_pairs

    count = 0
    columns = ("lang", "text") if with_text else ("lang",)
    for source in sources:
        for file in source.files:
            if source.kind == "documents":
                rows = ((row[0] or UNKNOWN_LANG, row[-1] if with_text else "") for row in
                        iter_documents(file, config.storage_options, columns=columns))
            else:
                rows = ((lang, text) for _, langs, src, tgt in
                        progress.counted(iter_pairs(file, PairFields(), counter, config.storage_options), "pairs")
                        for lang, text in zip(langs.split("-"), (src, tgt)))
            for lang, text in rows:
                if config.max_texts is not None and count >= config.max_texts:
                    return
                count += 1
                yield lang, text or ""


def progress_plan(config: CorpusConfig) -> progress.Plan:
    """Documents read of the datasets' rows (at most --max-documents), or, with a parallel corpus
    among the inputs, files read; twice with --lang-alpha, whose first pass counts languages."""
    sources = open_sources(config)
    passes = 2 if config.lang_alpha is not None else 1
    files = passes * sum(len(s.files) for s in sources)
    if all(s.kind == "documents" for s in sources):
        rows = sum(retrying(lambda: read_manifest(s.url, config.storage_options)["rows"],
                            f"reading the manifest of {s.url}") for s in sources)
        unit, total = "documents", passes * min(rows, config.max_texts or rows)
    else:
        unit, total = "files", files if config.max_texts is None else None
    return progress.Plan(job="tokenizer", unit=unit, total=total, num_files=files,
                         shown=(("documents", "documents"), ("pairs", "pairs")), after="learning the vocabulary")


def sampling_rates(counts: dict[str, int], alpha: float) -> dict[str, float]:
    """r_l = q_l / p_l with q ∝ p^α: how many times each text of a language is used."""
    total = sum(counts.values())
    weights = {lang: (n / total) ** alpha for lang, n in counts.items() if n}
    norm = sum(weights.values())
    return {lang: (weights[lang] / norm) / (counts[lang] / total) for lang in weights}


@dataclass
class CorpusStats:
    """What the tokenizer learned from: texts per language read and used, and the parallel lines
    read and rejected (`pairs/read`, `pairs/rejected/<reason>`)."""

    read: Counter = field(default_factory=Counter)
    used: Counter = field(default_factory=Counter)
    rates: dict[str, float] = field(default_factory=dict)
    pairs: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"texts_read": dict(sorted(self.read.items())), "texts_used": dict(sorted(self.used.items())),
                "rates": {k: round(v, 6) for k, v in sorted(self.rates.items())},
                "pairs": dict(sorted(self.pairs.items()))}


def training_texts(config: CorpusConfig, stats: CorpusStats) -> Iterator[str]:
    """The texts to learn from, streamed; with `lang_alpha` a first pass counts texts per
    language (documents' `lang` column alone). Fills `stats` as it goes."""
    sources = open_sources(config)
    if config.lang_alpha is not None:
        languages = Counter(lang for lang, _ in iter_lang_texts(sources, config, Counter(), with_text=False))
        stats.rates = sampling_rates(languages, config.lang_alpha)
        log.info("language sampling (alpha %s): %s", config.lang_alpha,
                 ", ".join(f"{k} x{v:.3f}" for k, v in sorted(stats.rates.items())))
    rng = np.random.Generator(np.random.PCG64(config.seed))
    for lang, text in iter_lang_texts(sources, config, stats.pairs):
        stats.read[lang] += 1
        rate = stats.rates.get(lang, 1.0)
        copies = int(rate) + (rng.random() < rate - int(rate) if rate != int(rate) else 0)
        stats.used[lang] += copies
        for _ in range(copies):
            yield text
