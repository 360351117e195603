"""A batch's randomness (the draws `trainer.masking` makes its masks from): seeds and generators.

Every batch is masked from its own seed, `batch_seed(seed, epoch, rank, worker, position)`
where (worker, position) are the stream coordinates of the batch's first example, handed to
the masker as a `BatchRandom`: the seed sets the state of an SFC64 generator (numpy's
`np.random.SFC64`; state from three splitmix64 outputs of the seed, then 12 outputs discarded as
numpy's own seeding does), and every draw of the masking comes from that. A DataLoader batch is
built by one worker from consecutive positions of that worker's sub-stream, so the key names
the batch uniquely within an epoch and rank; and because the stream resumes at the exact next
example, a resumed run sees the same batches with the same keys, hence exactly the masks of the
uninterrupted run. The masks do not depend on the trainer's step counter or on global RNG
state. (A `torch.Generator` is accepted too: its next 63-bit draw is then the seed.)

The draws themselves, in the order `trainer.masking`'s module doc gives: `random_bytes` and
`bernoulli_positions` for selection, uniform doubles from the generator, `random_indices` for
random replacements. The compiled kernel (`trainer.masking_kernels`) draws the same words itself.
"""

from __future__ import annotations

import hashlib
import struct
import threading

import numpy as np
import torch


def batch_seed(seed: int, epoch: int, rank: int, worker: int, position: int, purpose: str = "train") -> int:
    """A 63-bit seed from the batch's coordinates; `purpose` separates train and eval streams."""
    payload = struct.pack("<5q", seed, epoch, rank, worker, position) + purpose.encode("utf-8")
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "little") >> 1


def make_generator(seed: int) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


class BatchRandom:
    """A batch's randomness: its 63-bit seed (`batch_seed`), from which `Masker` draws the masks
    (module doc), and `torch`, a `torch.Generator` seeded by it, made on first use, for the draws
    an objective makes itself (ELECTRA's sampling). Cheap to make: most objectives never need the
    torch generator, whose creation and seeding cost more than the rest of the batch's seeding."""

    __slots__ = ("seed", "_torch")

    def __init__(self, seed: int):
        self.seed, self._torch = seed, None

    @property
    def torch(self) -> torch.Generator:
        if self._torch is None:
            self._torch = make_generator(self.seed)
        return self._torch


Randomness = BatchRandom | torch.Generator  # what `Masker` and the objectives' `prepare` take


def torch_generator(source: Randomness) -> torch.Generator:
    """The torch generator of a batch's randomness (a `torch.Generator` is its own)."""
    return source if isinstance(source, torch.Generator) else source.torch


def mask_seed(source: Randomness) -> int:
    """The seed a batch's masks are drawn from: a `BatchRandom`'s seed, or the next 63-bit draw
    of a `torch.Generator` (so a generator reused across batches gives each its own masks)."""
    if isinstance(source, BatchRandom):
        return source.seed
    return int(torch.randint(0, 2**63 - 1, (1,), generator=source).item())


_MASK64 = (1 << 64) - 1
_SFC64 = threading.local()  # one SFC64 per thread, its whole state set from each batch's seed


def sfc64_state(seed: int) -> np.ndarray:
    """The SFC64 state (a, b, c, counter) the masks of `seed` start from: a, b, c three splitmix64
    outputs of the seed, counter 1, then 12 steps (as numpy's sfc64_set_seed; the kernel the same)."""
    words = []
    x = seed & _MASK64
    for _ in range(3):  # splitmix64 (Steele, Lea and Flood 2014), as in trainer.masking_kernels
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        words.append(z ^ (z >> 31))
    return np.array(words + [1], dtype=np.uint64)


def masking_rng(source: Randomness) -> np.random.Generator:
    """The numpy generator of a batch's masks: SFC64 at `sfc64_state(mask_seed(source))`, 12
    outputs discarded (one SFC64 per thread, reused: a call resets it)."""
    bits = getattr(_SFC64, "bits", None)
    if bits is None:
        bits = _SFC64.bits = np.random.SFC64(0)
    bits.state = {"bit_generator": "SFC64", "state": {"state": sfc64_state(mask_seed(source))},
                  "has_uint32": 0, "uinteger": 0}
    bits.random_raw(12)
    return np.random.Generator(bits)


def random_indices(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """`count` uniform draws from range(size): one word each, its top 32 bits x taken to
    x * size >> 32 unless the low half of x * size falls below 2**32 mod size (Lemire's rejection,
    exactly uniform); each rejected draw (probability < size / 2**32) is drawn again, in order,
    from the words after the others, until accepted."""
    words = rng.bit_generator.random_raw(count)
    product = (words >> np.uint64(32)) * np.uint64(size)
    reject = np.uint64((1 << 32) % size)
    out = (product >> np.uint64(32)).astype(np.int64)
    for k in np.flatnonzero((product & np.uint64(0xFFFFFFFF)) < reject):
        while True:
            again = int(rng.bit_generator.random_raw()) >> 32
            if (again * size) & 0xFFFFFFFF >= int(reject):
                out[k] = again * size >> 32
                break
    return out


def random_bytes(rng: np.random.Generator, size: int, p: float) -> tuple[np.ndarray, int, float]:
    """The first draw of a Bernoulli(p) per position: (one random byte each, floor(256 p), the
    fraction 256 p - floor(256 p) that decides the bytes equal to floor(256 p) by a second draw)."""
    threshold = int(p * 256)
    words = rng.bit_generator.random_raw(-(-size // 8)).astype("<u8", copy=False)  # little-endian, as the kernel
    return words.view(np.uint8)[:size], threshold, p * 256 - threshold


def bernoulli(rng: np.random.Generator, size: int, p: float) -> np.ndarray:
    """`size` independent draws, True with probability p (`bernoulli_positions` as a bool array)."""
    out = np.zeros(size, dtype=np.bool_)
    out[bernoulli_positions(rng, size, p)] = True
    return out


def bernoulli_positions(rng: np.random.Generator, size: int, p: float) -> np.ndarray:
    """The indices, increasing, where `size` independent draws came out True with probability p:
    one random byte each, True below floor(256 p), and for the bytes equal to floor(256 p)
    (1 in 256) one more uniform draw each, in index order. Only the ~p share of candidates
    (bytes <= floor(256 p)) is looked at after the first comparison."""
    raw, threshold, rest = random_bytes(rng, size, p)
    if rest <= 0:
        return np.flatnonzero(raw < threshold)
    candidates = np.flatnonzero(raw <= threshold)
    tied = raw[candidates] == threshold
    keep = ~tied
    keep[tied] = rng.random(np.count_nonzero(tied)) < rest
    return candidates[keep]
