"""In what order examples come out: the per-epoch shard order and the example shuffle buffer.

Pure functions over plain values; every generator is seeded explicitly (STYLE.md #7), so the
same (seed, epoch, rank, worker) always gives the same order.
"""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

import numpy as np

T = TypeVar("T")


def shard_order(num_shards: int, *, seed: int, epoch: int, shuffle: bool = True) -> list[int]:
    """The epoch's order of shard indices: a permutation seeded by (seed, epoch), or 0..n-1.

    It depends on nothing rank- or worker-specific, so every rank computes the same list.
    """
    if num_shards < 0:
        raise ValueError(f"num_shards must be >= 0, got {num_shards}")
    if not shuffle:
        return list(range(num_shards))
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch]))
    return [int(i) for i in rng.permutation(num_shards)]


def example_rng(*, seed: int, epoch: int, rank: int, worker: int) -> np.random.Generator:
    """The generator of one sub-stream's shuffle buffer, seeded by (seed, epoch, rank, worker)."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, rank, worker]))


def buffer_shuffle(items: Iterable[T], size: int, rng: np.random.Generator) -> Iterator[T]:
    """Shuffle a stream through a buffer of `size` items (size 0 or 1: the input order).

    The buffer fills with the first `size` items; from then on each new item replaces a
    uniformly drawn one, which is yielded. At the end the rest is yielded in a random order.
    Only `size` items are ever held, and the output is a function of (items, size, rng state).
    """
    if size < 0:
        raise ValueError(f"shuffle buffer size must be >= 0, got {size}")
    if size <= 1:
        yield from items
        return
    buffer: list[T] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        k = int(rng.integers(size))
        out, buffer[k] = buffer[k], item
        yield out
    for k in rng.permutation(len(buffer)):
        yield buffer[int(k)]
