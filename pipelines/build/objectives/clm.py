"""`clm`: XLM's causal LM streams (Lample & Conneau 2019, section 3.1).

Per language, the documents' sentences form one stream, `</s> s1 </s> s2 </s> ...`, as XLM's
monolingual data is stored (facebookresearch/XLM `Dictionary.index_data`: every sentence ends with
`</s>`, the stream starts with one, and the empty line between two documents adds another). The
stream is cut into consecutive windows of seq_len tokens (XLM's `StreamDataset`, `bptt`); the
last window of a stream may be shorter and is never padded (a one-token tail is dropped and
counted, `clm/dropped/short_tail`: it predicts nothing). Every example carries its language id
(`lang`). With `packing="doc"` each document is a stream of its own, so no window crosses one.
The separator is the tokenizer family's sep token. Deterministic: no randomness is drawn.
doc_id is the document of the window's first token.
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
class ClmConfig:
    seq_len: int
    sep_id: int
    packing: str = "full"
    languages: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.packing not in PACKINGS:
            raise ValueError(f"unknown packing {self.packing!r}; choose one of {', '.join(PACKINGS)}")


def make_config(options: BuildOptions) -> ClmConfig:
    return ClmConfig(seq_len=options.seq_len, sep_id=options.sep_id, packing=options.packing,
                     languages=options.languages)


def build_clm(docs: Sequence[TokenizedDoc], config: ClmConfig, counter: Counter | None = None,
              context: ShardContext | None = None) -> ExampleColumns:
    """Every stream's windows (see the module docstring), the streams' in order."""
    parts = []
    for stream in streams(docs, config.packing, per_language=True):
        ids, ws, owner = stream_tokens(stream, config.sep_id)
        lang = config.languages[stream[0].lang]
        starts = np.arange(0, len(ids), config.seq_len)
        if len(ids) - starts[-1] < 2:  # the tail predicts nothing (the other windows are full)
            if counter is not None:
                counter["clm/dropped/short_tail"] += 1
            starts = starts[:-1]
            if not len(starts):
                continue
        end = min(int(starts[-1]) + config.seq_len, len(ids))
        offsets = np.append(starts, end)
        doc_ids = [stream[k].doc_id for k in owner[starts].tolist()]
        parts.append(ExampleColumns(offsets, {"input_ids": ids[:end], "word_start": ws[:end]},
                                    {"doc_id": doc_ids, "lang": np.full(len(starts), lang, dtype=np.int64)}))
    return ExampleColumns.concat(parts)


def stream_tokens(docs: Sequence[TokenizedDoc], sep_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stream's ids, word starts, and each token's document (index into `docs`): the
    documents' tokens end to end with the separators inserted at once (a separator first, one
    after every sentence, one more before every document but the first)."""
    tokens = np.fromiter((len(d.ids) for d in docs), dtype=np.int64, count=len(docs))
    doc_start = np.zeros(len(docs), dtype=np.int64)
    np.cumsum(tokens[:-1], out=doc_start[1:])
    sentence_ends = np.concatenate([d.offsets[1:] + start for d, start in zip(docs, doc_start.tolist())])
    at = np.concatenate([[0], doc_start[1:], sentence_ends])  # equal positions: all separators
    ids = np.insert(np.concatenate([d.ids for d in docs]).astype(np.uint32), at, sep_id)
    ws = np.insert(np.concatenate([d.word_start for d in docs]).astype(bool), at, True)
    body = tokens + np.fromiter((d.num_sentences for d in docs), dtype=np.int64, count=len(docs)) + 1
    # document 0's body holds the leading separator, document k's its own leading one
    return ids, ws, np.repeat(np.arange(len(docs)), body)


BUILDER = Builder(name="clm", make_config=make_config, build=build_clm, options=frozenset({"packing"}))
