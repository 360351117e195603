"""`nsp`: BERT's sentence pairs with next-sentence labels.

Follows `create_instances_from_document` of google-research/bert `create_pretraining_data.py`,
with a generator per document. A random segment B (label 1) comes from the split's negative
pool (`negative_pool.py`), a seeded sample of the whole corpus, never from the shard's
documents only: a document's examples are then the same whatever the number of shards.

A shard's examples are planned as token ranges, document after document (the generator's
draws in the reference's order, `common.Draws`), and gathered into arrays at once (`PairPlan`).
A large shard (COMPILED_FROM_SENTENCES) is planned compiled where numba is installed (the `train`
extra; `nsp_kernels.py`) over its documents in one call, each document's generator seeded and
drawn from inside the kernel (`generator_kernels.py`); otherwise `plan_document` plans in
Python: the same plan.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from types import ModuleType
from typing import Sequence

import numpy as np

from pipelines.build.objectives.common import (
    BuildOptions, Builder, Draws, ExampleColumns, PairPlan, ShardContext, doc_draws, entropy_words, joined, target_length,
    truncate_bounds)
from pipelines.build.objectives.negative_pool import NegativePool
from pipelines.build.tokenize_docs import TokenizedDoc
from shards.columns import optional_kernels

LABEL = "next_sentence_label"
# Sentences (times dupe_factor) of a shard from which it is planned compiled: the compiled planner
# saves about 7 us per example (47k examples of 82k sentences: 0.81 -> 0.48-0.64 CPU s), which
# repays numba's import from about 150k sentences (docs/benchmarks.md, the build section).
COMPILED_FROM_SENTENCES = 150_000
DOCS, POOL = 0, 1  # PairPlan sources: the shard's documents, the negative pool's windows


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
              context: ShardContext | None = None) -> ExampleColumns:
    """Every document's pairs, `dupe_factor` times; random B from `context.negative_pool`."""
    pool = context.negative_pool if context is not None else NegativePool()
    ids, ws, bases = joined(docs)
    plan = PairPlan([(ids, ws), pool.joined()])
    counter = counter if counter is not None else Counter()
    # the compiled planner where it pays for importing numba (about 0.6 CPU s per process)
    compiled = sum(d.num_sentences for d in docs) * config.dupe_factor >= COMPILED_FROM_SENTENCES
    kernels = planner_kernels() if compiled else None
    if kernels is not None:
        plan_compiled(kernels, docs, bases, pool, config, plan, counter)
    else:
        for doc, base in zip(docs, bases):
            plan_in_python(doc, base, pool, config, plan, counter)
    return plan.examples(config.cls_id, config.sep_id, LABEL)


def plan_in_python(doc: TokenizedDoc, base: int, pool: NegativePool, config: NspConfig, plan: PairPlan,
                   counter: Counter) -> None:
    """A document's `dupe_factor` passes, its draws from its own generator (`plan_document`)."""
    draws = doc_draws(config.seed, doc.doc_id)
    offsets = [base + o for o in doc.offsets.tolist()]
    for _ in range(config.dupe_factor):
        plan_document(doc.doc_id, offsets, pool, config, draws, plan, counter)


def planner_kernels() -> ModuleType | None:
    """The compiled planner (`nsp_kernels`), or None without numba: then `plan_document` plans
    every document (the same plan)."""
    return optional_kernels("pipelines.build.objectives.nsp_kernels")


def plan_compiled(kernels: ModuleType, docs: Sequence[TokenizedDoc], bases: list[int], pool: NegativePool,
                  config: NspConfig, plan: PairPlan, counter: Counter) -> None:
    """Plan every document with the compiled planner into `plan` (each document's generator seeded
    inside it from its entropy words)."""
    offsets = np.concatenate([d.offsets + base for d, base in zip(docs, bases)])
    offset_starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([d.num_sentences + 1 for d in docs], out=offset_starts[1:])
    doc_ids = [d.doc_id for d in docs]
    max_rows = config.dupe_factor * int(offset_starts[-1] - len(docs))  # at most one example per sentence
    rows = np.empty((max_rows, 7), dtype=np.int64)
    row_docs = np.empty(max_rows, dtype=np.int64)
    n, dropped = kernels.plan_documents(
        offsets, offset_starts, entropy_words(config.seed, doc_ids), pool.positions(doc_ids),
        pool.batch.doc_sentences, pool.batch.sentence_offsets, config.seq_len, config.short_seq_prob,
        config.dupe_factor, rows, row_docs)
    plan.add_rows(rows[:n], [doc_ids[k] for k in row_docs[:n].tolist()])
    if dropped:
        counter["nsp/dropped/no_random_document"] += dropped


def plan_document(doc_id: str, offsets: list[int], pool: NegativePool, config: NspConfig, draws: Draws,
                  plan: PairPlan, counter: Counter) -> None:
    """One pass over a document (sentence i: tokens offsets[i]:offsets[i+1] of the shard's):
    sentences accumulate into a chunk until the target length or the document's end; A is a
    random prefix of the chunk's sentences, B the rest or (label 1, always for a one-sentence
    chunk) a random pool segment, and then the chunk's unused sentences start the next chunk."""
    target = target_length(config, draws)
    max_num_tokens = config.seq_len - 3
    has_others = pool.others(doc_id) >= 1
    last = len(offsets) - 2
    start = i = 0
    while i <= last:
        if i < last and offsets[i + 1] - offsets[start] < target:
            i += 1
            continue
        size = i - start + 1  # the chunk: sentences start..i
        a_end = start + (draws.integers(1, size) if size >= 2 else 1)
        a_lo, a_hi = offsets[start], offsets[a_end]
        is_random = size == 1 or draws.random() < 0.5
        if is_random and not has_others:  # no other document to draw B from
            if size == 1:
                counter["nsp/dropped/no_random_document"] += 1
                start = i = i + 1
                continue
            is_random = False
        if is_random:
            source, b_lo, b_hi = POOL, *random_segment(doc_id, pool, target - (a_hi - a_lo), draws)
            start = i = a_end  # the chunk's unused sentences are put back
        else:
            source, b_lo, b_hi = DOCS, offsets[a_end], offsets[i + 1]
            start = i = i + 1
        cut_a_lo, cut_a_hi, cut_b_lo, cut_b_hi = truncate_bounds(a_hi - a_lo, b_hi - b_lo, max_num_tokens, draws)
        plan.add(doc_id, DOCS, a_lo + cut_a_lo, a_lo + cut_a_hi, source, b_lo + cut_b_lo, b_lo + cut_b_hi,
                 int(is_random))


def random_segment(doc_id: str, pool: NegativePool, target_b: int, draws: Draws) -> tuple[int, int]:
    """Consecutive sentences of another pool document from a random start, until target_b tokens:
    its [lo, hi) in the pool's joined tokens."""
    offsets = pool.offsets(pool.draw_other(doc_id, draws))
    num_sentences = len(offsets) - 1
    start = draws.integers(num_sentences)
    # the first end past start whose sentences reach target_b tokens (at least one sentence)
    end = min(max(bisect_left(offsets, offsets[start] + target_b), start + 1), num_sentences)
    return offsets[start], offsets[end]


BUILDER = Builder(name="nsp", make_config=make_config, build=build_nsp,
                  options=frozenset({"short_seq_prob", "dupe_factor", "negative_pool"}), needs_negative_pool=True)
