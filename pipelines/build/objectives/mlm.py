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
from typing import Sequence

import numpy as np

from pipelines.build.objectives.common import (
    PACKINGS, BuildOptions, Builder, ExampleColumns, ShardContext, streams)
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
              context: ShardContext | None = None) -> ExampleColumns:
    """<s> sentences... </s> per stream (see the module docstring), the streams' examples in order."""
    parts = []
    for stream in streams(docs, config.packing, config.per_language):
        columns = _pack(stream, config)
        if columns is None:
            continue
        if config.per_language:
            columns.values["lang"] = np.full(len(columns), config.languages[stream[0].lang], dtype=np.int64)
        parts.append(columns)
    return ExampleColumns.concat(parts)


def _pack(docs: Sequence[TokenizedDoc], config: MlmConfig) -> ExampleColumns | None:
    """Greedy packing of the stream's sentence pieces: an example ends when the next piece (with
    its separator, at a document start) would pass the budget. The examples tile the stream's
    tokens, so they are built as one array with the special tokens inserted (None: no examples)."""
    budget = config.seq_len - 2
    starts, owners, seps = [], [], []  # stream positions: example starts (and their document), separators
    length = pos = 0
    for k, doc in enumerate(docs):
        first = True
        for size in doc.sentence_lengths().tolist():
            while size > 0:  # a sentence longer than the budget: pieces of the budget
                piece = min(size, budget)
                boundary = 1 if (length and first) else 0
                if length and length + boundary + piece > budget:
                    length = boundary = 0
                if not length:
                    starts.append(pos)
                    owners.append(k)
                if boundary:
                    seps.append(pos)
                length += boundary + piece
                pos += piece
                size -= piece
                first = False
    if not starts:
        return None
    ids = np.concatenate([d.ids for d in docs]).astype(np.uint32, copy=False)
    ws = np.concatenate([d.word_start for d in docs]).astype(bool, copy=False)
    ends = [*starts[1:], pos]
    # at a position that ends one example and starts the next, </s> comes before <s> (np.insert
    # keeps the given order of equal positions); a separator never falls on an example's edge
    where = np.array([*ends, *starts, *seps], dtype=np.int64)
    n = len(starts)
    specials = np.array([config.sep_id] * n + [config.cls_id] * n + [config.sep_id] * len(seps), dtype=np.uint32)
    ids = np.insert(ids, where, specials)
    ws = np.insert(ws, where, True)
    bounds = np.array(starts + [pos], dtype=np.int64)
    sizes = np.diff(bounds) + 2 + np.diff(np.searchsorted(np.array(seps, dtype=np.int64), bounds))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return ExampleColumns(offsets, {"input_ids": ids, "word_start": ws}, {"doc_id": [docs[k].doc_id for k in owners]})


BUILDER = Builder(name="mlm", make_config=make_config, build=build_mlm,
                  options=frozenset({"packing", "per_language"}))
