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
from typing import Iterator, Sequence

import numpy as np

from pipelines.build.objectives.common import BuildOptions, Builder, Example, ShardContext
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
              context: ShardContext | None = None) -> Iterator[Example]:
    """One example per pair (two-sentence TokenizedDoc, lang `src-tgt`) that fits or is cut."""
    counter = counter if counter is not None else Counter()
    for pair in pairs:
        src, tgt = pair.lang.split("-")
        (a, a_ws), (b, b_ws) = pair.sentence(0), pair.sentence(1)
        keep_a, keep_b = fit(len(a), len(b), config.seq_len - SPECIALS)
        if (keep_a, keep_b) != (len(a), len(b)):
            if config.pair_overflow == "drop" or not keep_a:
                counter["tlm/dropped/too_long"] += 1
                continue
            counter["tlm/truncated"] += 1
        counter[f"tlm/pairs/{pair.lang}"] += 1
        yield tlm_example(pair.doc_id, (a[:keep_a], a_ws[:keep_a]), (b[:keep_b], b_ws[:keep_b]),
                          config.languages[src], config.languages[tgt], config)


def fit(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """Tokens kept of each side: all when they fit, else shares of `budget` proportional to the
    sides' lengths, at least one each ((0, 0) when even that does not fit)."""
    if len_a + len_b <= budget:
        return len_a, len_b
    if budget < 2:
        return 0, 0
    keep_a = min(max(1, round(budget * len_a / (len_a + len_b))), budget - 1, len_a)
    return keep_a, min(budget - keep_a, len_b)


def tlm_example(pair_id: str, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                lang_a: int, lang_b: int, config: TlmConfig) -> Example:
    cls, sep = [config.cls_id], [config.sep_id]
    ids = np.concatenate([cls, a[0], sep, sep, b[0], sep]).astype(np.uint32)
    ws = np.concatenate([[True], a[1], [True, True], b[1], [True]]).astype(bool)
    b_start = len(a[0]) + 2
    langs = np.concatenate([np.full(b_start, lang_a), np.full(len(ids) - b_start, lang_b)]).astype(np.uint8)
    return {"input_ids": ids, "word_start": ws, "doc_id": pair_id, "segment_b_start": b_start, "langs": langs}


BUILDER = Builder(name="tlm", make_config=make_config, build=build_tlm, reads="parallel",
                  options=frozenset({"pair_overflow", "langs", "src_field", "tgt_field"}))
