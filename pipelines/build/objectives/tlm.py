"""`tlm`: XLM's translation language modeling pairs (Lample & Conneau 2019, section 3.3).

Each example is one sentence pair of a parallel corpus in XLM's layout, `</s> A </s> </s> B </s>`
(facebookresearch/XLM `concat_batches`: each side wrapped in separators, positions restarting
at B's block), written with the tokenizer family's own special tokens: its cls token first and
its sep token elsewhere (`[CLS] A [SEP] [SEP] B [SEP]` for BERT's WordPiece, `<s> A </s> </s>
B </s>` for byte-level BPE and XLM-R; XLM's own vocabulary names `</s>` as its cls token).
`segment_b_start` is the index of B's block (its opening separator): the model restarts
positions there. `langs` holds each token's language id, A's block in the source language and
B's block in the target language.

A pair longer than seq_len is dropped (`tlm/dropped/too_long`, as XLM drops sentences over
`max_len`), or with `pair_overflow="truncate"` both sides are cut at their ends in proportion to
their lengths, so the kept prefixes stay roughly aligned (`tlm/truncated`). Deterministic: no
randomness is drawn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from pipelines.build.objectives.common import (
    BuildOptions, Builder, ExampleColumns, PairPlan, ShardContext, joined)
from pipelines.build.tokenize_docs import TokenizedDoc

OVERFLOWS = ("drop", "truncate")
SPECIALS = 4  # the two separators around each side


@dataclass(frozen=True, kw_only=True)
class TlmConfig:
    seq_len: int
    cls_id: int
    sep_id: int
    languages: dict[str, int] = field(default_factory=dict)
    pair_overflow: str = "drop"

    def __post_init__(self) -> None:
        if self.pair_overflow not in OVERFLOWS:
            raise ValueError(f"unknown pair overflow {self.pair_overflow!r}; choose one of {', '.join(OVERFLOWS)}")


def make_config(options: BuildOptions) -> TlmConfig:
    return TlmConfig(seq_len=options.seq_len, cls_id=options.cls_id, sep_id=options.sep_id,
                     languages=options.languages, pair_overflow=options.pair_overflow)


def build_tlm(pairs: Sequence[TokenizedDoc], config: TlmConfig, counter: Counter | None = None,
              context: ShardContext | None = None) -> ExampleColumns:
    """One example per pair (two-sentence TokenizedDoc, lang `src-tgt`) that fits or is cut,
    planned as token ranges and gathered at once (`common.PairPlan`)."""
    counter = counter if counter is not None else Counter()
    ids, ws, bases = joined(pairs)
    plan = PairPlan([(ids, ws)], seps=2)
    side_langs: list[int] = []
    for pair, base in zip(pairs, bases):
        src, tgt = pair.lang.split("-")
        _, mid, end = pair.offsets.tolist()
        keep_a, keep_b = fit(mid, end - mid, config.seq_len - SPECIALS)
        if (keep_a, keep_b) != (mid, end - mid):
            if config.pair_overflow == "drop" or not keep_a:
                counter["tlm/dropped/too_long"] += 1
                continue
            counter["tlm/truncated"] += 1
        counter[f"tlm/pairs/{pair.lang}"] += 1
        plan.add(pair.doc_id, 0, base, base + keep_a, 0, base + mid, base + mid + keep_b)
        side_langs += (config.languages[src], config.languages[tgt])
    ids, ws, offsets, len_a = plan.arrays(config.cls_id, config.sep_id)
    b_starts = len_a + 2  # B's block: its opening separator
    blocks = np.empty(2 * len(plan), dtype=np.int64)  # A's block (with [CLS]), B's block
    blocks[0::2], blocks[1::2] = b_starts, np.diff(offsets) - b_starts
    langs = np.repeat(np.array(side_langs, dtype=np.uint8), blocks)
    return ExampleColumns(offsets, {"input_ids": ids, "word_start": ws, "langs": langs},
                          {"doc_id": plan.doc_ids, "segment_b_start": b_starts})


def fit(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """Tokens kept of each side: all when they fit, else shares of `budget` proportional to the
    sides' lengths, at least one each ((0, 0) when even that does not fit)."""
    if len_a + len_b <= budget:
        return len_a, len_b
    if budget < 2:
        return 0, 0
    keep_a = min(max(1, round(budget * len_a / (len_a + len_b))), budget - 1, len_a)
    return keep_a, min(budget - keep_a, len_b)


BUILDER = Builder(name="tlm", make_config=make_config, build=build_tlm, reads="parallel",
                  options=frozenset({"pair_overflow", "langs", "src_field", "tgt_field"}))
