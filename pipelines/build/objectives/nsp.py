"""`nsp`: BERT's sentence pairs with next-sentence labels.

Follows `create_instances_from_document` of google-research/bert `create_pretraining_data.py`,
with a generator per document. A random segment B (label 1) comes from the split's negative
pool (`negative_pool.py`), a seeded sample of the whole corpus, never from the shard's
documents only: a document's examples are then the same whatever the number of shards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from pipelines.build.objectives.common import (
    BuildOptions, Builder, Example, Segment, ShardContext, concat, doc_rng, iter_chunks, pair_example,
    target_length, truncate_pair)
from pipelines.build.objectives.negative_pool import NegativePool
from pipelines.build.tokenize_docs import TokenizedDoc

LABEL = "next_sentence_label"


@dataclass(frozen=True, kw_only=True)
class NspConfig:
    seq_len: int
    cls_id: int
    sep_id: int
    seed: int = 0
    short_seq_prob: float = 0.1  # google-research/bert create_pretraining_data.py default
    dupe_factor: int = 1  # google-research/bert uses 10 (static masks); masks here are dynamic


def make_config(options: BuildOptions) -> NspConfig:
    return NspConfig(seq_len=options.seq_len, cls_id=options.cls_id, sep_id=options.sep_id, seed=options.seed,
                     short_seq_prob=options.short_seq_prob, dupe_factor=options.dupe_factor)


def build_nsp(docs: Sequence[TokenizedDoc], config: NspConfig, counter: Counter | None = None,
              context: ShardContext | None = None) -> Iterator[Example]:
    """Every document's pairs, `dupe_factor` times; random B from `context.negative_pool`."""
    pool = context.negative_pool if context is not None else NegativePool()
    for doc in docs:
        rng = doc_rng(config.seed, doc.doc_id)
        for _ in range(config.dupe_factor):
            yield from nsp_document(doc, pool, config, rng, counter)


def nsp_document(doc: TokenizedDoc, pool: NegativePool, config: NspConfig, rng: np.random.Generator,
                 counter: Counter | None = None) -> Iterator[Example]:
    """Pack sentences into chunks, split each into A and B; unused sentences are put back."""
    target = target_length(config, rng)
    chunks = iter_chunks(doc, target)
    try:
        chunk = next(chunks)
        while True:
            example, unused = _pair(doc, pool, chunk, target, config, rng)
            if example is not None:
                yield example
            elif counter is not None:
                counter["nsp/dropped/no_random_document"] += 1
            chunk = chunks.send(unused)
    except StopIteration:
        return


def _pair(doc: TokenizedDoc, pool: NegativePool, chunk: list[int], target: int, config: NspConfig,
          rng: np.random.Generator) -> tuple[Example | None, int]:
    """One example from a chunk (None when impossible) and the number of unused segments."""
    a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
    a = concat(doc, chunk[:a_end])
    is_random = len(chunk) == 1 or rng.random() < 0.5
    if is_random and pool.others(doc.doc_id) < 1:  # no other document to draw B from
        if len(chunk) == 1:
            return None, 0
        is_random = False
    unused = 0
    if is_random:
        b = random_segment(doc.doc_id, pool, target - len(a[0]), rng)
        unused = len(chunk) - a_end
    else:
        b = concat(doc, chunk[a_end:])
    a, b = truncate_pair(a, b, config.seq_len - 3, rng)
    return pair_example(a, b, doc.doc_id, config.cls_id, config.sep_id, LABEL, int(is_random)), unused


def random_segment(doc_id: str, pool: NegativePool, target_b: int, rng: np.random.Generator) -> Segment:
    """Consecutive sentences of another pool document from a random start, until target_b tokens."""
    rdoc = pool.draw_other(doc_id, rng)
    start = int(rng.integers(rdoc.num_sentences))
    # the first end past start whose sentences reach target_b tokens (at least one sentence)
    end = int(np.searchsorted(rdoc.offsets, rdoc.offsets[start] + target_b, side="left"))
    end = min(max(end, start + 1), rdoc.num_sentences)
    return concat(rdoc, range(start, end))

BUILDER = Builder(name="nsp", make_config=make_config, build=build_nsp,
                  options=frozenset({"short_seq_prob", "dupe_factor", "negative_pool"}), needs_negative_pool=True)
