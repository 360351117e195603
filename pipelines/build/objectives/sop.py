"""`sop`: ALBERT's sentence-order pairs (Lan et al. 2019, section 3.1; google-research/albert
`create_pretraining_data.py` with `random_next_sentence=False`).

Chunks, targets, short sequences and truncation are nsp's: sentences accumulate until the
target length, A is a random prefix of the chunk and B the rest. With probability 0.5 the two
are swapped (label 1, `sentence_order_label` as in `transformers`' AlbertForPreTraining), else
kept in order (label 0); ALBERT swaps before truncating, and so does this builder.

B never comes from another document. ALBERT's script falls back to a random-document NSP pair
when a chunk holds a single segment; here that segment is split in two at a random word start
inside it (both halves are consecutive text of the document). A one-word segment cannot be split:
it is dropped and counted (`sop/dropped/one_word_segment`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from pipelines.build.objectives.common import (
    BuildOptions, Builder, Example, Segment, ShardContext, concat, doc_rng, iter_chunks, pair_example,
    target_length, truncate_pair)
from pipelines.build.tokenize_docs import TokenizedDoc

LABEL = "sentence_order_label"


@dataclass(frozen=True, kw_only=True)
class SopConfig:
    seq_len: int
    cls_id: int
    sep_id: int
    seed: int = 0
    short_seq_prob: float = 0.1  # google-research/albert create_pretraining_data.py default
    dupe_factor: int = 1  # google-research/albert uses 40 (static masks); masks here are dynamic


def make_config(options: BuildOptions) -> SopConfig:
    return SopConfig(seq_len=options.seq_len, cls_id=options.cls_id, sep_id=options.sep_id, seed=options.seed,
                     short_seq_prob=options.short_seq_prob, dupe_factor=options.dupe_factor)


def build_sop(docs: Sequence[TokenizedDoc], config: SopConfig, counter: Counter | None = None,
              context: ShardContext | None = None) -> Iterator[Example]:
    for doc in docs:
        rng = doc_rng(config.seed, doc.doc_id)
        for _ in range(config.dupe_factor):
            yield from sop_document(doc, config, rng, counter)


def sop_document(doc: TokenizedDoc, config: SopConfig, rng: np.random.Generator,
                 counter: Counter | None = None) -> Iterator[Example]:
    target = target_length(config, rng)
    for chunk in iter_chunks(doc, target):
        if len(chunk) >= 2:
            a_end = int(rng.integers(1, len(chunk)))
            a, b = concat(doc, chunk[:a_end]), concat(doc, chunk[a_end:])
        else:
            halves = split_segment(concat(doc, chunk), rng)
            if halves is None:
                if counter is not None:
                    counter["sop/dropped/one_word_segment"] += 1
                continue
            a, b = halves
        swapped = rng.random() < 0.5
        if swapped:
            a, b = b, a
        a, b = truncate_pair(a, b, config.seq_len - 3, rng)
        yield pair_example(a, b, doc.doc_id, config.cls_id, config.sep_id, LABEL, int(swapped))


def split_segment(segment: Segment, rng: np.random.Generator) -> tuple[Segment, Segment] | None:
    """The segment cut at a random word start after its first token; None without one."""
    ids, ws = segment
    starts = np.flatnonzero(ws[1:]) + 1
    if not len(starts):
        return None
    cut = int(starts[rng.integers(len(starts))])
    return (ids[:cut], ws[:cut]), (ids[cut:], ws[cut:])


BUILDER = Builder(name="sop", make_config=make_config, build=build_sop,
                  options=frozenset({"short_seq_prob", "dupe_factor"}))
