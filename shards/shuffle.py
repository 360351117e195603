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


class IndexShuffle:
    """`buffer_shuffle` for whole blocks of ids at once: one draw of the leaving ids per block, no
    per-item Python.

    `add(ids)` puts a block (a chunk's rows) into the buffer and returns the ids that leave it:
    once more than `size` are held, a uniformly drawn subset of the buffer (new ids included)
    leaves, in a random order, so that `size` stay (`Generator.choice` without replacement: it
    shuffles only as many places as leave, not the whole buffer). `drain()` returns the rest in
    a random order. Without a generator (or with size 0 or 1) ids leave in the order they came. The
    output depends only on (block sizes, size, rng state), never on the id values, so ids can
    be storage slots that differ from run to run.
    """

    def __init__(self, size: int, rng: np.random.Generator | None):
        if size < 0:
            raise ValueError(f"shuffle buffer size must be >= 0, got {size}")
        self.rng = rng if size > 1 else None
        self.size = size if self.rng is not None else 0
        self._held = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._held)

    def add(self, ids: np.ndarray) -> np.ndarray:
        held = np.concatenate([self._held, np.asarray(ids, dtype=np.int64)])
        leaving = len(held) - self.size
        if leaving <= 0:
            self._held = held
            return np.empty(0, dtype=np.int64)
        if self.rng is None:
            self._held = held[leaving:]
            return held[:leaving]
        picks = self.rng.choice(len(held), leaving, replace=False, shuffle=True)  # a uniform subset, in random order
        stay = np.ones(len(held), dtype=np.bool_)
        stay[picks] = False
        self._held = held[stay]
        return held[picks]

    def drain(self) -> np.ndarray:
        held, self._held = self._held, np.empty(0, dtype=np.int64)
        return held if self.rng is None else held[self.rng.permutation(len(held))]
