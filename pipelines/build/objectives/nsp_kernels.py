"""nsp's planner compiled (numba): `nsp.plan_document` over a shard's documents in one call.

The same plan, draw for draw: each document's draws come from a block of its PCG64's raw 64-bit
outputs drawn beforehand (`random_raw`), consumed as `common.Draws` consumes them (`random()`:
one output >> 11; `integers()`: Lemire's method over 32-bit halves, the high half of an output
kept for the next one; a run of truncation coin flips: the top bits of whole outputs). A
document whose block runs out stops the call; `nsp.plan_compiled` plans it in Python and calls again
from the next one. Imported only through `nsp.planner_kernels()`: without numba the Python
planner runs alone (the same examples; tests/pipelines/build/test_nsp.py compares the two).
"""

from __future__ import annotations

import numpy as np

from shards.column_kernels import compiled

MASK32 = np.uint64(0xFFFFFFFF)
DOUBLE = 1.0 / 9007199254740992.0  # 2**-53


@compiled
def _integers(raw, state, low, high):
    """Draws.integers(low, high); state = [pos, has_half, half, exhausted]."""
    span = high - low - 1
    if span == 0:
        return low
    excl = np.uint64(span + 1)
    m = _next32(raw, state) * excl
    leftover = m & MASK32
    if leftover < excl:
        threshold = (MASK32 - np.uint64(span)) % excl
        while leftover < threshold and state[3] == 0:
            m = _next32(raw, state) * excl
            leftover = m & MASK32
    return low + np.int64(m >> np.uint64(32))


@compiled
def _next64(raw, state):
    pos = state[0]
    if pos >= len(raw):
        state[3] = 1
        return np.uint64(0)
    state[0] = pos + 1
    return raw[pos]


@compiled
def _next32(raw, state):
    if state[1]:
        state[1] = 0
        return np.uint64(state[2])
    x = _next64(raw, state)
    state[1] = 1
    state[2] = np.int64(x >> np.uint64(32))
    return x & MASK32


@compiled
def _random(raw, state):
    return np.float64(_next64(raw, state) >> np.uint64(11)) * DOUBLE


@compiled
def _fronts(raw, state, n):
    """How many of the next n outputs have their top bit clear."""
    pos = state[0]
    if pos + n > len(raw):
        state[3] = 1
        return 0
    count = 0
    for k in range(pos, pos + n):
        if raw[k] >> np.uint64(63) == 0:
            count += 1
    state[0] = pos + n
    return count


@compiled
def _truncate(len_a, len_b, max_num_tokens, raw, state, out):
    """common.truncate_bounds into out[0:4] (a_lo, a_hi, b_lo, b_hi)."""
    a_lo, a_hi, b_lo, b_hi = 0, len_a, 0, len_b
    excess = len_a + len_b - max_num_tokens
    while excess > 0:
        if len_a > len_b:
            run = min(len_a - len_b, excess)
            front = _fronts(raw, state, run)
            a_lo += front
            a_hi -= run - front
            len_a -= run
        else:
            run = min(len_b - len_a + 1, excess)
            front = _fronts(raw, state, run)
            b_lo += front
            b_hi -= run - front
            len_b -= run
        excess -= run
    out[0], out[1], out[2], out[3] = a_lo, a_hi, b_lo, b_hi


@compiled
def plan_documents(first, offsets, offset_starts, raw, raw_starts, own, pool_sentences, pool_offsets,
                   seq_len, short_seq_prob, dupe_factor, rows, row_docs):
    """Plan documents first.. (document d: sentence offsets offsets[offset_starts[d]:offset_starts[d+1]]
    in the shard's joined tokens, raw outputs raw[raw_starts[d]:raw_starts[d+1]], its position in
    the pool or -1) into rows (a_src, a_lo, a_hi, b_src, b_lo, b_hi, label) and row_docs.
    Returns (rows written, documents dropped for want of another pool document, the document
    whose block ran out or the number of documents)."""
    n_docs = len(own)
    pool_len = len(pool_sentences) - 1
    max_num_tokens = seq_len - 3
    n, dropped = 0, 0
    cut = np.zeros(4, dtype=np.int64)
    for d in range(first, n_docs):
        doc = offsets[offset_starts[d]:offset_starts[d + 1]]
        block = raw[raw_starts[d]:raw_starts[d + 1]]
        state = np.zeros(4, dtype=np.int64)
        has_others = pool_len - (1 if own[d] >= 0 else 0) >= 1
        last = len(doc) - 2
        start_n, start_dropped = n, dropped
        for _ in range(dupe_factor):
            target = max_num_tokens
            if _random(block, state) < short_seq_prob:
                target = _integers(block, state, 2, max_num_tokens + 1)
            start = 0
            i = 0
            while i <= last:
                if i < last and doc[i + 1] - doc[start] < target:
                    i += 1
                    continue
                size = i - start + 1
                a_end = start + (_integers(block, state, 1, size) if size >= 2 else 1)
                a_lo, a_hi = doc[start], doc[a_end]
                is_random = size == 1 or _random(block, state) < 0.5
                if is_random and not has_others:
                    if size == 1:
                        dropped += 1
                        i += 1
                        start = i
                        continue
                    is_random = False
                if is_random:
                    other = _integers(block, state, 0, pool_len - (1 if own[d] >= 0 else 0))
                    if own[d] >= 0 and other >= own[d]:
                        other += 1
                    window = pool_offsets[pool_sentences[other]:pool_sentences[other + 1] + 1]
                    num_sentences = len(window) - 1
                    s = _integers(block, state, 0, num_sentences)
                    e = np.searchsorted(window, window[s] + (target - (a_hi - a_lo)))
                    e = min(max(e, s + 1), num_sentences)
                    source, b_lo, b_hi = 1, window[s], window[e]
                    start = a_end
                    i = a_end
                else:
                    source, b_lo, b_hi = 0, doc[a_end], doc[i + 1]
                    i += 1
                    start = i
                _truncate(a_hi - a_lo, b_hi - b_lo, max_num_tokens, block, state, cut)
                if state[3]:
                    break
                rows[n, 0], rows[n, 1], rows[n, 2] = 0, a_lo + cut[0], a_lo + cut[1]
                rows[n, 3], rows[n, 4], rows[n, 5] = source, b_lo + cut[2], b_lo + cut[3]
                rows[n, 6] = 1 if is_random else 0
                row_docs[n] = d
                n += 1
            if state[3]:
                break
        if state[3]:  # the block ran out: this document is planned in Python
            return start_n, start_dropped, d
    return n, dropped, n_docs
