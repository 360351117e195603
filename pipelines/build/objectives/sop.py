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
from typing import Sequence

import numpy as np

from pipelines.build.objectives.common import (
    BuildOptions, Builder, Draws, ExampleColumns, PairPlan, ShardContext, doc_draws, joined, target_length,
    truncate_bounds)
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
              context: ShardContext | None = None) -> ExampleColumns:
    """Every document's pairs, `dupe_factor` times, planned as token ranges and gathered at once."""
    ids, ws, bases = joined(docs)
    plan = PairPlan([(ids, ws)])
    counter = counter if counter is not None else Counter()
    for doc, base in zip(docs, bases):
        draws = doc_draws(config.seed, doc.doc_id)
        offsets = [base + o for o in doc.offsets.tolist()]
        for _ in range(config.dupe_factor):
            plan_document(doc.doc_id, offsets, ws, config, draws, plan, counter)
    return plan.examples(config.cls_id, config.sep_id, LABEL)


def plan_document(doc_id: str, offsets: list[int], ws: np.ndarray, config: SopConfig, draws: Draws,
                  plan: PairPlan, counter: Counter) -> None:
    """One pass over a document (sentence i: tokens offsets[i]:offsets[i+1] of the shard's, whose
    word starts are `ws`): nsp's chunks, A a random prefix of the chunk's sentences and B the
    rest (a one-sentence chunk split at a random word start), swapped with probability 0.5."""
    target = target_length(config, draws)
    max_num_tokens = config.seq_len - 3
    last = len(offsets) - 2
    start = 0
    for i in range(last + 1):
        if i < last and offsets[i + 1] - offsets[start] < target:
            continue
        size = i - start + 1  # the chunk: sentences start..i
        if size >= 2:
            cut = offsets[start + draws.integers(1, size)]
        else:
            cut = split_point(ws, offsets[start], offsets[i + 1], draws)
            if cut is None:
                counter["sop/dropped/one_word_segment"] += 1
                start = i + 1
                continue
        (a_lo, a_hi), (b_lo, b_hi) = (offsets[start], cut), (cut, offsets[i + 1])
        swapped = draws.random() < 0.5
        if swapped:
            (a_lo, a_hi), (b_lo, b_hi) = (b_lo, b_hi), (a_lo, a_hi)
        cut_a_lo, cut_a_hi, cut_b_lo, cut_b_hi = truncate_bounds(a_hi - a_lo, b_hi - b_lo, max_num_tokens, draws)
        plan.add(doc_id, 0, a_lo + cut_a_lo, a_lo + cut_a_hi, 0, b_lo + cut_b_lo, b_lo + cut_b_hi, int(swapped))
        start = i + 1


def split_point(ws: np.ndarray, lo: int, hi: int, draws: Draws) -> int | None:
    """A random word start of tokens lo+1..hi-1 (where the segment lo:hi is cut); None without one."""
    starts = np.flatnonzero(ws[lo + 1:hi]) + lo + 1
    if not len(starts):
        return None
    return int(starts[draws.integers(len(starts))])


BUILDER = Builder(name="sop", make_config=make_config, build=build_sop,
                  options=frozenset({"short_seq_prob", "dupe_factor"}))
