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

from bisect import bisect_right
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
    """<s> sentences... </s> per stream (see the module docstring), the streams' examples in order,
    all the streams packed in one pass (`_pack`)."""
    runs = list(streams(docs, config.packing, config.per_language))
    ordered = [doc for run in runs for doc in run]
    stream_of_doc = np.repeat(np.arange(len(runs)), [len(run) for run in runs])
    columns, owners = _pack(ordered, stream_of_doc, config)
    if config.per_language and len(columns):
        used, where = np.unique(owners, return_inverse=True)
        lang_ids = np.array([config.languages[ordered[k].lang] for k in used.tolist()], dtype=np.int64)
        columns.values["lang"] = lang_ids[where]
    return columns


def _pack(docs: Sequence[TokenizedDoc], stream_of_doc: np.ndarray, config: MlmConfig
          ) -> tuple[ExampleColumns, np.ndarray]:
    """Greedy packing of each stream's sentence pieces (the documents of a stream are consecutive
    in `docs`): an example ends when the next piece (with its separator, at a document start)
    would pass the budget, or at the stream's end. Returns the examples and each one's document.

    The pieces' costs are summed once, so an example's end is one bisection of the running sum
    (a loop over examples, not over sentences). The examples tile the documents' tokens, so they
    are built as one array with the special tokens inserted."""
    budget = config.seq_len - 2
    sentences = np.fromiter((len(d.offsets) - 1 for d in docs), dtype=np.int64, count=len(docs))
    # every document's offsets end to end: a difference of neighbours is a sentence's length, except
    # where one document's offsets end and the next one's start
    joined_offsets = np.concatenate([np.zeros(1, dtype=np.int64), *(d.offsets for d in docs)])
    lengths = np.diff(joined_offsets)[np.repeat(np.arange(len(docs)) + 1, sentences) + np.arange(sentences.sum())]
    sentence_doc = np.repeat(np.arange(len(docs)), sentences)
    kept = lengths > 0  # an empty sentence makes no piece (and an empty document no separator)
    lengths, sentence_doc = lengths[kept].astype(np.int64), sentence_doc[kept]
    if not len(lengths):
        return ExampleColumns.concat([]), np.zeros(0, dtype=np.int64)
    # a sentence longer than the budget: pieces of the budget, then the rest
    pieces_of = (lengths + budget - 1) // budget
    piece_doc = np.repeat(sentence_doc, pieces_of)
    sizes = np.full(len(piece_doc), budget, dtype=np.int64)
    sizes[np.cumsum(pieces_of) - 1] = lengths - (pieces_of - 1) * budget
    positions = np.zeros(len(sizes) + 1, dtype=np.int64)  # where each piece starts in the joined tokens
    np.cumsum(sizes, out=positions[1:])
    first = np.ones(len(sizes), dtype=bool)  # a document's first piece: a separator unless it starts an example
    first[1:] = piece_doc[1:] != piece_doc[:-1]
    piece_stream = stream_of_doc[piece_doc]
    hard = np.flatnonzero(np.concatenate([[True], piece_stream[1:] != piece_stream[:-1]])).tolist()
    cost = np.zeros(len(sizes) + 1, dtype=np.int64)  # running sum of piece + its separator
    np.cumsum(sizes + first, out=cost[1:])
    cost_list, first_list = cost.tolist(), first.tolist()
    cost_list += [cost_list[-1] + budget + 1] * (budget + 1)  # past the end: over any limit
    starts = []  # piece indices starting an example
    num_pieces = len(sizes)
    hard.append(num_pieces)
    i, h = 0, 1
    while i < num_pieces:
        starts.append(i)
        # the pieces i..j-1 fit: their cost, less i's separator (none at an example's start), <= budget;
        # a piece costs at least 1, so j <= i + budget: the search stays within budget + 1 entries
        j = bisect_right(cost_list, cost_list[i] + first_list[i] + budget, i + 1, i + budget + 2) - 1
        if j >= hard[h]:
            j = hard[h]
            h += 1
        i = j
    start_pieces = np.array(starts, dtype=np.int64)
    is_start = np.zeros(len(sizes), dtype=bool)
    is_start[start_pieces] = True
    seps = positions[:-1][first & ~is_start]  # a separator never falls on an example's edge
    bounds = np.append(positions[start_pieces], positions[-1])
    ids = np.concatenate([d.ids for d in docs]).astype(np.uint32, copy=False)
    ws = np.concatenate([d.word_start for d in docs]).astype(bool, copy=False)
    # at a position that ends one example and starts the next, </s> comes before <s> (np.insert
    # keeps the given order of equal positions)
    n = len(starts)
    where = np.concatenate([bounds[1:], bounds[:-1], seps])
    specials = np.concatenate([np.full(n, config.sep_id, dtype=np.uint32), np.full(n, config.cls_id, dtype=np.uint32),
                               np.full(len(seps), config.sep_id, dtype=np.uint32)])
    ids = np.insert(ids, where, specials)
    ws = np.insert(ws, where, True)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.diff(bounds) + 2 + np.diff(np.searchsorted(seps, bounds)), out=offsets[1:])
    owners = piece_doc[start_pieces]
    columns = ExampleColumns(offsets, {"input_ids": ids, "word_start": ws},
                             {"doc_id": [docs[k].doc_id for k in owners.tolist()]})
    return columns, owners


BUILDER = Builder(name="mlm", make_config=make_config, build=build_mlm,
                  options=frozenset({"packing", "per_language"}))
