"""The compiled kernel of `trainer.masking.Masker`'s `token` path (numba, the `train` extra).

`mask_tokens` does a whole batch's `token` masking in one call: it seeds its own SFC64
generator from the batch's seed, draws every number `trainer.masking` specifies for the numpy
path (module doc there: "Draws"), in the same order, and copies, selects and replaces in four
passes, where numpy needs about 25 calls, each with its own fixed cost and temporary array. The
words it draws are those of numpy's `np.random.SFC64` from the same state, so the masks equal
the numpy path's (tests/trainer/test_masking.py compares both). The machine code is cached in
this folder's `__pycache__` (where that is read-only, in numba's user cache folder,
~/.cache/numba, or NUMBA_CACHE_DIR), so it is compiled once per install rather than once per
process; see `shards.column_kernels.compiled` for an install where neither is writable. Imported lazily by
`trainer.masking.kernels()`: a process that never masks by tokens does not import numba.
"""

from __future__ import annotations

import numpy as np

from shards.column_kernels import compiled

IGNORE_INDEX = -100  # trainer.masking.IGNORE_INDEX (not imported: no torch in the compiled module)
_WARMUP = 12  # numpy's SFC64 seeding discards 12 outputs (sfc64_set_seed); trainer.randomness.sfc64_state too
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment and multipliers (Steele et al. 2014)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW7, _HIGH = np.uint64(0x7F7F7F7F7F7F7F7F), np.uint64(0x8080808080808080)
_SPREAD = np.uint64(0x0101010101010101)
_BYTE_INDEX = np.uint64(0x0706050403020100)  # (1 << 8 j) times this has 7 - j in its top byte


@compiled(inline="always")
def _splitmix(x):
    """splitmix64: (next state, output)."""
    x = x + _GOLDEN
    z = (x ^ (x >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return x, z ^ (z >> np.uint64(31))


@compiled(inline="always")
def _sfc64(a, b, c, w):
    """One SFC64 step (numpy's sfc64_next): (a, b, c, counter, output)."""
    out = a + b + w
    return b ^ (b >> np.uint64(11)), c + (c << np.uint64(3)), ((c << np.uint64(24)) | (c >> np.uint64(40))) + out, \
        w + np.uint64(1), out


@compiled
def mask_tokens(seed: int, ids: np.ndarray, attention: np.ndarray, allowed: np.ndarray, replacement: np.ndarray,
                threshold: int, rest: int, replace_mask: int, upper: int, mask_id: int,
                masked: np.ndarray, labels: np.ndarray) -> int:
    """The numpy path of `trainer.masking.Masker` for the `token` unit, over flat arrays: writes
    `masked` (the ids, selected positions replaced) and `labels` (the original id where selected,
    else -100); returns how many positions were selected. A candidate is a position whose byte
    is below `threshold`, or equal to it with `rest` > 0 and its tie draw below `rest` (the
    candidates are found eight bytes at a time and visited in index order, ties drawn on the
    way); it is selected when its attention is nonzero and its id allowed (ids past the table
    clipped to its last entry, as `take(mode="clip")`). A selected position becomes `mask_id`
    when its action draw is below `replace_mask`, a random id of `replacement` when below
    `upper`, else stays. `rest`, `replace_mask` and `upper` are given as ceil(x * 2**53): a
    uniform double (word >> 11) * 2**-53 is below x exactly when word >> 11 is below that
    integer, compared without a conversion."""
    x, a = _splitmix(np.uint64(seed))
    x, b = _splitmix(x)
    x, c = _splitmix(x)
    w = np.uint64(1)
    for _ in range(_WARMUP):
        a, b, c, w, word = _sfc64(a, b, c, w)
    n = ids.size
    ties = rest > 0
    tie_cut, mask_cut, random_cut = np.uint64(rest), np.uint64(replace_mask), np.uint64(upper)
    below = threshold + 1 if ties else threshold  # a candidate's byte is below this
    words = np.empty((n + 7) // 8, dtype=np.uint64)  # the selection bytes: byte i of the little-endian words
    for k in range(words.size):
        a, b, c, w, word = _sfc64(a, b, c, w)
        words[k] = word
    for i in range(n):  # (loops: numba's slice assignment copies the source first where it might overlap)
        masked[i] = ids[i]
        labels[i] = IGNORE_INDEX
    where = np.empty(n, dtype=np.int64)
    last = allowed.size - 1
    kept = 0
    fast = below <= 128  # eight bytes at once: the high bit of ((byte & 127) + 128 - below) | byte is byte >= below
    add = np.uint64(128 - below) * _SPREAD if fast else np.uint64(0)
    for k in range(words.size):
        word = words[k]
        if fast:
            hits = ~(((word & _LOW7) + add) | word) & _HIGH
        else:
            hits = np.uint64(0)
            for j in range(8):
                if (word >> np.uint64(8 * j)) & np.uint64(255) < np.uint64(below):
                    hits |= np.uint64(128) << np.uint64(8 * j)
        while hits:  # the candidates, in index order: the bytes whose high bit is set in hits
            low = hits & (~hits + np.uint64(1))
            hits ^= low
            j = 7 - np.int64(((low >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56))
            i = 8 * k + j
            if i >= n:
                break
            if ties and np.int64((word >> np.uint64(8 * j)) & np.uint64(255)) == threshold:
                a, b, c, w, draw = _sfc64(a, b, c, w)  # a tie: one uniform draw, in index order
                if draw >> np.uint64(11) >= tie_cut:
                    continue
            token = ids[i]
            if attention[i] != 0 and allowed[min(max(token, 0), last)]:
                where[kept] = i
                labels[i] = token
                kept += 1
    to_random = np.empty(kept, dtype=np.int64)
    m = 0
    for k in range(kept):  # the action of each selected position, in index order
        a, b, c, w, word = _sfc64(a, b, c, w)
        action = word >> np.uint64(11)
        if action < mask_cut:
            masked[where[k]] = mask_id
        elif action < random_cut:
            to_random[m] = where[k]
            m += 1
    size = np.uint64(replacement.size)
    reject = np.uint64((1 << 32) % replacement.size) if replacement.size else np.uint64(0)
    again = np.empty(m, dtype=np.int64)
    r = 0
    for k in range(m):  # a replacement per random position: Lemire's bounded draw on the top 32 bits
        a, b, c, w, word = _sfc64(a, b, c, w)
        product = (word >> np.uint64(32)) * size
        if (product & _LOW32) < reject:
            again[r] = to_random[k]
            r += 1
        else:
            masked[to_random[k]] = replacement[product >> np.uint64(32)]
    k = 0
    while k < r:  # rejected draws, in order, each until accepted
        a, b, c, w, word = _sfc64(a, b, c, w)
        product = (word >> np.uint64(32)) * size
        if (product & _LOW32) >= reject:
            masked[again[k]] = replacement[product >> np.uint64(32)]
            k += 1
    return kept
