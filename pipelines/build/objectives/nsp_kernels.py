"""nsp's planner compiled (numba): `nsp.plan_document` over a shard's documents in one call.

The same plan, draw for draw: each document's generator is seeded inside the kernel from its
entropy words (`common.entropy_words`) and drawn from as `common.Draws` draws from numpy's
(`generator_kernels`). Imported only through `nsp.planner_kernels()`: without numba the Python
planner runs alone (the same examples; tests/pipelines/build/test_nsp.py compares the two).
"""

from __future__ import annotations

import numpy as np

from pipelines.build.objectives.generator_kernels import (
    GENERATOR_WORDS, fronts, integers, new_generator, random)
from shards.column_kernels import compiled


@compiled
def _truncate(len_a, len_b, max_num_tokens, g, out):
    """common.truncate_bounds into out[0:4] (a_lo, a_hi, b_lo, b_hi)."""
    a_lo, a_hi, b_lo, b_hi = 0, len_a, 0, len_b
    excess = len_a + len_b - max_num_tokens
    while excess > 0:
        if len_a > len_b:
            run = min(len_a - len_b, excess)
            front = fronts(g, run)
            a_lo += front
            a_hi -= run - front
            len_a -= run
        else:
            run = min(len_b - len_a + 1, excess)
            front = fronts(g, run)
            b_lo += front
            b_hi -= run - front
            len_b -= run
        excess -= run
    out[0], out[1], out[2], out[3] = a_lo, a_hi, b_lo, b_hi


@compiled
def plan_documents(offsets, offset_starts, words, own, pool_sentences, pool_offsets, seq_len, short_seq_prob,
                   dupe_factor, rows, row_docs):
    """Plan every document (document d: sentence offsets offsets[offset_starts[d]:offset_starts[d+1]]
    in the shard's joined tokens, its generator's entropy words[d], its position in the pool or
    -1) into rows (a_src, a_lo, a_hi, b_src, b_lo, b_hi, label) and row_docs. Returns (rows
    written, documents dropped for want of another pool document)."""
    n_docs = len(own)
    pool_len = len(pool_sentences) - 1
    max_num_tokens = seq_len - 3
    n, dropped = 0, 0
    cut = np.zeros(4, dtype=np.int64)
    g = np.empty(GENERATOR_WORDS, dtype=np.uint64)
    for d in range(n_docs):
        doc = offsets[offset_starts[d]:offset_starts[d + 1]]
        new_generator(words[d], g)
        has_others = pool_len - (1 if own[d] >= 0 else 0) >= 1
        last = len(doc) - 2
        for _ in range(dupe_factor):
            target = max_num_tokens
            if random(g) < short_seq_prob:
                target = integers(g, 2, max_num_tokens + 1)
            start = 0
            i = 0
            while i <= last:
                if i < last and doc[i + 1] - doc[start] < target:
                    i += 1
                    continue
                size = i - start + 1
                a_end = start + (integers(g, 1, size) if size >= 2 else 1)
                a_lo, a_hi = doc[start], doc[a_end]
                is_random = size == 1 or random(g) < 0.5
                if is_random and not has_others:
                    if size == 1:
                        dropped += 1
                        i += 1
                        start = i
                        continue
                    is_random = False
                if is_random:
                    other = integers(g, 0, pool_len - (1 if own[d] >= 0 else 0))
                    if own[d] >= 0 and other >= own[d]:
                        other += 1
                    window = pool_offsets[pool_sentences[other]:pool_sentences[other + 1] + 1]
                    num_sentences = len(window) - 1
                    s = integers(g, 0, num_sentences)
                    e = np.searchsorted(window, window[s] + (target - (a_hi - a_lo)))
                    e = min(max(e, s + 1), num_sentences)
                    source, b_lo, b_hi = 1, window[s], window[e]
                    start = a_end
                    i = a_end
                else:
                    source, b_lo, b_hi = 0, doc[a_end], doc[i + 1]
                    i += 1
                    start = i
                _truncate(a_hi - a_lo, b_hi - b_lo, max_num_tokens, g, cut)
                rows[n, 0], rows[n, 1], rows[n, 2] = 0, a_lo + cut[0], a_lo + cut[1]
                rows[n, 3], rows[n, 4], rows[n, 5] = source, b_lo + cut[2], b_lo + cut[3]
                rows[n, 6] = 1 if is_random else 0
                row_docs[n] = d
                n += 1
    return n, dropped
