"""A document's generator compiled (numba): numpy's `PCG64(SeedSequence(words))` and the draws
`common.Draws` makes from it, output for output, without a Python object per document.

`common.doc_bit_generator` seeds each document's PCG64 from nine 32-bit entropy words
(`common.entropy_words`); constructing it costs tens of microseconds per document, which a
compiled planner would otherwise pay in Python for every document of a shard. Here the seeding
runs inside the kernel:
- `SeedSequence(words).generate_state(4, uint64)`: numpy's hash-mixing of the entropy into a
  pool of four 32-bit words and the pool into eight output words (numpy/random/bit_generator.pyx);
- `PCG64`: the 128-bit LCG seeded from those (state = the first two words, stream = the last
  two, high word first), each output the XSL-RR of the stepped state (numpy's pcg64.h);
- the draws, as `common.Draws` documents them: `random()` is one output >> 11 times 2**-53,
  `integers()` is Lemire's method over 32-bit halves (the high half of an output kept for the
  next draw), `fronts(n)` counts the clear top bits of n whole outputs.
The state of one generator is a uint64 array of GENERATOR_WORDS (`new_generator`).
tests/pipelines/build/test_generator_kernels.py checks outputs and draws against numpy.
"""

from __future__ import annotations

import numpy as np

from shards.column_kernels import compiled

GENERATOR_WORDS = 6  # state high, state low, increment high, increment low, has a kept half, the half
ENTROPY_WORDS = 9  # common.entropy_words: the seed's low 32 bits, then sha256(seed, doc id) as 8 words

M32 = np.uint64(0xFFFFFFFF)
INIT_A, MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
INIT_B, MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
MIX_MULT_L, MIX_MULT_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
POOL_SIZE = 4
# PCG64's multiplier, 2549297995355413924 * 2**64 + 4865540595714422341
MULT_HI, MULT_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)
DOUBLE = 1.0 / 9007199254740992.0  # 2**-53


@compiled
def _hashmix(value, hash_const):
    """SeedSequence's hashmix; hash_const is a one-element array, advanced."""
    value = value ^ hash_const[0]
    hash_const[0] = (hash_const[0] * MULT_A) & M32
    value = (value * hash_const[0]) & M32
    return value ^ (value >> np.uint64(16))


@compiled
def _mix(x, y):
    result = (MIX_MULT_L * x - MIX_MULT_R * y) & M32
    return result ^ (result >> np.uint64(16))


@compiled
def seed_state(words, out):
    """`SeedSequence(words).generate_state(4, np.uint64)` into out[0:4] (words: uint32 entropy,
    at least POOL_SIZE of them)."""
    pool = np.empty(POOL_SIZE, dtype=np.uint64)
    hash_const = np.empty(1, dtype=np.uint64)
    hash_const[0] = INIT_A
    for i in range(POOL_SIZE):
        pool[i] = _hashmix(np.uint64(words[i]), hash_const)
    for i_src in range(POOL_SIZE):
        for i_dst in range(POOL_SIZE):
            if i_src != i_dst:
                pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], hash_const))
    for i_src in range(POOL_SIZE, len(words)):
        for i_dst in range(POOL_SIZE):
            pool[i_dst] = _mix(pool[i_dst], _hashmix(np.uint64(words[i_src]), hash_const))
    const = INIT_B
    for k in range(4):  # 8 uint32 words, read as 4 little-endian uint64
        word = np.uint64(0)
        for half in range(2):
            value = pool[(2 * k + half) % POOL_SIZE] ^ const
            const = (const * MULT_B) & M32
            value = (value * const) & M32
            value ^= value >> np.uint64(16)
            word |= value << np.uint64(32 * half)
        out[k] = word


@compiled
def _mul_hi(a, b):
    """The high 64 bits of the 128-bit product a * b."""
    a_lo, a_hi, b_lo, b_hi = a & M32, a >> np.uint64(32), b & M32, b >> np.uint64(32)
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    middle = (p0 >> np.uint64(32)) + (p1 & M32) + (p2 & M32)
    return p3 + (p1 >> np.uint64(32)) + (p2 >> np.uint64(32)) + (middle >> np.uint64(32))


@compiled
def _step(g):
    """state = state * MULT + increment (mod 2**128)."""
    hi, lo = g[0], g[1]
    new_hi = _mul_hi(lo, MULT_LO) + hi * MULT_LO + lo * MULT_HI
    new_lo = lo * MULT_LO
    low = new_lo + g[3]
    g[0] = new_hi + g[2] + (np.uint64(1) if low < new_lo else np.uint64(0))
    g[1] = low


@compiled
def new_generator(words, g):
    """Seed the generator state `g` (uint64, GENERATOR_WORDS) as `np.random.PCG64(words)` is."""
    seeds = np.empty(4, dtype=np.uint64)
    seed_state(words, seeds)
    # pcg_setseq_128_srandom_r: state 0, increment (stream << 1) | 1, step, add the seed, step
    g[0], g[1] = np.uint64(0), np.uint64(0)
    g[2] = (seeds[2] << np.uint64(1)) | (seeds[3] >> np.uint64(63))
    g[3] = (seeds[3] << np.uint64(1)) | np.uint64(1)
    _step(g)
    low = g[1] + seeds[1]
    g[0] = g[0] + seeds[0] + (np.uint64(1) if low < g[1] else np.uint64(0))
    g[1] = low
    _step(g)
    g[4], g[5] = np.uint64(0), np.uint64(0)


@compiled
def next64(g):
    """The next raw output (`random_raw`): step, then XSL-RR of the new state."""
    _step(g)
    value = g[0] ^ g[1]
    rot = g[0] >> np.uint64(58)
    return (value >> rot) | (value << ((np.uint64(64) - rot) & np.uint64(63)))


@compiled
def _next32(g):
    if g[4]:
        g[4] = np.uint64(0)
        return g[5]
    x = next64(g)
    g[4], g[5] = np.uint64(1), x >> np.uint64(32)
    return x & M32


@compiled
def random(g):
    """Draws.random(): a double in [0, 1)."""
    return np.float64(next64(g) >> np.uint64(11)) * DOUBLE


@compiled
def integers(g, low, high):
    """Draws.integers(low, high) for high - low in [1, 2**32): Lemire's bounded method."""
    span = high - low - 1
    if span == 0:
        return low
    excl = np.uint64(span + 1)
    m = _next32(g) * excl
    leftover = m & M32
    if leftover < excl:
        threshold = (M32 - np.uint64(span)) % excl
        while leftover < threshold:
            m = _next32(g) * excl
            leftover = m & M32
    return low + np.int64(m >> np.uint64(32))


@compiled
def fronts(g, n):
    """Draws.fronts(n): how many of the next n outputs have their top bit clear."""
    count = 0
    for _ in range(n):
        if next64(g) >> np.uint64(63) == 0:
            count += 1
    return count


@compiled
def raw_outputs(words, n):
    """The first n raw outputs of the generator seeded by `words` (for tests)."""
    g = np.empty(GENERATOR_WORDS, dtype=np.uint64)
    new_generator(words, g)
    out = np.empty(n, dtype=np.uint64)
    for k in range(n):
        out[k] = next64(g)
    return out
