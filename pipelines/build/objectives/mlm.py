"""`mlm`: packed sentences for masked LM (RoBERTa; XLM and XLM-R with --per-language).

Packing (Liu et al. 2019, RoBERTa, section 4.2 and Table 2):
- `full` (FULL-SENTENCES): consecutive sentences, crossing document boundaries with an extra
  separator, up to seq_len tokens between <s> and </s>;
- `doc` (DOC-SENTENCES): the same, but an example never crosses a document (the last example
  of a document may be short).
With `per_language`, documents are packed in one stream per language (never mixing languages)
and every example carries its language id (`lang`), as XLM's monolingual streams do.
A sentence longer than seq_len - 2 is cut into pieces of that size (a piece cut inside a word
starts with a continuation, flagged as such). Deterministic: it draws no
randomness. doc_id is the document the example starts in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from pipelines.build.objectives.common import (
    PACKINGS, BuildOptions, Builder, Example, Segment, ShardContext, streams)
from pipelines.build.tokenize_docs import TokenizedDoc


@dataclass(frozen=True, kw_only=True)
class MlmConfig:
    seq_len: int
    cls_id: int
    sep_id: int
    packing: str = "full"
    per_language: bool = False
    languages: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.packing not in PACKINGS:
            raise ValueError(f"unknown packing {self.packing!r}; choose one of {', '.join(PACKINGS)}")


def make_config(options: BuildOptions) -> MlmConfig:
    return MlmConfig(seq_len=options.seq_len, cls_id=options.cls_id, sep_id=options.sep_id,
                     packing=options.packing, per_language=options.per_language, languages=options.languages)


def build_mlm(docs: Sequence[TokenizedDoc], config: MlmConfig, counter: Counter | None = None,
              context: ShardContext | None = None) -> Iterator[Example]:
    """<s> sentences... </s> per stream (see the module docstring)."""
    for stream in streams(docs, config.packing, config.per_language):
        for example in _pack(stream, config):
            if config.per_language:
                example["lang"] = config.languages[stream[0].lang]
            yield example


def _pack(docs: Sequence[TokenizedDoc], config: MlmConfig) -> Iterator[Example]:
    budget = config.seq_len - 2
    parts: list[Segment] = []
    length, start_doc = 0, ""
    sep = (np.array([config.sep_id], dtype=np.uint32), np.array([True]))
    for doc in docs:
        first = True
        for piece in _pieces(doc, budget):
            boundary = 1 if (length and first) else 0
            if length and length + boundary + len(piece[0]) > budget:
                yield _example(parts, start_doc, config)
                parts, length, boundary = [], 0, 0
            if not length:
                start_doc = doc.doc_id
            if boundary:
                parts.append(sep)
            parts.append(piece)
            length += boundary + len(piece[0])
            first = False
    if length:
        yield _example(parts, start_doc, config)


def _pieces(doc: TokenizedDoc, budget: int) -> Iterator[Segment]:
    for i in range(doc.num_sentences):
        ids, ws = doc.sentence(i)
        for lo in range(0, len(ids), budget):
            yield ids[lo:lo + budget], ws[lo:lo + budget]


def _example(parts: list[Segment], doc_id: str, config: MlmConfig) -> Example:
    ids = np.concatenate([[config.cls_id], *(p[0] for p in parts), [config.sep_id]]).astype(np.uint32)
    ws = np.concatenate([[True], *(p[1] for p in parts), [True]]).astype(bool)
    return {"input_ids": ids, "word_start": ws, "doc_id": doc_id}


BUILDER = Builder(name="mlm", make_config=make_config, build=build_mlm,
                  options=frozenset({"packing", "per_language"}))
